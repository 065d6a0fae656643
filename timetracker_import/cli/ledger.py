"""``timetracker-import ledger show|export|rebuild``: inspect and recover the sync ledger."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import (
    connection_options,
    json_option,
    sync_input_options,
    wait_option,
)

if TYPE_CHECKING:
    from timetracker_import.cli.options import ConnectionOptions

_LEDGER = click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The ledger file (default: ledger.sqlite in the state directory).",
)


@click.group("ledger")
def ledger() -> None:
    """Inspect, export and rebuild the ledger `sync` keeps (source key -> worklog)."""


@ledger.command("show")
@_LEDGER
@json_option()
def show(ledger_path: Path | None, as_json: bool) -> int:
    """The scopes in the ledger (server, source, key) and how many keys each holds."""
    from timetracker_import import library

    found = library.ledger_overview(ledger_path)
    path, scopes, unsettled = found.path, found.scopes, found.unsettled
    if as_json:
        doc = {
            "ledger": str(path),
            "scopes": [
                {**s.parts(), "entries": s.entries, "updated_at": s.updated_at} for s in scopes
            ],
            "unsettled": unsettled,
        }
        evidence.emit(doc)
        return 0
    click.echo(f"ledger {path}")
    if not scopes:
        click.echo("  (empty)")
    for s in scopes:
        parts = s.parts()
        click.echo(
            f"  {parts.get('server')}  source {parts.get('source')!r}  key {parts.get('key')}: "
            f"{s.entries} entries (last change {s.updated_at})"
        )
    if unsettled:
        click.echo(f"  {unsettled} entries with a write whose outcome the next sync checks")
    return 0


@ledger.command("export")
@_LEDGER
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="CSV or XLSX file to write.",
)
def export(ledger_path: Path | None, output: Path) -> int:
    """Every entry (scope, key, worklog id, user, start, content, editedTimestamp)."""
    from timetracker_import import library

    written = library.export_ledger(output, ledger=ledger_path)
    click.echo(f"{written} entries written to {output}", err=True)
    return 0


@ledger.command("rebuild")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@sync_input_options
@click.option("--key", "keys", multiple=True, metavar="COLUMN", help="As for `sync`.")
@click.option("--source", metavar="NAME", help="As for `sync` (default: the file's name).")
@_LEDGER
@wait_option
@connection_options
def rebuild(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    sheet: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    date: str | None,
    keys: tuple[str, ...],
    source: str | None,
    ledger_path: Path | None,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Rebuild the ledger of FILE's scope from the server, writing nothing to 7pace.

    Every row adopts the one worklog on its slot (exact content first); rows with several
    candidates are reported as conflicts and rows without one are left for the next sync
    to create. Use it after losing the ledger (a plain `sync` adopts as well)."""
    from timetracker_import import library
    from timetracker_import.cli.sync import render_sync

    result = library.rebuild_ledger(
        file,
        connection=connection.resolve(),
        mapping=mapping_path,
        preset=preset,
        keys=keys,
        source=source,
        ledger=ledger_path,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        date=date,
        wait=wait,
    )
    click.echo(render_sync(result).replace("sync ", "ledger rebuild ", 1), err=True)
    return result.exit_code
