"""``GET me`` (D22) and ``GET activityTypes[/{id}]``."""

from __future__ import annotations

from typing import Any

from timetracker_import.sandbox.context import ApiFail, Ctx, parse_guid
from timetracker_import.sandbox.render import user_json
from timetracker_import.sandbox.seed import EMPTY_GUID, stable_guid


async def h_me(ctx: Ctx) -> Any:
    seed = ctx.state.seed
    at = ctx.store.activity_types.get(ctx.user.default_activity_type_id)
    account_id = stable_guid("account", seed.account_name)
    return {
        "user": user_json(ctx.user, ctx.expand_display_name),
        "account": {
            "vstsId": account_id,
            "vstsCollectionId": account_id,
            "name": seed.account_name,
            "id": account_id,
        },
        "defaultActivityType": (
            {"color": at.color, "name": at.name, "id": at.id}
            if at and at.id != EMPTY_GUID
            else None
        ),
        "timeZone": ctx.user.time_zone,
    }


def _activity_json(ctx: Ctx, type_id: str) -> dict[str, Any]:
    at = ctx.store.activity_types[type_id]
    return {"color": at.color, "name": at.name, "id": at.id}


async def h_activity_types(ctx: Ctx) -> Any:
    types = sorted(ctx.store.activity_types.values(), key=lambda a: (a.name.casefold(), a.id))
    default = ctx.state.seed.system_default_activity_type
    return {
        "enabled": True,
        "systemDefaultActivityTypeId": ctx.state.seed.activity_type_id(default),
        "activityTypes": [_activity_json(ctx, a.id) for a in types],
    }


async def h_activity_type(ctx: Ctx) -> Any:
    type_id = parse_guid(ctx.params["id"], "id")
    if type_id not in ctx.store.activity_types:
        raise ApiFail(404, "EntityNotFound", f"activity type {type_id} does not exist")
    return _activity_json(ctx, type_id)
