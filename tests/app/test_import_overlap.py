"""The import's overlapped start: a new run's journal is written in a worker thread while the
setup reads are on the wire, and request bodies are built per batch (``LazyBodies``). Neither
may weaken the write-ahead rule: every row and file rejection is journaled, and each batch's
intent committed, before its POST leaves."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import balanced, fast_client, make_rows, settings_for, write_rows
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.settings import resolve_connection
from timetracker_import.app import importer
from timetracker_import.app.importer import LazyBodies, run_import
from timetracker_import.app.stages.execute import body_of as _body
from timetracker_import.errors import AuthError
from timetracker_import.journal.store import list_runs
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


def _journal_rows(run_dir: Path) -> dict[int, str]:
    with sqlite3.connect(run_dir / "journal.sqlite") as conn:
        return {int(r): str(o) for r, o in conn.execute("SELECT source_row, outcome FROM row")}


def _sending_states(run_dir: Path) -> list[str]:
    with sqlite3.connect(run_dir / "journal.sqlite") as conn:
        return [str(s) for (s,) in conn.execute("SELECT state FROM batch ORDER BY batch_no")]


def test_journal_complete_and_intent_committed_before_each_post(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = make_rows(60)
    rows[7]["Minutes"] = "soon"  # a file rejection: journaled with the new run
    path = write_rows(tmp_path / "in.csv", rows)
    threads: list[int] = []
    created = importer._ImportRun._create_journal

    def tracked(self: Any, rejections: Any) -> Any:
        threads.append(threading.get_ident())
        return created(self, rejections)

    monkeypatch.setattr(importer._ImportRun, "_create_journal", tracked)
    seen: list[tuple[dict[int, str], list[str]]] = []

    def factory(connection: Any, on_retry: Callable[[Any], None]) -> TimetrackerClient:
        client = fast_client()(connection, on_retry)
        post = client.post_batch

        async def watched(items: Any, **kw: Any) -> Any:
            (run,) = list_runs()
            seen.append((_journal_rows(run.directory), _sending_states(run.directory)))
            return await post(items, **kw)

        client.post_batch = watched  # type: ignore[method-assign]
        return client

    result = run_import(
        settings_for(sandbox, path, tmp_path, batch_size=20, concurrency=2),
        client_factory=factory,
    )
    assert result.accounting.created == 59 and result.accounting.rejected == 1
    assert balanced(result)
    assert threads and threads[0] != threading.get_ident()  # a worker thread, not the loop
    assert len(seen) == 3
    for outcomes, states in seen:
        assert len(outcomes) == 60 and outcomes[9] == "rejected"  # row 9 = data row 7
        assert "sending" in states  # this POST's intent is already committed
        # in flight (2) plus staged ahead of a slot (at most 2)
        assert states.count("sending") <= 4


def test_staged_batches_never_sent_go_back_to_planned(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A 401 on batch 2 halts the run; batch 3, staged (intent committed) while batch 2 was
    on the wire, was never sent: it is planned again, not left for a read-back."""
    sandbox.set_faults(["batch#2:401"])
    path = write_rows(tmp_path / "in.csv", make_rows(90))
    result = run_import(
        settings_for(sandbox, path, tmp_path, batch_size=30, concurrency=1),
        client_factory=fast_client(),
    )
    assert result.exit_code == 3 and result.accounting.created == 30
    assert sandbox.stats()["calls"]["batch"] == 2
    assert _sending_states(result.run_dir) == ["done", "planned", "planned"]


def test_setup_read_refused_leaves_a_complete_halted_journal(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(30))
    settings = settings_for(sandbox, path, tmp_path)
    bad = resolve_connection(
        url=sandbox.url, env={"TIMETRACKER_TOKEN": "x" * 52}, config_dir=tmp_path / "cfg"
    )
    with pytest.raises(AuthError):
        run_import(
            importer.ImportSettings(path=path, connection=bad, mapping_path=settings.mapping_path),
            client_factory=fast_client(),
        )
    (run,) = list_runs()
    assert run.status == "halted"
    outcomes = _journal_rows(run.directory)
    assert len(outcomes) == 30 and set(outcomes.values()) == {"pending"}
    # the halted run resumes with the right token
    again = run_import(settings, client_factory=fast_client())
    assert again.resumed and again.exit_code == 0 and again.accounting.created == 30


