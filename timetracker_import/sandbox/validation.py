"""Worklog creation and PATCH bodies: type checks (D4, D17) and the D7/D18 rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from timetracker_import.sandbox.context import (
    ApiFail,
    Ctx,
    bad_param,
    fail422,
    lower_keys,
    parse_guid,
    parse_int,
)
from timetracker_import.sandbox.seed import EMPTY_GUID
from timetracker_import.sandbox.store import WorklogRow
from timetracker_import.sandbox.timeparse import ParsedTime, format_utc_z, parse_timestamp, to_key
from timetracker_import.sandbox.weeks import is_locked, locked_error

# -- worklog validation (D7, D18) ------------------------------------------------------------

#: S18: the longest comment taken (7pace documents none; a sandbox decision)
MAX_COMMENT_CHARS = 4000

_FIELDS = (
    "timestamp",
    "length",
    "billablelength",
    "workitemid",
    "comment",
    "userid",
    "activitytypeid",
)


@dataclass
class WorklogInput:
    """Fields present in a creation/PATCH body, already type-checked (400s raised)."""

    present: set[str]
    timestamp: ParsedTime | None = None
    length: int | None = None
    billable: int | None = None
    work_item_id: int | None = None
    comment: str | None = None
    user_id: str | None = None
    activity_type_id: str | None = None


def parse_worklog_input(raw: Any) -> WorklogInput:
    """Type-check a creation model: case-insensitive keys, numeric strings, lenient dates."""
    body = lower_keys(raw, "a worklog")
    out = WorklogInput(present={k for k in _FIELDS if k in body})
    if body.get("timestamp") is not None:
        out.timestamp = parse_timestamp(body["timestamp"])
        if out.timestamp is None:
            raise bad_param("timeStamp", f"{body['timestamp']!r} is not a date/time")
    out.length = parse_int(body.get("length"), "length")
    out.billable = parse_int(body.get("billablelength"), "billableLength")
    out.work_item_id = parse_int(body.get("workitemid"), "workItemId")
    out.comment = _comment_text(body.get("comment"))
    if body.get("userid") is not None:
        out.user_id = parse_guid(body["userid"], "userId")
    if body.get("activitytypeid") is not None:
        out.activity_type_id = parse_guid(body["activitytypeid"], "activityTypeId")
    return out


def _comment_text(value: Any) -> str | None:
    """S21: a string as is; a number or boolean as .NET's JSON binder turns it into text
    (``5`` → ``"5"``, ``true`` → ``"True"``); an object or array is 400."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    kind = "an object" if isinstance(value, dict) else "an array"
    raise bad_param("comment", f"expected text, got {kind}")


def build_worklog(
    ctx: Ctx,
    data: WorklogInput,
    states: dict[tuple[str, date], int],
    now: datetime,
    existing: WorklogRow | None = None,
) -> WorklogRow:
    """Merge ``data`` into ``existing`` (PATCH) or defaults (POST) and validate (D7)."""
    caller = ctx.user
    store = ctx.store
    p = data.present
    if existing is None:
        user_id = data.user_id or caller.id
        user = store.users.get(user_id)
        default_type = user.default_activity_type_id if user else EMPTY_GUID
        ts = data.timestamp
        ts_text = ts.text if ts else format_utc_z(now.replace(microsecond=0))
        ts_key = ts.key if ts else to_key(now.replace(microsecond=0))
        row = WorklogRow(
            id=str(uuid.uuid4()),
            user_id=user_id,
            added_by=caller.id,
            edited_by=caller.id,
            ts_text=ts_text,
            ts_key=ts_key,
            length=data.length or 0,
            billable=data.billable,
            work_item_id=data.work_item_id,
            comment=data.comment,
            activity_type_id=data.activity_type_id or default_type,
            created_key=(now_key := to_key(now)),
            edited_key=now_key,
        )
        length_given = data.length is not None
    else:
        changes: dict[str, Any] = {"edited_by": caller.id, "edited_key": to_key(now)}
        if data.timestamp is not None:
            changes.update(ts_text=data.timestamp.text, ts_key=data.timestamp.key)
        if data.user_id is not None:
            changes["user_id"] = data.user_id
        if "length" in p:
            changes["length"] = data.length or 0
        if "billablelength" in p:
            changes["billable"] = data.billable
        if "workitemid" in p:
            changes["work_item_id"] = data.work_item_id
        if "comment" in p:
            changes["comment"] = data.comment
        if "activitytypeid" in p:
            changes["activity_type_id"] = data.activity_type_id or EMPTY_GUID
        row = replace(existing, **changes)
        length_given = "length" not in p or data.length is not None

    if not length_given:
        raise fail422("LengthIsRequired", "length is required (seconds)", {"length": None})
    if row.length <= 0:
        raise fail422(
            "LengthMustBePositive", "length must be greater than 0", {"length": row.length}
        )
    if row.billable is not None and row.billable < 0:
        raise fail422(
            "LengthMustBePositive",
            "billableLength must be 0 or more",
            {"billableLength": row.billable},
        )
    if row.comment is not None and len(row.comment) > MAX_COMMENT_CHARS:
        raise fail422(
            "CommentTooLong",
            f"comment must be at most {MAX_COMMENT_CHARS} characters",
            {"comment": len(row.comment)},
        )
    if row.work_item_id is None and not (row.comment or "").strip():
        raise fail422(
            "WorkItemIdOrCommentRequired", "a workItemId or a non-empty comment is required"
        )
    if row.user_id not in store.users:
        raise fail422(
            "EntityNotFound", f"user {row.user_id} does not exist", {"userId": row.user_id}
        )
    if row.activity_type_id not in store.activity_types:
        raise fail422(
            "EntityNotFound",
            f"activity type {row.activity_type_id} does not exist",
            {"activityTypeId": row.activity_type_id},
        )
    if row.work_item_id is not None and (
        row.work_item_id <= 0
        or (
            ctx.state.seed.work_items is not None
            and row.work_item_id not in ctx.state.seed.work_items
        )
    ):
        raise fail422(
            "EntityNotFound",
            f"work item {row.work_item_id} does not exist",
            {"workItemId": row.work_item_id},
        )
    owners = {row.user_id} | ({existing.user_id} if existing else set())
    if owners != {caller.id} and caller.role != "Administrator":
        raise ApiFail(
            403,
            "NoRightsToWorkLogModification",
            "only an Administrator may create or change another user's worklogs",
        )
    if ctx.state.seed.future_check and row.ts_key > to_key(now):
        raise fail422("FutureCheckFailed", "time tracking beyond the present day is not allowed")
    for owner, key in (
        (row.user_id, row.ts_key),
        *(((existing.user_id, existing.ts_key),) if existing else ()),
    ):
        if is_locked(states, owner, key):
            raise locked_error(owner, key)
    return row
