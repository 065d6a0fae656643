"""``GET users[/{id}]`` and ``users/roles`` GET/POST (D11, D12)."""

from __future__ import annotations

from typing import Any

from timetracker_import.sandbox.context import (
    ApiFail,
    Ctx,
    fail422,
    lower_keys,
    paginate,
    parse_bool,
    parse_guid,
    require,
)
from timetracker_import.sandbox.render import user_json
from timetracker_import.sandbox.seed import ROLES, role_id
from timetracker_import.sandbox.store import UserRow


def _users_sorted(ctx: Ctx) -> list[UserRow]:
    return sorted(ctx.store.users.values(), key=lambda u: (u.name.casefold(), u.id))


async def h_users(ctx: Ctx) -> Any:
    expand = ctx.expand_display_name
    return [user_json(u, expand) for u in paginate(ctx, _users_sorted(ctx))]


async def h_user(ctx: Ctx) -> Any:
    user_id = parse_guid(ctx.params["id"], "id")
    user = ctx.store.users.get(user_id)
    if user is None:
        raise ApiFail(404, "EntityNotFound", f"user {user_id} does not exist")
    return user_json(user, ctx.expand_display_name)


async def h_roles_get(ctx: Ctx) -> Any:
    require(ctx, ctx.user.role == "Administrator", "users/roles needs the Administrator role")
    include_none = ctx.bool_param("includeNoneRoles")
    users = [u for u in _users_sorted(ctx) if include_none or u.role != "None"]
    expand = ctx.expand_display_name
    return [
        {**user_json(u, expand), "role": {"id": role_id(u.role), "name": u.role}}
        for u in paginate(ctx, users)
    ]


def _find_role(spec: Any) -> str:
    """The role an entry's ``role: {id | name}`` names; a malformed id is 400 (D19), an
    unknown role 422."""
    if isinstance(spec, dict):
        s = {str(k).lower(): v for k, v in spec.items()}
        wanted_id = parse_guid(s["id"], "role.id") if s.get("id") is not None else None
        for role in ROLES:
            if wanted_id is not None and wanted_id == role_id(role):
                return role
            if s.get("name") is not None and str(s["name"]).strip().lower() == role.lower():
                return role
    raise fail422("EntityNotFound", f"role {spec!r} does not exist")


def _find_user(users: dict[str, UserRow], entry: dict[str, Any]) -> UserRow:
    """The user an entry names by exactly one of id, vstsId or email (D12, D19)."""
    keys = [k for k in ("id", "vstsid", "email") if entry.get(k) is not None]
    if len(keys) != 1:
        raise fail422("EntityNotFound", "name the user by exactly one of id, vstsId or email")
    key = keys[0]
    if key == "email":
        email = str(entry["email"]).lower()
        found = next((u for u in users.values() if u.email.lower() == email), None)
    else:
        guid = parse_guid(entry[key], "vstsId" if key == "vstsid" else "id")
        attr = "id" if key == "id" else "vsts_id"
        found = next((u for u in users.values() if getattr(u, attr) == guid), None)
    if found is None:
        raise fail422("EntityNotFound", f"user {entry[key]} does not exist")
    return found


async def h_roles_post(ctx: Ctx) -> Any:
    """D12. With ``skipErrors`` true every entry that cannot be processed (not an object, a
    malformed GUID, an unknown user or role) lands in ``failedEntries`` and the others are
    applied; with it false (the default) the first such entry fails the whole call (400 for
    a malformed entry or GUID, 422 for an unknown one) and nothing changes."""
    require(ctx, ctx.user.role == "Administrator", "users/roles needs the Administrator role")
    body = lower_keys(await ctx.json(), "the body")
    entries = body.get("users")
    if not isinstance(entries, list):
        raise ApiFail(400, "ApiVersionError", "users must be a list")
    skip_errors = parse_bool(body.get("skiperrors"), "skipErrors")
    changes: list[tuple[str, str]] = []
    failed: list[dict[str, Any]] = []
    for entry in entries:
        try:
            e = lower_keys(entry, "a users[] entry")
            user = _find_user(ctx.store.users, e)
            role = _find_role(e.get("role"))
        except ApiFail as fail:
            if not skip_errors:
                raise
            failed.append({"entity": entry, "error": {"message": fail.message}})
            continue
        changes.append((user.id, role))
    ctx.store.set_roles(changes)
    return {"succeeded": len(changes), "failed": len(failed), "failedEntries": failed}
