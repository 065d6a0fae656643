"""`auth login|status|logout` with a fake keyring, an isolated config dir and a live fake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.api.fake_server import FakeServer
from tests.api.fake_store import FakeStore
from timetracker_import.api import settings as conn
from timetracker_import.api.settings import keyring_key
from timetracker_import.cli.main import cli

TOKEN = "auth-cli-token-abcdefghijk-LMNO"


@pytest.fixture
def store(cli_env: None, restored_logging: None, monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    """A fake keyring for the commands (with the isolated CLI environment)."""
    fake = FakeStore()
    monkeypatch.setattr(conn, "default_token_store", lambda: fake)
    return fake


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(TOKEN) as s:
        yield s


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env=env or {})


def test_login_verifies_stores_and_hides_token(store: FakeStore, server: FakeServer) -> None:
    result = invoke("auth", "login", "--url", server.url, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert store.tokens == {server.url: TOKEN}
    assert "Alice Example" in result.stdout
    assert "****LMNO" in result.stdout
    assert TOKEN not in result.output  # hidden prompt: not echoed either


def test_login_with_bad_token_stores_nothing(store: FakeStore, server: FakeServer) -> None:
    result = invoke("auth", "login", "--url", server.url, input="not-the-token-1234\n")
    assert result.exit_code == 3
    assert store.tokens == {}
    assert "not-the-token-1234" not in result.output


def test_login_creates_profile_then_status_uses_keyring(
    store: FakeStore, server: FakeServer, tmp_path: Path
) -> None:
    result = invoke("auth", "login", "--profile", "work", "--url", server.url, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    path = tmp_path / "config" / "timetracker-import" / "profiles.toml"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert TOKEN not in path.read_text()  # the token went to the keyring only
    assert store.tokens == {keyring_key(server.url, None, "work"): TOKEN}

    status = invoke("auth", "status", "--profile", "work")
    assert status.exit_code == 0, status.output
    assert "****LMNO" in status.stdout
    assert "from keyring" in status.stdout
    assert "alice@example.com" in status.stdout
    assert TOKEN not in status.output


def test_status_from_env_and_bad_token(store: FakeStore, server: FakeServer) -> None:
    ok = invoke("auth", "status", env={"TIMETRACKER_URL": server.url, "TIMETRACKER_TOKEN": TOKEN})
    assert ok.exit_code == 0 and "from environment" in ok.stdout
    assert TOKEN not in ok.output
    bad = invoke(
        "auth",
        "status",
        env={"TIMETRACKER_URL": server.url, "TIMETRACKER_TOKEN": "bad-token-XXXX9"},
    )
    assert bad.exit_code == 3 and "bad-token-XXXX9" not in bad.output


def test_status_without_token_hints_login(store: FakeStore) -> None:
    result = invoke("auth", "status", "--url", "https://contoso.timehub.7pace.com")
    assert result.exit_code == 2
    assert "auth login" in result.stderr


def test_logout_removes_token(store: FakeStore) -> None:
    url = "https://contoso.timehub.7pace.com"
    store.tokens[url] = TOKEN
    first = invoke("auth", "logout", "--org", "contoso")
    assert first.exit_code == 0 and "removed" in first.stdout
    assert store.tokens == {}
    second = invoke("auth", "logout", "--url", url)
    assert second.exit_code == 0 and "no token was stored" in second.stdout


def test_login_no_verify_and_unknown_profile_without_url(store: FakeStore) -> None:
    ok = invoke(
        "auth",
        "login",
        "--no-verify",
        "--url",
        "http://tfs:8090",
        "--collection",
        "Coll",
        input=TOKEN + "\n",
    )
    assert ok.exit_code == 0, ok.output
    assert store.tokens == {keyring_key("http://tfs:8090", "Coll", None): TOKEN}
    missing = invoke("auth", "login", "--profile", "nope", input=TOKEN + "\n")
    assert missing.exit_code == 2
    assert store.tokens.keys() == {keyring_key("http://tfs:8090", "Coll", None)}


def test_group_readable_profile_token_refused_in_cli(store: FakeStore, tmp_path: Path) -> None:
    cfg = tmp_path / "config" / "timetracker-import"
    cfg.mkdir(parents=True)
    path = cfg / "profiles.toml"
    path.write_text(f'[profiles.default]\nurl = "https://x.example"\ntoken = "{TOKEN}"\n')
    os.chmod(path, 0o644)
    result = invoke("auth", "status")
    assert result.exit_code == 2
    assert f"chmod 600 {path}" in result.stderr
    assert TOKEN not in result.output


def test_login_with_ntlm_is_refused_without_prompt_or_profile(
    store: FakeStore, tmp_path: Path
) -> None:
    profiles = tmp_path / "config" / "timetracker-import" / "profiles.toml"
    result = invoke(
        "auth",
        "login",
        "--profile",
        "onprem",
        "--url",
        "http://tfs:8090",
        "--auth",
        "ntlm",
        "--user",
        "CONTOSO\\alice",
        input=TOKEN + "\n",
    )
    assert result.exit_code == 2
    assert "7pace API token" not in result.output  # no prompt
    assert "NTLM" in result.stderr and "nothing is stored" in result.stderr
    assert "--ntlm-user" in result.stderr and "TIMETRACKER_PASSWORD" in result.stderr
    assert "--password-file" in result.stderr
    assert store.tokens == {} and not profiles.exists()


def test_login_refuses_a_profile_that_uses_ntlm(store: FakeStore, tmp_path: Path) -> None:
    conn.save_profile("onprem", url="http://tfs:8090", auth_scheme="ntlm")
    result = invoke("auth", "login", "--profile", "onprem", input=TOKEN + "\n")
    assert result.exit_code == 2
    assert "7pace API token" not in result.output
    assert "nothing is stored" in result.stderr and store.tokens == {}


PROFILES_WITH_COMMENTS = """\
# Our 7pace servers (edited by hand; keep these notes)
[profiles.default]
url = "https://contoso.timehub.7pace.com"  # the cloud one

