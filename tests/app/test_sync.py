"""``sync`` end to end against the sandbox: each scenario asserts the accounting and the
server's final multiset of worklogs (straight from the sandbox database)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import MAPPING, write_csv
from tests.helpers import settings_for as import_settings_for
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.settings import resolve_connection
from timetracker_import.app.importer import run_import
from timetracker_import.app.sync import SyncResult, SyncSettings, sync_file
from timetracker_import.errors import UsageError
from timetracker_import.journal.ledger import Ledger
from timetracker_import.sandbox import RunningSandbox

COLUMNS = ["ID", "User", "Start", "Minutes", "WorkItem", "Comment"]
NOVEMBER = "2026-11-01..2026-11-30"
BOB, CAROL = "bob@example.com", "carol@example.com"


def row(ident: int, user: str, start: str, minutes: int, comment: str = "") -> dict[str, Any]:
    return {
        "ID": f"E{ident}",
        "User": user,
        "Start": start,
        "Minutes": minutes,
        "WorkItem": 42,
        "Comment": comment or f"entry {ident}",
    }


BASE_ROWS = [
    row(1, BOB, "2026-11-02T09:00:00Z", 480),
    row(2, BOB, "2026-11-03T09:00:00Z", 240),
    row(3, BOB, "2026-11-04T09:00:00Z", 120),
    row(4, CAROL, "2026-11-02T09:00:00Z", 450),
    row(5, CAROL, "2026-11-03T10:00:00Z", 60),
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_csv(path, rows, COLUMNS)


def settings(
    box: RunningSandbox, tmp_path: Path, rows: list[dict[str, Any]], **kw: Any
) -> SyncSettings:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    connection = resolve_connection(
        url=box.url,
        env={"TIMETRACKER_TOKEN": box.tokens["alice@example.com"]},
        config_dir=tmp_path / "cfg",
    )
    path = write(tmp_path / "hr.csv", rows)
    return SyncSettings(path=path, connection=connection, mapping_path=mapping, **kw)


def sync(box: RunningSandbox, tmp_path: Path, rows: list[dict[str, Any]], **kw: Any) -> SyncResult:
    result = sync_file(settings(box, tmp_path, rows, **kw))
    assert result.counts.is_balanced(), result.counts
    return result


def server(box: RunningSandbox) -> Counter[tuple[str, str, int, str]]:
    """(user email, start, minutes, comment) of every stored worklog."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        rows = conn.execute(
            "SELECT u.email, w.ts_text, w.length, w.comment FROM worklogs w"
            " JOIN users u ON u.id = w.user_id"
        ).fetchall()
    return Counter((e, t, length // 60, c or "") for e, t, length, c in rows)


def expected(rows: list[dict[str, Any]]) -> Counter[tuple[str, str, int, str]]:
    return Counter((r["User"], r["Start"], int(r["Minutes"]), r["Comment"]) for r in rows)


def writes(box: RunningSandbox) -> int:
    """Requests that can write: batches and single-worklog calls (GET by id counts too, so
    this is an upper bound)."""
    calls = box.stats()["calls"]
    return int(calls.get("batch", 0)) + int(calls.get("worklogs", 0))


def counts(result: SyncResult) -> dict[str, int]:
    return {k: v for k, v in result.counts.to_dict().items() if v and k != "balanced"}


def api(box: RunningSandbox, who: str = "alice@example.com") -> TimetrackerClient:
    connection = resolve_connection(url=box.url, env={"TIMETRACKER_TOKEN": box.tokens[who]})
    return TimetrackerClient(connection)


def edit_in_7pace(box: RunningSandbox, worklog_id: str, body: dict[str, Any]) -> None:
    async def main() -> None:
        async with api(box) as client:
            await client.patch_worklog(worklog_id, body)

    asyncio.run(main())


def delete_in_7pace(box: RunningSandbox, worklog_id: str) -> None:
    async def main() -> None:
        async with api(box) as client:
            await client.delete_worklog(worklog_id)

    asyncio.run(main())


def ledger_ids(result: SyncResult) -> dict[str, str]:
    assert result.ledger_path is not None
    with Ledger(result.ledger_path) as book:
        return {k: e.worklog_id for k, e in book.entries(result.scope).items()}


# -- scenarios -------------------------------------------------------------------------


def test_first_sync_creates_everything(box: RunningSandbox, tmp_path: Path) -> None:
    result = sync(box, tmp_path, BASE_ROWS)
    assert result.exit_code == 0
    assert counts(result) == {"rows": 5, "created": 5}
    assert server(box) == expected(BASE_ROWS)
    assert len(ledger_ids(result)) == 5
    assert result.ledger_path is not None and result.ledger_path.stat().st_mode & 0o777 == 0o600


def test_resync_of_an_unchanged_file_sends_no_write(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS)
    before = writes(box)
    result = sync(box, tmp_path, BASE_ROWS)
    assert counts(result) == {"rows": 5, "unchanged": 5}
    assert result.exit_code == 0 and result.writes == 0
    assert writes(box) == before  # no batch, no PATCH, no DELETE, not even a GET by id
    assert server(box) == expected(BASE_ROWS)


def test_correction_updates_only_the_changed_fields(box: RunningSandbox, tmp_path: Path) -> None:
    first = sync(box, tmp_path, BASE_ROWS)
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[0]["Minutes"] = 360  # bob 8 h -> 6 h
    corrected[3]["Comment"] = "entry 4 (fixed)"
    result = sync(box, tmp_path, corrected)
    assert counts(result) == {"rows": 5, "updated": 2, "unchanged": 3}
    fields = {c["source_row"]: c["fields"] for c in result.changes}
    assert fields == {
        2: {"length": {"old": 28800, "new": 21600}},
        5: {"comment": {"old": "entry 4", "new": "entry 4 (fixed)"}},
    }
    assert server(box) == expected(corrected)
    assert ledger_ids(result) == ledger_ids(first)  # the same worklogs, corrected in place


def test_removal_is_kept_without_prune_and_deleted_with_it(
    box: RunningSandbox, tmp_path: Path
) -> None:
    sync(box, tmp_path, BASE_ROWS)
    fewer = [r for r in BASE_ROWS if r["ID"] != "E2"]
    kept = sync(box, tmp_path, fewer)
    assert counts(kept) == {"rows": 4, "unchanged": 4}
    assert [k["timestamp"] for k in kept.kept] == ["2026-11-03T09:00:00Z"]
    assert server(box) == expected(BASE_ROWS)
    pruned = sync(box, tmp_path, fewer, prune=True, window=NOVEMBER)
    assert counts(pruned) == {"rows": 4, "unchanged": 4, "deleted": 1}
    assert [d["timestamp"] for d in pruned.deletes] == ["2026-11-03T09:00:00Z"]
    assert server(box) == expected(fewer)
    again = sync(box, tmp_path, fewer, prune=True, window=NOVEMBER)
    assert counts(again) == {"rows": 4, "unchanged": 4}


def test_prune_needs_a_declared_period(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS)
    with pytest.raises(UsageError, match="only inside a declared period"):
        sync(box, tmp_path, BASE_ROWS[:1], prune=True)
    assert server(box) == expected(BASE_ROWS)


def test_prune_window_edges(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS)
    # bob's last day (4 Nov) and carol's last (3 Nov) leave the file: the declared period
    # bounds the deletes, not the rows' days, so the edges are pruned too
    fewer = [r for r in BASE_ROWS if r["ID"] not in ("E3", "E5")]
    result = sync(box, tmp_path, fewer, prune=True, window=(date(2026, 11, 2), date(2026, 11, 3)))
    assert counts(result) == {"rows": 3, "unchanged": 3, "deleted": 1}
    assert server(box) == expected([r for r in BASE_ROWS if r["ID"] != "E5"])  # 4 Nov: outside
    result = sync(box, tmp_path, fewer, prune=True, window=(date(2026, 11, 1), date(2026, 11, 4)))
    assert counts(result) == {"rows": 3, "unchanged": 3, "deleted": 1}
    assert server(box) == expected(fewer)


def test_a_row_outside_the_period_is_rejected_and_deletes_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    sync(box, tmp_path, BASE_ROWS)
    # bob's 4 Nov row mistyped as 4 Oct: rejected as outside the period, never a reason to
    # widen it; the worklog it stands for (4 Nov) is not deleted as "absent"
    typo = [dict(r) for r in BASE_ROWS]
    typo[2]["Start"] = "2026-10-04T09:00:00Z"
    result = sync(box, tmp_path, typo, prune=True, window=NOVEMBER)
    assert result.exit_code == 1
    assert counts(result) == {"rows": 5, "unchanged": 4, "rejected": 1}
    assert [r.stage for r in result.rejections] == ["period"]
    assert "2026-10-04 is outside the period 2026-11-01..2026-11-30" in result.rejections[0].reason
    assert any("nothing of theirs is deleted" in n for n in result.notes)
    assert server(box) == expected(BASE_ROWS)


def test_prune_never_touches_worklogs_sync_did_not_write(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # someone's own worklog in the window, on another slot: not ours, never deleted
    imported = import_settings_for(
        box,
        write(tmp_path / "other.csv", [row(9, BOB, "2026-11-02T15:00:00Z", 30, "by hand")]),
        tmp_path,
    )
    run_import(imported)
    sync(box, tmp_path, BASE_ROWS)
    result = sync(
        box, tmp_path, BASE_ROWS[:1], prune=True, window=(date(2026, 11, 1), date(2026, 11, 30))
    )
    assert counts(result) == {"rows": 1, "unchanged": 1, "deleted": 4}
    assert server(box) == expected(BASE_ROWS[:1]) + Counter(
        {(BOB, "2026-11-02T15:00:00Z", 30, "by hand"): 1}
    )


def test_lost_ledger_adopts_instead_of_creating_twice(box: RunningSandbox, tmp_path: Path) -> None:
    # data imported by `import`, then the first sync (no ledger): adopted, nothing written
    run_import(import_settings_for(box, write(tmp_path / "imp.csv", BASE_ROWS), tmp_path))
    before = writes(box)
    result = sync(box, tmp_path, BASE_ROWS)
    assert counts(result) == {"rows": 5, "unchanged": 5}
    assert writes(box) == before
    # the ledger is lost; a corrected file updates the adopted worklog, creates nothing
    assert result.ledger_path is not None
    result.ledger_path.unlink()
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[1]["Minutes"] = 300
    result = sync(box, tmp_path, corrected)
    assert counts(result) == {"rows": 5, "updated": 1, "unchanged": 4}
    assert result.changes[0]["adopted"] is True
    assert server(box) == expected(corrected)


def test_several_candidates_on_a_slot_are_a_conflict(box: RunningSandbox, tmp_path: Path) -> None:
    twins = [
        row(1, BOB, "2026-11-02T09:00:00Z", 60, "a"),
        row(2, BOB, "2026-11-02T09:00:00Z", 90, "b"),
    ]
    run_import(import_settings_for(box, write(tmp_path / "imp.csv", twins), tmp_path))
    one = [row(1, BOB, "2026-11-02T09:00:00Z", 75, "c")]
    result = sync(box, tmp_path, one)
    assert result.exit_code == 1
    assert counts(result) == {"rows": 1, "conflicts": 1}
    assert "2 worklog(s) on this slot" in result.conflicts[0]["reason"]
    assert server(box) == expected(twins)


def test_edited_in_7pace_is_a_conflict_unless_overwritten(
    box: RunningSandbox, tmp_path: Path
) -> None:
    first = sync(box, tmp_path, BASE_ROWS)
    ids = list(ledger_ids(first).values())
    by_start = {}
    for wid in ids:

        async def get(w: str = wid) -> Any:
            async with api(box) as client:
                return await client.worklog(w)

        worklog = asyncio.run(get())
        by_start[(worklog["user"]["email"], worklog["timestamp"])] = wid
    bob_first = by_start[(BOB, "2026-11-02T09:00:00Z")]
    edit_in_7pace(box, bob_first, {"length": 7 * 3600})  # a manager fixes it by hand
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[0]["Minutes"] = 360
    result = sync(box, tmp_path, corrected)
    assert result.exit_code == 1
    assert counts(result) == {"rows": 5, "conflicts": 1, "unchanged": 4}
    conflict = result.conflicts[0]
    assert conflict["worklog_id"] == bob_first and "edited in 7pace" in conflict["reason"]
    assert conflict["ours"]["length"] == 8 * 3600 and conflict["theirs"]["length"] == 7 * 3600
    assert server(box)[(BOB, "2026-11-02T09:00:00Z", 420, "entry 1")] == 1  # not overwritten
    result = sync(box, tmp_path, corrected, overwrite_edited=True)
    assert counts(result) == {"rows": 5, "updated": 1, "unchanged": 4}
    assert server(box) == expected(corrected)
    # deleted in 7pace: a conflict, then re-created with --overwrite-edited
    delete_in_7pace(box, bob_first)
    result = sync(box, tmp_path, corrected)
    assert counts(result) == {"rows": 5, "conflicts": 1, "unchanged": 4}
    assert "deleted in 7pace" in result.conflicts[0]["reason"]
    result = sync(box, tmp_path, corrected, overwrite_edited=True)
    assert counts(result) == {"rows": 5, "created": 1, "unchanged": 4}
    assert server(box) == expected(corrected)


def test_locked_week_rejects_creates_updates_and_deletes(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # the demo seed: bob's week of 2026-10-05 is Submitted
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60), row(2, BOB, "2026-10-06T09:00:00Z", 60)]
    result = sync(box, tmp_path, rows)
    assert result.exit_code == 1
    assert counts(result) == {"rows": 2, "created": 1, "rejected": 1}
    rejection = result.rejections[0]
    assert rejection.stage == "preflight" and "2026-10-05 is Submitted" in rejection.reason

    # a week locked after the sync: its update and its delete are refused before sending
    async def submit() -> None:
        async with api(box, BOB) as client:
            me = await client.me()
            managers = [u for u in await client.users() if u.get("email") == "alice@example.com"]
            assert me
            await client.submit_week("2026-11-02", managers[0]["id"])

    asyncio.run(submit())
    before = writes(box)
    corrected = [dict(rows[0], Minutes=90), rows[1]]
    result = sync(box, tmp_path, corrected)
    assert counts(result) == {"rows": 2, "rejected": 2}
    assert all(r.stage == "preflight" for r in result.rejections)
    assert writes(box) == before
    result = sync(
        box, tmp_path, [rows[1]], prune=True, window=(date(2026, 10, 5), date(2026, 11, 8))
    )
    assert result.counts.deleted == 0 and result.exit_code == 1
    assert any("Submitted" in n and "not deleted" in n for n in result.notes)
    assert server(box) == expected(rows[:1])


def test_duplicate_keys_are_rejected_or_the_last_wins(box: RunningSandbox, tmp_path: Path) -> None:
    rows = [
        row(1, BOB, "2026-11-02T09:00:00Z", 60),
        row(1, BOB, "2026-11-03T09:00:00Z", 90),
        row(2, CAROL, "2026-11-02T09:00:00Z", 30),
    ]
    result = sync(box, tmp_path, rows, keys=("ID",))
    assert counts(result) == {"rows": 3, "created": 1, "rejected": 2}
    reasons = {r.source_row: r.reason for r in result.rejections}
    assert "row(s) 3" in reasons[2] and "row(s) 2" in reasons[3]
    result = sync(box, tmp_path, rows, keys=("ID",), on_duplicate_key="last")
    assert counts(result) == {"rows": 3, "created": 1, "unchanged": 1, "skipped": 1}
    assert server(box) == expected(rows[1:])


def test_an_id_key_makes_start_and_user_content(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS, keys=("ID",))
    moved = [dict(r) for r in BASE_ROWS]
    moved[2]["Start"] = "2026-11-04T13:00:00Z"  # the entry moved in the afternoon
    result = sync(box, tmp_path, moved, keys=("ID",), prune=True, window=NOVEMBER)
    assert counts(result) == {"rows": 5, "updated": 1, "unchanged": 4}
    assert result.changes[0]["fields"] == {
        "timeStamp": {"old": "2026-11-04T09:00:00Z", "new": "2026-11-04T13:00:00Z"}
    }
    assert server(box) == expected(moved)


def test_dry_run_writes_nothing_and_shows_the_plan(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS)
    changed = [dict(r) for r in BASE_ROWS if r["ID"] != "E5"]
    changed[0]["Minutes"] = 360
    changed.append(row(6, CAROL, "2026-11-03T14:00:00Z", 15))
    before = box.stats()["calls"]
    result = sync(
        box,
        tmp_path,
        changed,
        prune=True,
        dry_run=True,
        window=(date(2026, 11, 1), date(2026, 11, 30)),
    )
    assert counts(result) == {"rows": 5, "created": 1, "updated": 1, "unchanged": 3, "deleted": 1}
    assert result.changes[0]["fields"] == {"length": {"old": 28800, "new": 21600}}
    assert [d["timestamp"] for d in result.deletes] == ["2026-11-03T10:00:00Z"]
    after = box.stats()["calls"]
    assert after.get("worklogs", 0) == before.get("worklogs", 0)  # no PATCH, no DELETE
    assert server(box) == expected(BASE_ROWS)
    # the dry run did not touch the ledger either: the real run does the same
    real = sync(box, tmp_path, changed, prune=True, window=(date(2026, 11, 1), date(2026, 11, 30)))
    assert counts(real) == counts(result)
    assert server(box) == expected(changed)


def test_report_has_a_changes_section(box: RunningSandbox, tmp_path: Path) -> None:
    import json

    sync(box, tmp_path, BASE_ROWS)
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[0]["Minutes"] = 360
    report = tmp_path / "report.json"
    sync(box, tmp_path, corrected, report_path=report)
    doc = json.loads(report.read_text())
    changes = doc["changes"]
    assert changes["updates"][0]["fields"] == {"length": {"old": 28800, "new": 21600}}
    bob_week = [h for h in changes["hours"] if h["week"] == "2026-11-02" and h["before"] == 14]
    assert bob_week and bob_week[0]["after"] == 12
    html = tmp_path / "report.html"
    sync(box, tmp_path, corrected, report_path=html, dry_run=True)
    assert '<section id="changes">' in html.read_text()


def test_settings_are_checked(box: RunningSandbox, tmp_path: Path) -> None:
    from timetracker_import.errors import UsageError

    with pytest.raises(UsageError, match="--key"):
        sync(box, tmp_path, BASE_ROWS, keys=("Entry Id",))
    with pytest.raises(UsageError, match="on-duplicate-key"):
        sync_file(replace(settings(box, tmp_path, BASE_ROWS), on_duplicate_key="first"))


def test_undo_restores_recreates_and_deletes_then_the_ledger_is_in_step(
    box: RunningSandbox, tmp_path: Path
) -> None:
    from timetracker_import.app.undo import undo_run

    sync(box, tmp_path, BASE_ROWS)
    second = [dict(r) for r in BASE_ROWS if r["ID"] != "E2"]
    second[0]["Minutes"] = 360
    second.append(row(6, CAROL, "2026-11-03T14:00:00Z", 15))
    result = sync(box, tmp_path, second, prune=True, window=NOVEMBER)
    assert counts(result) == {"rows": 5, "created": 1, "updated": 1, "unchanged": 3, "deleted": 1}
    assert server(box) == expected(second)
    connection = settings(box, tmp_path, second).connection
    dry = undo_run(result.run_id, connection, dry_run=True)
    assert server(box) == expected(second)
    assert dry.report.to_dict()["restored"] and not dry.failed
    outcome = undo_run(result.run_id, connection)
    report = outcome.report
    assert (len(report.restored), len(report.deleted), len(report.recreated)) == (1, 1, 1)
    assert outcome.exit_code == 0
    assert server(box) == expected(BASE_ROWS)
    # the ledger follows: syncing the first file again finds everything in step
    before = writes(box)
    again = sync(box, tmp_path, BASE_ROWS)
    assert counts(again) == {"rows": 5, "unchanged": 5}
    assert writes(box) == before
    # a second undo does nothing more
    twice = undo_run(result.run_id, connection)
    assert not twice.report.restored and not twice.report.recreated
    assert server(box) == expected(BASE_ROWS)


def test_undo_skips_what_was_edited_since(box: RunningSandbox, tmp_path: Path) -> None:
    from timetracker_import.app.undo import undo_run

    first = sync(box, tmp_path, BASE_ROWS)
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[0]["Minutes"] = 360
    result = sync(box, tmp_path, corrected)
    wid = result.changes[0]["worklog_id"]
    assert wid in ledger_ids(first).values()
    edit_in_7pace(box, wid, {"comment": "checked by HR"})
    outcome = undo_run(result.run_id, settings(box, tmp_path, corrected).connection)
    assert outcome.report.restored == []
    assert [i for i, _ in outcome.report.skipped] == [wid]
    assert server(box)[(BOB, "2026-11-02T09:00:00Z", 360, "checked by HR")] == 1


@pytest.mark.parametrize("fault", ["drop-after-commit", "500-after-commit", "drop", "500"])
def test_an_unanswered_patch_is_read_back(box: RunningSandbox, tmp_path: Path, fault: str) -> None:
    sync(box, tmp_path, BASE_ROWS)
    corrected = [dict(r) for r in BASE_ROWS]
    corrected[0]["Minutes"] = 360
    box.set_faults([f"worklogs#1:{fault}"])  # the PATCH (the first single-worklog call)
    result = sync(box, tmp_path, corrected, concurrency=1)
    assert result.exit_code == 0, result.summary_dict()
    assert counts(result) == {"rows": 5, "updated": 1, "unchanged": 4}
    assert server(box) == expected(corrected)
    box.set_faults([])
    before = writes(box)
    again = sync(box, tmp_path, corrected)  # the ledger knows the new editedTimestamp
    assert counts(again) == {"rows": 5, "unchanged": 5} and writes(box) == before


def test_a_server_outage_halts_resumably_and_the_rerun_converges(
    box: RunningSandbox, tmp_path: Path
) -> None:
    sync(box, tmp_path, BASE_ROWS)
    corrected = [dict(r, Minutes=int(r["Minutes"]) + 30) for r in BASE_ROWS]
    box.set_faults(["worklogs#3..:503"])  # two PATCHes pass, then the service is down
    from timetracker_import.api.retry import RetryPolicy

    halted = sync_file(
        settings(box, tmp_path, corrected, concurrency=1),
        client_factory=_fast_retries(RetryPolicy(max_attempts=2, floor=0.01, cap=0.02)),
    )
    assert halted.exit_code == 75 and halted.halt_reason == "transient"
    assert halted.counts.is_balanced()
    assert halted.counts.updated == 2 and halted.counts.unprocessed == 3
    box.set_faults([])
    result = sync(box, tmp_path, corrected)
    assert counts(result) == {"rows": 5, "updated": 3, "unchanged": 2}
    assert server(box) == expected(corrected)


def _fast_retries(policy: Any) -> Any:
    def factory(connection: Any, on_retry: Any) -> TimetrackerClient:
        client = TimetrackerClient(connection, on_retry=on_retry)
        client.retry_policy = policy
        return client

    return factory


@pytest.mark.parametrize("fault", ["drop-after-commit", "500-after-commit", "drop"])
def test_an_unanswered_delete_is_settled(box: RunningSandbox, tmp_path: Path, fault: str) -> None:
    sync(box, tmp_path, BASE_ROWS)
    fewer = [r for r in BASE_ROWS if r["ID"] != "E2"]
    box.set_faults([f"worklogs#1:{fault}"])
    result = sync(box, tmp_path, fewer, prune=True, window=NOVEMBER)
    assert result.exit_code == 0, result.summary_dict()
    assert counts(result) == {"rows": 4, "unchanged": 4, "deleted": 1}
    assert server(box) == expected(fewer)
    box.set_faults([])
    again = sync(box, tmp_path, fewer, prune=True, window=NOVEMBER)
    assert counts(again) == {"rows": 4, "unchanged": 4}


def test_identical_rows_follow_imports_rule(box: RunningSandbox, tmp_path: Path) -> None:
    # an exactly repeated line: import skips the copy, and so does sync (the same stage)
    twins = [
        row(1, BOB, "2026-11-02T09:00:00Z", 60, "same"),
        row(1, BOB, "2026-11-02T09:00:00Z", 60, "same"),
    ]
    result = sync(box, tmp_path, twins)
    assert counts(result) == {"rows": 2, "created": 1, "skipped": 1, "in_file_duplicates": 1}
    assert server(box) == expected(twins[:1])
    # --on-duplicate allow keeps both: two entries on one slot, told apart by the planner
    result = sync(box, tmp_path, twins, on_duplicate="allow", ledger_path=tmp_path / "b.sqlite")
    assert counts(result) == {"rows": 2, "created": 1, "unchanged": 1, "in_file_duplicates": 1}
    again = sync(box, tmp_path, twins, on_duplicate="allow", ledger_path=tmp_path / "b.sqlite")
    assert counts(again) == {"rows": 2, "unchanged": 2, "in_file_duplicates": 1}
    assert server(box) == expected(twins)


def test_rows_with_their_own_ids_are_never_copies(box: RunningSandbox, tmp_path: Path) -> None:
    # with an id key, two equal entries with their own ids are two entries
    twins = [
        row(1, BOB, "2026-11-02T09:00:00Z", 60, "same"),
        row(2, BOB, "2026-11-02T09:00:00Z", 60, "same"),
    ]
    result = sync(box, tmp_path, twins, keys=("ID",))
    assert counts(result) == {"rows": 2, "created": 2}
    again = sync(box, tmp_path, twins, keys=("ID",))
    assert counts(again) == {"rows": 2, "unchanged": 2}
    assert server(box) == expected(twins)
