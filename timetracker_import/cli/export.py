"""``export``: worklogs to CSV, XLSX, JSON or NDJSON (a layout ``import --preset 7pace-export``
reads back)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from . import evidence
from .options import (
    NTLM_USER_ALIAS,
    ConnectionOptions,
    connection_options,
    json_option,
    notify_options,
    progress_option,
)
from .render import progress_bar

if TYPE_CHECKING:
    from timetracker_import.library import ConnectionSettings


@click.command("export")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day (inclusive).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day (inclusive).")
@click.option("--mine", is_flag=True, help="Only the token's own worklogs (workLogs, any role).")
@click.option(
    "--user", "users", multiple=True, metavar="EMAIL", help="Only this user (repeatable)."
)
@click.option(
    "--work-item",
    "work_items",
    multiple=True,
    type=click.IntRange(min=1),
    metavar="ID",
    help="Repeatable.",
)
@click.option(
    "--activity-type", "activity_types", multiple=True, metavar="NAME", help="Repeatable."
)
@click.option(
    "--timezone",
    metavar="TZ",
    help="IANA zone for the days and the local date/start columns (default: this machine's).",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "ndjson"]))
@click.option("--output", "-o", metavar="PATH|-", default="-", help="Default: stdout.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=8,
    show_default=True,
    help="Requests in flight at most.",
)
@progress_option
@click.option("--quiet", "-q", is_flag=True, hidden=True, help="Old spelling of --no-progress.")
@json_option(
    "Print the summary (worklogs, days, time zone, per organization) as JSON to "
    "stdout; needs --output PATH (the export itself goes to stdout otherwise)."
)
@notify_options
@connection_options
def export(
    connection: ConnectionOptions,
    first: dt.datetime | None,
    last: dt.datetime | None,
    mine: bool,
    users: tuple[str, ...],
    work_items: tuple[int, ...],
    activity_types: tuple[str, ...],
    timezone: str | None,
    fmt: str | None,
    output: str,
    concurrency: int,
    progress: bool | None,
    quiet: bool,
    as_json: bool,
) -> int:
    """Export worklogs of the whole organization (workLogs/all: Administrator, Budget or
    Product role) or, with --mine, your own.

    --from/--to are inclusive days in --timezone. Without them the last 30 days up to today
    are exported (--to alone: the 30 days ending there; --from alone: up to today).
    Format from --format, else the --output extension, else csv. Give --profile several
    times to merge organizations (an organization column is added).
    """
    from timetracker_import import library
    from timetracker_import.errors import UsageError

    if as_json and output == "-":
        raise UsageError(
            "--json prints the summary to stdout, where the export goes without --output",
            hint="write the export to a file: --output PATH (e.g. -o worklogs.csv)",
        )
    chosen = library.choose_export_format(fmt, output)
    zone = timezone or library.local_timezone()
    profiles: tuple[str, ...] = connection.profile or ()  # type: ignore[assignment]
    target: ConnectionSettings | list[tuple[str, ConnectionSettings]]
    if len(profiles) > 1:
        target = [(p, dataclasses.replace(connection, profile=p).resolve()) for p in profiles]
    else:
        single = dataclasses.replace(connection, profile=profiles[0] if profiles else None)
        target = single.resolve()
    show = (not quiet and sys.stderr.isatty()) if progress is None else progress
    with progress_bar(show, desc="export", unit=" worklogs") as on_page:
        result = library.export_worklogs(
            target,
            first=first.date() if first else None,
            last=last.date() if last else None,
            timezone=zone,
            mine=mine,
            users=users,
            work_items=work_items,
            activity_types=activity_types,
            concurrency=concurrency,
            output=output,
            fmt=chosen,
            on_page=on_page,
        )
    result.close()
    where = "stdout" if output == "-" else output
    per_org = "".join(f"; {k}: {v}" for k, v in sorted(result.per_organization.items()))
    click.echo(
        f"exported {result.count} worklogs ({result.days.first} .. {result.days.last}, "
        f"{zone}{per_org}) to {where}",
        err=True,
    )
    if not result.count and (users or activity_types):
        # A misspelt filter looks exactly like an empty period; say which to check.
        click.echo(
            "note: no worklog matched --user/--activity-type; check their spelling "
            "(`timetracker-import users`, `timetracker-import activity-types`)",
            err=True,
        )
    evidence.emit(
        {
            "exit_code": 0,
            "worklogs": result.count,  # the rows are gone once written (a large export's file)
            "first": result.days.first,
            "last": result.days.last,
            "timezone": zone,
            "format": chosen,
            "output": where,
            "per_organization": result.per_organization,
        }
    )
    return 0


# ``--profile`` is repeatable here only: one export may merge several organizations.
# ``--user`` filters by e-mail here, so the hidden old spelling of ``--ntlm-user`` is left out.
for _param in export.params:
    if isinstance(_param, click.Option) and _param.name == "profile":
        _param.multiple = True
        _param.default = None
        _param.help = "Profile (repeatable: merge organizations, adds an organization column)."
export.params = [p for p in export.params if p.name != NTLM_USER_ALIAS]
