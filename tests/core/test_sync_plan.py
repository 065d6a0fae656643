"""The pure sync planner: keys, duplicate keys, content diffs, periods, freezing, the
deletion guard, sources, and every plan outcome."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from timetracker_import.core.sync_plan import (
    DeleteLimit,
    DesiredRow,
    Freeze,
    LedgerEntry,
    Period,
    ServerWorklog,
    cell_text,
    column_keys,
    diff_content,
    duplicate_keys,
    guard_deletes,
    parse_delete_limit,
    parse_period,
    patch_body,
    plan_sync,
    slot_text,
)
from timetracker_import.errors import UsageError

BOB = "b0b00000-0000-0000-0000-000000000001"
ALICE = "a11ce000-0000-0000-0000-000000000002"
TS = "2026-11-02T09:00:00Z"
NOV = Period(date(2026, 11, 1), date(2026, 11, 30), "2026-11-01..2026-11-30", "--window")


def same(a: str | None, b: str | None) -> bool:
    return a == b


def desired(
    row: int,
    key: str,
    *,
    length: int = 8 * 3600,
    comment: str = "work",
    user: str = BOB,
    ts: str = TS,
    work_item: int | None = 7,
) -> DesiredRow:
    content = {"length": length, "comment": comment}
    return DesiredRow(row, key, user, ts, work_item, content)


def slot_row(
    row: int,
    *,
    length: int = 8 * 3600,
    comment: str = "work",
    user: str = BOB,
    ts: str = TS,
    work_item: int | None = 7,
) -> DesiredRow:
    """A keyless row: its key is its slot."""
    return desired(
        row,
        slot_text(user, ts, work_item),
        length=length,
        comment=comment,
        user=user,
        ts=ts,
        work_item=work_item,
    )


def worklog(
    wid: str,
    *,
    length: int = 8 * 3600,
    comment: str = "work",
    user: str = BOB,
    ts: str = TS,
    work_item: int | None = 7,
    edited: str = "e1",
    created: str = "c1",
) -> ServerWorklog:
    raw = {
        "id": wid,
        "timestamp": ts,
        "length": length,
        "comment": comment,
        "workItemId": work_item,
        "user": {"id": user},
        "editedTimestamp": edited,
        "createdTimestamp": created,
        "billableLength": None,
    }
    return ServerWorklog.from_api(raw)


def entry(
    key: str,
    wid: str,
    *,
    length: int = 8 * 3600,
    comment: str = "work",
    edited: str = "e1",
    ts: str = TS,
    user: str = BOB,
    **kw: Any,
) -> LedgerEntry:
    return LedgerEntry(key, wid, user, ts, {"length": length, "comment": comment}, edited, **kw)


def slot_entry(
    ordinal: int, wid: str, *, ts: str = TS, user: str = BOB, work_item: int = 7, **kw: Any
) -> LedgerEntry:
    return entry(f"{slot_text(user, ts, work_item)}#{ordinal}", wid, ts=ts, user=user, **kw)


def by_id(*worklogs: ServerWorklog) -> dict[str, ServerWorklog]:
    return {w.id: w for w in worklogs}


def plan(
    rows: list[DesiredRow],
    ledger: dict[str, LedgerEntry],
    server: dict[str, ServerWorklog],
    **kw: Any,
) -> Any:
    kw.setdefault("keyless", False)
    return plan_sync(rows, ledger, server, same_edited=same, **kw)


# -- keys ------------------------------------------------------------------------------


def test_column_keys_reject_empty_cells_and_format_numbers() -> None:
    keys, rejections = column_keys({2: [101.0], 3: [None], 4: [" 77 "]}, ["Time Entry ID"])
    assert keys == {2: "101", 4: "77"}
    assert [(r.source_row, r.column) for r in rejections] == [(3, "Time Entry ID")]
    assert "key column 'Time Entry ID' is empty" in rejections[0].reason


def test_column_keys_of_several_columns_are_unambiguous() -> None:
    keys, _ = column_keys({2: ["a|b", "c"], 3: ["a", "b|c"]}, ["X", "Y"])
    assert keys[2] != keys[3]


def test_cell_text() -> None:
    assert (cell_text(3.0), cell_text(3.5), cell_text(float("nan")), cell_text(None)) == (
        "3",
        "3.5",
        "",
        "",
    )
    assert cell_text(date(2026, 11, 2)) == "2026-11-02"


def test_duplicate_keys_reject_all_rows_naming_the_others() -> None:
    kept, rejections, replaced = duplicate_keys({2: "A", 3: "B", 4: "A", 6: "A"})
    assert kept == {3: "B"}
    assert replaced == {}
    reasons = {r.source_row: r.reason for r in rejections}
    assert set(reasons) == {2, 4, 6}
    assert "row(s) 4, 6" in reasons[2] and "row(s) 2, 6" in reasons[4]
    assert all(r.stage == "duplicate" for r in rejections)


def test_duplicate_keys_last_keeps_the_last_row() -> None:
    kept, rejections, replaced = duplicate_keys({2: "A", 3: "B", 4: "A", 6: "A"}, "last")
    assert kept == {3: "B", 6: "A"}
    assert rejections == []
    assert replaced == {2: 6, 4: 6}


def test_duplicate_keys_last_is_no_correction_across_users() -> None:
    owners = {2: "101", 3: "101", 4: "102", 6: "101 "}
    kept, rejections, replaced = duplicate_keys({2: "A", 3: "B", 4: "A", 6: "B"}, "last", owners)
    assert kept == {6: "B"} and replaced == {3: 6}  # the same employee's B: a correction
    assert {r.source_row for r in rejections} == {2, 4}  # A on two employees' rows
    assert all("of another user" in r.reason for r in rejections)


def test_duplicate_keys_unknown_policy() -> None:
    with pytest.raises(ValueError):
        duplicate_keys({}, "first")


# -- content ---------------------------------------------------------------------------


def test_diff_content_only_managed_fields_and_normalised_comments() -> None:
    current = worklog("w").content
    assert diff_content({"length": 8 * 3600, "comment": "  work "}, current) == {}
    assert diff_content({"length": 6 * 3600}, current) == {"length": (8 * 3600, 6 * 3600)}
    # the file gives no activity type: the user's default, never a change
    assert diff_content({"activityTypeId": None}, {**current, "activityTypeId": "x"}) == {}


def test_diff_content_billable_is_compared_only_when_the_source_gives_it() -> None:
    held = {"length": 3600, "billableLength": None}
    # the source has no billable value: billable is not managed, never written
    assert diff_content({"length": 1800}, held) == {"length": (3600, 1800)}
    # the source says billable = length: that is a value (7pace reads null as not billable)
    assert diff_content({"length": 3600, "billableLength": 3600}, held) == {
        "billableLength": (None, 3600)
    }
    assert (
        diff_content(
            {"length": 3600, "billableLength": 3600}, {"length": 3600, "billableLength": 3600}
        )
        == {}
    )


def test_patch_body_sends_only_new_values_and_billable_with_its_length() -> None:
    assert patch_body({"length": (1, 2), "comment": ("a", None)}) == {"length": 2, "comment": ""}
    # a corrected length carries the billable length the source gives, even if unchanged
    wanted = {"length": 1800, "billableLength": 1800}
    assert patch_body({"length": (3600, 1800)}, wanted) == {"length": 1800, "billableLength": 1800}
    assert patch_body({"length": (3600, 1800)}, {"length": 1800}) == {"length": 1800}


# -- plan: with a ledger ---------------------------------------------------------------


def test_known_and_equal_is_unchanged() -> None:
    p = plan([desired(2, "k")], {"k": entry("k", "w")}, by_id(worklog("w")))
    assert [(r.outcome, r.worklog_id) for r in p.rows] == [("unchanged", "w")]
    assert p.rows[0].action is None and not p.deletes


def test_correction_is_an_update_of_the_changed_field_only() -> None:
    p = plan([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, by_id(worklog("w")))
    row = p.rows[0]
    assert row.outcome == "update"
    assert row.changes == {"length": (8 * 3600, 6 * 3600)}
    assert row.action is not None
    assert dict(row.action.fields) == {"length": 6 * 3600}
    assert dict(row.action.before) == {"length": 8 * 3600}


def test_edited_in_7pace_is_a_conflict_with_both_versions() -> None:
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    p = plan([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server)
    row = p.rows[0]
    assert row.outcome == "conflict" and row.action is None
    assert "edited in 7pace" in (row.reason or "")
    assert row.ours == {"length": 8 * 3600, "comment": "work"}
    assert row.theirs == {"length": 5 * 3600, "comment": "work"}


def test_no_conflict_when_7pace_already_holds_what_the_file_wants() -> None:
    # edited in 7pace to exactly the file's new value (or a ledger restored from an older
    # cache): in step, and the ledger is refreshed
    server = by_id(worklog("w", length=6 * 3600, edited="e2"))
    p = plan([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server)
    row = p.rows[0]
    assert row.outcome == "unchanged"
    assert row.ledger is not None and row.ledger.edited_ts == "e2"
    assert row.ledger.content["length"] == 6 * 3600


def test_no_conflict_for_an_edit_of_a_field_the_file_does_not_manage() -> None:
    # the activity type was changed in 7pace (not mapped); the file corrects the length
    raw = dict(worklog("w").raw, editedTimestamp="e2", activityType={"id": "AT-2"})
    server = by_id(ServerWorklog.from_api(raw))
    p = plan([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server)
    row = p.rows[0]
    assert row.outcome == "update" and dict(row.action.fields) == {"length": 6 * 3600}
    assert row.ledger is not None and row.ledger.edited_ts == "e2"


def test_no_conflict_for_a_no_op_edit() -> None:
    server = by_id(worklog("w", edited="e2"))  # touched in 7pace, same values
    p = plan([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server)
    assert p.rows[0].outcome == "update"
    p = plan([desired(2, "k")], {"k": entry("k", "w")}, server)
    assert p.rows[0].outcome == "unchanged" and p.rows[0].ledger is not None


def test_overwrite_edited_updates_against_the_current_values() -> None:
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    p = plan(
        [desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server, overwrite_edited=True
    )
    assert p.rows[0].outcome == "update"
    assert p.rows[0].changes == {"length": (5 * 3600, 6 * 3600)}


def test_deleted_in_7pace_is_a_conflict_or_recreated() -> None:
    rows, ledger = [desired(2, "k")], {"k": entry("k", "gone")}
    p = plan(rows, ledger, {})
    assert p.rows[0].outcome == "conflict" and "deleted in 7pace" in (p.rows[0].reason or "")
    p = plan(rows, ledger, {}, overwrite_edited=True)
    assert p.rows[0].outcome == "create"


def test_lost_patch_outcome_is_recovered_when_the_server_has_our_values() -> None:
    # a crash after PATCH: the ledger has the pending values, the server has them too
    ledger = {"k": entry("k", "w", pending={"length": 6 * 3600})}
    server = by_id(worklog("w", length=6 * 3600, edited="e2"))
    p = plan([desired(2, "k", length=6 * 3600)], ledger, server)
    row = p.rows[0]
    assert row.outcome == "unchanged"
    assert row.ledger is not None and row.ledger.edited_ts == "e2"
    assert row.ledger.pending is None and row.ledger.content["length"] == 6 * 3600
    assert p.resolved["k"][0].content["length"] == 6 * 3600
    # ... but someone else's edit (neither ours nor the file's) stays a conflict
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    p = plan([desired(2, "k", length=6 * 3600)], ledger, server)
    assert p.rows[0].outcome == "conflict"


# -- plan: without a ledger (adoption) -------------------------------------------------


def test_adopts_the_one_worklog_on_the_slot() -> None:
    p = plan([desired(2, "k", length=6 * 3600)], {}, by_id(worklog("w")))
    row = p.rows[0]
    assert (row.outcome, row.worklog_id, row.adopted) == ("update", "w", True)
    assert row.ledger is not None and row.ledger.worklog_id == "w"


def test_adopts_exact_matches_first_and_creates_the_rest() -> None:
    rows = [desired(2, "k1"), desired(3, "k2", length=3600), desired(4, "k3", length=60)]
    server = by_id(worklog("w1", length=3600, created="c1"), worklog("w2", created="c2"))
    p = plan(rows, {}, server)
    # exact content: row 2 = w2, row 3 = w1; row 4 has no candidate left
    assert [(r.source_row, r.outcome, r.worklog_id) for r in p.rows] == [
        (2, "unchanged", "w2"),
        (3, "unchanged", "w1"),
        (4, "create", None),
    ]


def test_several_candidates_are_a_conflict_never_a_guess() -> None:
    server = by_id(worklog("w1", length=60), worklog("w2", length=120))
    p = plan([desired(2, "k")], {}, server)
    assert p.rows[0].outcome == "conflict"
    assert "w1" in (p.rows[0].reason or "") and "w2" in (p.rows[0].reason or "")


def test_ledgered_worklogs_are_not_adopted_twice() -> None:
    # w is ledgered for key "old"; a new key on the same slot creates instead of taking it
    ledger = {"old": entry("old", "w")}
    p = plan([desired(2, "old"), desired(3, "new")], ledger, by_id(worklog("w")))
    assert [(r.key, r.outcome) for r in p.rows] == [("old", "unchanged"), ("new", "create")]


def test_other_slots_are_not_candidates() -> None:
    server = by_id(worklog("w", ts="2026-11-02T10:00:00Z"), worklog("v", user=ALICE))
    assert plan([desired(2, "k")], {}, server).rows[0].outcome == "create"


# -- sources ---------------------------------------------------------------------------


def test_another_sources_worklog_is_never_adopted_nor_doubled() -> None:
    # department A's worklog on the slot: B's row is a conflict, not a second worklog
    server = by_id(worklog("w"))
    p = plan([desired(2, "k")], {}, server, foreign={"w": "dept-a.csv"})
    row = p.rows[0]
    assert row.outcome == "conflict" and "dept-a.csv" in (row.reason or "")
    assert "--source" in (row.reason or "")


def test_another_sources_key_of_the_same_user_is_a_conflict() -> None:
    p = plan([desired(2, "101")], {}, {}, foreign_keys={"101": [(BOB, "old-name.csv")]})
    assert p.rows[0].outcome == "conflict" and "old-name.csv" in (p.rows[0].reason or "")
    # the same id in another department (another user) is another entry
    p = plan([desired(2, "101")], {}, {}, foreign_keys={"101": [(ALICE, "dept-a.csv")]})
    assert p.rows[0].outcome == "create"


# -- keyless identity -------------------------------------------------------------------

A, B, C = 2 * 3600, 3 * 3600, 1 * 3600
DAY = "2026-11-02T00:00:00Z"


def _day(**lengths: int) -> tuple[dict[str, LedgerEntry], dict[str, ServerWorklog]]:
    """bob's day with worklogs A 2 h, B 3 h, C 1 h (date-only export: one slot)."""
    ledger, server = {}, {}
    for i, (name, length) in enumerate(lengths.items(), start=1):
        e = slot_entry(i, name, ts=DAY, length=length)
        ledger[e.key] = e
        server[name] = worklog(name, ts=DAY, length=length)
    return ledger, server


