"""Contract: the client's NTLM handshake against the sandbox's NTLM mode, with faults on the
authenticated leg so the client's retry and ambiguity rules are seen to apply to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from timetracker_import.api.protocol import AmbiguousWrite
from timetracker_import.api.redact import Password
from timetracker_import.api.settings import ConnectionSettings

from .conftest import SandboxFactory, SleepRecorder

PASSWORD = "Contract-Ntlm-Pa55-41ab"


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "ntlm-users.txt"
    path.write_text(f"CONTOSO\\bob:{PASSWORD}\n", encoding="utf-8")
    return path


def settings(url: str) -> ConnectionSettings:
    return ConnectionSettings(
        url=url,
        token=Password(PASSWORD),
        collection="DefaultCollection",
        auth_scheme="ntlm",
        username="CONTOSO\\bob",
    )


async def test_each_request_is_negotiate_then_authenticated(
    make_sandbox: SandboxFactory, users_file: Path
) -> None:
    sandbox = await make_sandbox(auth="ntlm", ntlm_users=users_file)
    async with sandbox.client(settings=settings(sandbox.url)) as client:
        me = await client.me()
        await client.activity_types()
    assert me["user"]["email"] == "bob@example.com"
    api = [r for r in sandbox.raw_requests if "/_sandbox/" not in r]
    assert [r.split("?")[0] for r in api] == [
        "GET /api/DefaultCollection/rest/me",
        "GET /api/DefaultCollection/rest/me",
        "GET /api/DefaultCollection/rest/activityTypes",
        "GET /api/DefaultCollection/rest/activityTypes",
    ]
    stats = await sandbox.stats()
    assert stats["calls"]["me"] == 1 and stats["calls"]["activitytypes"] == 1


async def test_retry_applies_to_the_authenticated_leg(
    make_sandbox: SandboxFactory, users_file: Path
) -> None:
    sandbox = await make_sandbox(auth="ntlm", ntlm_users=users_file, faults=["users#1..2:503"])
    sleep = SleepRecorder()
    async with sandbox.client(settings=settings(sandbox.url), sleep=sleep) as client:
        users = await client.users()
    assert len(users) == 5
    assert [e.reason for e in sleep.events] == ["503", "503"]
    assert (await sandbox.stats())["calls"]["users"] == 3


async def test_write_dropped_after_commit_is_ambiguous(
    make_sandbox: SandboxFactory, users_file: Path
) -> None:
    sandbox = await make_sandbox(
        auth="ntlm", ntlm_users=users_file, faults=["batch#1:drop-after-commit"]
    )
    item = {"timeStamp": "2024-05-06T09:00:00", "length": 900, "workItemId": 42}
    async with sandbox.client(settings=settings(sandbox.url)) as client:
        with pytest.raises(AmbiguousWrite):
            await client.post_batch([item])
        # the write did happen; a fresh handshake on a new connection reads it back
        stored = await client.worklogs()
    assert [w["length"] for w in stored] == [900]
    assert (await sandbox.stats())["calls"]["batch"] == 1  # never re-sent blindly
