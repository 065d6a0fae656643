"""Connection settings: where the 7pace server is and which token to use.

Precedence, highest first (docs/connection.md):

* URL: ``--url`` / ``--org`` > ``TIMETRACKER_URL`` > the profile's ``url``.
* Token: ``--token-file`` > ``TIMETRACKER_TOKEN`` > the profile's ``token`` > the OS keyring.
  There is deliberately no option taking the token itself (it would land in shell history
  and process listings).
* NTLM (``auth_scheme = "ntlm"``, on-premises Windows authentication): user ``--ntlm-user`` >
  ``TIMETRACKER_USER`` > the profile's ``user``; password ``--password-file`` >
  ``TIMETRACKER_PASSWORD`` (never an option, never the keyring or the profile file).

Profiles live in ``{user_config_dir}/profiles.toml``::

    [profiles.work]
    url = "https://contoso.timehub.7pace.com"
    api_version = "3.2"          # optional
    collection = "DefaultCollection"   # on-premises only
    auth_scheme = "bearer"       # or "basic" (empty user, token as password), or "ntlm"
    user = 'CONTOSO\\alice'      # ntlm only (DOMAIN\\user or user@domain)
    token = "..."                # optional; refused unless the file is private (chmod 600)
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from timetracker_import.errors import ConfigError, UsageError

from .redact import Password, Secret, redact_text, register_secret, safe_url

log = logging.getLogger(__name__)

APP_NAME = "timetracker-import"
KEYRING_SERVICE = "timetracker-import"
DEFAULT_API_VERSION = "3.2"
PROFILES_FILE = "profiles.toml"
AUTH_SCHEMES = ("bearer", "basic", "ntlm")
ENV_URL = "TIMETRACKER_URL"
ENV_TOKEN = "TIMETRACKER_TOKEN"
ENV_USER = "TIMETRACKER_USER"
ENV_PASSWORD = "TIMETRACKER_PASSWORD"
ENV_PROFILE = "TIMETRACKER_PROFILE"

_REST_SUFFIX = re.compile(r"^(?P<prefix>.*?)/api(?:/(?P<collection>[^/]+))?/rest/?$")
_ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")

URL_HINT = (
    "give --url https://ORG.timehub.7pace.com (or --org ORG; on-premises: "
    "--url http://server:port --collection NAME), set TIMETRACKER_URL, or use --profile NAME"
)
TOKEN_HINT = (
    "set TIMETRACKER_TOKEN, pass --token-file PATH, run `timetracker-import auth login`, "
    'or add token = "..." to a private profile'
)
PASSWORD_HINT = "set TIMETRACKER_PASSWORD or pass --password-file PATH (chmod 600)"
USER_HINT = (
    "pass --ntlm-user 'DOMAIN\\user' (or user@domain), set TIMETRACKER_USER, "
    "or add user = ... to the profile"
)


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to talk to one 7pace server. ``token`` never prints itself.

    With ``auth_scheme="ntlm"``, ``username`` is ``DOMAIN\\user`` or ``user@domain`` and
    ``token`` holds the password (a ``Password``, shown as ``****`` only).
    """

    url: str
    token: Secret
    api_version: str = DEFAULT_API_VERSION
    collection: str | None = None
    auth_scheme: str = "bearer"
    profile: str | None = None
    token_source: str = "given"
    username: str | None = None

    def __post_init__(self) -> None:
        if self.auth_scheme == "basic":
            # the header's base64 is as good as the token: a server echoing it must not
            # print it (shown as **** only: its last characters encode the token's)
            register_secret(_basic_credential(self.token), show_last4=False)

    @property
    def rest_root(self) -> str:
        """``{url}/api/rest`` (cloud) or ``{url}/api/{collection}/rest`` (on-premises)."""
        if self.collection:
            return f"{self.url}/api/{quote(self.collection, safe='')}/rest"
        return f"{self.url}/api/rest"

    def authorization(self) -> str:
        """The Authorization header value (bearer, or basic with an empty user name)."""
        if self.auth_scheme == "ntlm":
            # NTLM authenticates a connection by a handshake (api/ntlm.py), not a header.
            raise ValueError("NTLM has no fixed Authorization header")
        if self.auth_scheme == "basic":
            return f"Basic {_basic_credential(self.token)}"
        return f"Bearer {self.token.reveal()}"