def test_keyless_rows_meet_their_worklogs_by_content_not_order() -> None:
    ledger, server = _day(a=A, b=B, c=C)
    # re-sorted: C, A, B -> nothing changes
    rows = [
        slot_row(2, ts=DAY, length=C),
        slot_row(3, ts=DAY, length=A),
        slot_row(4, ts=DAY, length=B),
    ]
    p = plan(rows, ledger, server, keyless=True, period=NOV, prune=True)
    assert [(r.outcome, r.worklog_id) for r in p.rows] == [
        ("unchanged", "c"),
        ("unchanged", "a"),
        ("unchanged", "b"),
    ]
    assert not p.deletes


def test_keyless_correction_updates_the_unmatched_one() -> None:
    ledger, server = _day(a=A, b=B, c=C)
    rows = [
        slot_row(2, ts=DAY, length=A),
        slot_row(3, ts=DAY, length=B),
        slot_row(4, ts=DAY, length=5400),
    ]
    p = plan(rows, ledger, server, keyless=True, period=NOV, prune=True)
    assert [(r.outcome, r.worklog_id) for r in p.rows] == [
        ("unchanged", "a"),
        ("unchanged", "b"),
        ("update", "c"),
    ]
    assert p.rows[2].changes == {"length": (C, 5400)}


