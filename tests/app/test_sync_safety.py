"""``sync`` never deletes or doubles an hour by mistake: each case a payroll admin met (a
typo'd date, a rejected row in a keyless day, the period's edges, a second department, a
truncated export, another machine's zone, conflicts that never cleared, a header-only file,
repeated lines, an organization column), end to end against the sandbox, checking the
server's final worklogs."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_sync import (
    BOB,
    CAROL,
    counts,
    edit_in_7pace,
    expected,
    ledger_ids,
    row,
    server,
    settings,
    sync,
    write,
    writes,
)
from tests.helpers import MAPPING
from timetracker_import.app.sync import sync_file
from timetracker_import.errors import UsageError
from timetracker_import.sandbox import RunningSandbox

NOVEMBER = "2026-11-01..2026-11-30"


def month_of_rows() -> list[dict[str, Any]]:
    """Four weeks of November for bob and carol: one entry per weekday each."""
    rows = []
    ident = 1
    for day in range(2, 28):
        if date(2026, 11, day).weekday() >= 5:
            continue
        for user, hour in ((BOB, 9), (CAROL, 10)):
            rows.append(row(ident, user, f"2026-11-{day:02d}T{hour:02d}:00:00Z", 240 + day))
            ident += 1
    return rows


# -- 1. one mistyped date -------------------------------------------------------------


def test_a_mistyped_date_deletes_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    rows = month_of_rows()
    sync(box, tmp_path, rows, prune=True, window=NOVEMBER)
    typo = [dict(r) for r in rows]
    last_of_bob = max(i for i, r in enumerate(typo) if r["User"] == BOB)
    typo[last_of_bob]["Start"] = typo[last_of_bob]["Start"].replace("2026-11-", "2026-10-")
    result = sync(box, tmp_path, typo, prune=True, window=NOVEMBER)
    assert result.exit_code == 1
    assert result.counts.deleted == 0 and result.counts.rejected == 1
    assert result.rejections[0].stage == "period"
    assert server(box) == expected(rows)  # nothing deleted, nothing moved
    # fixing the typo: in step again, nothing was lost
    fixed = sync(box, tmp_path, rows, prune=True, window=NOVEMBER)
    assert counts(fixed) == {"rows": len(rows), "unchanged": len(rows)}


def test_prune_without_a_declared_period_is_refused(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, month_of_rows())
    with pytest.raises(UsageError, match="only inside a declared period"):
        sync(box, tmp_path, month_of_rows()[:3], prune=True)


def test_the_mappings_window_is_a_declared_period(box: RunningSandbox, tmp_path: Path) -> None:
    rows = month_of_rows()
    s = settings(box, tmp_path, rows, prune=True)
    assert s.mapping_path is not None
    s.mapping_path.write_text(MAPPING + f"window: {NOVEMBER}\n", encoding="utf-8")
    first = sync_file(s)
    assert first.counts.created == len(rows) and first.period is not None
    assert first.period.origin == "window: in the mapping"
    fewer = rows[:-1]
    write(s.path, fewer)
    pruned = sync_file(s)
    assert pruned.counts.deleted == 1 and server(box) == expected(fewer)


# -- 2. a rejected row in a keyless day -----------------------------------------------

DAY = "2026-11-02T00:00:00Z"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("Minutes", "abc"), ("Minutes", 0), ("User", "bob@exampel.com")],
    ids=["bad hours", "zero hours", "mistyped e-mail"],
)
def test_a_rejected_row_keeps_its_worklog_and_shifts_nothing(
    box: RunningSandbox, tmp_path: Path, cell: str, value: Any
) -> None:
    # a date-only export, no key: bob's day has A 2 h, B 3 h, C 1 h on one slot
    day = [row(1, BOB, DAY, 120, "A"), row(2, BOB, DAY, 180, "B"), row(3, BOB, DAY, 60, "C")]
    for r in day:
        r["Comment"] = "day"  # the same content but the length: order alone would shift
    sync(box, tmp_path, day, window=NOVEMBER, prune=True)
    bad = [dict(r) for r in day]
    bad[0][cell] = value
    result = sync(box, tmp_path, bad, window=NOVEMBER, prune=True)
    assert result.exit_code == 1 and result.counts.rejected == 1
    assert result.counts.deleted == 0 and result.counts.updated == 0
    assert result.counts.unchanged == 2
    assert server(box) == expected(day)  # A 2 h kept, B 3 h, C 1 h: nothing lost or doubled


def test_a_resorted_keyless_file_changes_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    day = [row(1, BOB, DAY, 120, "day"), row(2, BOB, DAY, 180, "day"), row(3, BOB, DAY, 60, "day")]
    sync(box, tmp_path, day, window=NOVEMBER, prune=True)
    before = writes(box)
    result = sync(box, tmp_path, list(reversed(day)), window=NOVEMBER, prune=True)
    assert counts(result) == {"rows": 3, "unchanged": 3} and writes(box) == before


# -- 3. the period's edges, users with no rows left, moves -----------------------------


def test_edges_and_users_without_rows_are_pruned_inside_the_period(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = month_of_rows()
    sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    bob = [r for r in rows if r["User"] == BOB]
    # bob's first and last day leave the file, carol leaves it altogether
    kept = bob[1:-1]
    result = sync(box, tmp_path, kept, window=NOVEMBER, prune=True, max_delete="all")
    assert result.counts.deleted == len(rows) - len(kept)
    assert server(box) == expected(kept)
    assert {d["user"] for d in result.deletes} == {BOB, CAROL}


def test_the_deletes_without_prune_are_reported(box: RunningSandbox, tmp_path: Path) -> None:
    rows = month_of_rows()
    sync(box, tmp_path, rows, window=NOVEMBER)
    result = sync(box, tmp_path, rows[2:], window=NOVEMBER)
    assert len(result.kept) == 2 and result.counts.deleted == 0
    assert all("--prune" in k["why"] for k in result.kept)
    assert server(box) == expected(rows)


@pytest.mark.parametrize("move", ["to tuesday", "to carol"])
def test_a_moved_keyless_entry_is_never_doubled(
    box: RunningSandbox, tmp_path: Path, move: str
) -> None:
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 120), row(2, BOB, "2026-11-02T11:00:00Z", 60)]
    sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    moved = [dict(r) for r in rows]
    for r in moved:
        if move == "to tuesday":
            r["Start"] = r["Start"].replace("2026-11-02", "2026-11-03")
        else:
            r["User"] = CAROL
    result = sync(box, tmp_path, moved, window=NOVEMBER, prune=True)
    assert result.counts.created == 2 and result.counts.deleted == 2
    assert server(box) == expected(moved)


# -- 4. sources: a second department, a truncated export -------------------------------


def test_another_departments_worklogs_are_never_touched(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # both departments use a mapping called hr.yaml; their files have their own names
    dept_a, dept_b = tmp_path / "a", tmp_path / "b"
    dept_a.mkdir()
    dept_b.mkdir()
    a_rows = [row(i, BOB, f"2026-11-{2 + i:02d}T09:00:00Z", 60) for i in range(4)]
    b_rows = [row(i, CAROL, f"2026-11-{2 + i:02d}T09:00:00Z", 90) for i in range(4)]
    ledger = tmp_path / "ledger.sqlite"
    a = sync(box, dept_a, a_rows, ledger_path=ledger)
    b = sync(box, dept_b, b_rows, ledger_path=ledger)
    assert a.source == b.source == "hr.csv"  # the same file name in two folders ...
    # ... so each names its source, as docs/sync.md says for several feeds of one name
    a = sync(box, dept_a, a_rows, ledger_path=tmp_path / "a.sqlite", source="dept-a")
    b = sync(box, dept_b, b_rows, ledger_path=tmp_path / "a.sqlite", source="dept-b")
    assert a.counts.unchanged == 4 and b.counts.unchanged == 4  # adopted, nothing doubled
    # department A's next file has only its first two entries: only A's worklogs go
    result = sync(
        box,
        dept_a,
        a_rows[:2],
        ledger_path=tmp_path / "a.sqlite",
        source="dept-a",
        window=NOVEMBER,
        prune=True,
    )
    assert result.counts.deleted == 2
    assert server(box) == expected(a_rows[:2] + b_rows)


def test_a_file_with_a_new_name_never_doubles_the_old_sources_worklogs(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60), row(2, BOB, "2026-11-03T09:00:00Z", 60)]
    sync(box, tmp_path, rows)  # source hr.csv
    renamed = tmp_path / "hr-2026-11-30.csv"
    s = settings(box, tmp_path, rows)
    shutil.copy(s.path, renamed)
    from dataclasses import replace

    result = sync_file(replace(s, path=renamed))
    assert result.exit_code == 1 and result.counts.conflicts == 2
    assert "belongs to source 'hr.csv'" in result.conflicts[0]["reason"]
    assert any("first sync of source" in n for n in result.notes)
    assert server(box) == expected(rows)
    # corrected under the new name (bob's Monday 1 h -> 2 h, and a new Wednesday): the first
    # sync of a name taken from the file, on the old source's worklogs, stops before its
    # first write - never a 2 h worklog beside the 1 h one, nor a Wednesday the old source
    # would write again
    corrected = [dict(rows[0], Minutes=120), rows[1], row(3, BOB, "2026-11-04T09:00:00Z", 60)]
    write(renamed, corrected)
    for dry_run in (True, False):
        result = sync_file(replace(s, path=renamed, dry_run=dry_run))
        assert result.exit_code == 1
        # a dry run counts what it would do (and validates its batch with validateOnly)
        assert dry_run or (result.counts.created, result.writes) == (0, 0)
        stop = [
            n
            for n in result.notes
            if "stop before its first write" in n or "stopped before its first write" in n
        ]
        assert stop and "To continue that feed, give --source 'hr.csv'" in stop[0]
        assert server(box) == expected(rows)
    # a name declared afterwards (--source payroll) is the same trap: it stops as well
    declared = sync_file(replace(s, path=renamed, source="payroll"))
    assert declared.exit_code == 1 and declared.counts.created == 0
    assert any("first sync of source 'payroll'," in n for n in declared.notes)
    assert declared.summary_dict()["stopped_as_renamed_feed_of"] == "hr.csv"
    assert server(box) == expected(rows)
    # another feed that shares one slot of three is its own: the content rule, no stop
    other = tmp_path / "contractors.csv"
    write(
        other,
        [
            dict(rows[0], Minutes=30),
            row(7, CAROL, "2026-11-05T09:00:00Z", 60),
            row(8, CAROL, "2026-11-06T09:00:00Z", 60),
        ],
    )
    separate = sync_file(replace(s, path=other))
    assert separate.exit_code == 0 and separate.counts.created == 3
    from timetracker_import.app.undo import undo_run

    undo_run(separate.run_id, connection=s.connection)
    assert server(box) == expected(rows)
    fixed = sync_file(replace(s, path=renamed, source="hr.csv"))
    assert fixed.exit_code == 0 and (fixed.counts.updated, fixed.counts.created) == (1, 1)
    assert server(box) == expected(corrected)


def test_a_ledger_of_the_previous_version_is_continued_with_its_mapping_name(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """0.1 scoped a ledger by the mapping's name, with no source: after an upgrade the
    default source (the input file's name) meets those entries as another source's - a
    conflict naming it, never a second worklog - and ``--source <that name>`` continues."""
    import json
    import sqlite3
    from dataclasses import replace

    from timetracker_import.journal.ledger import Ledger

    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60), row(2, BOB, "2026-11-03T09:00:00Z", 60)]
    first = sync(box, tmp_path, rows)
    assert first.ledger_path is not None
    old = {k: v for k, v in json.loads(first.scope).items() if k != "source"}
    old["mapping"] = "payroll.yaml"  # how 0.1 wrote its scope
    with sqlite3.connect(first.ledger_path) as db:
        db.execute(
            "UPDATE entry SET scope = ?", (json.dumps(old, sort_keys=True, separators=(",", ":")),)
        )
    upgraded = sync_file(settings(box, tmp_path, rows))
    assert upgraded.exit_code == 1 and upgraded.counts.conflicts == 2
    assert "belongs to source 'payroll.yaml'" in upgraded.conflicts[0]["reason"]
    assert server(box) == expected(rows)  # nothing doubled
    planned = sync_file(replace(settings(box, tmp_path, rows), source="payroll.yaml", dry_run=True))
    assert planned.exit_code == 0 and planned.counts.unchanged == 2
    continued = sync_file(replace(settings(box, tmp_path, rows), source="payroll.yaml"))
    assert continued.exit_code == 0 and continued.counts.unchanged == 2
    assert continued.writes == 0 and server(box) == expected(rows)
    with Ledger(first.ledger_path) as book:  # the old scope text is gone: carried over
        assert [s.scope for s in book.scopes()] == [continued.scope]


def test_the_guard_stops_a_truncated_export(box: RunningSandbox, tmp_path: Path) -> None:
    rows = month_of_rows()  # 40 worklogs
    sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    truncated = rows[:10]
    before = writes(box)
    dry = sync(box, tmp_path, truncated, window=NOVEMBER, prune=True, dry_run=True)
    assert dry.exit_code == 1 and dry.guard is not None and not dry.guard.allowed
    assert any("would stop the real sync" in n for n in dry.notes)
    stopped = sync(box, tmp_path, truncated, window=NOVEMBER, prune=True)
    assert stopped.exit_code == 1 and stopped.counts.deleted == 0
    assert stopped.guard is not None and stopped.guard.deletes == 30
    note = next(n for n in stopped.notes if "deletion guard" in n)
    assert "--max-delete 30" in note and f"{BOB} week of 2026-11-09: 5" in note
    assert writes(box) == before and server(box) == expected(rows)
    allowed = sync(box, tmp_path, truncated, window=NOVEMBER, prune=True, max_delete="30")
    assert allowed.counts.deleted == 30 and server(box) == expected(truncated)


def test_an_empty_export_never_prunes_without_an_allowance(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60)]
    sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    empty = sync(box, tmp_path, [], window=NOVEMBER, prune=True)  # header only
    assert empty.exit_code == 1 and empty.counts.deleted == 0
    assert empty.guard is not None and "no rows at all" in (empty.guard.reason or "")
    assert server(box) == expected(rows)
    # a count (or a share) is what a scheduled job passes every week: it does not let an
    # empty export delete; allowing every deletion does
    counted = sync(box, tmp_path, [], window=NOVEMBER, prune=True, max_delete="1")
    assert counted.exit_code == 1 and counted.counts.deleted == 0
    assert server(box) == expected(rows)
    allowed = sync(box, tmp_path, [], window=NOVEMBER, prune=True, max_delete="all")
    assert allowed.counts.deleted == 1 and not server(box)


def test_a_header_only_file_is_a_clean_outcome(box: RunningSandbox, tmp_path: Path) -> None:
    result = sync(box, tmp_path, [])
    assert result.exit_code == 0 and counts(result) == {} and result.counts.rows == 0


# -- 6. the zone -------------------------------------------------------------------------


def test_naive_times_need_a_declared_zone_and_read_alike_everywhere(
    box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    naive = [row(1, BOB, "2026-11-02 09:00", 60), row(2, CAROL, "2026-11-02 10:00", 60)]
    s = settings(box, tmp_path, naive)
    assert s.mapping_path is not None
    s.mapping_path.write_text(MAPPING.replace("timezone: UTC\n", ""), encoding="utf-8")
    monkeypatch.setenv("TZ", "Etc/UTC")
    with pytest.raises(UsageError, match="will not guess the time zone"):
        sync_file(s)
    from dataclasses import replace

    first = sync_file(replace(s, timezone="Europe/Berlin"))  # a UTC CI agent
    assert first.timezone["name"] == "Europe/Berlin" and first.timezone["source"] == "--timezone"
    monkeypatch.setenv("TZ", "Europe/Berlin")  # then a Berlin laptop
    before = writes(box)
    again = sync_file(replace(s, timezone="Europe/Berlin", window=NOVEMBER, prune=True))
    assert again.counts.unchanged == 2 and again.counts.deleted == 0
    assert writes(box) == before
    assert {k[1] for k in server(box)} == {"2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z"}


def test_a_zone_unlike_the_token_users_is_warned_about(box: RunningSandbox, tmp_path: Path) -> None:
    s = settings(box, tmp_path, [row(1, BOB, "2026-11-02 09:00", 60)])
    assert s.mapping_path is not None
    s.mapping_path.write_text(
        MAPPING.replace("timezone: UTC", "timezone: America/New_York"), encoding="utf-8"
    )
    result = sync_file(s)  # alice, the token's user, is at UTC+01:00 (the demo seed)
    assert any("token's 7pace user is at UTC+01:00" in n for n in result.notes)
    assert result.timezone["token_user_offset_minutes"] == 60


# -- 7. conflicts that are none ----------------------------------------------------------


def test_no_conflict_when_7pace_already_holds_what_the_file_wants(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60), row(2, BOB, "2026-11-03T09:00:00Z", 60)]
    first = sync(box, tmp_path, rows)
    ids = list(ledger_ids(first).values())
    edit_in_7pace(box, ids[0], {"length": 3600})  # a no-op edit
    edit_in_7pace(box, ids[1], {"length": 5400})  # the correction made by hand in 7pace
    corrected = [rows[0], dict(rows[1], Minutes=90)]
    result = sync(box, tmp_path, corrected)
    assert result.exit_code == 0, result.summary_dict()
    assert counts(result) == {"rows": 2, "unchanged": 2}
    again = sync(box, tmp_path, corrected)
    assert counts(again) == {"rows": 2, "unchanged": 2}


def test_no_conflict_for_an_edit_of_an_unmanaged_field(box: RunningSandbox, tmp_path: Path) -> None:
    import asyncio

    from tests.app.test_sync import api

    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60)]
    first = sync(box, tmp_path, rows)
    (wid,) = ledger_ids(first).values()

    async def testing_id() -> str:
        async with api(box) as client:
            types = (await client.activity_types())["activityTypes"]
            return str(next(t["id"] for t in types if t["name"] == "Testing"))

    edit_in_7pace(box, wid, {"activityTypeId": asyncio.run(testing_id())})
    result = sync(box, tmp_path, [dict(rows[0], Minutes=75)])  # the mapping has no activity
    assert result.exit_code == 0 and counts(result) == {"rows": 1, "updated": 1}
    assert server(box) == expected([dict(rows[0], Minutes=75)])


def test_a_ledger_restored_from_an_older_cache_is_no_conflict(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [row(1, BOB, "2026-11-02T09:00:00Z", 60)]
    first = sync(box, tmp_path, rows)
    assert first.ledger_path is not None
    old = tmp_path / "cache.sqlite"
    shutil.copy(first.ledger_path, old)
    corrected = [dict(rows[0], Minutes=90)]
    sync(box, tmp_path, corrected)
    shutil.copy(old, first.ledger_path)  # the CI cache restores the older ledger
    result = sync(box, tmp_path, corrected)
    assert result.exit_code == 0 and counts(result) == {"rows": 1, "unchanged": 1}


# -- 10. the organization column -------------------------------------------------------


def test_rows_of_another_organization_follow_imports_rule(
    box: RunningSandbox, tmp_path: Path
) -> None:
    s = settings(box, tmp_path, [])
    assert s.mapping_path is not None
    s.mapping_path.write_text(MAPPING + "  organization: {column: Org}\n", encoding="utf-8")
    with s.path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "User", "Start", "Minutes", "WorkItem", "Comment", "Org"])
        writer.writerow(["E1", BOB, "2026-11-02T09:00:00Z", 60, 42, "here", ""])
        writer.writerow(["E2", BOB, "2026-11-03T09:00:00Z", 60, 42, "elsewhere", "contoso"])
    result = sync_file(s)
    assert result.exit_code == 1 and result.counts.is_balanced()
    assert result.counts.created == 1 and result.counts.rejected == 1
    assert "organization 'contoso' has no profile" in result.rejections[0].reason
    assert server(box) == expected([row(1, BOB, "2026-11-02T09:00:00Z", 60, "here")])