# on-premises, for the payroll sync
[profiles.payroll]
url = "http://tfs.contoso.local:8090"
collection = "DefaultCollection"
"""


def test_login_keeps_the_comments_and_other_profiles_of_profiles_toml(
    store: FakeStore, server: FakeServer, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "timetracker-import" / "profiles.toml"
    path.parent.mkdir(parents=True)
    path.write_text(PROFILES_WITH_COMMENTS, encoding="utf-8")
    path.chmod(0o600)
    result = invoke("auth", "login", "--profile", "work", "--url", server.url, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith(PROFILES_WITH_COMMENTS)  # every byte of it kept, comments included
    assert "[profiles.work]" in text and f'url = "{server.url}"' in text
    assert set(conn.load_profiles(path)) == {"default", "payroll", "work"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_login_writes_no_profile_when_the_token_cannot_be_stored(
    cli_env: None, restored_logging: None, server: FakeServer, tmp_path: Path
) -> None:
    # cli_env's keyring backend refuses every write (keyring.backends.fail)
    path = tmp_path / "config" / "timetracker-import" / "profiles.toml"
    result = invoke("auth", "login", "--profile", "work", "--url", server.url, input=TOKEN + "\n")
    assert result.exit_code == 2, result.output
    assert "keyring" in result.stderr
    assert not path.exists()
    # an existing file is left exactly as it was
    path.parent.mkdir(parents=True)
    path.write_text(PROFILES_WITH_COMMENTS, encoding="utf-8")
    result = invoke("auth", "login", "--profile", "work", "--url", server.url, input=TOKEN + "\n")
    assert result.exit_code == 2
    assert path.read_text(encoding="utf-8") == PROFILES_WITH_COMMENTS
