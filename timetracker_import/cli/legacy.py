"""``import-worklogs``: a drop-in for 7pace's old npm importer (7pace/timetracker-npm-import).

It accepts the old options and ``config.json`` (letter ``map`` and ``organizationTokens``)
and runs the new pipeline (``app.importer.run_import``): validation, isolation of bad rows,
the journal. Rows are routed by their Organization cell (else ``-o``) to one import run per
organization; the exit code is the worst of the runs. docs/legacy.md is the migration guide.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from timetracker_import import __version__
from timetracker_import.app.multi_org import worst_exit_code
from timetracker_import.errors import (
    ConfigError,
    InputError,
    UsageError,
)

if TYPE_CHECKING:
    from timetracker_import.app.importer import ImportResult, ImportSettings
    from timetracker_import.app.multi_org import Route, RouteOutcome

__all__ = ["worst_exit_code"]  # moved to app.multi_org; kept importable from here

# config.json `map` key -> (canonical field, extra options); the old importer's names.
LEGACY_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "userName": ("user", {}),
    "timeStamp": ("timestamp", {}),
    "date": ("date", {}),
    "start": ("start", {}),
    "duration": ("length", {"unit": "hours"}),
    "billableDuration": ("billable_length", {"unit": "hours"}),
    "activityType": ("activity_type", {}),
    "comment": ("comment", {}),
    "workItem": ("work_item", {}),
    "organization": ("organization", {}),
}
# The config.json the old importer shipped with (used when there is none).
DEFAULT_LETTER_MAP = {
    "userName": "A",
    "timeStamp": "B",
    "duration": "C",
    "activityType": "D",
    "comment": "E",
    "workItem": "F",
    "billableDuration": "G",
}
HEADER_PRESET = "7pace-npm"
ORG_HEADER = "Organization"


@dataclass(frozen=True)
class LegacyConfig:
    """The old importer's config.json: letter map and organization -> token."""

    letter_map: dict[str, str]
    organization_tokens: dict[str, str] = field(repr=False, default_factory=dict)
    path: Path | None = None
    readable_by_others: bool = False


def load_legacy_config(path: Path | None) -> LegacyConfig:
    """Read config.json (``path``; None or a missing file: the old importer's defaults).

    Raises ``ConfigError`` for invalid JSON or unknown map keys/letters."""
    if path is None or not path.exists():
        return LegacyConfig(dict(DEFAULT_LETTER_MAP))
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The message of a JSON error quotes no cell text, so no token can leak here.
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix the JSON syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with `map`/`organizationTokens`")
    raw_map = data.get("map", DEFAULT_LETTER_MAP)
    if not isinstance(raw_map, dict):
        raise ConfigError(f'{path}: `map` must be an object such as {{"userName": "A"}}')
    letter_map: dict[str, str] = {}
    for key, letter in raw_map.items():
        if key not in LEGACY_FIELDS:
            raise ConfigError(
                f"{path}: map.{key} is not a field of the old importer",
                hint="known: " + ", ".join(LEGACY_FIELDS),
            )
        text = str(letter).strip().upper()
        if not (text.isalpha() and text.isascii() and 1 <= len(text) <= 3):
            raise ConfigError(
                f"{path}: map.{key} must be a column letter such as B, not {letter!r}"
            )
        letter_map[key] = text
    tokens = data.get("organizationTokens", {}) or {}
    if not isinstance(tokens, dict) or not all(isinstance(v, str) for v in tokens.values()):
        raise ConfigError(f"{path}: `organizationTokens` must map organization names to tokens")
    exposed = os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    return LegacyConfig(
        letter_map,
        {str(k).strip().lower(): v.strip() for k, v in tokens.items() if v.strip()},
        path,
        exposed,
    )


