"""The old importer's options translated: ``LegacyOptions`` as given, and where each group of
rows goes (``plan_destinations``: URL and credentials per organization, from ``-o``/``--api``,
``-a``/``-u``/``-p``/``-t``, the environment and config.json), with the warnings about
credentials given in the open."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.legacy_config import LegacyConfig
from timetracker_import.errors import ConfigError, InputError, UsageError

if TYPE_CHECKING:
    from timetracker_import.app.multi_org import Route


@dataclass(frozen=True)
class LegacyOptions:
    """The old importer's options as given (secrets masked in repr)."""

    file: Path
    authorization: str = "token"
    organization: str | None = None
    api: str | None = None
    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    header_map: bool = False
    config_path: Path | None = None
    #: the zone of the file's times (not an old option; None: this machine's, as there)
    timezone: str | None = None


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def plan_destinations(
    opts: LegacyOptions,
    config: LegacyConfig,
    organizations: Mapping[int, str | None],
    env: Mapping[str, str],
) -> list[Route]:
    """Group the rows by organization and resolve each group's URL and credentials.

    Raises (before anything is sent) when a row has no organization and neither ``-o`` nor
    ``--api`` says where it goes, or when an organization has no token."""
    from timetracker_import.api.redact import Password, Secret
    from timetracker_import.api.settings import (
        ENV_PASSWORD,
        ENV_TOKEN,
        ENV_USER,
        ConnectionSettings,
        org_url,
        split_url,
    )
    from timetracker_import.app.multi_org import Route

    default = opts.organization.strip().lower() if opts.organization else None
    groups: dict[str | None, list[int]] = {}
    homeless: list[int] = []
    for row, org in sorted(organizations.items()):
        key = org or default
        if key is None and opts.api is None:
            homeless.append(row)
            continue
        groups.setdefault(key, []).append(row)
    if homeless:
        shown = ", ".join(str(r) for r in homeless[:10]) + (" ..." if len(homeless) > 10 else "")
        raise InputError(
            f"rows {shown} have no Organization and -o/--organization was not given",
            path=str(opts.file),
            hint="give -o ORGANIZATION (the NAME of https://NAME.timehub.7pace.com) or --api URL",
        )
    ntlm = opts.authorization == "ntlm"
    if ntlm and opts.api is None:
        raise UsageError(
            "--authorization ntlm needs --api (the on-premises server URL)",
            hint="e.g. --api http://tfs:8090 -o DefaultCollection",
        )
    missing: list[str] = []
    dests: list[Route] = []
    keys = list(groups)
    for key in keys:
        if opts.api is not None:
            url, url_collection = split_url(opts.api)
        else:
            assert key is not None
            url, url_collection = org_url(key), None
        if ntlm:
            user = (opts.user or env.get(ENV_USER) or "").strip()
            password = opts.password or env.get(ENV_PASSWORD)
            if not user or not password:
                raise ConfigError(
                    "--authorization ntlm needs a user and a password",
                    hint=f"give -u DOMAIN\\user and set {ENV_PASSWORD} (or {ENV_USER})",
                )
            collection = url_collection or key or opts.organization
            connection = ConnectionSettings(
                url=url,
                token=Password(password),
                collection=collection,
                auth_scheme="ntlm",
                token_source="legacy",
                username=user,
            )
        else:
            token = (
                opts.token
                or env.get(ENV_TOKEN, "").strip()
                or (config.organization_tokens.get(key or ""))
            )
            if not token:
                missing.append(key or opts.api or "?")
                continue
            connection = ConnectionSettings(
                url=url, token=Secret(token), collection=url_collection, token_source="legacy"
            )
        others = tuple(k for k in keys if k is not None and k != key)
        dests.append(
            Route(
                name=key,
                connection=connection,
                rows=tuple(groups[key]),
                skip_values=others,
                skip_empty=not (key == default or key is None),
            )
        )
    if missing:
        raise ConfigError(
            "no API token for organization(s) " + ", ".join(missing),
            hint=f"set {ENV_TOKEN}, or add them to organizationTokens in config.json",
        )
    return dests


def credential_warnings(opts: LegacyOptions, config: LegacyConfig, used_config: bool) -> None:
    from timetracker_import.api.settings import ENV_PASSWORD, ENV_TOKEN

    if opts.token:
        _warn(
            "a token given with -t/--token is visible to other users of this machine "
            f"(process list, shell history); set {ENV_TOKEN} instead"
        )
    if opts.password:
        _warn(
            "a password given with -p/--password is visible to other users of this machine "
            f"(process list, shell history); set {ENV_PASSWORD} instead"
        )
    if used_config and config.path is not None:
        extra = f" and the file is readable by others (chmod 600 {config.path})"
        _warn(
            f"API tokens are stored in plain text in {config.path}"
            + (extra if config.readable_by_others else "")
            + f"; prefer {ENV_TOKEN}"
        )