def test_a_rejected_row_freezes_its_slot_nothing_shifts() -> None:
    # A is rejected (bad hours): B and C keep their worklogs, A's is neither deleted nor
    # overwritten, and nothing is created
    ledger, server = _day(a=A, b=B, c=C)
    rows = [slot_row(3, ts=DAY, length=B), slot_row(4, ts=DAY, length=C)]
    frozen = Freeze(slots=frozenset({(BOB, DAY, 7)}))
    p = plan(rows, ledger, server, keyless=True, period=NOV, prune=True, freeze=frozen)
    assert [(r.outcome, r.worklog_id) for r in p.rows] == [("unchanged", "b"), ("unchanged", "c")]
    assert not p.deletes and [k.entry.worklog_id for k in p.kept] == ["a"]
    assert "frozen" in p.kept[0].why


def test_a_frozen_slot_holds_rows_that_do_not_match_exactly() -> None:
    ledger, server = _day(a=A, b=B, c=C)
    rows = [slot_row(3, ts=DAY, length=B), slot_row(4, ts=DAY, length=5400)]  # C corrected
    frozen = Freeze(slots=frozenset({(None, DAY, 7)}))  # a rejected row of unknown user
    p = plan(rows, ledger, server, keyless=True, period=NOV, prune=True, freeze=frozen)
    assert [(r.source_row, r.outcome) for r in p.rows] == [(3, "unchanged"), (4, "hold")]
    assert not p.deletes


