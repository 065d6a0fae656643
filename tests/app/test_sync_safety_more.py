"""``sync`` as a payroll admin breaks it, the next round (tests/app/test_sync_safety.py has
the first ten): a re-keyed export, a worklog moved by hand in 7pace, a file routed by its
organization column, an id repeated on two people's rows, last month's export under this
month's window, an entry re-dated from outside the period, the weeks the admin reads - each
end to end against the sandbox, checking the server's final worklogs."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from tests.app.test_sync import (
    BOB,
    CAROL,
    COLUMNS,
    counts,
    edit_in_7pace,
    expected,
    ledger_ids,
    row,
    server,
    settings,
    sync,
    writes,
)
from tests.helpers import MAPPING, write_csv
from timetracker_import.app.sync import sync_file
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

NOVEMBER = "2026-11-01..2026-11-30"
DAY_3 = "2026-11-03T09:00:00Z"


def week_of_bob() -> list[dict[str, object]]:
    return [row(i, BOB, f"2026-11-{2 + i:02d}T09:00:00Z", 60 + i) for i in range(5)]


# -- a re-keyed export ------------------------------------------------------------------


def test_a_re_keyed_export_neither_doubles_nor_deletes(box: RunningSandbox, tmp_path: Path) -> None:
    # the payroll CSV's ids were 0001.. ; opened and saved in a spreadsheet they are 1..
    rows = week_of_bob()
    for r in rows:
        r["ID"] = f"000{str(r['ID'])[1:]}"
    first = sync(box, tmp_path, rows, keys=("ID",))
    assert first.counts.created == 5
    rekeyed = [dict(r, ID=str(int(str(r["ID"])))) for r in rows]
    result = sync(box, tmp_path, rekeyed, keys=("ID",))  # no --prune: nothing deleted anyway
    assert counts(result) == {"rows": 5, "unchanged": 5}
    assert any("new id for a worklog this source holds" in n for n in result.notes)
    assert server(box) == expected(rows)  # not 10 worklogs
    assert set(ledger_ids(result)) == {"0", "1", "2", "3", "4"}
    # the ledger followed: pruning the period now deletes nothing and creates nothing
    before = writes(box)
    pruned = sync(box, tmp_path, rekeyed, keys=("ID",), window=NOVEMBER, prune=True)
    assert counts(pruned) == {"rows": 5, "unchanged": 5} and writes(box) == before
    # a re-keyed export with a correction: the corrected entry is new (the old one left
    # the file), the other four are kept under their new ids
    corrected = [dict(r, ID=f"X{r['ID']}") for r in rekeyed]
    corrected[0]["Minutes"] = 30
    result = sync(box, tmp_path, corrected, keys=("ID",), window=NOVEMBER, prune=True)
    assert counts(result) == {"rows": 5, "unchanged": 4, "created": 1, "deleted": 1}
    assert server(box) == expected(corrected)


# -- a worklog moved by hand in 7pace ---------------------------------------------------


def test_a_keyless_worklog_moved_in_7pace_is_a_conflict_not_unchanged(
    box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [row(1, BOB, "2026-11-10T09:00:00Z", 60), row(2, BOB, "2026-11-11T09:00:00Z", 60)]
    first = sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    monday = next(w for k, w in ledger_ids(first).items() if "2026-11-10" in k)
    tuesday = next(w for k, w in ledger_ids(first).items() if "2026-11-11" in k)
    edit_in_7pace(box, monday, {"timeStamp": "2026-11-12T09:00:00Z"})  # moved to Thursday
    users = {u["email"]: u["id"] for u in box_users(box)}
    edit_in_7pace(box, tuesday, {"userId": users[CAROL]})  # booked on carol by hand
    result = sync(box, tmp_path, rows, window=NOVEMBER, prune=True)
    # 7pace and the file disagree: never "unchanged" at exit 0
    assert result.exit_code == 1 and counts(result) == {"rows": 2, "conflicts": 2}
    assert all("edited in 7pace" in c["reason"] for c in result.conflicts)
    assert result.counts.deleted == 0 and result.counts.created == 0
    moved = sync(box, tmp_path, rows, window=NOVEMBER, prune=True, overwrite_edited=True)
    assert moved.exit_code == 0 and counts(moved) == {"rows": 2, "updated": 2}
    assert server(box) == expected(rows)
    assert set(ledger_ids(moved).values()) == {monday, tuesday}  # moved back, not re-created


def box_users(box: RunningSandbox) -> list[dict[str, str]]:
    import asyncio

    from tests.app.test_sync import api

    async def main() -> list[dict[str, str]]:
        async with api(box) as client:
            return [dict(u) for u in await client.users()]

    return asyncio.run(main())


# -- an organization column and --prune ------------------------------------------------


def test_a_routed_file_is_stopped_whole_and_reported_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows routed to two organizations (the default connection and the profile ``west``):
    west's part is truncated, the default's corrected. The deletion guard's verdict is the
    file's: nothing is written anywhere; --report gives one report per organization and
    --rejected every rejected row of the file."""
    from tests.app.test_multi_org import write_profiles

    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        write_profiles(tmp_path / "config", west=(west.url, west.tokens["alice@example.com"]))
        report, rejected = tmp_path / "report.json", tmp_path / "rejected.csv"
        s = settings(east, tmp_path, [], window=NOVEMBER, prune=True)
        s = replace(s, report_path=report, rejected_path=rejected)
        assert s.mapping_path is not None
        s.mapping_path.write_text(
            MAPPING + "  organization: {column: Org, optional: true}\n", encoding="utf-8"
        )
        here = [dict(r, Org="") for r in week_of_bob()]
        there = [
            dict(row(10 + i, CAROL, f"2026-11-{2 + i:02d}T10:00:00Z", 60), Org="west")
            for i in range(10)
        ]
        write_csv(s.path, here + there, [*COLUMNS, "Org"])
        first = sync_file(s)
        assert first.exit_code == 0 and first.counts.created == 15
        corrected = [dict(r) for r in here]
        corrected[0]["Minutes"] = 30
        corrected[1]["Minutes"] = "abc"
        write_csv(s.path, corrected + there[:2], [*COLUMNS, "Org"])
        dry = sync_file(replace(s, dry_run=True))
        assert any("the real run would write nothing in any organization" in n for n in dry.notes)
        before = (writes(east), writes(west))
        result = sync_file(s)
        assert result.exit_code == 1 and result.counts.is_balanced()
        assert result.counts.updated == 0 and result.counts.deleted == 0
        assert (writes(east), writes(west)) == before  # not even the default's correction
        assert any("the deletion guard stopped the plan for west" in n for n in result.notes)
        assert server(east) == expected(here)
        assert server(west) == expected(there)
        # one report per organization, every rejected row of the file in --rejected
        assert (tmp_path / "report.default.json").exists()
        assert (tmp_path / "report.west.json").exists()
        assert result.rejected_path == rejected
        with rejected.open(encoding="utf-8") as handle:
            assert [r["source_row"] for r in csv.DictReader(handle)] == ["3"]
        # allowed: both organizations are written
        allowed = sync_file(replace(s, max_delete="8"))
        assert allowed.exit_code == 1  # the bad row is still rejected
        assert allowed.counts.deleted == 8 and allowed.counts.updated == 1
        assert server(west) == expected(there[:2])
        # the next file has no row for west: west is not synced at all - said, not silent
        write_csv(s.path, here, [*COLUMNS, "Org"])
        alone = sync_file(s)
        assert alone.counts.deleted == 0 and server(west) == expected(there[:2])
        assert any(
            "also holds 2 worklog(s) in the period" in n and "none of this file's rows" in n
            for n in alone.notes
        )


