"""The sandbox's NTLM mode: the users file, and the handshake verified by pyspnego on the wire."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import spnego
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from timetracker_import.cli.main import cli
from timetracker_import.sandbox import load_seed, make_app
from timetracker_import.sandbox.ntlm import (
    ENV_USER_FILE,
    NtlmAcceptor,
    NtlmUsersError,
    parse_ntlm_users,
)
from timetracker_import.sandbox.seed import stable_guid

from .conftest import auth

USERS = "# sandbox NTLM users\nCONTOSO\\alice:Al1ce-Pa55\nbob@example.com:B0b-Pa55\nCONTOSO:carol:C4rol-Pa55\n"
EMAILS = {u.email: u.id for u in load_seed("demo").users}
ME = "/api/DefaultCollection/rest/me?api-version=3.2"


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "ntlm-users.txt"
    path.write_text(USERS, encoding="utf-8")
    return path


@pytest.fixture
async def ntlm_client(aiohttp_client: Any, users_file: Path) -> TestClient:
    return await aiohttp_client(make_app(auth="ntlm", ntlm_users=users_file))


def b64(data: bytes | None) -> str:
    return base64.b64encode(data or b"").decode("ascii")


async def handshake(
    client: TestClient,
    user: str,
    password: str,
    *,
    scheme: str = "NTLM",
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Legs 1-3 by hand on the test client's (reused keep-alive) connection."""
    context = spnego.client(user, password, protocol="ntlm", service="HTTP")
    headers = {"Authorization": f"{scheme} {b64(context.step())}"}
    async with client.get(ME, headers=headers) as first:
        await first.read()
        assert first.status == 401
        challenge = first.headers["WWW-Authenticate"]
    assert challenge.startswith(f"{scheme} ")
    token = base64.b64decode(challenge.split(" ", 1)[1])
    headers = {"Authorization": f"{scheme} {b64(context.step(token))}"}
    async with client.get(ME, headers=headers) as final:
        body = await final.json(content_type=None)
        return final.status, body, final


def test_parse_all_three_line_forms() -> None:
    accounts = parse_ntlm_users(USERS, EMAILS)
    assert [(a.domain, a.user, a.email) for a in accounts] == [
        ("CONTOSO", "alice", "alice@example.com"),
        ("", "bob@example.com", "bob@example.com"),
        ("CONTOSO", "carol", "carol@example.com"),
    ]
    assert accounts[0].user_id == stable_guid("user", "alice@example.com")
    assert accounts[0].principal == "CONTOSO\\alice"
    assert "Al1ce" not in repr(accounts[0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CONTOSO\\alice:pa:ss\n", "contains ':'"),
        ("CONTOSO\\zed:secret\n", "no seeded user"),
        ("CONTOSO\\alice:one\ncontoso\\ALICE:two\n", "appears twice"),
        ("alice\n", "expected"),
        ("# only a comment\n", "no users"),
        ("CONTOSO\\alice:\n", "password are required"),
    ],
)
def test_parse_rejects_bad_lines(text: str, message: str) -> None:
    with pytest.raises(NtlmUsersError, match=message):
        parse_ntlm_users(text, EMAILS, source="users.txt")


def test_make_app_needs_users_file_for_ntlm(users_file: Path) -> None:
    with pytest.raises(ValueError, match="ntlm_users"):
        make_app(auth="ntlm")
    with pytest.raises(ValueError, match="ntlm_users"):
        make_app(ntlm_users=users_file)


def test_acceptor_store_is_private_and_removed() -> None:
    acceptor = NtlmAcceptor(parse_ntlm_users(USERS, EMAILS))
    store = Path(acceptor._store)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert "CONTOSO:alice:Al1ce-Pa55" in store.read_text(encoding="utf-8")
    acceptor.close()
    assert not store.exists()


async def test_handshake_authenticates_as_mapped_user(ntlm_client: TestClient) -> None:
    status, body, _ = await handshake(ntlm_client, "CONTOSO\\alice", "Al1ce-Pa55")
    assert status == 200, body
    assert body["data"]["user"]["email"] == "alice@example.com"
    # pyspnego's variable is only set during its calls
    assert ENV_USER_FILE not in os.environ


