"""Connection settings: precedence, profiles, permissions, keyring fallback, URL forms."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.fake_store import FakeStore
from timetracker_import.api.settings import (
    ConnectionSettings,
    keyring_key,
    load_profiles,
    resolve_connection,
    save_profile,
    split_url,
)
from timetracker_import.errors import ConfigError, UsageError


def write_profiles(config: Path, text: str, mode: int = 0o600) -> Path:
    config.mkdir(parents=True, exist_ok=True)
    path = config / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def resolve(tmp_path: Path, store: FakeStore | None = None, **kw: object) -> ConnectionSettings:
    kw.setdefault("env", {})
    return resolve_connection(
        config_dir=tmp_path / "cfg",
        token_store=store or FakeStore(),
        **kw,  # type: ignore[arg-type]
    )


def test_url_and_env_token(tmp_path: Path) -> None:
    s = resolve(
        tmp_path, url="https://contoso.timehub.7pace.com/", env={"TIMETRACKER_TOKEN": "abcd1234"}
    )
    assert s.rest_root == "https://contoso.timehub.7pace.com/api/rest"
    assert s.api_version == "3.2"
    assert s.token.reveal() == "abcd1234" and s.token_source == "environment"
    assert "abcd1234" not in repr(s)


def test_org_shortcut_and_conflict(tmp_path: Path) -> None:
    s = resolve(tmp_path, org="Contoso", env={"TIMETRACKER_TOKEN": "tokentoken"})
    assert s.url == "https://contoso.timehub.7pace.com"
    with pytest.raises(UsageError):
        resolve(tmp_path, org="a", url="https://b", env={"TIMETRACKER_TOKEN": "tokentoken"})
    with pytest.raises(UsageError):
        resolve(tmp_path, org="bad/name", env={"TIMETRACKER_TOKEN": "tokentoken"})


def test_on_prem_collection_from_option_or_url(tmp_path: Path) -> None:
    env = {"TIMETRACKER_TOKEN": "tokentoken"}
    a = resolve(tmp_path, url="http://tfs:8090", collection="DefaultCollection", env=env)
    assert a.rest_root == "http://tfs:8090/api/DefaultCollection/rest"
    b = resolve(tmp_path, url="http://tfs:8090/api/DefaultCollection/rest/", env=env)
    assert b.rest_root == a.rest_root
    assert split_url("https://x.timehub.7pace.com/api/rest") == (
        "https://x.timehub.7pace.com",
        None,
    )


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://x",
        "contoso",
        "https://u:p@x.com",
        "https://x.com/?a=1",
        "http://[::1",
        "http://x:99999",
    ],
)
def test_bad_urls(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError):
        resolve(tmp_path, url=bad, env={"TIMETRACKER_TOKEN": "tokentoken"})


def test_env_url_used_when_no_option(tmp_path: Path) -> None:
    env = {"TIMETRACKER_URL": "https://env.timehub.7pace.com", "TIMETRACKER_TOKEN": "tokentoken"}
    assert resolve(tmp_path, env=env).url == "https://env.timehub.7pace.com"
    assert resolve(tmp_path, env=env, url="https://opt.example").url == "https://opt.example"


def test_missing_url_and_token_hints(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path)
    assert "--url" in (info.value.hint or "") and "TIMETRACKER_URL" in (info.value.hint or "")
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, url="https://x.example")
    hint = info.value.hint or ""
    assert "TIMETRACKER_TOKEN" in hint and "--token-file" in hint and "auth login" in hint


def test_profile_supplies_url_version_collection_and_token(tmp_path: Path) -> None:
    write_profiles(
        tmp_path / "cfg",
        '[profiles.onprem]\nurl = "http://tfs:8090"\ncollection = "Coll"\n'
        'api_version = "3.0"\nauth_scheme = "basic"\ntoken = "profiletoken"\n',
    )
    s = resolve(tmp_path, profile="onprem")
    assert s.rest_root == "http://tfs:8090/api/Coll/rest"
    assert s.api_version == "3.0" and s.auth_scheme == "basic"
    assert s.token.reveal() == "profiletoken" and s.token_source == "profile"
    # explicit options win over the profile; env token wins over the profile token
    s2 = resolve(
        tmp_path, profile="onprem", api_version="3.2", env={"TIMETRACKER_TOKEN": "envtoken"}
    )
    assert s2.api_version == "3.2" and s2.token.reveal() == "envtoken"


def test_default_profile_and_env_profile(tmp_path: Path) -> None:
    write_profiles(
        tmp_path / "cfg",
        '[profiles.default]\nurl = "https://d.example"\n[profiles.other]\nurl = "https://o.example"\n',
    )
    env = {"TIMETRACKER_TOKEN": "tokentoken"}
    assert resolve(tmp_path, env=env).url == "https://d.example"
    assert resolve(tmp_path, env={**env, "TIMETRACKER_PROFILE": "other"}).url == "https://o.example"
    with pytest.raises(ConfigError, match="not found") as info:
        resolve(tmp_path, env=env, profile="nope")
    assert "default, other" in (info.value.hint or "")


def test_group_readable_profile_token_is_refused_with_chmod_hint(tmp_path: Path) -> None:
    path = write_profiles(
        tmp_path / "cfg", '[profiles.p]\nurl = "https://x.example"\ntoken = "leakytoken"\n', 0o644
    )
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, profile="p")
    assert info.value.hint == f"chmod 600 {path}"
    assert "leakytoken" not in str(info.value)


def test_token_file_precedence_and_permissions(tmp_path: Path) -> None:
    tf = tmp_path / "token"
    tf.write_text("filetoken\n")
    os.chmod(tf, 0o600)
    s = resolve(
        tmp_path, url="https://x.example", token_file=tf, env={"TIMETRACKER_TOKEN": "envtoken"}
    )
    assert s.token.reveal() == "filetoken" and s.token_source == "token-file"
    os.chmod(tf, 0o640)
    with pytest.raises(ConfigError, match="readable by other users"):
        resolve(tmp_path, url="https://x.example", token_file=tf)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(tmp_path, url="https://x.example", token_file=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    os.chmod(empty, 0o600)
    with pytest.raises(ConfigError, match="empty"):
        resolve(tmp_path, url="https://x.example", token_file=empty)


def test_keyring_is_the_last_resort(tmp_path: Path) -> None:
    store = FakeStore({"https://x.example": "ringtoken"})
    s = resolve(tmp_path, store, url="https://x.example")
    assert s.token.reveal() == "ringtoken" and s.token_source == "keyring"
    write_profiles(tmp_path / "cfg", '[profiles.w]\nurl = "https://w.example"\n')
    store.tokens[keyring_key("https://w.example", None, "w")] = "profilering"
    assert resolve(tmp_path, store, profile="w").token.reveal() == "profilering"


def test_save_profile_writes_private_file_and_keeps_others(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    write_profiles(cfg, '[profiles.old]\nurl = "https://old.example"\n')
    path = save_profile(
        "new", url="http://tfs:8090", collection="C", api_version="3.0", config_dir=cfg
    )
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    profiles = load_profiles(path)
    assert profiles["old"] == {"url": "https://old.example"}
    assert profiles["new"] == {"url": "http://tfs:8090", "collection": "C", "api_version": "3.0"}


def test_broken_profiles_file(tmp_path: Path) -> None:
    write_profiles(tmp_path / "cfg", "[profiles.x\n")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(tmp_path, url="https://x.example", env={"TIMETRACKER_TOKEN": "tokentoken"})


def test_unknown_auth_scheme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="auth scheme"):
        resolve(
            tmp_path,
            url="https://x.example",
            auth_scheme="kerberos",  # ntlm is known since issue 6 part 5
            env={"TIMETRACKER_TOKEN": "t0ken"},
        )


def test_platformdirs_honours_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from timetracker_import.api.settings import profiles_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert profiles_path() == tmp_path / "timetracker-import" / "profiles.toml"
