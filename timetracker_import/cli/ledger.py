"""``timetracker-import ledger show|export|rebuild``: inspect and recover the sync ledger."""

from __future__ import annotations

import json
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


def _path(ledger_path: Path | None) -> Path:
    from timetracker_import.errors import UsageError
    from timetracker_import.journal.ledger import default_ledger_path

    path = ledger_path or default_ledger_path()
    if not path.is_file():
        raise UsageError(f"no ledger at {path}", hint="a first `sync` creates it")
    return path


@click.group("ledger")
def ledger() -> None:
    """Inspect, export and rebuild the ledger `sync` keeps (source key -> worklog)."""


@ledger.command("show")
@_LEDGER
@json_option()
def show(ledger_path: Path | None, as_json: bool) -> int:
    """The scopes in the ledger (server, source, key) and how many keys each holds."""
    from timetracker_import.journal.ledger import Ledger

    path = _path(ledger_path)
    with Ledger(path) as book:
        scopes = book.scopes()
        pending = [r for r in book.rows() if r["pending"] or r["state"] != "ok"]
    if as_json:
        doc = {
            "ledger": str(path),
            "scopes": [
                {**s.parts(), "entries": s.entries, "updated_at": s.updated_at} for s in scopes
            ],  # fmt: skip
            "unsettled": len(pending),
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
    if pending:
        click.echo(f"  {len(pending)} entries with a write whose outcome the next sync checks")
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
    from timetracker_import.files.writers import write_table
    from timetracker_import.journal.ledger import Ledger, scope_parts

    with Ledger(_path(ledger_path)) as book:
        rows = book.rows()
    headers = ["server", "source", "key_spec", "key", "worklog_id", "user_id", "timestamp",
               "content", "edited_ts", "state", "run_id", "updated_at"]  # fmt: skip
    table = []
    for r in rows:
        scope = scope_parts(r["scope"])
        table.append([scope.get("server"), scope.get("source"), scope.get("key"), r["key"],
                      r["worklog_id"], r["user_id"], r["timestamp"],
                      json.dumps(r["content"], sort_keys=True), r["edited_ts"],
                      "pending" if r["pending"] else r["state"], r["run_id"],
                      r["updated_at"]])  # fmt: skip
    write_table(output, headers, table)
    click.echo(f"{len(table)} entries written to {output}", err=True)
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
    from timetracker_import.app.sync import SyncSettings, sync_file
    from timetracker_import.cli.sync import render_sync

    settings = SyncSettings(
        path=file, connection=connection.resolve(), mapping_path=mapping_path, preset=preset,
        keys=tuple(keys), source=source, ledger_path=ledger_path, sheet=sheet, timezone=timezone,
        encoding=encoding, delimiter=delimiter, date=date, rebuild=True, wait=wait,
    )  # fmt: skip
    result = sync_file(settings)
    click.echo(render_sync(result).replace("sync ", "ledger rebuild ", 1), err=True)
    return result.exit_code
