"""Approval locks: rows that fall into a Submitted, Approved or Closed week are rejected before
anything is posted (API §14, sandbox D13/D21).

7pace locks by the user's own week: ``weekStartDate`` is a user-local date (API §14), so a
worklog belongs to the week (Monday to Sunday) that contains its start *in its user's time
zone*. The API gives the token user's offset (``me.timeZone``, minutes east of UTC, §1.6);
other users' offsets only when their user object carries one. A user whose offset is unknown
is checked by the UTC week, and the caller notes it: near Monday 00:00 such a row may be
flagged wrongly or missed, and a missed one is still refused by the server
(``ApprovalStateFailed``) and isolated to its row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from timetracker_import.core.rejections import Rejection
from timetracker_import.errors import ApprovalDataError

#: approvalState values that refuse writes; 2 (Reopened) is open.
LOCKING_STATES: dict[int, str] = {1: "Submitted", 3: "Approved", 99: "Closed"}
#: every state the API defines, by number (API §14)
STATES: dict[int, str] = {1: "Submitted", 2: "Reopened", 3: "Approved", 99: "Closed"}
_STATE_NUMBERS = {name.lower(): number for number, name in STATES.items()}


def week_start(ts_utc: datetime | pd.Timestamp, offset_minutes: int = 0) -> date:
    """The Monday of the week (Monday to Sunday) that contains ``ts_utc`` in a time zone
    ``offset_minutes`` east of UTC (default: the UTC week)."""
    ts = pd.Timestamp(ts_utc)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    day = (ts + pd.Timedelta(minutes=offset_minutes)).date()
    return day - timedelta(days=day.weekday())


def approval_state(value: Any) -> int:
    """The number of an ``approvalState``: 1, "1", or the state's name in any case
    ("Approved"); ApprovalDataError for anything else (an unknown state is not guessed)."""
    if isinstance(value, bool):
        raise ApprovalDataError(f"approvalState {value!r} is not a state")
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
        if number == value and number in STATES:
            return number
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and int(text) in STATES:
            return int(text)
        if text.lower() in _STATE_NUMBERS:
            return _STATE_NUMBERS[text.lower()]
    raise ApprovalDataError(
        f"approvalState {value!r} is none of "
        + ", ".join(f"{n} ({name})" for n, name in STATES.items())
    )


def week_start_date(value: Any) -> date:
    """``weekStartDate`` as a date: ISO ``YYYY-MM-DD``, optionally with a time part (the date
    part is the user-local date as given); ApprovalDataError otherwise."""
    text = str(value or "").strip()
    try:
        if len(text) > 10 and text[10] in "T ":
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return date.fromisoformat(text)
    except ValueError:
        raise ApprovalDataError(
            f"weekStartDate {value!r} is not an ISO date (YYYY-MM-DD)"
        ) from None


def locked_weeks(
    approvals: Iterable[Mapping[str, Any]],
    *,
    on_problem: Callable[[str], None] | None = None,
) -> dict[tuple[str, date], str]:
    """``{(user_id lowercased, week_start): state name}`` for the weeks that refuse writes.

    ``approvals`` are ``timeApproval/all`` items (``user.id``, ``weekStartDate``,
    ``approvalState`` as a number or a state name). An item that cannot be read (no user, a
    non-ISO ``weekStartDate``, an unknown state) raises ApprovalDataError naming it, or, with
    ``on_problem``, is reported there and left out (the server still refuses its week)."""
    locked: dict[tuple[str, date], str] = {}
    for position, item in enumerate(approvals):
        user_id = str((item.get("user") or {}).get("id") or "").strip().lower()
        try:
            if not user_id:
                raise ApprovalDataError("the item names no user.id")
            start = week_start_date(item.get("weekStartDate"))
            number = approval_state(item.get("approvalState"))
        except ApprovalDataError as exc:
            message = f"timeApproval/all item {position + 1}: {exc.message}"
            if on_problem is None:
                raise ApprovalDataError(
                    message, hint="the approval data of this server cannot be read"
                ) from None
            on_problem(message)
            continue
        name = LOCKING_STATES.get(number)
        if name:
            locked[(user_id, start)] = name
    return locked


def user_offsets(
    users: Iterable[Mapping[str, Any]], self_id: str, self_offset: int
) -> dict[str, int]:
    """Minutes east of UTC per user id (lowercased): the token user's from ``me.timeZone``,
    others' from a ``timeZone`` (or ``timezone``) number on their user object, when there."""
    offsets: dict[str, int] = {}
    for user in users:
        uid = str(user.get("id") or "").strip().lower()
        value = user.get("timeZone", user.get("timezone"))
        if uid and isinstance(value, int | float) and not isinstance(value, bool):
            offsets[uid] = int(value)
    if self_id:
        offsets[self_id.strip().lower()] = int(self_offset)
    return offsets