@pytest.mark.parametrize(
    ("user", "password", "email"),
    [
        ("bob@example.com", "B0b-Pa55", "bob@example.com"),
        ("contoso\\CAROL", "C4rol-Pa55", "carol@example.com"),
    ],
)
async def test_upn_and_case_insensitive_names(
    ntlm_client: TestClient,
    user: str,
    password: str,
    email: str,
) -> None:
    status, body, _ = await handshake(ntlm_client, user, password)
    assert status == 200, body
    assert body["data"]["user"]["email"] == email


async def test_negotiate_scheme_is_answered_in_kind(ntlm_client: TestClient) -> None:
    status, body, _ = await handshake(
        ntlm_client, "CONTOSO\\alice", "Al1ce-Pa55", scheme="Negotiate"
    )
    assert status == 200, body


async def test_wrong_password_is_401(ntlm_client: TestClient) -> None:
    status, body, final = await handshake(ntlm_client, "CONTOSO\\alice", "not-her-pass")
    assert status == 401
    assert body["error"]["errorCode"] == "UnauthorizedError"
    assert "denied" in body["error"]["message"]
    assert final.headers["WWW-Authenticate"] == "NTLM"


async def test_unknown_user_is_401(ntlm_client: TestClient) -> None:
    status, _, _ = await handshake(ntlm_client, "CONTOSO\\mallory", "whatever-1")
    assert status == 401


async def test_connection_stays_authenticated_like_iis(ntlm_client: TestClient) -> None:
    status, _, _ = await handshake(ntlm_client, "CONTOSO\\alice", "Al1ce-Pa55")
    assert status == 200
    async with ntlm_client.get(ME) as again:  # same keep-alive connection, no header
        assert again.status == 200
        assert (await again.json())["data"]["user"]["email"] == "alice@example.com"
    # a different connection knows nothing of it
    async with (
        aiohttp.ClientSession() as other,
        other.get(str(ntlm_client.make_url(ME))) as response,
    ):
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "NTLM"


async def test_tokens_are_not_accepted_in_ntlm_mode(ntlm_client: TestClient) -> None:
    async with (
        aiohttp.ClientSession() as fresh,
        fresh.get(str(ntlm_client.make_url(ME)), headers=auth("alice")) as response,
    ):
        assert response.status == 401


async def test_authenticate_without_challenge_is_refused(ntlm_client: TestClient) -> None:
    # an authenticate message computed against a challenge from another connection
    context = spnego.client("CONTOSO\\alice", "Al1ce-Pa55", protocol="ntlm")
    negotiate = context.step()
    async with ntlm_client.get(ME, headers={"Authorization": f"NTLM {b64(negotiate)}"}) as r:
        challenge = base64.b64decode(r.headers["WWW-Authenticate"].split(" ", 1)[1])
    authenticate = context.step(challenge)
    async with (
        aiohttp.ClientSession() as other,
        other.get(
            str(ntlm_client.make_url(ME)), headers={"Authorization": f"NTLM {b64(authenticate)}"}
        ) as response,
    ):
        body = await response.json()
        assert response.status == 401
        assert "without a challenge" in body["error"]["message"]


async def test_negotiate_leg_is_not_counted(ntlm_client: TestClient) -> None:
    await handshake(ntlm_client, "CONTOSO\\alice", "Al1ce-Pa55")
    async with ntlm_client.get("/_sandbox/stats") as response:
        stats = await response.json()
    assert stats["calls"]["me"] == 1


def test_sandbox_command_needs_users_file_with_ntlm() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--auth", "ntlm", "--port", "0"])
    assert result.exit_code == 2
    assert "--ntlm-users" in result.stderr


def test_sandbox_command_reports_bad_users_file(tmp_path: Path) -> None:
    bad = tmp_path / "users.txt"
    bad.write_text("CONTOSO\\nobody:secret-1\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["sandbox", "--auth", "ntlm", "--ntlm-users", str(bad), "--port", "0"]
    )
    assert result.exit_code == 2
    assert "line 1" in result.stderr and "no seeded user" in result.stderr