def test_a_frozen_user_keeps_every_worklog_in_the_period() -> None:
    ledger, server = _day(a=A, b=B)
    p = plan(
        [],
        ledger,
        server,
        keyless=True,
        period=NOV,
        prune=True,
        freeze=Freeze(users=frozenset({BOB})),
    )
    assert not p.deletes and len(p.kept) == 2
    p = plan(
        [], ledger, server, keyless=True, period=NOV, prune=True, freeze=Freeze(everything=True)
    )
    assert not p.deletes


def test_moving_entries_to_another_day_deletes_the_old_ones_inside_the_period() -> None:
    ledger, server = _day(a=A, b=B)
    tuesday = "2026-11-03T00:00:00Z"
    rows = [slot_row(2, ts=tuesday, length=A), slot_row(3, ts=tuesday, length=B)]
    p = plan(rows, ledger, server, keyless=True, period=NOV, prune=True)
    assert [r.outcome for r in p.rows] == ["create", "create"]
    assert sorted(d.worklog_id for d in p.deletes) == ["a", "b"]


# -- prune and the period --------------------------------------------------------------


def _prune_case(**kw: Any) -> Any:
    ledger = {"k": entry("k", "w"), "gone": entry("gone", "x", ts="2026-11-02T12:00:00Z")}
    server = by_id(worklog("w"), worklog("x", ts="2026-11-02T12:00:00Z", edited=kw.pop("ed", "e1")))
    kw.setdefault("period", NOV)
    return plan([desired(2, "k")], ledger, server, **kw)


