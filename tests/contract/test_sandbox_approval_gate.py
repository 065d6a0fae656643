"""The ``timeApproval/all`` gate through the project's client, on the built-in ``approvals``
seed where the approval-manager flag and the Administrator role sit on different people: an
Administrator without the flag and a Team approval manager both read it, nobody else does
(D11), and a refusal is an ``AuthError`` (exit 3)."""

from __future__ import annotations

import pytest

from tests.contract.conftest import SandboxFactory
from timetracker_import.errors import AuthError


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("ada@example.com", True),  # Administrator, no approval-manager flag
        ("mia@example.com", True),  # Team, approval manager
        ("pete@example.com", True),  # Product, approval manager
        ("tim@example.com", False),  # Team
        ("bea@example.com", False),  # Budget (reads workLogs/all, not approvals)
    ],
)
async def test_time_approval_all_gate(
    make_sandbox: SandboxFactory, who: str, allowed: bool
) -> None:
    sandbox = await make_sandbox(seed="approvals")
    async with sandbox.client(who) as client:
        if allowed:
            weeks = await client.approvals()
            assert len(weeks) == 4
            assert {w["user"]["email"] for w in weeks} == {
                "mia@example.com",
                "tim@example.com",
                "bea@example.com",
            }
        else:
            with pytest.raises(AuthError) as info:
                await client.approvals()
            assert (info.value.status, info.value.error_code) == (403, "AccessDenied")
            assert info.value.exit_code == 3
