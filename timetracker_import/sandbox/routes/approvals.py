"""``timeApproval/all`` and ``timeApproval/week`` POST/DELETE (D11, D13, D21)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from timetracker_import.sandbox.context import (
    ApiFail,
    Ctx,
    bad_param,
    fail422,
    lower_keys,
    paginate,
    parse_guid,
    require,
    require_a_role,
)
from timetracker_import.sandbox.render import user_json
from timetracker_import.sandbox.seed import stable_guid
from timetracker_import.sandbox.store import ApprovalRow
from timetracker_import.sandbox.timeparse import format_created, parse_timestamp, to_key


def _approval_json(ctx: Ctx, a: ApprovalRow) -> dict[str, Any]:
    users = ctx.store.users
    expand = ctx.expand_display_name

    def maybe(uid: str | None) -> dict[str, Any] | None:
        return user_json(users[uid], expand) if uid and uid in users else None

    return {
        "id": a.id,
        "weekStartDate": a.week_start.isoformat(),
        "weekEndDate": (a.week_start + timedelta(days=6)).isoformat(),
        "user": maybe(a.user_id),
        "approvalState": a.state,
        "modificationTimestamp": a.modified,
        "submittedTimestamp": a.submitted,
        "approvalTimestamp": a.approved,
        "assignedManager": maybe(a.manager_id),
        "approvedByManager": maybe(a.approved_by),
    }


async def h_approvals(ctx: Ctx) -> Any:
    require(
        ctx,
        ctx.user.approval_manager or ctx.user.role == "Administrator",
        "timeApproval/all needs an approval manager or Administrator",
    )
    start, end = ctx.time_param("$fromTimestamp"), ctx.time_param("$toTimestamp")
    week = 7 * 86_400 * 1_000_000
    items = []
    for a in ctx.store.approvals():
        key = to_key(datetime(a.week_start.year, a.week_start.month, a.week_start.day, tzinfo=UTC))
        # Weeks that contain or follow / contain or precede the given instant (D21).
        if start is not None and key + week <= start:
            continue
        if end is not None and key > end:
            continue
        items.append(a)
    users = ctx.store.users
    items.sort(key=lambda a: (a.week_start, users[a.user_id].name.casefold(), a.user_id))
    return [_approval_json(ctx, a) for a in paginate(ctx, items)]


def _week_param(value: Any, name: str) -> date:
    parsed = parse_timestamp(value) if value is not None else None
    if parsed is None:
        raise bad_param(name, "expected a date (YYYY-MM-DD)")
    day = parsed.instant.date()
    if day.weekday() != 0:
        raise fail422(
            "DbValidationError", f"{name} {day.isoformat()} is not a Monday", {name: str(value)}
        )
    return day


async def h_week_post(ctx: Ctx) -> Any:
    require_a_role(ctx, "time approval")
    body = lower_keys(await ctx.json(), "the body")
    week = _week_param(body.get("weekstart"), "weekStart")
    manager_id: str | None = None
    if body.get("assignedmanagerid") is not None:
        manager_id = parse_guid(body["assignedmanagerid"], "assignedManagerId")
        if manager_id not in ctx.store.users:
            raise fail422("EntityNotFound", f"user {manager_id} does not exist")
    current = ctx.store.approval_states().get((ctx.user.id, week))
    if current in (1, 3):
        raise ApiFail(
            409, "ApprovalStateFailed", f"the week starting {week} is already submitted or approved"
        )
    stamp = format_created(datetime.now(UTC))
    row = ApprovalRow(
        id=stable_guid("approval", f"{ctx.user.email}:{week}"),
        user_id=ctx.user.id,
        week_start=week,
        state=1,
        manager_id=manager_id,
        approved_by=None,
        modified=stamp,
        submitted=stamp,
        approved=None,
    )
    ctx.store.submit_week(row)
    return True


async def h_week_delete(ctx: Ctx) -> Any:
    require_a_role(ctx, "time approval")
    week = _week_param(ctx.q("weekStart", "$weekStart"), "weekStart")
    if ctx.store.approval_states().get((ctx.user.id, week)) != 1:
        raise ApiFail(
            409, "ApprovalStateFailed", f"the week starting {week} is not in the Submitted state"
        )
    ctx.store.delete_week(ctx.user.id, week)
    return True