def _frame() -> tuple[pd.DataFrame, pd.Series, dict[int, Any]]:
    index = pd.Index([4, 2, 9, 7], name="source_row")
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                [
                    "2026-09-01T06:00:00.7Z",
                    "2026-09-02T23:30:00+02:00",
                    "2026-01-01T00:00:00Z",
                    "1969-12-31T23:59:59.5Z",
                ],
                utc=True,
                format="ISO8601",
            ),
            "length_seconds": pd.Series([900, 60, 3600, 5], dtype="int64", index=index),
            "billable_seconds": pd.Series([900, None, 0, 1], dtype="Int64", index=index),
            "work_item_id": pd.Series([None, 3, 7, None], dtype="Int64", index=index),
            "comment": ["x", " ", None, "note"],
        },
        index=index,
    )
    users = pd.Series(["u4", "u2", "u9", "u7"], index=index)
    return frame, users, {2: "at-2", 9: ""}


def test_lazy_bodies_equal_the_row_wise_reference_in_any_order() -> None:
    frame, users, activity = _frame()
    lazy = LazyBodies(frame, users, activity)
    expected = {
        int(row): _body(rec, users[row], activity.get(row))
        for row, rec in zip(frame.index, frame.to_dict("records"), strict=True)
    }
    assert len(lazy) == 4 and list(lazy) == [4, 2, 9, 7] and 9 in lazy and 5 not in lazy
    first = lazy.many([9, 4])
    assert first == [expected[9], expected[4]]
    assert lazy[2] == expected[2] and dict(lazy) == expected
    # built once: a re-send or the journal's undo copy gets the very same dict
    assert lazy.many([4, 9])[1] is first[0] and lazy[4] is first[1]
    assert expected[7]["timeStamp"] == "1969-12-31T23:59:59Z"
    with pytest.raises(KeyError):
        lazy.many([5])


def test_lazy_bodies_of_an_empty_frame() -> None:
    frame, users, _ = _frame()
    lazy = LazyBodies(frame.iloc[:0], users.iloc[:0], {})
    assert len(lazy) == 0 and lazy.many([]) == [] and dict(lazy) == {}


def test_setup_reads_are_on_the_wire_while_the_file_is_read(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a prepared file, the run reads the file in a worker thread after sending
    me/users/activityTypes: those requests reach the server before reading is over."""
    from timetracker_import.app.stages import prepare as stage

    path = write_rows(tmp_path / "in.csv", make_rows(30))
    calls_at_read_end: list[dict[str, Any]] = []
    real = stage.prepare

    def slow_prepare(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        import time

        deadline = time.monotonic() + 10  # wait (bounded) for the setup reads to arrive
        while time.monotonic() < deadline:
            calls = sandbox.stats()["calls"]
            if all(calls.get(k) for k in ("me", "users", "activitytypes")):
                break
            time.sleep(0.02)
        calls_at_read_end.append(dict(sandbox.stats()["calls"]))
        assert threading.current_thread() is not threading.main_thread()
        return result

    monkeypatch.setattr(importer, "prepare", slow_prepare)
    result = run_import(settings_for(sandbox, path, tmp_path), client_factory=fast_client())
    assert result.exit_code == 0 and balanced(result)
    assert result.accounting.created == 30
    (calls,) = calls_at_read_end
    assert calls.get("me") == calls.get("users") == calls.get("activitytypes") == 1, calls
    assert not calls.get("batch"), calls  # nothing written before the file was read


def test_an_unreadable_file_sends_no_write_and_fails_cleanly(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    from timetracker_import.errors import InputError

    bad = tmp_path / "in.csv"
    bad.write_bytes(b"User,Start,Minutes\n\xff\xfe broken\n")
    with pytest.raises(InputError):
        run_import(settings_for(sandbox, bad, tmp_path), client_factory=fast_client())
    calls = sandbox.stats()["calls"]
    assert not calls.get("batch") and not list_runs()


def test_ctrl_c_while_reading_stops_without_waiting_for_the_reader(tmp_path: Path) -> None:
    """SIGINT during the read of a big file: exit 130 at once, nothing sent, no run
    journaled (the reader thread is not waited for)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = write_rows(tmp_path / "big.csv", make_rows(150_000))
    mapping = tmp_path / "m.yaml"
    from tests.helpers import MAPPING

    mapping.write_text(MAPPING, encoding="utf-8")
    with run_sandbox_in_thread() as box:
        env = dict(
            os.environ,
            TIMETRACKER_URL=box.url,
            TIMETRACKER_TOKEN=box.tokens["alice@example.com"],
            TIMETRACKER_STATE_DIR=str(tmp_path / "state"),
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "timetracker_import",
                "import",
                str(path),
                "--mapping",
                str(mapping),
                "--yes",
                "--no-progress",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not box.stats()["calls"].get("activitytypes"):  # the run has started
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert box.stats()["worklogs"] == 0
        assert not box.stats()["calls"].get("batch")
    runs = tmp_path / "state"
    assert not any(runs.rglob("journal.sqlite")), "the reader was waited for"
