"""The pure sync planner: keys, duplicate keys, content diffs, and every plan outcome."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from timetracker_import.core.sync_plan import (
    DesiredRow,
    LedgerEntry,
    PruneWindow,
    ServerWorklog,
    cell_text,
    column_keys,
    default_window,
    diff_content,
    duplicate_keys,
    patch_body,
    plan_sync,
    server_worklog,
    slot_keys,
)

BOB = "b0b00000-0000-0000-0000-000000000001"
ALICE = "a11ce000-0000-0000-0000-000000000002"
TS = "2026-11-02T09:00:00Z"


def same(a: str | None, b: str | None) -> bool:
    return a == b


def desired(row: int, key: str, *, length: int = 8 * 3600, comment: str = "work",
            user: str = BOB, ts: str = TS, work_item: int | None = 7) -> DesiredRow:  # fmt: skip
    content = {"length": length, "comment": comment}
    return DesiredRow(row, key, user, ts, work_item, content)


def worklog(wid: str, *, length: int = 8 * 3600, comment: str = "work", user: str = BOB,
            ts: str = TS, work_item: int | None = 7, edited: str = "e1",
            created: str = "c1") -> ServerWorklog:  # fmt: skip
    raw = {
        "id": wid, "timestamp": ts, "length": length, "comment": comment,
        "workItemId": work_item, "user": {"id": user}, "editedTimestamp": edited,
        "createdTimestamp": created, "billableLength": None,
    }  # fmt: skip
    return server_worklog(raw)


def entry(key: str, wid: str, *, length: int = 8 * 3600, comment: str = "work",
          edited: str = "e1", ts: str = TS, user: str = BOB, **kw: Any) -> LedgerEntry:  # fmt: skip
    return LedgerEntry(key, wid, user, ts, {"length": length, "comment": comment}, edited, **kw)


def by_id(*worklogs: ServerWorklog) -> dict[str, ServerWorklog]:
    return {w.id: w for w in worklogs}


# -- keys ------------------------------------------------------------------------------


def test_slot_keys_number_equal_slots_in_file_order() -> None:
    slot = (BOB.upper(), TS, 7)
    keys = slot_keys([(5, slot), (2, slot), (3, (BOB, TS, None))])
    assert keys == {2: f"{BOB}|{TS}|7#1", 5: f"{BOB}|{TS}|7#2", 3: f"{BOB}|{TS}|#1"}


def test_slot_key_ignores_content() -> None:
    # length and comment are not part of the slot: a corrected row keeps its key
    a = slot_keys([(2, (BOB, TS, 7))])
    b = slot_keys([(2, (BOB, TS, 7))])
    assert a == b


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
        "3", "3.5", "", "",
    )  # fmt: skip
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


def test_diff_content_billable_follows_length_when_not_given() -> None:
    current = {"length": 3600, "billableLength": None}
    assert diff_content({"length": 3600, "billableLength": None}, current) == {}
    assert diff_content({"length": 3600, "billableLength": 3600}, current) == {}
    assert diff_content({"length": 3600, "billableLength": 1800}, current) == {
        "billableLength": (None, 1800)
    }
    # the length shrinks and billable was explicitly the old length: it follows
    changed = diff_content({"length": 1800, "billableLength": None},
                           {"length": 3600, "billableLength": 3600})  # fmt: skip
    assert changed == {"length": (3600, 1800), "billableLength": (3600, 1800)}


def test_patch_body_sends_only_new_values() -> None:
    assert patch_body({"length": (1, 2), "comment": ("a", None)}) == {"length": 2, "comment": ""}


# -- plan: with a ledger ---------------------------------------------------------------


def test_known_and_equal_is_unchanged() -> None:
    plan = plan_sync([desired(2, "k")], {"k": entry("k", "w")}, by_id(worklog("w")),
                     same_edited=same)  # fmt: skip
    assert [(r.outcome, r.worklog_id) for r in plan.rows] == [("unchanged", "w")]
    assert plan.rows[0].action is None and not plan.deletes


def test_correction_is_an_update_of_the_changed_field_only() -> None:
    plan = plan_sync([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")},
                     by_id(worklog("w")), same_edited=same)  # fmt: skip
    row = plan.rows[0]
    assert row.outcome == "update"
    assert row.changes == {"length": (8 * 3600, 6 * 3600)}
    assert row.action is not None
    assert dict(row.action.fields) == {"length": 6 * 3600}
    assert dict(row.action.before) == {"length": 8 * 3600}


def test_edited_in_7pace_is_a_conflict_with_both_versions() -> None:
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    plan = plan_sync([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server,
                     same_edited=same)  # fmt: skip
    row = plan.rows[0]
    assert row.outcome == "conflict" and row.action is None
    assert "edited in 7pace" in (row.reason or "")
    assert row.ours == {"length": 8 * 3600, "comment": "work"}
    assert row.theirs == {"length": 5 * 3600, "comment": "work"}


def test_overwrite_edited_updates_against_the_current_values() -> None:
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    plan = plan_sync([desired(2, "k", length=6 * 3600)], {"k": entry("k", "w")}, server,
                     same_edited=same, overwrite_edited=True)  # fmt: skip
    assert plan.rows[0].outcome == "update"
    assert plan.rows[0].changes == {"length": (5 * 3600, 6 * 3600)}


def test_deleted_in_7pace_is_a_conflict_or_recreated() -> None:
    rows, ledger = [desired(2, "k")], {"k": entry("k", "gone")}
    plan = plan_sync(rows, ledger, {}, same_edited=same)
    assert plan.rows[0].outcome == "conflict" and "deleted in 7pace" in (plan.rows[0].reason or "")
    plan = plan_sync(rows, ledger, {}, same_edited=same, overwrite_edited=True)
    assert plan.rows[0].outcome == "create"


def test_lost_patch_outcome_is_recovered_when_the_server_has_our_values() -> None:
    # a crash after PATCH: the ledger has the pending values, the server has them too
    ledger = {"k": entry("k", "w", pending={"length": 6 * 3600})}
    server = by_id(worklog("w", length=6 * 3600, edited="e2"))
    plan = plan_sync([desired(2, "k", length=6 * 3600)], ledger, server, same_edited=same)
    row = plan.rows[0]
    assert row.outcome == "unchanged"
    assert row.ledger is not None and row.ledger.edited_ts == "e2"
    assert row.ledger.pending is None and row.ledger.content["length"] == 6 * 3600
    # ... but someone else's edit stays a conflict
    server = by_id(worklog("w", length=5 * 3600, edited="e2"))
    plan = plan_sync([desired(2, "k", length=6 * 3600)], ledger, server, same_edited=same)
    assert plan.rows[0].outcome == "conflict"


# -- plan: without a ledger (adoption) -------------------------------------------------


def test_adopts_the_one_worklog_on_the_slot() -> None:
    plan = plan_sync([desired(2, "k", length=6 * 3600)], {}, by_id(worklog("w")),
                     same_edited=same)  # fmt: skip
    row = plan.rows[0]
    assert (row.outcome, row.worklog_id, row.adopted) == ("update", "w", True)
    assert row.ledger is not None and row.ledger.worklog_id == "w"


def test_adopts_exact_matches_first_and_creates_the_rest() -> None:
    rows = [desired(2, "k1"), desired(3, "k2", length=3600), desired(4, "k3", length=60)]
    server = by_id(worklog("w1", length=3600, created="c1"), worklog("w2", created="c2"))
    plan = plan_sync(rows, {}, server, same_edited=same)
    # exact content: row 2 = w2, row 3 = w1; row 4 has no candidate left
    assert [(r.source_row, r.outcome, r.worklog_id) for r in plan.rows] == [
        (2, "unchanged", "w2"), (3, "unchanged", "w1"), (4, "create", None),
    ]  # fmt: skip


def test_several_candidates_are_a_conflict_never_a_guess() -> None:
    server = by_id(worklog("w1", length=60), worklog("w2", length=120))
    plan = plan_sync([desired(2, "k")], {}, server, same_edited=same)
    assert plan.rows[0].outcome == "conflict"
    assert "w1" in (plan.rows[0].reason or "") and "w2" in (plan.rows[0].reason or "")


def test_ledgered_worklogs_are_not_adopted_twice() -> None:
    # w is ledgered for key "old"; a new key on the same slot creates instead of taking it
    ledger = {"old": entry("old", "w")}
    plan = plan_sync([desired(2, "old"), desired(3, "new")], ledger, by_id(worklog("w")),
                     same_edited=same)  # fmt: skip
    assert [(r.key, r.outcome) for r in plan.rows] == [("old", "unchanged"), ("new", "create")]


def test_other_slots_are_not_candidates() -> None:
    server = by_id(worklog("w", ts="2026-11-02T10:00:00Z"), worklog("v", user=ALICE))
    plan = plan_sync([desired(2, "k")], {}, server, same_edited=same)
    assert plan.rows[0].outcome == "create"


# -- prune -----------------------------------------------------------------------------


def _prune_case(**kw: Any) -> Any:
    ledger = {"k": entry("k", "w"), "gone": entry("gone", "x", ts="2026-11-02T12:00:00Z")}
    server = by_id(worklog("w"), worklog("x", ts="2026-11-02T12:00:00Z", edited=kw.pop("ed", "e1")))
    rows = [desired(2, "k")]
    return plan_sync(rows, ledger, server, same_edited=same,
                     window=default_window(rows, "UTC"), **kw)  # fmt: skip


def test_without_prune_removed_rows_are_kept_and_reported() -> None:
    plan = _prune_case()
    assert plan.deletes == [] and [e.key for e in plan.absent] == ["gone"]


def test_prune_deletes_ledgered_worklogs_absent_from_the_file() -> None:
    plan = _prune_case(prune=True)
    assert [(d.worklog_id, d.key) for d in plan.deletes] == [("x", "gone")]
    assert plan.deletes[0].before["id"] == "x"


def test_prune_keeps_what_was_edited_in_7pace() -> None:
    plan = _prune_case(prune=True, ed="e9")
    assert plan.deletes == [] and [c.worklog_id for c in plan.delete_conflicts] == ["x"]
    assert [d.worklog_id for d in _prune_case(prune=True, ed="e9",
                                               overwrite_edited=True).deletes] == ["x"]  # fmt: skip


def test_prune_spares_keys_of_rejected_rows_and_can_be_suspended() -> None:
    assert _prune_case(prune=True, present_keys={"gone"}).deletes == []
    plan = _prune_case(prune=True, prune_blocked="3 rows were rejected")
    assert plan.deletes == [] and "3 rows were rejected" in plan.notes[0]


def test_prune_only_inside_the_window() -> None:
    ledger = {"k": entry("k", "w"), "day2": entry("day2", "y", ts="2026-11-03T09:00:00Z"),
              "alice": entry("alice", "z", user=ALICE)}  # fmt: skip
    server = by_id(worklog("w"), worklog("y", ts="2026-11-03T09:00:00Z"), worklog("z", user=ALICE))
    rows = [desired(2, "k")]
    # default window: per user, the file's days -> bob's 2 Nov only; alice has no rows
    plan = plan_sync(rows, ledger, server, same_edited=same, prune=True,
                     window=default_window(rows, "UTC"))  # fmt: skip
    assert plan.deletes == []
    # --window 2026-11-01..2026-11-03 widens it for everyone
    wide = PruneWindow(overall=(date(2026, 11, 1), date(2026, 11, 3)))
    plan = plan_sync(rows, ledger, server, same_edited=same, prune=True, window=wide)
    assert sorted(d.worklog_id for d in plan.deletes) == ["y", "z"]


def test_window_days_are_local() -> None:
    # 23:30 UTC on 1 Nov is 2 Nov in Berlin
    window = PruneWindow(overall=(date(2026, 11, 2), date(2026, 11, 2)), timezone="Europe/Berlin")
    assert window.contains(BOB, "2026-11-01T23:30:00Z")
    assert not PruneWindow(overall=(date(2026, 11, 2), date(2026, 11, 2))).contains(
        BOB, "2026-11-01T23:30:00Z"
    )


def test_a_deleted_entry_whose_worklog_is_gone_is_forgotten() -> None:
    ledger = {"gone": entry("gone", "x", state="deleting")}
    plan = plan_sync([desired(2, "k")], ledger, {}, same_edited=same, prune=True,
                     window=default_window([desired(2, "k")], "UTC"))  # fmt: skip
    assert plan.forget == ["gone"] and plan.deletes == []
