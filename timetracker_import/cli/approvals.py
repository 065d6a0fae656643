"""``approvals list|submit|revoke`` (timeApproval)."""

from __future__ import annotations

import datetime as dt

import click

from . import evidence
from .options import (
    ConnectionOptions,
    connection_options,
    default_format,
    format_option,
    json_option,
)
from .read import emit_rows


@click.group("approvals")
def approvals() -> None:
    """Time approval weeks: list (approval managers, administrators), submit, revoke."""


@approvals.command("list")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@click.option("--state", type=click.Choice(["submitted", "reopened", "approved", "closed"]))
@format_option
@connection_options
def list_(
    connection: ConnectionOptions,
    first: dt.datetime | None,
    last: dt.datetime | None,
    state: str | None,
    fmt: str | None,
    as_json: bool,
) -> int:
    """Approval weeks that overlap --from..--to (inclusive)."""
    from timetracker_import import library

    table = library.approvals(
        connection.resolve(),
        first=first.date() if first else None,
        last=last.date() if last else None,
        state=state,
    )
    emit_rows(table.rows, table.rows, table.columns, default_format(fmt, as_json))
    return 0


@approvals.command("submit")
@click.argument("week_start", metavar="WEEK_START")
@click.option("--manager", required=True, metavar="EMAIL", help="Approval manager's e-mail.")
@json_option()
@connection_options
def submit(connection: ConnectionOptions, week_start: str, manager: str, as_json: bool) -> int:
    """Submit your week starting WEEK_START (a Monday, YYYY-MM-DD) for approval."""
    from timetracker_import import library

    week = library.parse_week(week_start)
    library.submit_week(week, manager=manager, connection=connection.resolve())
    click.echo(f"week {week} submitted to {manager}", err=as_json)
    evidence.emit({"exit_code": 0, "week": str(week), "state": "submitted", "manager": manager})
    return 0


@approvals.command("revoke")
@click.argument("week_start", metavar="WEEK_START")
@json_option()
@connection_options
def revoke(connection: ConnectionOptions, week_start: str, as_json: bool) -> int:
    """Revoke your submitted week starting WEEK_START."""
    from timetracker_import import library

    week = library.parse_week(week_start)
    library.revoke_week(week, connection=connection.resolve())
    click.echo(f"week {week} revoked", err=as_json)
    evidence.emit({"exit_code": 0, "week": str(week), "state": "revoked"})
    return 0
