"""``roles list`` and ``roles set FILE`` (users/roles; Administrator only)."""

from __future__ import annotations

from pathlib import Path

import click

from . import evidence
from .options import (
    ConnectionOptions,
    connection_options,
    default_format,
    existing_file_argument,
    format_json_alias,
    json_option,
)
from .read import emit_rows


@click.group("roles")
def roles() -> None:
    """List and set 7pace user roles (Administrator only)."""


@roles.command("list")
@click.option("--include-none", is_flag=True, help="Also users with the None role.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "xlsx"]),
    metavar="[table|csv|xlsx]",
    callback=format_json_alias,
    help="Output format (default: table on a terminal, csv otherwise; xlsx needs --output).",
)
@json_option("Print the users and roles as JSON to stdout.")
@click.option(
    "--output", "-o", metavar="PATH|-", help="Write to PATH (.csv or .xlsx; - for stdout)."
)
@connection_options
def list_(
    connection: ConnectionOptions,
    include_none: bool,
    fmt: str | None,
    as_json: bool,
    output: str | None,
) -> int:
    """Users with their role (GET users/roles)."""
    from timetracker_import import library

    if fmt == "xlsx" and output in (None, "-"):  # checked before anything is fetched
        from timetracker_import.errors import UsageError

        raise UsageError("--format xlsx needs --output PATH.xlsx")
    to_file = output if output and output != "-" else None
    table = library.roles(connection.resolve(), include_none=include_none, output=to_file)
    if to_file:
        click.echo(f"{len(table.rows)} users written to {to_file}", err=True)
        return 0
    emit_rows(table.rows, table.rows, table.columns, default_format(fmt, as_json))
    return 0


@roles.command("set")
@existing_file_argument
@click.option("--skip-errors", is_flag=True, help="Apply the valid entries, report the others.")
@json_option()
@connection_options
def set_(connection: ConnectionOptions, file: Path, skip_errors: bool, as_json: bool) -> int:
    """Set roles from FILE (CSV/XLSX): a user column (email, id or vstsId) and a role column
    (role name, or roleId). Without --skip-errors one bad entry changes nothing."""
    from timetracker_import import library

    result = library.set_roles(file, connection=connection.resolve(), skip_errors=skip_errors)
    code = 1 if result.failed else 0
    click.echo(f"succeeded: {result.succeeded}, failed: {result.failed}", err=as_json)
    for entity, message in result.failed_entries:
        who = entity.get("email") or entity.get("id") or entity.get("vstsId") or entity
        click.echo(f"  failed {who}: {message}", err=as_json)
    evidence.emit(
        {
            "exit_code": code,
            "succeeded": result.succeeded,
            "failed": result.failed,
            "failures": [{"entry": e, "message": m} for e, m in result.failed_entries],
        }
    )
    return code
