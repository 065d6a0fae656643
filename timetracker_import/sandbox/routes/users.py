"""``GET users[/{id}]`` and ``users/roles`` GET/POST (D11, D12)."""

from __future__ import annotations

from typing import Any

from timetracker_import.sandbox.context import (
    ApiFail,
    Ctx,
    fail422,
    lower_keys,
    paginate,
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


def _find_role(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    s = {str(k).lower(): v for k, v in spec.items()}
    for role in ROLES:
        if s.get("id") is not None and str(s["id"]).strip().lower() == role_id(role):
            return role
        if s.get("name") is not None and str(s["name"]).strip().lower() == role.lower():
            return role
    return None


async def h_roles_post(ctx: Ctx) -> Any:
    require(ctx, ctx.user.role == "Administrator", "users/roles needs the Administrator role")
    body = lower_keys(await ctx.json(), "the body")
    entries = body.get("users")
    if not isinstance(entries, list):
        raise ApiFail(400, "ApiVersionError", "users must be a list")
    skip_errors = bool(body.get("skiperrors", False))
    users = ctx.store.users
    changes: list[tuple[str, str]] = []
    failed: list[dict[str, Any]] = []
    for entry in entries:
        e = lower_keys(entry, "a users[] entry")
        found: UserRow | None = None
        keys = [k for k in ("id", "vstsid", "email") if e.get(k) is not None]
        problem: str | None = None
        if len(keys) != 1:
            problem = "name the user by exactly one of id, vstsId or email"
        elif keys[0] == "email":
            found = next(
                (u for u in users.values() if u.email.lower() == str(e["email"]).lower()), None
            )
        else:
            guid = parse_guid(e[keys[0]], keys[0])
            attr = "id" if keys[0] == "id" else "vsts_id"
            found = next((u for u in users.values() if getattr(u, attr) == guid), None)
        role = _find_role(e.get("role"))
        if problem is None and found is None:
            problem = f"user {e[keys[0]]} does not exist"
        if problem is None and role is None:
            problem = f"role {e.get('role')!r} does not exist"
        if problem is not None:
            if not skip_errors:
                raise fail422("EntityNotFound", problem)
            failed.append({"entity": entry, "error": {"message": problem}})
            continue
        assert found is not None and role is not None
        changes.append((found.id, role))
    ctx.store.set_roles(changes)
    return {"succeeded": len(changes), "failed": len(failed), "failedEntries": failed}
