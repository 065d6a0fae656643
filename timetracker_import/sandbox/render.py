"""JSON shapes of users and worklogs (D9), and the fast renderer of worklog pages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from timetracker_import.sandbox.context import Ctx, RawJson, compact_dumps
from timetracker_import.sandbox.store import UserRow, WorklogRow
from timetracker_import.sandbox.timeparse import format_created, from_key
from timetracker_import.sandbox.weeks import is_locked


def user_json(user: UserRow, expand: bool) -> dict[str, Any]:
    """The v3.2 user object (D9)."""
    return {
        "uniqueName": user.unique_name,
        "displayName": user.name if expand else None,
        "vstsId": user.vsts_id,
        "vstsCollectionId": user.vsts_id,
        "vstsCollectionId2": user.vsts_id,
        "email": user.email,
        "name": user.name,
        "id": user.id,
    }


def worklog_json(
    ctx: Ctx,
    row: WorklogRow,
    *,
    editable: dict[tuple[str, date], int] | None = None,
    with_id: bool = True,
    memo: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The v3.2 worklog shape; ``editable`` (approval states) fills isCanEdit/isCanDelete.

    ``memo``: a dict shared by the worklogs of one response, so the user objects, activity
    types and created stamps they repeat are built once (the JSON stays the same)."""
    memo = {} if memo is None else memo
    can: bool | None = None
    if editable is not None:
        may = row.user_id == ctx.user.id or ctx.user.role == "Administrator"
        can = may and not is_locked(editable, row.user_id, row.ts_key)
    return {
        "timestamp": row.ts_text,
        "length": row.length,
        "billableLength": row.billable,
        "workItemId": row.work_item_id,
        "comment": row.comment,
        "user": _memo_user(ctx, memo, row.user_id),
        "addedByUser": _memo_user(ctx, memo, row.added_by),
        "editedByUser": _memo_user(ctx, memo, row.edited_by),
        "createdTimestamp": _memo_created(memo, row.created_key),
        "editedTimestamp": _memo_created(memo, row.edited_key),
        "activityType": _memo_activity(ctx, memo, row.activity_type_id),
        "flags": {
            "isTracked": False,
            "isManuallyEntered": True,
            "isChanged": row.edited_key != row.created_key,
            "isTrackedExtended": False,
            "isImported": False,
            "isFromApi": True,
            "isBillable": bool(row.billable),
        },
        "isCanEdit": can,
        "isCanDelete": can,
        "id": row.id if with_id else None,
    }


def _memo_user(ctx: Ctx, memo: dict[Any, Any], user_id: str) -> dict[str, Any]:
    key = ("user", user_id)
    if key not in memo:
        memo[key] = user_json(ctx.store.users[user_id], ctx.expand_display_name)
    result: dict[str, Any] = memo[key]
    return result


def _memo_created(memo: dict[Any, Any], key: int) -> str:
    if ("created", key) not in memo:
        memo["created", key] = format_created(from_key(key))
    return str(memo["created", key])


def _memo_activity(ctx: Ctx, memo: dict[Any, Any], type_id: str) -> dict[str, Any]:
    key = ("activity", type_id)
    if key not in memo:
        at = ctx.store.activity_types[type_id]
        memo[key] = {"color": at.color, "name": at.name, "id": at.id}
    result: dict[str, Any] = memo[key]
    return result


_enc = json.encoder.encode_basestring_ascii  # what json.dumps uses (ensure_ascii=True)


def _js(value: str | None) -> str:
    return "null" if value is None else _enc(value)


def _ji(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


_TRUE_FALSE = ("false", "true")
_CAN = {None: "null", False: "false", True: "true"}


def render_worklogs(
    ctx: Ctx,
    rows: Iterable[tuple[Any, ...]],
    *,
    editable: dict[tuple[str, date], int] | None = None,
    with_id: bool = True,
) -> RawJson:
    """A JSON array of worklogs from ``Store.page_tuples`` rows, byte for byte what
    ``compact_dumps([worklog_json(ctx, WorklogRow(*row), editable=editable,
    with_id=with_id), ...])`` gives (tests/sandbox/test_render.py holds it to that).

    The list endpoints answer up to 500 worklogs of ~1.5 kB each; building a dict per row and
    encoding it was most of a page's CPU. Here the user objects, activity types and created
    stamps a page repeats are encoded once, and each row is one string template."""
    users = ctx.store.users
    types = ctx.store.activity_types
    expand = ctx.expand_display_name
    me = ctx.user.id
    admin = ctx.user.role == "Administrator"
    user_js: dict[str, str] = {}
    type_js: dict[str, str] = {}
    stamp_js: dict[int, str] = {}

    def user(user_id: str) -> str:
        text = user_js.get(user_id)
        if text is None:
            text = user_js[user_id] = compact_dumps(user_json(users[user_id], expand))
        return text

    def stamp(key: int) -> str:
        text = stamp_js.get(key)
        if text is None:
            text = stamp_js[key] = _enc(format_created(from_key(key)))
        return text

    def activity(type_id: str) -> str:
        text = type_js.get(type_id)
        if text is None:
            at = types[type_id]
            text = type_js[type_id] = compact_dumps(
                {"color": at.color, "name": at.name, "id": at.id}
            )
        return text

    # "user" .. "isBillable": the same few users, types and stamps repeat across a page (a
    # batch shares one created stamp), so this middle part is one lookup per row
    middles: dict[tuple[Any, ...], str] = {}
    parts: list[str] = []
    for (
        wid,
        user_id,
        added_by,
        edited_by,
        ts_text,
        ts_key,
        length,
        billable,
        work_item,
        comment,
        type_id,
        created,
        edited,
    ) in rows:
        mkey = (user_id, added_by, edited_by, created, edited, type_id)
        middle = middles.get(mkey)
        if middle is None:
            middle = middles[mkey] = (
                f'"user":{user(user_id)},"addedByUser":{user(added_by)},'
                f'"editedByUser":{user(edited_by)},"createdTimestamp":{stamp(created)},'
                f'"editedTimestamp":{stamp(edited)},"activityType":{activity(type_id)},'
                f'"flags":{{"isTracked":false,"isManuallyEntered":true,'
                f'"isChanged":{_TRUE_FALSE[edited != created]},"isTrackedExtended":false,'
                f'"isImported":false,"isFromApi":true,"isBillable":'
            )
        if editable is None:
            can = "null"
        else:
            can = _CAN[(user_id == me or admin) and not is_locked(editable, user_id, ts_key)]
        parts.append(
            f'{{"timestamp":{_enc(ts_text)},"length":{_ji(length)},'
            f'"billableLength":{_ji(billable)},"workItemId":{_ji(work_item)},'
            f'"comment":{_js(comment)},{middle}{_TRUE_FALSE[bool(billable)]}}},'
            f'"isCanEdit":{can},"isCanDelete":{can},"id":{_enc(wid) if with_id else "null"}}}'
        )
    raw = RawJson("[" + ",".join(parts) + "]")
    raw.items_count = len(parts)
    return raw