def test_without_prune_removed_rows_are_kept_and_reported() -> None:
    p = _prune_case()
    assert p.deletes == [] and [k.entry.key for k in p.kept] == ["gone"]


def test_prune_deletes_ledgered_worklogs_absent_from_the_file() -> None:
    p = _prune_case(prune=True)
    assert [(d.worklog_id, d.key) for d in p.deletes] == [("x", "gone")]
    assert p.deletes[0].before["id"] == "x"


def test_no_period_no_delete() -> None:
    assert _prune_case(prune=True, period=None).deletes == []


def test_prune_keeps_what_was_edited_in_7pace() -> None:
    # touched in 7pace but holding what sync wrote: no real difference, so it goes
    assert [d.worklog_id for d in _prune_case(prune=True, ed="e9").deletes] == ["x"]
    # a real edit (another length) is kept and reported
    raw = dict(worklog("x", ts="2026-11-02T12:00:00Z").raw, length=60, editedTimestamp="e9")
    ledger = {"gone": entry("gone", "x", ts="2026-11-02T12:00:00Z")}
    p = plan([], ledger, {"x": ServerWorklog.from_api(raw)}, period=NOV, prune=True)
    assert p.deletes == [] and [c.worklog_id for c in p.delete_conflicts] == ["x"]
    p = plan(
        [],
        ledger,
        {"x": ServerWorklog.from_api(raw)},
        period=NOV,
        prune=True,
        overwrite_edited=True,
    )
    assert [d.worklog_id for d in p.deletes] == ["x"]