def _basic_credential(token: Secret) -> str:
    """The base64 of ``:token`` (basic auth with an empty user name)."""
    import base64

    return base64.b64encode(f":{token.reveal()}".encode()).decode("ascii")


class TokenStore(Protocol):
    """Where ``auth login`` keeps tokens (the OS keyring; tests inject a fake)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, token: str) -> None: ...

    def delete(self, key: str) -> bool: ...


class KeyringStore:
    """The OS keyring through the ``keyring`` package (service ``timetracker-import``)."""

    def get(self, key: str) -> str | None:
        import keyring
        import keyring.errors

        try:
            return keyring.get_password(KEYRING_SERVICE, key)
        except keyring.errors.KeyringError as exc:
            log.debug("keyring unavailable: %s", type(exc).__name__)
            return None

    def set(self, key: str, token: str) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.set_password(KEYRING_SERVICE, key, token)
        except keyring.errors.KeyringError as exc:
            raise ConfigError(
                f"cannot store the token in the OS keyring ({type(exc).__name__})",
                hint="no keyring is available here; use TIMETRACKER_TOKEN or --token-file instead",
            ) from None

    def delete(self, key: str) -> bool:
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(KEYRING_SERVICE, key)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringError as exc:
            raise ConfigError(
                f"cannot reach the OS keyring ({type(exc).__name__})",
                hint="nothing was removed",
            ) from None
        return True


def default_token_store() -> TokenStore:
    """The token store used when none is injected (the OS keyring)."""
    return KeyringStore()


def default_config_dir() -> Path:
    """``platformdirs.user_config_dir("timetracker-import")`` (honours XDG_CONFIG_HOME)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def profiles_path(config_dir: Path | None = None) -> Path:
    """The profiles file in the user config directory."""
    return (config_dir or default_config_dir()) / PROFILES_FILE


def check_private(path: Path, what: str, secret: str = "token") -> None:
    """Refuse a file holding ``secret`` that group or others may read (POSIX only)."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"the {secret} is not used",
            hint=f"chmod 600 {path}",
        )


def load_profiles(path: Path) -> dict[str, dict[str, object]]:
    """All profiles of the file (empty when it does not exist)."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"cannot read the profiles file {path}: {exc}",
            hint="fix the TOML syntax or remove the file",
        ) from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(
            f"{path}: expected tables [profiles.NAME]",
            hint='e.g. [profiles.work] url = "https://contoso.timehub.7pace.com"',
        )
    return profiles


