"""Read commands: ``me``, ``users``, ``activity-types`` (table, csv or json)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .options import ConnectionOptions, connection_options, default_format, format_option

ME_COLUMNS = ["name", "uniqueName", "email", "id", "account", "defaultActivityType", "timeZone"]
USER_COLUMNS = ["name", "displayName", "uniqueName", "email", "id", "vstsId"]
ACTIVITY_COLUMNS = ["name", "color", "id", "default"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """``rows`` as an aligned text table or CSV (header included)."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        return buffer.getvalue().rstrip("\n")
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def emit_rows(
    raw: Any, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str
) -> None:
    """``raw`` as JSON (``--json``), else ``rows`` as a table or CSV, to stdout."""
    if fmt == "json":
        from timetracker_import.cli import evidence

        evidence.emit(raw)
    else:
        click.echo(render_rows(rows, columns, fmt))


def me_row(me: Mapping[str, Any]) -> dict[str, Any]:
    """The flat row shown for ``me``."""
    user = me.get("user") or {}
    account = me.get("account") or {}
    activity = me.get("defaultActivityType") or {}
    return {
        "name": user.get("displayName") or user.get("name"),
        "uniqueName": user.get("uniqueName"),
        "email": user.get("email"),
        "id": user.get("id"),
        "account": account.get("name"),
        "defaultActivityType": activity.get("name"),
        "timeZone": me.get("timeZone", me.get("timezone")),
    }


def activity_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per activity type, marking the system default."""
    default_id = data.get("systemDefaultActivityTypeId")
    return [{**a, "default": a.get("id") == default_id} for a in data.get("activityTypes") or []]


@click.command("me")
@connection_options
@format_option
def me(connection: ConnectionOptions, fmt: str | None, as_json: bool) -> int:
    """Show the user the token belongs to (checks the connection)."""
    from timetracker_import import library

    data = library.me(connection.resolve())
    emit_rows(data, [me_row(data)], ME_COLUMNS, default_format(fmt, as_json))
    return 0


@click.command("users")
@connection_options
@format_option
def users(connection: ConnectionOptions, fmt: str | None, as_json: bool) -> int:
    """List all 7pace users (names to use in the user column of an import)."""
    from timetracker_import import library

    data = library.users(connection.resolve())
    emit_rows(data, data, USER_COLUMNS, default_format(fmt, as_json))
    return 0


@click.command("activity-types")
@connection_options
@format_option
def activity_types(connection: ConnectionOptions, fmt: str | None, as_json: bool) -> int:
    """List the activity types (match them by exact name in an import)."""
    from timetracker_import import library

    data = library.activity_types(connection.resolve())
    emit_rows(data, activity_rows(data), ACTIVITY_COLUMNS, default_format(fmt, as_json))
    return 0
