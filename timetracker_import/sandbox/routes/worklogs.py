"""``workLogs``: the caller's list, ``workLogs/all``, and ``workLogs/{id}`` GET/PATCH/DELETE
(D5, D10, D11, D23), plus the single ``POST workLogs``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from timetracker_import.sandbox.context import (
    INT32_MAX,
    MAX_PAGE,
    ApiFail,
    Ctx,
    RawJson,
    bad_param,
    fail422,
    parse_guid,
    require,
    require_a_role,
)
from timetracker_import.sandbox.render import render_worklogs, worklog_json
from timetracker_import.sandbox.store import WorklogFilter, WorklogRow
from timetracker_import.sandbox.validation import build_worklog, parse_worklog_input
from timetracker_import.sandbox.weeks import is_locked, locked_error

MAX_WORK_ITEM_FILTER = 100

ALL_READERS = frozenset({"Administrator", "Budget", "Product"})


def _worklog_filter(ctx: Ctx, user_id: str | None) -> WorklogFilter:
    ids: list[int] | None = None
    raw = ctx.q("$workItemIds")
    if raw:
        parts = [p for p in raw.split(",") if p.strip()]
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise bad_param("$workItemIds", "expected comma-separated integers") from None
        if any(not -INT32_MAX - 1 <= i <= INT32_MAX for i in ids):
            raise bad_param("$workItemIds", "an id is outside the 32-bit integer range")
        if len(ids) > MAX_WORK_ITEM_FILTER:
            raise fail422(
                "FilterWorkItemIdsCountExceeded",
                f"$workItemIds allows at most {MAX_WORK_ITEM_FILTER} ids",
            )
    return WorklogFilter(
        user_id=user_id,
        from_key=ctx.time_param("$fromTimestamp"),
        to_key=ctx.time_param("$toTimestamp"),
        from_created=ctx.time_param("$fromCreatedTimestamp"),
        to_created=ctx.time_param("$toCreatedTimestamp"),
        work_item_ids=ids,
    )


def _list_worklogs(ctx: Ctx, user_id: str | None) -> RawJson:
    count = ctx.int_param("$count", MAX_PAGE, 1, MAX_PAGE)
    skip = ctx.int_param("$skip", 0, 0)
    flt = _worklog_filter(ctx, user_id)
    editable = ctx.store.approval_states() if ctx.bool_param("$includeEditable") else None
    rows = ctx.store.page_tuples(flt, skip=skip, count=count)
    return render_worklogs(ctx, rows, editable=editable)


async def h_worklogs_mine(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs")
    return _list_worklogs(ctx, ctx.user.id)


async def h_worklogs_all(ctx: Ctx) -> Any:
    require(
        ctx, ctx.user.role in ALL_READERS, "workLogs/all needs Administrator, Budget or Product"
    )
    return _list_worklogs(ctx, None)


def _path_worklog(ctx: Ctx) -> WorklogRow:
    worklog_id = parse_guid(ctx.params["id"], "id")
    row = ctx.store.get_worklog(worklog_id)
    if row is None:
        raise ApiFail(404, "EntityNotFound", f"worklog {worklog_id} does not exist")
    return row


async def h_worklog_get(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs")
    row = _path_worklog(ctx)
    require(
        ctx,
        row.user_id == ctx.user.id or ctx.user.role in ALL_READERS,
        "another user's worklog needs Administrator, Budget or Product",
    )
    editable = ctx.store.approval_states() if ctx.bool_param("$includeEditable") else None
    return worklog_json(ctx, row, editable=editable)


async def h_worklog_post(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs")
    data = parse_worklog_input(await ctx.json())
    row = build_worklog(ctx, data, ctx.store.approval_states(), datetime.now(UTC))
    ctx.store.insert_worklogs([row])
    return worklog_json(ctx, row)


async def h_worklog_patch(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs")
    existing = _path_worklog(ctx)
    data = parse_worklog_input(await ctx.json())
    row = build_worklog(ctx, data, ctx.store.approval_states(), datetime.now(UTC), existing)
    ctx.store.replace_worklog(row)
    return worklog_json(ctx, row)


async def h_worklog_delete(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs")
    row = _path_worklog(ctx)
    if row.user_id != ctx.user.id and ctx.user.role != "Administrator":
        raise ApiFail(
            403,
            "NoRightsToWorkLogModification",
            "only an Administrator may delete another user's worklogs",
        )
    if is_locked(ctx.store.approval_states(), row.user_id, row.ts_key):
        raise locked_error(row.user_id, row.ts_key)
    ctx.store.delete_worklog(row.id)
    return None
