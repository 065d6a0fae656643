"""Contract: read endpoints, auth schemes, on-prem paths and api-version, client vs sandbox."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.contract.conftest import Sandbox, SandboxFactory, activity_id, uid
from timetracker_import.errors import ApiError, AuthError

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def many_users_seed(n: int) -> dict[str, Any]:
    """A seed with ``n`` Team users (names sort as user-000, user-001, ...) plus an admin."""
    users: list[dict[str, Any]] = [
        {"email": f"user{i:03d}@paging.test", "name": f"user-{i:03d}", "token": f"tok-{i:03d}x"}
        for i in range(n)
    ]
    users.append(
        {
            "email": "admin@paging.test",
            "name": "zz Admin",
            "role": "Administrator",
            "token": "tok-admin-x",
        }
    )
    return {"users": users, "activity_types": [{"name": "Dev", "color": "112233"}]}


async def test_me_returns_the_token_user_and_time_zone(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as client:
        me = await client.me()
        expanded = await client.me(expand_display_name=True)
    assert me["user"]["id"] == uid("alice")
    assert me["user"]["email"] == "alice@example.com"
    assert me["user"]["displayName"] is None  # only with $expand
    assert expanded["user"]["displayName"] == "Alice Admin"
    assert me["timeZone"] == 60
    assert me["account"]["name"] == "demo"
    assert me["defaultActivityType"]["name"] == "Development"


async def test_users_pages_with_a_small_page_size(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(seed=many_users_seed(11))
    async with sb.client("user000@paging.test") as client:
        users = await client.users(page_size=4)
    names = [u["name"] for u in users]
    assert names == [f"user-{i:03d}" for i in range(11)] + ["zz Admin"]  # D20: by name
    assert len({u["id"] for u in users}) == 12
    assert all(u["displayName"] == u["name"] for u in users)  # expanded by default
    pages = [line for line in sb.raw_requests if "/users?" in line]
    # 12 users in pages of 4: 4 + 4 + 4, then an empty page ends the walk.
    skips = [line.split("$skip=")[1].split("&")[0] for line in pages]
    assert skips == ["0", "4", "8", "12"]
    assert all("$count=4" in line for line in pages)  # '$' sent literally (§18.1)


async def test_users_page_boundary_not_multiple(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(seed=many_users_seed(9))  # 10 users, pages of 4: 4 + 4 + 2
    async with sb.client("admin@paging.test") as client:
        users = await client.users(page_size=4, expand_display_name=False)
    assert len(users) == 10
    assert all(u["displayName"] is None for u in users)
    assert sum(1 for line in sb.raw_requests if "/users?" in line) == 3


async def test_user_by_id_and_unknown_id(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        carol = await client.user(uid("carol"), expand_display_name=True)
        with pytest.raises(ApiError) as info:
            await client.user(uid("nobody"))
    assert carol["email"] == "carol@example.com"
    assert carol["displayName"] == "Carol Coder"
    assert info.value.status == 404
    assert info.value.error_code == "EntityNotFound"
    assert not isinstance(info.value, AuthError)


async def test_roles_get_with_and_without_none_role(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as client:
        default = await client.roles(page_size=2)
        with_none = await client.roles(include_none=True, expand_display_name=True)
    roles = {r["email"]: r["role"]["name"] for r in default}
    assert roles == {
        "alice@example.com": "Administrator",
        "bob@example.com": "Team",
        "carol@example.com": "Team",
        "dave@example.com": "Product",
    }
    assert {r["email"]: r["role"]["name"] for r in with_none}["erin@example.com"] == "None"
    assert all(r["displayName"] for r in with_none)
    assert all(r["id"] == uid(r["email"]) for r in default)  # user fields flat (D12)


async def test_roles_post_skip_errors_true_and_false(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as client:
        result = await client.set_roles(
            [
                {"email": "bob@example.com", "role": {"name": "Budget"}},
                {"email": "ghost@example.com", "role": {"name": "Team"}},
                {"id": uid("carol"), "role": {"name": "NoSuchRole"}},
            ],
            skip_errors=True,
        )
        assert result["succeeded"] == 1
        assert result["failed"] == 2
        assert [e["entity"].get("email") for e in result["failedEntries"]] == [
            "ghost@example.com",
            None,
        ]
        assert all(e["error"]["message"] for e in result["failedEntries"])

        with pytest.raises(ApiError) as info:
            await client.set_roles(
                [
                    {"email": "carol@example.com", "role": {"name": "Product"}},
                    {"email": "ghost@example.com", "role": {"name": "Team"}},
                ],
                skip_errors=False,
            )
        assert info.value.status == 422
        assert info.value.error_code == "EntityNotFound"
        after = {r["email"]: r["role"]["name"] for r in await client.roles()}
    assert after["bob@example.com"] == "Budget"  # the good entry of the skipErrors call
    assert after["carol@example.com"] == "Team"  # all-or-nothing: nothing changed


async def test_role_change_takes_effect_on_gates(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as admin:
        await admin.set_roles([{"id": uid("bob"), "role": {"name": "Budget"}}])
    async with sandbox.client("bob") as bob:
        assert await bob.worklogs_all() == []  # Budget may read workLogs/all (D11)


async def test_activity_types_list_and_single(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        data = await client.activity_types()
        one = await client.activity_type(activity_id("Testing"))
        with pytest.raises(ApiError) as info:
            await client.activity_type(activity_id("Nope"))
    names = [a["name"] for a in data["activityTypes"]]
    assert names == ["[Not Set]", "Development", "Documentation", "Meetings", "Testing"]
    assert data["activityTypes"][0]["id"] == EMPTY_GUID
    assert data["systemDefaultActivityTypeId"] == activity_id("Development")
    assert data["enabled"] is True
    assert one == {"color": "f4a742", "name": "Testing", "id": activity_id("Testing")}
    assert info.value.status == 404


@pytest.mark.parametrize(
    ("who", "call"),
    [
        ("bob", "worklogs_all"),
        ("dave", "roles"),
        ("bob", "set_roles"),
        ("bob", "approvals"),
        ("erin", "submit_week"),
        ("erin", "revoke_week"),
    ],
)
async def test_role_gates_raise_auth_error_403(sandbox: Sandbox, who: str, call: str) -> None:
    calls = {
        "worklogs_all": lambda c: c.worklogs_all(),
        "roles": lambda c: c.roles(),
        "set_roles": lambda c: c.set_roles([{"id": uid("bob"), "role": {"name": "Team"}}]),
        "approvals": lambda c: c.approvals(),
        "submit_week": lambda c: c.submit_week("2026-11-02", uid("alice")),
        "revoke_week": lambda c: c.revoke_week("2026-11-02"),
    }
    async with sandbox.client(who) as client:
        with pytest.raises(AuthError) as info:
            await calls[call](client)
    assert info.value.status == 403
    assert info.value.error_code == "AccessDenied"
    assert info.value.exit_code == 3
    assert (await sandbox.stats())["worklogs"] == 0


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
async def test_bad_token_is_auth_error_401(sandbox: Sandbox, scheme: str) -> None:
    async with sandbox.client("bob", token="not-a-real-token-123", auth_scheme=scheme) as client:
        with pytest.raises(AuthError) as info:
            await client.me()
    assert info.value.status == 401
    assert info.value.error_code == "UnauthorizedError"
    assert "not-a-real-token-123" not in str(info.value)


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
async def test_both_auth_schemes_work(sandbox: Sandbox, scheme: str) -> None:
    settings = sandbox.settings("carol", auth_scheme=scheme)
    header = settings.authorization()
    if scheme == "basic":  # empty user name, token as the password (§1.3)
        assert header.startswith("Basic ")
        decoded = base64.b64decode(header.split(" ", 1)[1]).decode()
        assert decoded == ":" + sandbox.tokens["carol@example.com"]
    else:
        assert header == "Bearer " + sandbox.tokens["carol@example.com"]
    async with sandbox.client(settings=settings) as client:
        me = await client.me()
    assert me["user"]["id"] == uid("carol")
    assert me["timeZone"] == -300


async def test_on_prem_collection_path(sandbox: Sandbox) -> None:
    async with sandbox.client("bob", collection="DefaultCollection") as client:
        me = await client.me()
        created = await client.create_worklog(
            {"timeStamp": "2026-11-03T09:00:00", "length": 60, "comment": "on-prem"}
        )
        got = await client.worklog(created["id"])
    assert me["user"]["id"] == uid("bob")
    assert got["comment"] == "on-prem"
    assert sandbox.raw_requests
    assert all(
        line.split(" ", 1)[1].startswith("/api/DefaultCollection/rest/")
        for line in sandbox.raw_requests
    )


@pytest.mark.parametrize("version", ["3.0", "3.0-preview", "3.1", "3.2", "3.2-beta", "3.3-beta"])
async def test_supported_api_versions(sandbox: Sandbox, version: str) -> None:
    async with sandbox.client("bob", api_version=version) as client:
        me = await client.me()
    assert me["user"]["id"] == uid("bob")
    assert sandbox.raw_requests == [f"GET /api/rest/me?api-version={version}"]


async def test_default_api_version_is_3_2(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        await client.activity_types()
    assert sandbox.raw_requests == ["GET /api/rest/activityTypes?api-version=3.2"]


async def test_unsupported_api_version_is_a_definite_400(sandbox: Sandbox) -> None:
    async with sandbox.client("bob", api_version="2.1") as client:
        with pytest.raises(ApiError) as info:
            await client.me()
    assert info.value.status == 400
    assert info.value.error_code == "ApiVersionError"
    assert not info.value.transient
    assert len(sandbox.raw_requests) == 1  # a 400 is not retried