# -- one id on two people's rows ---------------------------------------------------------


def test_a_key_repeated_for_another_user_is_no_correction(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # line numbers per employee: bob's 1, 2 and carol's 1, 2 (with on_duplicate_key: last,
    # as the BambooHR preset declares, carol's rows used to "correct" bob's away at exit 0)
    rows = [
        row(1, BOB, "2026-11-02T09:00:00Z", 60),
        row(2, BOB, "2026-11-03T09:00:00Z", 60),
        row(1, CAROL, "2026-11-02T10:00:00Z", 90),
        row(2, CAROL, "2026-11-03T10:00:00Z", 90),
    ]
    result = sync(box, tmp_path, rows, keys=("ID",), on_duplicate_key="last")
    assert result.exit_code == 1 and counts(result) == {"rows": 4, "rejected": 4}
    assert "of another user" in result.rejections[0].reason
    assert not server(box)
    # a correction of the same person's entry still replaces it
    fixed = [rows[0], dict(rows[0], Minutes=45), row(3, CAROL, "2026-11-02T10:00:00Z", 90)]
    result = sync(box, tmp_path, fixed, keys=("ID",), on_duplicate_key="last")
    assert counts(result) == {"rows": 3, "created": 2, "skipped": 1}
    assert server(box) == expected(fixed[1:])


# -- a file of another period -------------------------------------------------------------


def test_a_file_of_another_month_deletes_nobodys_hours(box: RunningSandbox, tmp_path: Path) -> None:
    # November synced; then December's export is run with the November window (a cron job
    # whose --window was not moved on). Every row is outside the period: bob's and carol's
    # worklogs were kept (their rejected rows freeze them), but dave, who has no row in
    # the file, lost his three - exit 1, but deleted.
    dave = "dave@example.com"
    november = [
        row(i, user, f"2026-11-{2 + i:02d}T09:00:00Z", 60)
        for i, user in enumerate([BOB, CAROL, BOB, CAROL])
    ] + [row(10 + i, dave, f"2026-11-{3 + i:02d}T11:00:00Z", 60) for i in range(3)]
    sync(box, tmp_path, november, window=NOVEMBER, prune=True)
    december = [
        dict(r, Start=str(r["Start"]).replace("2026-11-", "2026-12-"))
        for r in november
        if r["User"] != dave
    ]
    for dry_run in (True, False):
        result = sync(box, tmp_path, december, window=NOVEMBER, prune=True, dry_run=dry_run)
        assert result.exit_code == 1 and result.counts.rejected == 4
        assert dry_run or result.counts.deleted == 0
        assert result.guard is not None and not result.guard.allowed
        assert "none of the file's 4 row(s) could be used" in (result.guard.reason or "")
        assert server(box) == expected(november)
    # a standing limit does not lift it (a scheduled job passes one every week)
    counted = sync(box, tmp_path, december, window=NOVEMBER, prune=True, max_delete="3")
    assert counted.exit_code == 1 and counted.counts.deleted == 0
    assert server(box) == expected(november)
    allowed = sync(box, tmp_path, december, window=NOVEMBER, prune=True, max_delete="all")
    assert allowed.counts.deleted == 3  # said explicitly: dave's three go


# -- the period is a fence ---------------------------------------------------------------


def test_an_entry_re_dated_from_last_month_does_not_move_last_months_hours(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # October's export had E1 on 30 Oct; November's export re-dates E1 to 2 Nov. A sync
    # about November moved the October worklog (October's total changed, exit 0).
    october = [row(1, BOB, "2026-10-30T09:00:00Z", 60), row(2, BOB, "2026-10-29T09:00:00Z", 60)]
    sync(box, tmp_path, october, keys=("ID",), window="2026-10-01..2026-10-31", prune=True)
    november = [dict(october[0], Start="2026-11-02T09:00:00Z"), row(3, BOB, DAY_3, 60)]
    result = sync(box, tmp_path, november, keys=("ID",), window=NOVEMBER, prune=True)
    assert result.exit_code == 1 and counts(result) == {"rows": 2, "created": 1, "rejected": 1}
    (rejection,) = result.rejections
    assert rejection.stage == "period" and "lies on 2026-10-30, outside the period" in (
        rejection.reason
    )
    assert server(box) == expected(october + [row(3, BOB, DAY_3, 60)])  # October as it was
    # declared, the move is made
    wider = sync(box, tmp_path, november, keys=("ID",), window="2026-10-30..2026-11-30")
    assert counts(wider) == {"rows": 2, "updated": 1, "unchanged": 1}
    assert server(box) == expected([october[1], *november])


# -- what the admin reads: weeks of the declared zone ------------------------------------


def test_the_guard_and_the_hours_grid_count_the_weeks_of_the_declared_zone(
    box: RunningSandbox, tmp_path: Path
) -> None:
    # a Berlin export of days (00:00 local: 23:00 UTC the day before): Monday's entries
    # were counted in the week before, so "week of 2026-11-09: 2" named a week the file
    # has no entry of, and the week of 2026-11-16 showed 4 of its 5 days
    week = [
        row(10 * n + d, user, f"2026-11-{16 + d} 00:00", 480)
        for n, user in enumerate((BOB, CAROL))
        for d in range(5)
    ]
    berlin = {"timezone": "Europe/Berlin", "window": "2026-11-16..2026-11-22", "prune": True}
    sync(box, tmp_path, week, **berlin)
    result = sync(box, tmp_path, week[:1], **berlin)
    assert result.guard is not None and not result.guard.allowed
    note = next(n for n in result.notes if "deletion guard" in n)
    assert f"{BOB} week of 2026-11-16: 4, {CAROL} week of 2026-11-16: 5)" in note
    # the grid's weeks are Berlin's too; the guard stopped the run, so what it would have
    # deleted is still there: before = after (40 h each)
    assert result.hours == {
        f"{BOB}|2026-11-16": {"before": 40.0, "after": 40.0},
        f"{CAROL}|2026-11-16": {"before": 40.0, "after": 40.0},
    }


def test_hours_after_a_cancel_count_the_deletes_not_sent(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Before: a sync cancelled during its deletes said bob's week went to 0.00 h (its
    hours grid left out the planned deletes it had not sent) while 7pace still held them.
    Now every planned delete counts before, and after as long as it was not done: the grid's
    "after" is what 7pace holds."""
    import threading

    from tests.app.test_sync import NOVEMBER

    rows = [row(i, BOB, f"2026-11-{2 + i % 5:02d}T09:00:00Z", 60) for i in range(1, 21)]
    sync(box, tmp_path, rows)
    stop = threading.Event()
    box.set_faults(["worklogs:latency=200ms"])

    def progress(done: int, total: int) -> None:
        if done >= 3:
            stop.set()

    result = sync_file(
        settings(
            box, tmp_path, rows[:1], prune=True, window=NOVEMBER, max_delete="all", concurrency="1"
        ),
        cancel=stop,
        progress=progress,
    )
    box.set_faults([])
    held = sum(minutes for (user, _, minutes, _) in server(box).elements() if user == BOB)
    assert result.exit_code == 130 and 1 < held / 60 < 20
    [(week, hours)] = [(k, v) for k, v in result.hours.items() if k.startswith(BOB)]
    assert hours == {"before": 20.0, "after": held / 60}, week


def test_an_unknown_user_in_a_routed_sync_names_the_users_own_mapping(
    tmp_path: Path,
) -> None:
    """Each organization's sync reads a temporary copy of the mapping; the unknown user's
    reason named that copy (deleted when the run ends) as the file to put `map:` in, where
    the routed import names the user's own mapping (test_multi_org has its twin)."""
    from tests.app.test_multi_org import write_profiles

    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        write_profiles(tmp_path / "config", west=(west.url, west.tokens["alice@example.com"]))
        s = settings(east, tmp_path, [], window=NOVEMBER)
        assert s.mapping_path is not None
        s.mapping_path.write_text(
            MAPPING + "  organization: {column: Org, optional: true}\n", encoding="utf-8"
        )
        rows = [
            dict(row(1, "E1042", DAY_3, 60), Org="west"),  # no such user, nothing close
            dict(row(2, BOB, DAY_3, 60), Org=""),
        ]
        write_csv(s.path, rows, [*COLUMNS, "Org"])
        result = sync_file(s)
        [rejection] = result.rejections
        assert rejection.reason.endswith(
            f"on fields.user in {s.mapping_path}, or add the person to the organization"
        )
        assert "timetracker-routes-" not in rejection.reason


def test_an_organization_whose_rows_are_all_rejected_is_not_said_to_have_none(
    tmp_path: Path,
) -> None:
    """Every row of west's is rejected (a broken Minutes column): west is not routed, so not
    synced - the note said no row of the file goes to west, though three do."""
    from tests.app.test_multi_org import write_profiles

    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        write_profiles(tmp_path / "config", west=(west.url, west.tokens["alice@example.com"]))
        s = settings(east, tmp_path, [], window=NOVEMBER, prune=True)
        assert s.mapping_path is not None
        s.mapping_path.write_text(
            MAPPING + "  organization: {column: Org, optional: true}\n", encoding="utf-8"
        )
        here = [dict(r, Org="") for r in week_of_bob()]
        there = [
            dict(row(10 + i, CAROL, f"2026-11-{2 + i:02d}T10:00:00Z", 60), Org="west")
            for i in range(3)
        ]
        write_csv(s.path, here + there, [*COLUMNS, "Org"])
        assert sync_file(s).counts.created == 8
        write_csv(s.path, here + [dict(r, Minutes="abc") for r in there], [*COLUMNS, "Org"])
        result = sync_file(s)
        assert result.counts.rejected == 3 and result.counts.deleted == 0
        assert server(west) == expected(there)
        [note] = [n for n in result.notes if "also holds 3 worklog(s) in the period" in n]
        assert "apart from rows it rejected" in note


def test_a_routed_sync_leaves_no_run_of_its_own_plan(tmp_path: Path) -> None:
    """A routed real sync plans each organization first as a dry run (one verdict for the
    file); those plans are no runs the user made: `runs list` showed two dry-run syncs
    beside the two real ones."""
    from tests.app.test_multi_org import write_profiles
    from timetracker_import import library

    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        write_profiles(tmp_path / "config", west=(west.url, west.tokens["alice@example.com"]))
        s = settings(east, tmp_path, [], window=NOVEMBER, prune=True)
        assert s.mapping_path is not None
        s.mapping_path.write_text(
            MAPPING + "  organization: {column: Org, optional: true}\n", encoding="utf-8"
        )
        here = [dict(r, Org="") for r in week_of_bob()]
        there = [dict(row(10, CAROL, DAY_3, 60), Org="west")]
        write_csv(s.path, here + there, [*COLUMNS, "Org"])
        result = sync_file(s)
        assert result.exit_code == 0 and result.counts.created == 6
        runs = library.list_runs()
        assert sorted(r.run_id for r in runs) == sorted(
            str(o["run_id"]) for o in result.organizations
        )
        assert not any(r.dry_run for r in runs)
        dry = sync_file(replace(s, dry_run=True))  # a dry run the user asks for stays
        assert {r.run_id for r in library.list_runs() if r.dry_run} == {
            str(o["run_id"]) for o in dry.organizations
        }


# -- locked weeks: the import's rule, by the user's local week ---------------------------

ALICE = "alice@example.com"


def _alice_week_submitted(week: str) -> dict[str, object]:
    """The demo seed (alice at UTC+1, ``me.timeZone`` 60) with alice's week ``week``
    Submitted."""
    from importlib import resources

    import yaml

    seeds = resources.files("timetracker_import.sandbox").joinpath("seeds/demo.yaml")
    data = yaml.safe_load(seeds.read_text())
    data["approval_weeks"].append({"user": ALICE, "week_start": week, "state": "Submitted"})
    return dict(data)


def test_sync_checks_locked_weeks_by_the_users_local_week_as_import_does(
    tmp_path: Path,
) -> None:
    """Sync called import's lock check without the users' offsets, so it checked every
    user by the UTC week: alice's Monday 00:30 (UTC+1) in her Submitted week was created
    (it is Sunday 23:30 UTC), where import rejects it before sending. Now sync rejects it
    at stage preflight with import's reason and notes, and the Monday 00:30 of her next,
    open week is sent (the sandbox, which locks by the UTC week, refuses it on its row)."""
    locked_local = row(1, ALICE, "2026-11-08T23:30:00Z", 30)  # Mon 09 00:30 at UTC+1
    open_local = row(2, ALICE, "2026-11-15T23:30:00Z", 30)  # Mon 16 00:30 at UTC+1
    plain = row(3, ALICE, "2026-11-03T09:00:00Z", 60)
    with run_sandbox_in_thread(seed=_alice_week_submitted("2026-11-09")) as box:
        result = sync(box, tmp_path, [locked_local, open_local, plain], keys=("ID",))
        by_row = {r.source_row: r for r in result.rejections}
        assert by_row[2].stage == "preflight"
        assert "week of 2026-11-09 is Submitted for alice@example.com" in by_row[2].reason
        assert by_row[3].stage != "preflight" and by_row[3].error_code == "ApprovalStateFailed"
        assert counts(result) == {"rows": 3, "created": 1, "rejected": 2}
        assert server(box) == expected([plain])


def test_sync_does_not_delete_in_a_users_locked_local_week(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A worklog on alice's Monday 00:30 (UTC+1; Sunday 23:30 UTC), whose week she submits
    afterwards: its row leaves the file, and the prune holds the delete (named in a note), as
    for any locked week. Before, the delete was checked by the UTC week and sent."""
    from timetracker_import import library

    monday = row(1, ALICE, "2026-11-08T23:30:00Z", 30)
    plain = row(2, ALICE, "2026-11-03T09:00:00Z", 60)
    kw: dict[str, object] = {"keys": ("ID",), "window": NOVEMBER, "prune": True}
    first = sync(box, tmp_path, [monday, plain], **kw)
    assert counts(first) == {"rows": 2, "created": 2}
    connection = settings(box, tmp_path, []).connection
    library.submit_week("2026-11-09", manager=ALICE, connection=connection)
    result = sync(box, tmp_path, [plain], **kw)
    assert counts(result) == {"rows": 1, "unchanged": 1}
    assert any("was not deleted: its week (2026-11-09) is Submitted" in n for n in result.notes)
    assert server(box) == expected([monday, plain])
