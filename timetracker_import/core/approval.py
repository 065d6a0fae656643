"""Approval locks: rows that fall into a Submitted, Approved or Closed week are rejected before
anything is posted (API §14, sandbox D13/D21)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from timetracker_import.core.rejections import Rejection

#: approvalState values that refuse writes; 2 (Reopened) is open.
LOCKING_STATES: dict[int, str] = {1: "Submitted", 3: "Approved", 99: "Closed"}


def week_start(ts_utc: datetime | pd.Timestamp) -> date:
    """The Monday of the week (Monday to Sunday, in UTC) that contains ``ts_utc``."""
    ts = pd.Timestamp(ts_utc)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    day = ts.date()
    return day - timedelta(days=day.weekday())


def locked_weeks(approvals: Iterable[Mapping[str, Any]]) -> dict[tuple[str, date], str]:
    """``{(user_id lowercased, week_start): state name}`` for the weeks that refuse writes.

    ``approvals`` are ``timeApproval/all`` items (``user.id``, ``weekStartDate``,
    ``approvalState``). ``weekStartDate`` is taken as given (date part)."""
    locked: dict[tuple[str, date], str] = {}
    for item in approvals:
        state = item.get("approvalState")
        try:
            name = LOCKING_STATES.get(int(state))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        user_id = str((item.get("user") or {}).get("id") or "").strip().lower()
        start_text = str(item.get("weekStartDate") or "")[:10]
        if not name or not user_id or not start_text:
            continue
        locked[(user_id, date.fromisoformat(start_text))] = name
    return locked


def reject_locked(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    locked: Mapping[tuple[str, date], str],
    *,
    user_labels: Mapping[str, str] | None = None,
    column_header: str | None = None,
) -> list[Rejection]:
    """Rejections (stage ``preflight``) for rows whose week is locked for their user.

    ``user_ids`` is the resolved id per row (aligned on the frame's index; rows without an id
    are ignored). ``user_labels`` maps a user id to how the user is named in messages (e.g. the
    email); otherwise the file's ``user`` value, else the id. ``column_header`` is the original
    header of the date column, for the rejection's ``column``."""
    if not locked or frame.empty:
        return []
    labels = {k.lower(): v for k, v in (user_labels or {}).items()}
    ids = user_ids.reindex(frame.index)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    days = stamps.dt.normalize()
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
