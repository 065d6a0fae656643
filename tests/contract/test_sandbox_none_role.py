"""The None role "has no access" (API §6.3): through the project's client, a None-role token
gets a 403 ``AccessDenied`` (``AuthError``, exit 3) from every worklog call and stores nothing,
while ``me`` still answers so the tool can say whose token it is (docs/sandbox.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.contract.conftest import Sandbox, uid
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.errors import AuthError

ONE = {"timeStamp": "2026-11-02T09:00:00", "length": 1800, "comment": "x"}
Call = Callable[[TimetrackerClient, str], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "worklogs": lambda c, _: c.worklogs(),
    "create_worklog": lambda c, _: c.create_worklog(ONE),
    "post_batch": lambda c, _: c.post_batch([ONE]),
    "validate_batch": lambda c, _: c.post_batch([ONE], validate_only=True),
    "worklog": lambda c, wid: c.worklog(wid),
    "patch_worklog": lambda c, wid: c.patch_worklog(wid, {"comment": "changed"}),
    "delete_worklog": lambda c, wid: c.delete_worklog(wid),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_none_role_worklog_calls_are_auth_errors(sandbox: Sandbox, call: str) -> None:
    async with sandbox.client("alice") as admin:
        hers = await admin.create_worklog({**ONE, "userId": uid("erin")})
    async with sandbox.client("erin") as erin:
        with pytest.raises(AuthError) as info:
            await CALLS[call](erin, hers["id"])
        me = await erin.me()
    assert (info.value.status, info.value.error_code) == (403, "AccessDenied")
    assert info.value.exit_code == 3
    assert me["user"]["id"] == uid("erin")
    async with sandbox.client("alice") as admin:
        left = await admin.worklogs_all()
    assert [(w["id"], w["comment"]) for w in left] == [(hers["id"], "x")]