def test_prune_spares_keys_of_rejected_rows() -> None:
    assert _prune_case(prune=True, present_keys={"gone"}).deletes == []


def test_prune_only_inside_the_period_and_users_without_rows_are_pruned() -> None:
    ledger = {
        "k": entry("k", "w"),
        "oct": entry("oct", "y", ts="2026-10-30T09:00:00Z"),
        "alice": entry("alice", "z", user=ALICE),
    }
    server = by_id(worklog("w"), worklog("y", ts="2026-10-30T09:00:00Z"), worklog("z", user=ALICE))
    p = plan([desired(2, "k")], ledger, server, prune=True, period=NOV)
    # October is outside the period: untouched; alice has no rows left: pruned inside it
    assert [d.worklog_id for d in p.deletes] == ["z"]


def test_the_first_and_last_day_of_the_period_are_inside() -> None:
    ledger = {
        "first": entry("first", "a", ts="2026-11-01T00:00:00Z"),
        "last": entry("last", "b", ts="2026-11-30T23:59:59Z"),
    }
    server = by_id(worklog("a", ts="2026-11-01T00:00:00Z"), worklog("b", ts="2026-11-30T23:59:59Z"))
    p = plan([], ledger, server, prune=True, period=NOV)
    assert sorted(d.worklog_id for d in p.deletes) == ["a", "b"]


def test_period_days_are_local() -> None:
    # 23:30 UTC on 31 Oct is 1 Nov in Berlin: inside November there, outside in UTC
    ledger = {"k": entry("k", "x", ts="2026-10-31T23:30:00Z")}
    server = by_id(worklog("x", ts="2026-10-31T23:30:00Z"))
    assert [
        d.worklog_id
        for d in plan([], ledger, server, prune=True, period=NOV, timezone="Europe/Berlin").deletes
    ] == ["x"]
    assert plan([], ledger, server, prune=True, period=NOV).deletes == []