def users_checked_in_utc(
    locked: Mapping[tuple[str, date], str], user_ids: Iterable[Any], offsets: Mapping[str, int]
) -> list[str]:
    """The users of ``user_ids`` with a locked week whose time zone is unknown (checked by the
    UTC week), lowercased and sorted."""
    with_locks = {uid for uid, _ in locked}
    wanted = {str(u).lower() for u in user_ids if isinstance(u, str)}
    return sorted(u for u in wanted & with_locks if u not in offsets)


def reject_locked(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    locked: Mapping[tuple[str, date], str],
    *,
    user_labels: Mapping[str, str] | None = None,
    column_header: str | None = None,
    offsets: Mapping[str, int] | None = None,
) -> list[Rejection]:
    """Rejections (stage ``preflight``) for rows whose week is locked for their user.

    ``user_ids`` is the resolved id per row (aligned on the frame's index; rows without an id
    are ignored). ``user_labels`` maps a user id to how the user is named in messages (e.g. the
    email); otherwise the file's ``user`` value, else the id. ``column_header`` is the original
    header of the date column, for the rejection's ``column``. ``offsets``: minutes east of
    UTC per user id (``user_offsets``); a row's week is the one containing its start in its
    user's zone (UTC when the user's offset is unknown)."""
    if not locked or frame.empty:
        return []
    labels = {k.lower(): v for k, v in (user_labels or {}).items()}
    ids = user_ids.reindex(frame.index)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    zone = {k.lower(): v for k, v in (offsets or {}).items()}
    shift = pd.to_timedelta(
        [zone.get(u.lower(), 0) if isinstance(u, str) else 0 for u in ids], unit="m"
    )
    days = (stamps + pd.Series(shift, index=stamps.index)).dt.normalize()
    mondays = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.date
    file_users = frame["user"] if "user" in frame.columns else pd.Series(None, index=frame.index)
    rejections: list[Rejection] = []
    for row, user_id, monday, ts, file_user in zip(
        frame.index, ids, mondays, stamps, file_users, strict=True
    ):
        if not isinstance(user_id, str):
            continue
        state = locked.get((user_id.lower(), monday))
        if state is None:
            continue
        label = labels.get(user_id.lower()) or (
            str(file_user).strip() if isinstance(file_user, str) and file_user.strip() else user_id
        )
        rejections.append(
            Rejection(
                source_row=int(row),
                stage="preflight",
                column=column_header,
                value=ts.isoformat(),
                reason=(
                    f"week of {monday.isoformat()} is {state} for {label}; "
                    "ask your approval manager to reopen it"
                ),
            )
        )
    return rejections


def preflight_locks(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    approvals: Iterable[Mapping[str, Any]],
    *,
    users: Iterable[Mapping[str, Any]],
    self_id: str,
    self_offset: int,
    user_labels: Mapping[str, str] | None = None,
    column_header: str | None = None,
) -> tuple[list[Rejection], list[str]]:
    """The import's lock check: rejections for the rows in locked weeks, by each user's local
    week (``user_offsets``), and notes for what could not be checked exactly (approval items
    that cannot be read; users with locked weeks whose time zone is unknown, checked by the
    UTC week)."""
    users = list(users)
    notes: list[str] = []
    problems: list[str] = []
    locked = locked_weeks(approvals, on_problem=problems.append)
    if problems:
        notes.append(
            f"{len(problems)} approval record(s) could not be read and were left to the server "
            f"(it refuses writes into locked weeks; such rows are isolated): {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    offsets = user_offsets(users, self_id, self_offset)
    # only rows within 14 h (the widest offset) of a Monday 00:00 UTC can change week
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    into_week = stamps - stamps.dt.normalize() + pd.to_timedelta(stamps.dt.day_of_week, unit="D")
    week = pd.Timedelta(days=7)
    near = (into_week < pd.Timedelta(hours=14)) | (into_week > week - pd.Timedelta(hours=14))
    ids = user_ids.reindex(frame.index)
    in_utc = users_checked_in_utc(locked, ids[near.to_numpy()].tolist(), offsets)
    if in_utc:
        labels = {k.lower(): v for k, v in (user_labels or {}).items()}
        named = ", ".join(labels.get(u, u) for u in in_utc[:5])
        notes.append(
            f"locked weeks of {len(in_utc)} user(s) ({named}{', ...' if len(in_utc) > 5 else ''})"
            " are checked by the UTC week (the API does not give their time zone): rows within "
            "14 h of Monday 00:00 UTC may be in another week for them; the server's own check "
            "still refuses those in a locked week"
        )
    rejections = reject_locked(
        frame,
        user_ids,
        locked,
        user_labels=user_labels,
        column_header=column_header,
        offsets=offsets,
    )
    return rejections, notes
