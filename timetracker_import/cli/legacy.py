"""``import-worklogs``: a drop-in for 7pace's old npm importer (7pace/timetracker-npm-import).

It accepts the old options and ``config.json`` (letter ``map`` and ``organizationTokens``)
and runs the new pipeline (``app.importer.run_import``): validation, isolation of bad rows,
the journal. Rows are routed by their Organization cell (else ``-o``) to one import run per
organization; the exit code is the worst of the runs. docs/legacy.md is the migration guide.

The command lives here (the console script ``import-worklogs`` is ``main``); the parts are
``legacy_config`` (config.json and the mappings), ``legacy_options`` (options -> destinations
and credentials) and ``legacy_run`` (running the imports). Their public names stay importable
from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from timetracker_import import __version__
from timetracker_import.app.multi_org import worst_exit_code
from timetracker_import.cli.legacy_config import (
    DEFAULT_LETTER_MAP,
    HEADER_PRESET,
    LEGACY_FIELDS,
    ORG_HEADER,
    LegacyConfig,
    header_mapping,
    letter_mapping,
    load_legacy_config,
    organization_column,
)
from timetracker_import.cli.legacy_options import LegacyOptions, plan_destinations
from timetracker_import.cli.legacy_run import read_organizations, run_legacy

__all__ = [
    "DEFAULT_LETTER_MAP",
    "HEADER_PRESET",
    "LEGACY_FIELDS",
    "ORG_HEADER",
    "LegacyConfig",
    "LegacyOptions",
    "header_mapping",
    "import_worklogs",
    "letter_mapping",
    "load_legacy_config",
    "main",
    "organization_column",
    "plan_destinations",
    "read_organizations",
    "run_legacy",
    "worst_exit_code",  # moved to app.multi_org; kept importable from here
]


def legacy_epilog() -> str | None:
    from timetracker_import.cli.examples import epilog

    return epilog("import-worklogs")


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
    epilog=legacy_epilog(),
)
@click.version_option(__version__, "-V", "--version", prog_name="import-worklogs")
@click.option(
    "-f",
    "--file",
    "file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="File path for importing (csv/xlsx/xls).",
)
@click.option(
    "-a",
    "--authorization",
    default="token",
    show_default=True,
    help="API authorization type: token or ntlm.",
)
@click.option(
    "-o",
    "--organization",
    help="Organization in Azure DevOps (cloud), or the collection on-premises; the default "
    "for rows without an Organization cell.",
)
@click.option("--api", help="The server URL (required on-premises; default: the cloud URL).")
@click.option(
    "-t",
    "--token",
    help="API token. Accepted for compatibility but visible to other users: set "
    "TIMETRACKER_TOKEN instead.",
)
@click.option("-u", "--user", help="NTLM user (DOMAIN\\user); or set TIMETRACKER_USER.")
@click.option(
    "-p",
    "--password",
    help="NTLM password. Accepted for compatibility but visible to other users: set "
    "TIMETRACKER_PASSWORD instead.",
)
@click.option(
    "-m",
    "--map",
    "header_map",
    is_flag=True,
    help="Map columns by the header row (UserName, TimeStamp, Duration, ...) instead of "
    "config.json letters.",
)
@click.option(
    "--timezone",
    metavar="TZ",
    help="IANA zone (e.g. Europe/Berlin) of the file's times. Not in the old importer, which "
    "read them in this machine's zone, as it does without this option.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default="config.json",
    show_default=True,
    help="The old importer's config.json (letter map, organizationTokens).",
)
def import_worklogs(
    file: Path,
    authorization: str,
    organization: str | None,
    api: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    header_map: bool,
    timezone: str | None,
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
        timezone=timezone,
    )
    return run_legacy(opts, os.environ)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point ``import-worklogs``."""
    import_worklogs.main(args=argv, prog_name="import-worklogs")
