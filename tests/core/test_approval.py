from datetime import date
from typing import Any

import pandas as pd
import pytest

from timetracker_import.core.approval import (
    approval_state,
    locked_weeks,
    preflight_locks,
    reject_locked,
    user_offsets,
    week_start,
)
from timetracker_import.errors import ApprovalDataError

BOB = "B0B00000-0000-0000-0000-000000000001"
ANN = "a0000000-0000-0000-0000-000000000002"


@pytest.mark.parametrize(
    ("ts", "monday"),
    [
        ("2026-10-05T00:00:00Z", date(2026, 10, 5)),  # Monday itself
        ("2026-10-11T23:59:59Z", date(2026, 10, 5)),  # Sunday evening
        ("2026-10-12T00:30:00+02:00", date(2026, 10, 5)),  # Sunday 22:30 UTC
        ("2026-10-12T00:00:00Z", date(2026, 10, 12)),
        ("2027-01-01T12:00:00Z", date(2026, 12, 28)),  # across a year
    ],
)
def test_week_start_is_the_utc_monday(ts: str, monday: date) -> None:
    assert week_start(pd.Timestamp(ts)) == monday


def approval(user: str, start: str, state: int | str) -> dict[str, Any]:
    return {"user": {"id": user}, "weekStartDate": start, "approvalState": state}


def test_locked_weeks_keeps_submitted_approved_closed_only() -> None:
    items = [
        approval(BOB, "2026-10-05", 3),
        approval(BOB, "2026-10-12T00:00:00", 1),
        approval(ANN, "2026-10-05", 2),  # reopened = open
        approval(ANN, "2026-10-19", 99),
        {"approvalState": 3},  # no user: reported (issue 14: it used to be skipped silently)
    ]
    problems: list[str] = []
    assert locked_weeks(items, on_problem=problems.append) == {
        (BOB.lower(), date(2026, 10, 5)): "Approved",
        (BOB.lower(), date(2026, 10, 12)): "Submitted",
        (ANN, date(2026, 10, 19)): "Closed",
    }
    assert problems == ["timeApproval/all item 5: the item names no user.id"]


def test_reject_locked_names_week_state_and_user() -> None:
    frame = pd.DataFrame(
        {
            "user": ["bob@example.com", "ann@example.com", None],
            "timestamp": pd.to_datetime(
                ["2026-10-07T09:00:00Z", "2026-10-07T09:00:00Z", "2026-10-13T09:00:00Z"]
            ),
        },
        index=pd.Index([2, 3, 4], name="source_row"),
    )
    ids = pd.Series({2: BOB, 3: ANN, 4: BOB})
    locked = locked_weeks([approval(BOB, "2026-10-05", 3), approval(BOB, "2026-10-12", 99)])
    rejections = reject_locked(frame, ids, locked, column_header="Date")
    assert [r.source_row for r in rejections] == [2, 4]
    first = rejections[0]
    assert first.stage == "preflight" and first.column == "Date"
    assert first.reason == (
        "week of 2026-10-05 is Approved for bob@example.com; ask your approval manager to reopen it"
    )
    # an empty user cell falls back to the id unless a label is given
    assert "Closed for " + BOB in rejections[1].reason
    labelled = reject_locked(frame, ids, locked, user_labels={BOB: "Bob Builder"})
    assert "Closed for Bob Builder" in labelled[1].reason


def test_reject_locked_nothing_locked() -> None:
    frame = pd.DataFrame(
        {"user": ["x"], "timestamp": pd.to_datetime(["2026-10-07T09:00:00Z"])}, index=[2]
    )
    assert reject_locked(frame, pd.Series({2: BOB}), {}) == []


# -- issue 14: the user's local week, clean errors for malformed approval data ----------------


@pytest.mark.parametrize(
    ("ts", "offset", "monday"),
    [
        ("2026-10-11T23:30:00Z", 60, date(2026, 10, 12)),  # Monday 00:30 at UTC+1
        ("2026-10-12T00:30:00Z", -300, date(2026, 10, 5)),  # Sunday 19:30 at UTC-5
        ("2026-10-12T00:30:00Z", 0, date(2026, 10, 12)),
        ("2026-10-11T10:30:00Z", 14 * 60, date(2026, 10, 12)),  # Monday 00:30 at UTC+14
    ],
)
def test_week_start_in_the_users_zone(ts: str, offset: int, monday: date) -> None:
    assert week_start(pd.Timestamp(ts), offset) == monday


def _frame(*stamps: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"user": ["bob"] * len(stamps), "timestamp": pd.to_datetime(list(stamps), utc=True)},
        index=pd.Index(range(2, 2 + len(stamps)), name="source_row"),
    )


