"""Approval weeks: the Monday of a timestamp's week and the D7/D21 approval lock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from timetracker_import.sandbox.context import ApiFail
from timetracker_import.sandbox.timeparse import from_key

LOCKED_STATES = frozenset({1, 3, 99})  # Submitted, Approved, Closed


def week_start_of(instant: datetime) -> date:
    """The Monday of the (UTC) week containing ``instant`` (D21)."""
    day = instant.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


DAY_US = 86_400_000_000
EPOCH_DAY = date(1970, 1, 1)  # a Thursday: weekday 3


def is_locked(states: dict[tuple[str, date], int], user_id: str, ts_key: int) -> bool:
    if not states:
        return False
    day = ts_key // DAY_US  # integer UTC day: the same Monday as week_start_of, faster
    monday = EPOCH_DAY + timedelta(days=day - (day + 3) % 7)
    return states.get((user_id, monday)) in LOCKED_STATES


def locked_error(user_id: str, ts_key: int) -> ApiFail:
    week = week_start_of(from_key(ts_key)).isoformat()
    return ApiFail(
        409,
        "ApprovalStateFailed",
        f"the week starting {week} is locked by time approval",
        {"weekStart": week},
    )