def letter_mapping(letter_map: Mapping[str, str]) -> dict[str, Any]:
    """A mapping (as a dict) for a file without a header row, columns by config.json letters.

    Like the old importer, every column but duration and the start may be missing from the
    file; ``timeStamp`` wins over ``date``/``start`` when both are mapped."""
    fields: dict[str, Any] = {}
    for key, letter in letter_map.items():
        name, extra = LEGACY_FIELDS[key]
        fields[name] = {"column": letter, **extra}
        if name not in ("length", "timestamp", "date"):
            fields[name]["optional"] = True
    if "timestamp" in fields:
        for name in ("date", "start"):
            fields.pop(name, None)
    return {
        "version": 1,
        "description": "import-worklogs: config.json letter map",
        "header": False,
        "date_order": "MDY",
        "rounding": {"unit": "second", "mode": "up"},
        "fields": fields,
    }


def header_mapping() -> dict[str, Any]:
    """The ``--map`` mapping: the shipped 7pace-npm preset (header names)."""
    import yaml

    from timetracker_import.files.mapping_loader import preset_text

    data: dict[str, Any] = yaml.safe_load(preset_text(HEADER_PRESET))
    return data


def organization_column(mapping: Mapping[str, Any]) -> str | None:
    """The column (header or letter) holding the organization, if the mapping has one."""
    spec = mapping["fields"].get("organization")
    return str(spec["column"]) if spec else None


def read_organizations(
    path: Path, column: str | None, *, has_header: bool
) -> dict[int, str | None]:
    """``source_row -> organization`` (stripped, lower-case; None when empty) of every row."""
    from timetracker_import.core.mapping import find_column, normalise_header
    from timetracker_import.files.readers import open_table

    table = open_table(path, has_header=has_header)
    position: int | None = None
    if column is not None:
        wanted = normalise_header(column) if has_header else column.upper()
        keys = [normalise_header(h) if has_header else h.upper() for h in table.headers]
        if wanted in keys:
            position = find_column(
                table.headers, column, 1, has_header=has_header, key_path="organization"
            )
    out: dict[int, str | None] = {}
    for chunk in table.chunks():
        cells = list(chunk[position]) if position is not None else [None] * len(chunk)
        for row, cell in zip(chunk.index.tolist(), cells, strict=True):
            text = "" if cell is None else str(cell).strip().lower()
            out[int(row)] = text or None
    return out


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


def _credential_warnings(opts: LegacyOptions, config: LegacyConfig, used_config: bool) -> None:
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


def run_legacy(opts: LegacyOptions, env: Mapping[str, str]) -> int:
    """Import ``opts.file`` as the old importer would have, one run per organization; print
    each run's summary and return the worst exit code."""
    from timetracker_import.api.settings import ENV_TOKEN
    from timetracker_import.app.importer import ImportSettings
    from timetracker_import.app.multi_org import run_routes
    from timetracker_import.cli.importer import render_summary
    from timetracker_import.cli.main import report_error

    if opts.authorization not in ("token", "ntlm"):
        raise UsageError(f"-a/--authorization must be token or ntlm, not {opts.authorization!r}")
    if not opts.file.exists():
        raise InputError(f"file {opts.file} does not exist", path=str(opts.file))
    config = load_legacy_config(opts.config_path)
    base = header_mapping() if opts.header_map else letter_mapping(config.letter_map)
    column = organization_column(base)
    organizations = read_organizations(opts.file, column, has_header=opts.header_map)
    if not organizations:
        raise InputError(f"no worklog entries were found in {opts.file}", path=str(opts.file))
    dests = plan_destinations(opts, config, organizations, env)
    used_config = (
        opts.authorization == "token"
        and not opts.token
        and not env.get(ENV_TOKEN, "").strip()
        and bool(config.organization_tokens)
    )
    _credential_warnings(opts, config, used_config)

    def make_settings(route: Route, mapping_path: Path) -> ImportSettings:
        return ImportSettings(
            path=opts.file, connection=route.connection, mapping_path=mapping_path
        )

    def started(route: Route) -> None:
        where = route.connection.rest_root
        click.echo(f"Importing {len(route.rows)} row(s) to {where} ...", err=True)

    def done(outcome: RouteOutcome) -> None:
        # Organizations are independent (as in the old importer): an error is reported and
        # the next one still runs.
        if outcome.result is not None:
            click.echo(render_summary(outcome.result), err=True)
        else:
            assert outcome.error is not None
            report_error(outcome.error)

    outcomes = run_routes(
        dests, base_mapping=base, column=column, make_settings=make_settings,
        on_start=started, on_done=done,
    )  # fmt: skip
    results = [o.result for o in outcomes if o.result is not None]
    if len(dests) > 1:
        click.echo(_total_line(results, len(dests)), err=True)
    return worst_exit_code([o.exit_code for o in outcomes])