def test_reject_locked_uses_each_users_local_week() -> None:
    # Bob is at UTC+1; his week of 2026-10-12 is Approved
    frame = _frame(
        "2026-10-11T23:30:00Z",
        "2026-10-12T00:30:00Z",
        "2026-10-18T22:59:00Z",
        "2026-10-18T23:30:00Z",
    )
    ids = pd.Series(BOB, index=frame.index)
    locked = locked_weeks([approval(BOB, "2026-10-12", 3)])
    local = reject_locked(frame, ids, locked, offsets={BOB: 60})
    # Monday 00:30, 01:30 and Sunday 23:59 local are in the week; Monday 00:30 next is not
    assert [r.source_row for r in local] == [2, 3, 4]
    # the old reading (UTC week) flagged the wrong rows near both Mondays
    assert [r.source_row for r in reject_locked(frame, ids, locked)] == [3, 4, 5]


def test_user_offsets_from_me_and_users() -> None:
    users: list[dict[str, Any]] = [
        {"id": BOB, "timeZone": -300},
        {"id": ANN},
        {"id": "x", "timeZone": "60"},
    ]
    assert user_offsets(users, ANN.upper(), 120) == {BOB.lower(): -300, ANN: 120}


@pytest.mark.parametrize(
    ("state", "number"),
    [
        (1, 1),
        ("1", 1),
        ("Approved", 3),
        ("approved", 3),
        (" Closed ", 99),
        ("Reopened", 2),
        (3.0, 3),
    ],
)
def test_approval_state_as_number_or_text(state: object, number: int) -> None:
    assert approval_state(state) == number


def test_text_states_lock_instead_of_being_ignored() -> None:
    items = [approval(BOB, "2026-10-05", "Approved"), approval(ANN, "2026-10-05", "Reopened")]
    items.append({"user": {"id": ANN}, "weekStartDate": "2026-10-12", "approvalState": "Closed"})
    assert locked_weeks(items) == {
        (BOB.lower(), date(2026, 10, 5)): "Approved",
        (ANN, date(2026, 10, 12)): "Closed",
    }


@pytest.mark.parametrize(
    ("item", "says"),
    [
        (approval(BOB, "10/05/2026", 3), "weekStartDate '10/05/2026' is not an ISO date"),
        (approval(BOB, "", 3), "weekStartDate '' is not an ISO date"),
        (approval(BOB, "2026-10-05", "Pending"), "approvalState 'Pending' is none of"),
        (approval(BOB, "2026-10-05", 7), "approvalState 7 is none of"),
        ({"user": {"id": BOB}, "weekStartDate": "2026-10-05"}, "approvalState None"),
    ],
)
def test_malformed_approval_items_are_clean_errors(item: dict[str, object], says: str) -> None:
    with pytest.raises(ApprovalDataError) as caught:
        locked_weeks([approval(ANN, "2026-10-05", 1), item])
    assert caught.value.message.startswith("timeApproval/all item 2: " + says)
    assert not isinstance(caught.value, ValueError)
    problems: list[str] = []
    assert locked_weeks([approval(ANN, "2026-10-05", 1), item], on_problem=problems.append) == {
        (ANN, date(2026, 10, 5)): "Submitted"
    }
    assert len(problems) == 1 and says in problems[0]


def test_preflight_locks_notes_users_checked_by_the_utc_week() -> None:
    frame = _frame("2026-10-12T03:00:00Z", "2026-10-14T12:00:00Z")
    ids = pd.Series([BOB, ANN], index=frame.index)
    approvals = [approval(BOB, "2026-10-12", 3), approval(ANN, "2026-10-12", 3)]
    users = [{"id": BOB, "email": "bob@x"}, {"id": ANN, "email": "ann@x"}]
    rejections, notes = preflight_locks(
        frame,
        ids,
        approvals,
        users=users,
        self_id=ANN,
        self_offset=60,
        user_labels={BOB: "bob@x", ANN: "ann@x"},
    )
    assert [r.source_row for r in rejections] == [2, 3]
    # Bob's zone is unknown and his row is 3 h after Monday 00:00 UTC; Ann's is known
    (note,) = notes
    assert "1 user(s) (bob@x)" in note and "UTC week" in note
    bad = [*approvals, approval(BOB, "12.10.2026", 1)]
    _, notes = preflight_locks(frame, ids, bad, users=users, self_id=ANN, self_offset=60)
    assert any("1 approval record(s) could not be read" in n and "12.10.2026" in n for n in notes)
