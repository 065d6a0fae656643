"""Stage ``resolve``: the users and activity types a file names, as 7pace ids.

Input: the rows still to check (canonical frame) and the server's ``me``, ``users`` and
``activityTypes`` answers; output: ``ResolvedRows`` (a user id and an activity type id per
row, and one rejection per row whose name matches nothing, with suggestions). Pure: the run
fetches the payloads and hands them in; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from timetracker_import.core.rejections import Rejection

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ResolvedRows:
    """Ids per source row. ``self_only``: every row is the token's own user (then the
    token's own ``workLogs`` endpoints suffice); ``naive_offset``: the token user's time-zone
    offset in minutes (``me``), for servers that answer with naive local times."""

    user_ids: pd.Series
    activity_type_ids: dict[Any, Any]
    rejections: list[Rejection]
    self_id: str
    self_only: bool
    naive_offset: int
    #: user id -> what to call the user in a message (e-mail, else uniqueName, else id)
    labels: dict[str, str] = field(default_factory=dict)


def resolve_rows(
    frame: pd.DataFrame,
    *,
    me: dict[str, Any],
    users: list[dict[str, Any]],
    activity_types: Any,
    user_header: str | None,
    activity_header: str | None,
    user_fix: str = "",
) -> ResolvedRows:
    """Resolve the user and activity type of every row of ``frame``. The user ids and the
    ``self_only`` flag cover the rows that resolved (rejected rows are left out).
    ``user_fix``: what an unknown user's rejection tells to do
    (``LoadedMapping.unknown_user_fix``)."""
    from timetracker_import.core.resolve import (
        ActivityTypeDirectory,
        UserDirectory,
        resolve_activity_types,
        resolve_users,
    )

    self_id = str((me.get("user") or {}).get("id") or "")
    user_ids, user_rej = resolve_users(
        frame,
        UserDirectory.from_users(users, unknown_fix=user_fix),
        self_user_id=self_id,
        column_header=user_header,
    )
    at_ids, at_rej = resolve_activity_types(
        frame, ActivityTypeDirectory.from_payload(activity_types), column_header=activity_header
    )
    rejections = user_rej + at_rej
    rejected = {r.source_row for r in rejections}
    kept = user_ids[~user_ids.index.isin(list(rejected))] if rejected else user_ids
    return ResolvedRows(
        user_ids=user_ids,
        # only rows that name a type: the others get the user's default (no key per row)
        activity_type_ids={r: t for r, t in at_ids.items() if isinstance(t, str) and t},
        rejections=rejections,
        self_id=self_id,
        self_only=bool(len(kept)) and all(str(u).lower() == self_id.lower() for u in kept),
        naive_offset=int(me.get("timeZone") or 0),
        labels={
            str(u.get("id")): str(u.get("email") or u.get("uniqueName") or u.get("id"))
            for u in users
        },
    )