def _total_line(results: list[ImportResult], runs: int) -> str:
    """The summed balance over the organizations' runs (rows of other organizations, which
    each run counts as skipped, are left out)."""
    created = sum(r.accounting.created for r in results)
    existing = sum(r.accounting.already_existing for r in results)
    rejected = sum(r.accounting.rejected for r in results)
    unprocessed = sum(r.accounting.unprocessed for r in results)
    rows = created + existing + rejected + unprocessed
    failed = runs - len(results)
    return (
        f"total over {runs} organization(s): rows {rows} = created {created} + already "
        f"existing {existing} + rejected {rejected} + unprocessed {unprocessed}"
        + (f"; {failed} organization(s) stopped before importing (see above)" if failed else "")
    )


class _LegacyCommand(click.Command):
    """Turns the int return value or a TimetrackerError into the exit code (as the
    ``timetracker-import`` group does), also under CliRunner."""

    def invoke(self, ctx: click.Context) -> Any:
        from timetracker_import.cli.main import invoke_with_exit_codes

        return invoke_with_exit_codes(lambda: super(_LegacyCommand, self).invoke(ctx))


@click.command(
    "import-worklogs",
    cls=_LegacyCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="import-worklogs")
@click.option(
    "-f", "--file", "file", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="File path for importing (csv/xlsx/xls).",
)  # fmt: skip
@click.option(
    "-a", "--authorization", default="token", show_default=True,
    help="API authorization type: token or ntlm.",
)  # fmt: skip
@click.option(
    "-o", "--organization",
    help="Organization in Azure DevOps (cloud), or the collection on-premises; the default "
    "for rows without an Organization cell.",
)  # fmt: skip
@click.option("--api", help="The server URL (required on-premises; default: the cloud URL).")
@click.option(
    "-t", "--token",
    help="API token. Accepted for compatibility but visible to other users: set "
    "TIMETRACKER_TOKEN instead.",
)  # fmt: skip
@click.option("-u", "--user", help="NTLM user (DOMAIN\\user); or set TIMETRACKER_USER.")
@click.option(
    "-p", "--password",
    help="NTLM password. Accepted for compatibility but visible to other users: set "
    "TIMETRACKER_PASSWORD instead.",
)  # fmt: skip
@click.option(
    "-m", "--map", "header_map", is_flag=True,
    help="Map columns by the header row (UserName, TimeStamp, Duration, ...) instead of "
    "config.json letters.",
)  # fmt: skip
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    default="config.json", show_default=True,
    help="The old importer's config.json (letter map, organizationTokens).",
)  # fmt: skip
def import_worklogs(
    file: Path,
    authorization: str,
    organization: str | None,
    api: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    header_map: bool,
    config_path: Path,
) -> int:
    """Import worklogs (CSV/Excel) into 7pace Timetracker: the old npm importer's options,
    run through timetracker-import's pipeline (validation, rejected-rows file, journal).

    It never asks for confirmation (like the old tool). Exit codes as `timetracker-import
    import`: 0 ok; 1 some rows rejected; 2 usage, mapping or input error; 3 authentication
    or permission failure; 4 ambiguous outcome; 75 temporary failure; 130 interrupted.
    """
    opts = LegacyOptions(
        file=file,
        authorization=authorization.strip().lower(),
        organization=organization,
        api=api,
        token=token,
        user=user,
        password=password,
        header_map=header_map,
        config_path=config_path,
    )
    return run_legacy(opts, os.environ)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point ``import-worklogs``."""
    import_worklogs.main(args=argv, prog_name="import-worklogs")
