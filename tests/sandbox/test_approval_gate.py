"""The ``timeApproval/all`` gate exactly as D11 states it: the approval-manager flag, or the
Administrator role. The built-in ``approvals`` seed puts the two on different people (the demo
seed's only approval manager is also its only Administrator, so there "Administrator only" and
"approval manager only" would pass too)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import ApiFactory
from timetracker_import.sandbox import load_seed

SEED = load_seed("approvals")
TOKENS = SEED.tokens
# who may read timeApproval/all, by D11, and why
ALLOWED = {
    "ada@example.com",  # Administrator, not an approval manager
    "mia@example.com",  # Team, approval manager
    "pete@example.com",  # Product, approval manager
}


def test_the_seed_separates_the_flag_from_the_role() -> None:
    users = {u.email: u for u in SEED.users}
    admins = {e for e, u in users.items() if u.role == "Administrator"}
    managers = {e for e, u in users.items() if u.approval_manager}
    assert admins - managers == {"ada@example.com"}  # an Administrator who is no manager
    assert {e for e in managers - admins if users[e].role == "Team"} == {"mia@example.com"}
    assert set(users) - admins - managers == {"tim@example.com", "bea@example.com"}
    assert admins | managers == ALLOWED


async def get(api: Any, who: str, endpoint: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKENS[who]}"}
    async with api.client.get(f"/api/rest/{endpoint}?api-version=3.2", headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("who", sorted(TOKENS))
async def test_time_approval_all_needs_the_flag_or_administrator(
    make_api: ApiFactory, who: str
) -> None:
    api = await make_api(seed="approvals")
    status, body = await get(api, who, "timeApproval/all")
    if who in ALLOWED:
        assert status == 200, body
        # every user's weeks, not only the caller's own (docs/sandbox.md S10)
        weeks = [(a["weekStartDate"], a["user"]["email"]) for a in body["data"]]
        assert weeks == [
            ("2026-10-05", "mia@example.com"),
            ("2026-10-05", "tim@example.com"),
            ("2026-10-12", "tim@example.com"),
            ("2026-10-19", "bea@example.com"),
        ]
    else:
        assert (status, body["error"]["errorCode"]) == (403, "AccessDenied"), who


async def test_the_approval_flag_opens_no_other_gate(make_api: ApiFactory) -> None:
    """Approval Manager is a flag, not a role (§6.3): Mia (Team) may read approvals but not
    workLogs/all nor users/roles; Ada (Administrator, no flag) may read all three."""
    api = await make_api(seed="approvals")
    got = {
        (who, endpoint): (await get(api, who, endpoint))[0]
        for who in ("ada@example.com", "mia@example.com")
        for endpoint in ("timeApproval/all", "workLogs/all", "users/roles")
    }
    assert got == {
        ("ada@example.com", "timeApproval/all"): 200,
        ("ada@example.com", "workLogs/all"): 200,
        ("ada@example.com", "users/roles"): 200,
        ("mia@example.com", "timeApproval/all"): 200,
        ("mia@example.com", "workLogs/all"): 403,
        ("mia@example.com", "users/roles"): 403,
    }
