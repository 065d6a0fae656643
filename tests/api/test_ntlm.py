"""NTLM in the client: settings, redaction, and the real handshake against the sandbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.redact import Password, redact_text
from timetracker_import.api.settings import ConnectionSettings, resolve_connection
from timetracker_import.cli.main import cli
from timetracker_import.errors import (
    AuthError,
    ConfigError,
    TransientApiError,
    UsageError,
)
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

PASSWORD = "Ntlm-Pa55word-7c1e"
WRONG = "Wr0ng-Pa55word-0d2f"
USERS = f"CONTOSO\\alice:{PASSWORD}\nbob@example.com:B0b-Pa55-9911\n"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    users = tmp_path_factory.mktemp("ntlm") / "users.txt"
    users.write_text(USERS, encoding="utf-8")
    with run_sandbox_in_thread(auth="ntlm", ntlm_users=users) as box:
        yield box


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in (
        "TIMETRACKER_URL",
        "TIMETRACKER_TOKEN",
        "TIMETRACKER_PROFILE",
        "TIMETRACKER_USER",
        "TIMETRACKER_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def ntlm_settings(url: str, user: str = "CONTOSO\\alice", password: str = PASSWORD) -> Any:
    return ConnectionSettings(
        url=url,
        token=Password(password),
        collection="DefaultCollection",
        auth_scheme="ntlm",
        username=user,
    )


# -- settings and redaction ---------------------------------------------------------------


def test_resolve_ntlm_from_options_and_env(tmp_path: Path) -> None:
    settings = resolve_connection(
        url="http://tfs:8080",
        collection="DefaultCollection",
        auth_scheme="ntlm",
        username="CONTOSO\\alice",
        env={"TIMETRACKER_PASSWORD": PASSWORD},
        config_dir=tmp_path,
    )
    assert settings.auth_scheme == "ntlm"
    assert settings.username == "CONTOSO\\alice"
    assert settings.token.reveal() == PASSWORD
    assert settings.token_source == "environment"
    assert settings.rest_root == "http://tfs:8080/api/DefaultCollection/rest"
    with pytest.raises(ValueError, match="NTLM"):
        settings.authorization()


def test_user_from_env_and_profile(tmp_path: Path) -> None:
    env = {"TIMETRACKER_PASSWORD": PASSWORD, "TIMETRACKER_USER": "alice@contoso.com"}
    settings = resolve_connection(
        url="http://tfs:8080", auth_scheme="ntlm", env=env, config_dir=tmp_path
    )
    assert settings.username == "alice@contoso.com"
    (tmp_path / "profiles.toml").write_text(
        "[profiles.onprem]\nurl = 'http://tfs:8080'\nauth_scheme = 'ntlm'\nuser = 'CONTOSO\\bob'\n",
        encoding="utf-8",
    )
    settings = resolve_connection(
        profile="onprem", env={"TIMETRACKER_PASSWORD": PASSWORD}, config_dir=tmp_path
    )
    assert (settings.auth_scheme, settings.username) == ("ntlm", "CONTOSO\\bob")


def test_password_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as refused:
        resolve_connection(
            url="http://tfs:8080",
            auth_scheme="ntlm",
            username="CONTOSO\\alice",
            password_file=path,
            env={},
            config_dir=tmp_path,
        )
    assert "password file" in refused.value.message
    assert "the password is not used" in refused.value.message
    path.chmod(0o600)
    settings = resolve_connection(
        url="http://tfs:8080",
        auth_scheme="ntlm",
        username="CONTOSO\\alice",
        password_file=path,
        env={"TIMETRACKER_PASSWORD": "the-env-loses"},
        config_dir=tmp_path,
    )
    assert settings.token.reveal() == PASSWORD
    assert settings.token_source == "password-file"


@pytest.mark.parametrize(
    ("kwargs", "env", "error", "match"),
    [
        ({"username": "CONTOSO\\alice"}, {}, ConfigError, "no password"),
        ({}, {"TIMETRACKER_PASSWORD": PASSWORD}, ConfigError, "user name"),
        ({"username": "CONTOSO\\"}, {"TIMETRACKER_PASSWORD": PASSWORD}, ConfigError, "not a user"),
    ],
)
def test_ntlm_missing_pieces(
    tmp_path: Path, kwargs: dict[str, Any], env: dict[str, str], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        resolve_connection(
            url="http://tfs:8080", auth_scheme="ntlm", env=env, config_dir=tmp_path, **kwargs
        )


def test_user_option_needs_ntlm(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="ntlm"):
        resolve_connection(
            url="http://tfs:8080",
            username="CONTOSO\\alice",
            env={"TIMETRACKER_TOKEN": "a-token-1234"},
            config_dir=tmp_path,
        )


def test_password_never_shows_any_part() -> None:
    secret = Password("Hunter2-Long-Pass")
    assert str(secret) == "****" and secret.last4 == ""
    assert "Long" not in repr(secret) and "Long" not in f"{secret}"
    assert redact_text("pw=Hunter2-Long-Pass!") == "pw=****!"


# -- the real handshake -------------------------------------------------------------------


async def test_me_over_ntlm_returns_mapped_user(sandbox: RunningSandbox) -> None:
    async with TimetrackerClient(ntlm_settings(sandbox.url)) as client:
        me = await client.me()
    assert me["user"]["email"] == "alice@example.com"


async def test_upn_user_and_concurrent_requests(sandbox: RunningSandbox) -> None:
    settings = ntlm_settings(sandbox.url, "bob@example.com", "B0b-Pa55-9911")
    before = sandbox.stats()["calls"].get("users", 0)
    async with TimetrackerClient(settings) as client:
        me = await client.me()
        pages = await asyncio.gather(*(client.users() for _ in range(12)))
    assert me["user"]["email"] == "bob@example.com"
    assert all(len(p) == len(pages[0]) > 1 for p in pages)
    # each request counted once: the negotiate legs never reach the API pipeline
    assert sandbox.stats()["calls"]["users"] - before == 12


async def test_writes_go_through_the_final_leg(sandbox: RunningSandbox) -> None:
    async with TimetrackerClient(ntlm_settings(sandbox.url)) as client:
        created = await client.create_worklog(
            {"timeStamp": "2024-05-06T09:00:00", "length": 1800, "comment": "ntlm write"}
        )
        again = await client.worklog(created["id"])
        await client.delete_worklog(created["id"])
    assert again["comment"] == "ntlm write"
    assert again["user"]["id"] == created["user"]["id"]


async def test_wrong_password_is_auth_error_and_never_shown(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with pytest.raises(AuthError) as info:
        async with TimetrackerClient(
            ntlm_settings(sandbox.url, password=WRONG), sleep=sleeps
        ) as client:
            await client.me()
    assert info.value.status == 401 and info.value.exit_code == 3
    assert "CONTOSO\\alice" in str(info.value)  # the hint names the user to check
    assert sleeps.calls == []  # a refused logon is not retried
    assert WRONG not in str(info.value) and WRONG not in repr(info.value.details)
    assert WRONG not in caplog.text and PASSWORD not in caplog.text


async def test_token_server_is_told_it_does_not_offer_ntlm() -> None:
    with (
        run_sandbox_in_thread() as box,  # the default token sandbox
        pytest.raises(AuthError, match="does not offer NTLM"),
    ):
        async with TimetrackerClient(ntlm_settings(box.url)) as client:
            await client.me()


async def test_failed_negotiate_leg_is_not_ambiguous_for_a_post(aiohttp_server: Any) -> None:
    """A 503 to the negotiate leg (no body, no credentials yet) is retried even for a POST,
    never reported as an ambiguous write."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", "").split(" ")[0])
        assert await request.read() == b""  # the body waits for the authenticated leg
        return web.Response(status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    sleeps = Sleeps()
    settings = ntlm_settings(str(server.make_url("")).rstrip("/"))
    with pytest.raises(TransientApiError) as info:
        async with TimetrackerClient(settings, sleep=sleeps, rand=lambda: 0.0) as client:
            await client.create_worklog({"timeStamp": "2024-05-06T09:00:00", "length": 60})
    assert "NTLM negotiate: HTTP 503" in str(info.value)
    assert seen == ["NTLM"] * 5 and len(sleeps.calls) == 4


# -- the CLI ------------------------------------------------------------------------------


def run_cli(sandbox: RunningSandbox, *args: str, password: str = PASSWORD) -> Any:
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "TIMETRACKER_URL": f"{sandbox.url}/api/DefaultCollection/rest",
            "TIMETRACKER_PASSWORD": password,
        },
    )


def test_cli_users_with_ntlm(sandbox: RunningSandbox) -> None:
    result = run_cli(
        sandbox, "users", "--auth", "ntlm", "--user", "CONTOSO\\alice", "--format", "csv", "--debug"
    )
    assert result.exit_code == 0, result.stderr
    assert "alice@example.com" in result.stdout and "erin@example.com" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_cli_wrong_password_exit_3(sandbox: RunningSandbox) -> None:
    result = run_cli(
        sandbox, "me", "--auth", "ntlm", "--user", "CONTOSO\\alice", "--debug", password=WRONG
    )
    assert result.exit_code == 3
    assert "NTLM user CONTOSO\\alice" in result.stderr
    assert WRONG not in result.stdout + result.stderr


def test_cli_ntlm_without_password_exit_2(sandbox: RunningSandbox) -> None:
    result = CliRunner().invoke(
        cli,
        ["me", "--auth", "ntlm", "--user", "CONTOSO\\alice"],
        env={"TIMETRACKER_URL": sandbox.url},
    )
    assert result.exit_code == 2
    assert "TIMETRACKER_PASSWORD" in result.stderr
