from datetime import date

import pandas as pd
import pytest

from timetracker_import.core.approval import locked_weeks, reject_locked, week_start

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


def approval(user: str, start: str, state: int) -> dict[str, object]:
    return {"user": {"id": user}, "weekStartDate": start, "approvalState": state}


def test_locked_weeks_keeps_submitted_approved_closed_only() -> None:
    items = [
        approval(BOB, "2026-10-05", 3),
        approval(BOB, "2026-10-12T00:00:00", 1),
        approval(ANN, "2026-10-05", 2),  # reopened = open
        approval(ANN, "2026-10-19", 99),
        {"approvalState": 3},  # no user: ignored
    ]
    assert locked_weeks(items) == {
        (BOB.lower(), date(2026, 10, 5)): "Approved",
        (BOB.lower(), date(2026, 10, 12)): "Submitted",
        (ANN, date(2026, 10, 19)): "Closed",
    }


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