def save_profile(
    name: str,
    *,
    url: str,
    collection: str | None = None,
    api_version: str | None = None,
    auth_scheme: str | None = None,
    config_dir: Path | None = None,
) -> Path:
    """Add or update profile ``name`` (without a token: tokens go to the keyring) and write
    the file with mode 600, atomically. Everything else in the file stays as it was: other
    profiles, comments, and the profile's own other keys (a ``token`` or ``user`` the user
    put there)."""
    import tempfile

    import tomlkit

    path = profiles_path(config_dir)
    load_profiles(path)  # refuse to touch a file that is not valid profiles TOML
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    profiles = doc.get("profiles")
    if profiles is None:
        profiles = tomlkit.table(is_super_table=True)
        doc["profiles"] = profiles
    wanted = {
        "url": url,
        "collection": collection,
        "api_version": api_version,
        "auth_scheme": auth_scheme,
    }
    entry = profiles.get(name)
    if entry is None:
        entry = tomlkit.table()
        profiles[name] = entry
    for key, value in wanted.items():
        if value:
            entry[key] = value
        elif key in entry and key != "url":
            del entry[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".profiles-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def org_url(org: str) -> str:
    """The cloud URL of an organisation: ``https://{org}.timehub.7pace.com``."""
    if not _ORG_NAME.match(org):
        raise UsageError(
            f"--org {org!r} is not an organisation name",
            hint="use the NAME of https://NAME.timehub.7pace.com, or --url",
        )
    return f"https://{org.lower()}.timehub.7pace.com"


def split_url(url: str) -> tuple[str, str | None]:
    """Normalise a server URL; a URL ending in ``/api/rest`` or ``/api/{collection}/rest`` is
    cut back to the server part, returning the collection found in it."""
    text = url.strip()
    hint = "e.g. https://contoso.timehub.7pace.com or http://tfs:8090"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:  # an unclosed IPv6 "[", a port out of range
        raise ConfigError(
            f"{safe_url(url)!r} is not a valid URL ({redact_text(str(exc))})", hint=hint
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{safe_url(url)!r} is not an http(s) URL", hint=hint)
    if parts.username or parts.password:
        raise ConfigError(
            f"the URL must not contain credentials: {safe_url(url)!r}",
            hint="remove the user name and password from it; give the token separately "
            "(TIMETRACKER_TOKEN, --token-file or `timetracker-import auth login`)",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"the URL must not have a query or fragment: {safe_url(url)!r}",
            hint="give the server's address only, e.g. https://contoso.timehub.7pace.com; "
            "a token goes in TIMETRACKER_TOKEN or --token-file, never in the URL",
        )
    path = parts.path.rstrip("/")
    collection = None
    match = _REST_SUFFIX.match(path)
    if match:
        path = match.group("prefix")
        collection = match.group("collection")
    return f"{parts.scheme}://{parts.netloc}{path}", collection


def keyring_key(url: str, collection: str | None, profile: str | None) -> str:
    """The keyring user name for a token: the profile, else the server URL (+ collection)."""
    if profile:
        return f"profile:{profile}"
    return f"{url}|{collection}" if collection else url


@dataclass(frozen=True)
class Target:
    """Where to connect, before the token is known."""

    url: str
    collection: str | None
    api_version: str
    auth_scheme: str
    profile: str | None
    profile_entry: Mapping[str, object]
    profiles_file: Path

    @property
    def keyring_keys(self) -> list[str]:
        """Keys to look the token up under, best first."""
        keys = [keyring_key(self.url, self.collection, self.profile)]
        if self.profile:
            keys.append(keyring_key(self.url, self.collection, None))
        return keys


def _str_or_none(value: object, key: str, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a string")
    return value


def resolve_target(
    *,
    url: str | None = None,
    org: str | None = None,
    collection: str | None = None,
    api_version: str | None = None,
    profile: str | None = None,
    auth_scheme: str | None = None,
    env: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
) -> Target:
    """Resolve URL, collection, version, auth scheme and profile (not the token)."""
    env = os.environ if env is None else env
    if url and org:
        raise UsageError("give either --url or --org, not both")
    path = profiles_path(config_dir)
    profiles = load_profiles(path)
    profile = profile or env.get(ENV_PROFILE) or None
    if profile is None and "default" in profiles:
        profile = "default"
    entry: Mapping[str, object] = {}
    if profile is not None:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"profile {profile!r} not found in {path}",
                hint=f"known profiles: {known}; `auth login --profile {profile} --url ...` "
                "creates it",
            )
        entry = profiles[profile]

    chosen_url: str | None
    from_profile = False
    if org:
        chosen_url = org_url(org)
    elif url:
        chosen_url = url
    elif env.get(ENV_URL):
        chosen_url = env[ENV_URL]
    else:
        chosen_url = _str_or_none(entry.get("url"), "url", path)
        from_profile = chosen_url is not None
    if not chosen_url:
        raise ConfigError("no 7pace URL given", hint=URL_HINT)
    base, url_collection = split_url(chosen_url)
    profile_collection = _str_or_none(entry.get("collection"), "collection", path)
    final_collection = (
        collection or url_collection or (profile_collection if from_profile else None)
    )
    version = (
        api_version
        or _str_or_none(entry.get("api_version"), "api_version", path)
        or DEFAULT_API_VERSION
    )
    scheme = (
        auth_scheme or _str_or_none(entry.get("auth_scheme"), "auth_scheme", path) or "bearer"
    ).lower()
    if scheme not in AUTH_SCHEMES:
        raise ConfigError(
            f"unknown auth scheme {scheme!r}", hint=f"use one of: {', '.join(AUTH_SCHEMES)}"
        )
    return Target(
        url=base,
        collection=final_collection,
        api_version=version,
        auth_scheme=scheme,
        profile=profile,
        profile_entry=entry,
        profiles_file=path,
    )


def read_token_file(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace removed); the file must be private."""
    try:
        check_private(path, "token file")
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"token file {path} does not exist", hint=TOKEN_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read token file {path}: {type(exc).__name__}") from None
    if not token:
        raise ConfigError(f"token file {path} is empty", hint=TOKEN_HINT)
    return token


def read_password_file(path: Path) -> str:
    """The NTLM password in ``path`` (its first line, the line break removed; inner spaces
    are kept); the file must be private like a token file."""
    try:
        check_private(path, "password file", "password")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"password file {path} does not exist", hint=PASSWORD_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read password file {path}: {type(exc).__name__}") from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise ConfigError(f"password file {path} is empty", hint=PASSWORD_HINT)
    return password


NTLM_EXTRA_HINT = "pip install 'timetracker-import[ntlm]'"


def require_ntlm_support() -> None:
    """A ConfigError naming the ``ntlm`` extra when pyspnego (what NTLM needs) is missing:
    cloud users do not install it."""
    try:
        import spnego  # noqa: F401
    except ImportError:
        raise ConfigError(
            "NTLM (Windows authentication) needs the ntlm extra, which is not installed",
            hint=NTLM_EXTRA_HINT,
        ) from None


def _resolve_ntlm(
    target: Target,
    *,
    username: str | None,
    password_file: str | Path | None,
    env: Mapping[str, str],
) -> ConnectionSettings:
    require_ntlm_support()
    user = (
        username
        or env.get(ENV_USER)
        or _str_or_none(target.profile_entry.get("user"), "user", target.profiles_file)
        or ""
    ).strip()
    if not user:
        raise ConfigError("NTLM needs a user name", hint=USER_HINT)
    if ":" in user or user.startswith("\\") or user.endswith(("\\", "@")):
        raise ConfigError(f"{user!r} is not a user name", hint=USER_HINT)
    if password_file is not None:
        password, source = read_password_file(Path(password_file)), "password-file"
    elif env.get(ENV_PASSWORD):
        password, source = env[ENV_PASSWORD], "environment"
    else:
        raise ConfigError(f"no password for NTLM user {user}", hint=PASSWORD_HINT)
    return ConnectionSettings(
        url=target.url,
        token=Password(password),
        api_version=target.api_version,
        collection=target.collection,
        auth_scheme="ntlm",
        profile=target.profile,
        token_source=source,
        username=user,
    )


def resolve_connection(
    *,
    url: str | None = None,
    org: str | None = None,
    collection: str | None = None,
    api_version: str | None = None,
    profile: str | None = None,
    token_file: str | Path | None = None,
    auth_scheme: str | None = None,
    env: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
    token_store: TokenStore | None = None,
    username: str | None = None,
    password_file: str | Path | None = None,
) -> ConnectionSettings:
    """Resolve the connection from options, environment, profile file and keyring.

    Raises ``ConfigError`` (with a hint listing the ways to provide it) when the URL or the
    token is missing, or a file holding the token is readable by others. With the ``ntlm``
    scheme the user name and password are resolved instead of a token.
    """
    env = os.environ if env is None else env
    target = resolve_target(
        url=url,
        org=org,
        collection=collection,
        api_version=api_version,
        profile=profile,
        auth_scheme=auth_scheme,
        env=env,
        config_dir=config_dir,
    )
    if target.auth_scheme == "ntlm":
        return _resolve_ntlm(target, username=username, password_file=password_file, env=env)
    if username is not None or password_file is not None:
        raise UsageError(
            "--ntlm-user and --password-file are for --auth ntlm only",
            hint="bearer and basic use an API token (TIMETRACKER_TOKEN or --token-file)",
        )
    token: str | None = None
    source = ""
    if token_file is not None:
        token, source = read_token_file(Path(token_file)), "token-file"
    elif env.get(ENV_TOKEN, "").strip():
        token, source = env[ENV_TOKEN].strip(), "environment"
    elif target.profile_entry.get("token"):
        check_private(target.profiles_file, "profiles file")
        value = target.profile_entry["token"]
        if not isinstance(value, str):
            raise ConfigError(f"{target.profiles_file}: token must be a string")
        token, source = value.strip(), "profile"
    else:
        store = token_store or default_token_store()
        for key in target.keyring_keys:
            found = store.get(key)
            if found:
                token, source = found, "keyring"
                break
    if not token:
        raise ConfigError("no API token found", hint=TOKEN_HINT)
    return with_token(target, token, source)


def with_token(target: Target, token: str, source: str = "given") -> ConnectionSettings:
    """Settings for ``target`` authenticated by ``token`` (bearer or basic)."""
    return ConnectionSettings(
        url=target.url,
        token=Secret(token),
        api_version=target.api_version,
        collection=target.collection,
        auth_scheme=target.auth_scheme,
        profile=target.profile,
        token_source=source,
    )