def test_a_deleted_entry_whose_worklog_is_gone_is_forgotten() -> None:
    ledger = {"gone": entry("gone", "x", state="deleting")}
    p = plan([desired(2, "k")], ledger, {}, prune=True, period=NOV)
    assert p.forget == ["gone"] and p.deletes == []


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("2026-11-01..2026-11-30", date(2026, 11, 1), date(2026, 11, 30)),
        ("last:14d", date(2026, 11, 21), date(2026, 12, 4)),
        ("last:2w", date(2026, 11, 21), date(2026, 12, 4)),
        ("week:previous", date(2026, 11, 23), date(2026, 11, 29)),
        ("week:current", date(2026, 11, 30), date(2026, 12, 6)),
        ("month:previous", date(2026, 11, 1), date(2026, 11, 30)),
        ("month:current", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_parse_period(spec: str, first: date, last: date) -> None:
    period = parse_period(spec, today=date(2026, 12, 4))
    assert (period.first, period.last) == (first, last)


def test_parse_period_january_previous_month() -> None:
    period = parse_period("month:previous", today=date(2027, 1, 15))
    assert (period.first, period.last) == (date(2026, 12, 1), date(2026, 12, 31))


@pytest.mark.parametrize(
    "spec",
    ["", "2026-11-01", "2026-11-30..2026-11-01", "last:0d", "month:next", "2026-13-01..2026-13-02"],
)
def test_parse_period_refuses_anything_else(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_period(spec, today=date(2026, 12, 4))


# -- the deletion guard ----------------------------------------------------------------


def test_the_default_guard_lets_a_normal_correction_pass() -> None:
    assert guard_deletes(3, 60, DeleteLimit(), source_empty=False).allowed
    assert guard_deletes(5, 8, DeleteLimit(), source_empty=False).allowed  # the floor
    assert guard_deletes(12, 60, DeleteLimit(), source_empty=False).allowed  # 20 %


def test_the_default_guard_stops_a_truncated_or_empty_export() -> None:
    verdict = guard_deletes(45, 60, DeleteLimit(), source_empty=False)
    assert not verdict.allowed and "45 delete(s) of the 60" in (verdict.reason or "")
    empty = guard_deletes(2, 60, DeleteLimit(), source_empty=True)
    assert not empty.allowed and "no rows at all" in (empty.reason or "")
    assert guard_deletes(0, 60, DeleteLimit(), source_empty=True).allowed


def test_a_file_whose_every_row_is_unusable_deletes_only_with_every_deletion_allowed() -> None:
    verdict = guard_deletes(3, 60, DeleteLimit(), source_empty=False, unusable_rows=40)
    assert not verdict.allowed and "none of the file's 40 row(s)" in (verdict.reason or "")
    assert verdict.needs_all and verdict.allowance() == "--max-delete all"
    # a count or a share - a scheduled job's standing limit - does not lift it (it did)
    for spec in ("3", "30%", "99%"):
        limited = guard_deletes(
            3, 60, parse_delete_limit(spec), source_empty=False, unusable_rows=40
        )
        assert not limited.allowed and limited.needs_all, spec
    for spec in ("all", "100%"):
        assert guard_deletes(3, 60, parse_delete_limit(spec), source_empty=False, unusable_rows=40)
    assert guard_deletes(0, 60, DeleteLimit(), source_empty=False, unusable_rows=40).allowed


def test_an_empty_file_deletes_only_with_every_deletion_allowed() -> None:
    for spec in (None, "1", "30%"):
        verdict = guard_deletes(2, 60, parse_delete_limit(spec), source_empty=True)
        assert not verdict.allowed and "no rows at all" in (verdict.reason or ""), spec
        assert verdict.allowance() == "--max-delete all"
    assert guard_deletes(2, 60, parse_delete_limit("all"), source_empty=True).allowed


def test_a_stop_by_the_numbers_suggests_a_count_and_a_share() -> None:
    verdict = guard_deletes(3, 5, parse_delete_limit("50%"), source_empty=False)
    assert not verdict.needs_all
    assert verdict.allowance() == "--max-delete 3 (or the share --max-delete 60%)"


def test_max_delete_allows_more_explicitly() -> None:
    assert guard_deletes(45, 60, parse_delete_limit("45"), source_empty=False).allowed
    assert not guard_deletes(46, 60, parse_delete_limit("45"), source_empty=False).allowed
    assert guard_deletes(45, 60, parse_delete_limit("75%"), source_empty=False).allowed
    assert not guard_deletes(46, 60, parse_delete_limit("75%"), source_empty=False).allowed
    assert guard_deletes(60, 60, parse_delete_limit("all"), source_empty=True).allowed
    assert not guard_deletes(1, 60, parse_delete_limit("0"), source_empty=False).allowed


@pytest.mark.parametrize("spec", ["-1", "x", "120%", "1.5"])
def test_max_delete_refuses_nonsense(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_delete_limit(spec)


# -- a re-keyed export -------------------------------------------------------------------


def test_a_new_key_on_an_identical_worklog_of_a_key_that_left_takes_it_over() -> None:
    w1 = worklog("w1", ts="2026-11-02T09:00:00Z")
    w2 = worklog("w2", ts="2026-11-03T09:00:00Z")
    ledger = {
        "0001": entry("0001", "w1", ts="2026-11-02T09:00:00Z"),
        "0002": entry("0002", "w2", ts="2026-11-03T09:00:00Z"),
    }
    rows = [
        desired(2, "1", ts="2026-11-02T09:00:00Z"),  # the same entry, a new id
        desired(3, "2", ts="2026-11-03T09:00:00Z", length=3600),  # a new id and a correction
    ]
    result = plan(rows, ledger, by_id(w1, w2), period=NOV, prune=True)
    outcomes = {r.source_row: (r.outcome, r.worklog_id) for r in result.rows}
    assert outcomes == {2: ("unchanged", "w1"), 3: ("create", None)}
    assert result.rows[0].ledger is not None and result.rows[0].ledger.key == "1"
    assert result.forget == ["0001"]  # its old key is gone from the ledger, not deleted
    assert [d.worklog_id for d in result.deletes] == ["w2"]  # the corrected one left
    assert any("new id" in n for n in result.notes)


def test_a_key_a_rejected_row_still_has_is_never_taken_over() -> None:
    w1 = worklog("w1")
    ledger = {"0001": entry("0001", "w1")}
    result = plan([desired(2, "1")], ledger, by_id(w1), present_keys={"0001"})
    # the rejected row's key keeps w1: the new row is a new entry beside it
    assert [(r.outcome, r.worklog_id) for r in result.rows] == [("create", None)]
    assert result.forget == []
