"""Undo with progress and Cancel (issue 23, item 4): ``progress(done, total)`` counts the
changes undone, ``cancel`` stops before the next one, the report says ``cancelled`` and how
many are ``left`` (exit code 130), and undoing again does the rest. Undo's rules are
unchanged. Each test has its own state directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_sync import BASE_ROWS, CAROL, NOVEMBER, counts, expected, row, server, settings
from timetracker_import import library
from timetracker_import.app.sync import sync_file
from timetracker_import.journal.runs import RunSummary
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(path))
    return path


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


def synced_change(box: RunningSandbox, tmp_path: Path) -> str:
    """A first sync, then a second that updates 1, creates 1 and deletes 1: its run id."""
    sync_file(settings(box, tmp_path, BASE_ROWS))
    second = [dict(r) for r in BASE_ROWS if r["ID"] != "E2"]
    second[0]["Minutes"] = 360
    second.append(row(6, CAROL, "2026-11-03T14:00:00Z", 15))
    result = sync_file(settings(box, tmp_path, second, prune=True, window=NOVEMBER))
    assert counts(result) == {"rows": 5, "created": 1, "updated": 1, "unchanged": 3, "deleted": 1}
    return result.run_id


def test_undo_reports_each_change_undone(box: RunningSandbox, tmp_path: Path) -> None:
    run_id = synced_change(box, tmp_path)
    seen: list[tuple[int, int]] = []
    outcome = library.undo_run(
        run_id,
        connection=settings(box, tmp_path, []).connection,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert not outcome.report.cancelled and outcome.report.left == 0
    assert outcome.exit_code == 0
    assert server(box) == expected(BASE_ROWS)


def test_cancel_stops_undo_and_undo_again_does_the_rest(
    box: RunningSandbox, tmp_path: Path
) -> None:
    run_id = synced_change(box, tmp_path)
    connection = settings(box, tmp_path, []).connection
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 1:
            cancel.set()  # Cancel pressed while the first change was undone

    outcome = library.undo_run(run_id, connection=connection, progress=progress, cancel=cancel)
    report = outcome.report
    assert report.cancelled and report.left == 2 and outcome.exit_code == 130
    done = len(report.deleted) + len(report.restored) + len(report.recreated)
    assert done == 1
    assert report.to_dict()["cancelled"] is True and report.to_dict()["left"] == 2
    assert "2 change(s) left to undo" in report.render()
    assert server(box) != expected(BASE_ROWS)
    rest = library.undo_run(run_id, connection=connection)
    assert not rest.report.cancelled and rest.exit_code == 0
    assert len(rest.report.deleted) + len(rest.report.restored) + len(rest.report.recreated) == 2
    assert server(box) == expected(BASE_ROWS)


def test_a_cancel_set_before_undo_starts_changes_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    run_id = synced_change(box, tmp_path)
    before = server(box)
    cancel = threading.Event()
    cancel.set()
    outcome = library.undo_run(
        run_id, connection=settings(box, tmp_path, []).connection, cancel=cancel
    )
    assert outcome.report.cancelled and outcome.report.left == 3
    assert server(box) == before


def test_sync_reports_its_writes_as_they_get_their_outcomes(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The web app's apply job follows ``library.sync_file(progress=...)`` (item 4)."""
    seen: list[tuple[int, int]] = []
    s = settings(box, tmp_path, BASE_ROWS)
    first = library.sync_file(
        s.path,
        connection=s.connection,
        mapping=s.mapping_path,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert first.counts.created == 5
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    second = [dict(r) for r in BASE_ROWS if r["ID"] != "E2"]
    second[0]["Minutes"] = 360
    s = settings(box, tmp_path, second)
    seen.clear()
    library.sync_file(
        s.path,
        connection=s.connection,
        mapping=s.mapping_path,
        prune=True,
        window=NOVEMBER,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)  # 1 update + 1 delete


def test_runs_list_says_what_undo_did(box: RunningSandbox, tmp_path: Path) -> None:
    """``runs list``/``show`` and the Runs page print ``RunSummary.describe()``: a run undo
    stopped half-way is "partly undone" with what is left, a run undone entirely "undone"
    and no longer offered for undo; a run never undone says neither."""
    run_id = synced_change(box, tmp_path)
    connection = settings(box, tmp_path, []).connection

    def summary() -> RunSummary:
        (found,) = [s for s in library.run_summaries() if s.run_id == run_id]
        return found

    before = summary()
    assert before.undo_state is None and "undone" not in before.describe()
    assert before.undoable and before.to_dict()["undo_left"] == 3

    cancel = threading.Event()
    library.undo_run(
        run_id,
        connection=connection,
        progress=lambda done, total: cancel.set() if done == 1 else None,
        cancel=cancel,
    )
    partly = summary()
    assert partly.undo_state == "partly undone (2 change(s) left)"
    assert partly.describe().endswith("; partly undone (2 change(s) left)")
    assert partly.undoable and partly.to_dict()["undo_left"] == 2

    library.undo_run(run_id, connection=connection)
    done = summary()
    assert done.undo_state == "undone" and done.describe().endswith("; undone")
    assert not done.undoable
    assert (done.to_dict()["undone"], done.to_dict()["undo_left"]) == (3, 0)
    (overview,) = [o for o in library.run_overviews() if o.run_id == run_id]
    assert overview.counts_text == done.describe() and not overview.can_undo


def test_undo_steps_say_whose_worklog_when_and_how_long(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The web app's undo confirmation lists each change with its user, start and hours
    (``library.undo_steps``, from the journal): a created worklog from the body sent, a
    deleted one from the worklog as 7pace had it. An update of the length alone tells none
    of them (the journal keeps only the changed fields): the page leaves them blank."""
    run_id = synced_change(box, tmp_path)
    connection = settings(box, tmp_path, []).connection
    users = {u["email"]: str(u["id"]).lower() for u in library.users(connection)}
    steps = {s.what: s for s in library.undo_steps(run_id)}
    assert set(steps) == {"delete", "restore", "re-create"}
    created, deleted, updated = steps["delete"], steps["re-create"], steps["restore"]
    assert (created.user_id, created.start, created.seconds) == (
        users[CAROL],
        "2026-11-03T14:00:00Z",
        15 * 60,
    )
    gone = next(r for r in BASE_ROWS if r["ID"] == "E2")
    assert (deleted.user_id, deleted.start, deleted.seconds) == (
        users[str(gone["User"])],
        gone["Start"],
        int(gone["Minutes"]) * 60,
    )
    assert (updated.user_id, updated.start, updated.seconds) == ("", "", None)
