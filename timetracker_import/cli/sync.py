"""``timetracker-import sync``: make 7pace equal to a recurring source (updates, deletes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import (
    connection_options,
    input_file_argument,
    posting_options,
    result_options,
    sync_input_options,
    wait_option,
)

if TYPE_CHECKING:
    from timetracker_import.app.sync import SyncConfirm, SyncResult
    from timetracker_import.cli.options import ConnectionOptions

_HALTS = {
    "auth": "halted: authentication or permission failure",
    "transient": "halted: temporary failure",
    "error": "halted: the server failed",
    "interrupted": "interrupted",
}
_SHOWN = 20


def _value(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name in ("length", "billableLength") and isinstance(value, int):
        return f"{value / 3600:g} h"
    return repr(value) if isinstance(value, str) else str(value)


def render_sync(result: SyncResult) -> str:
    """The human summary (stderr): counts, per-row diffs, deletes, conflicts."""
    c = result.counts
    dry = result.dry_run
    lines = [
        f"{'sync dry run' if dry else 'sync'} {result.run_id}",
        f"rows {c.rows} = {'would create' if dry else 'created'} {c.created} + "
        f"{'would update' if dry else 'updated'} {c.updated} + unchanged {c.unchanged} + "
        f"conflicts {c.conflicts} + rejected {c.rejected} + unprocessed {c.unprocessed}"
        + (f" + skipped {c.skipped}" if c.skipped else ""),
        f"{'would delete' if dry else 'deleted'} {c.deleted} worklog(s)",
    ]
    for change in result.changes[:_SHOWN]:
        fields = ", ".join(
            f"{name} {_value(name, v['old'])} -> {_value(name, v['new'])}"
            for name, v in change["fields"].items()
        )
        adopted = " (adopted)" if change.get("adopted") else ""
        lines.append(f"  update row {change['source_row']}: worklog {change['worklog_id']}"
                     f"{adopted}: {fields}")  # fmt: skip
    if len(result.changes) > _SHOWN:
        lines.append(f"  ... and {len(result.changes) - _SHOWN} more updates")
    for d in result.deletes[:_SHOWN]:
        lines.append(
            f"  delete worklog {d['worklog_id']} ({d.get('user')}, {d['timestamp']}, "
            f"{_value('length', d.get('length'))}, key {d['key']}): not in the file"
        )
    if len(result.deletes) > _SHOWN:
        lines.append(f"  ... and {len(result.deletes) - _SHOWN} more deletes")
    for conflict in result.conflicts[:_SHOWN]:
        where = f"row {conflict['source_row']}" if conflict.get("source_row") else "absent row"
        lines.append(f"  conflict {where}: {conflict['reason']}")
        if conflict.get("ours") is not None or conflict.get("theirs") is not None:
            lines.append(f"    ours {conflict.get('ours')}, theirs {conflict.get('theirs')}")
    other = [r for r in result.rejections if r.stage != "conflict"]
    for rej in other[:_SHOWN]:
        code = f" ({rej.error_code})" if rej.error_code else ""
        lines.append(f"  row {rej.source_row}{rej.where()}: {rej.stage}{code}: {rej.reason}")
    if len(other) > _SHOWN:
        lines.append(f"  ... and {len(other) - _SHOWN} more rejected")
    lines.extend(f"note: {note}" for note in result.notes)
    if result.halt_reason:
        halt = _HALTS.get(result.halt_reason, "halted")
        lines.append(f"{halt}: {result.halt_message}" if result.halt_message else halt)
        lines.append("run the same command again: sync picks up where it stopped")
    if result.rejected_path is not None:
        lines.append(f"rejected rows: {result.rejected_path}")
    if result.report_path is not None:
        lines.append(f"report written to {result.report_path}")
    lines.append(f"ledger: {result.ledger_path}")
    lines.append(f"run id: {result.run_id} (timetracker-import runs show {result.run_id})")
    return "\n".join(lines)


def _prompt(info: SyncConfirm) -> bool:
    click.echo(
        f"About to create {info.creates}, update {info.updates} and delete {info.deletes} "
        f"worklog(s) at {info.target}",
        err=True,
    )
    return click.confirm("Continue?", default=False, err=True)


@click.command("sync")
@input_file_argument
@sync_input_options
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="COLUMN",
    help="Source column that identifies an entry (repeat for several); default: the "
    "mapping's `key:`, else the slot (user + start + work item).",
)
@click.option(
    "--on-duplicate-key",
    type=click.Choice(["reject", "last"]),
    default="reject",
    show_default=True,
    help="Rows sharing a key: reject them all, or let the last one replace the earlier.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete worklogs sync wrote earlier whose key is no longer in the file (inside the "
    "window).",
)
@click.option(
    "--window",
    metavar="FROM..TO",
    help="Dates (inclusive) where --prune deletes, for every user; default: per user, the "
    "file's first to last day.",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The ledger file (default: ledger.sqlite in the state directory).",
)
@click.option(
    "--overwrite-edited",
    is_flag=True,
    help="Overwrite (or re-create) worklogs edited (or deleted) in 7pace since sync wrote them.",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")
@posting_options("Rows per create request.")
@result_options("Write a report with a changes section: PATH.html or PATH.json.")
@wait_option
@connection_options
def sync(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    sheet: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    date: str | None,
    keys: tuple[str, ...],
    on_duplicate_key: str,
    prune: bool,
    window: str | None,
    ledger_path: Path | None,
    overwrite_edited: bool,
    dry_run: bool,
    batch_size: int,
    concurrency: int,
    rejected_path: Path | None,
    report_path: Path | None,
    as_json: bool,
    yes: bool,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Make 7pace equal to FILE for the period it covers.

    Reads, maps, validates and resolves FILE like `import`. Each row has a key (an id column,
    or its slot: user + start + work item); a ledger remembers which worklog sync wrote for
    each key. Rows not seen before are created (or adopt the one worklog already on their
    slot), corrected rows update only the changed fields, unchanged rows send nothing. With
    --prune, worklogs sync wrote whose key left the file are deleted inside the window.
    Worklogs edited in 7pace since sync wrote them are conflicts, never overwritten unless
    --overwrite-edited. `runs undo RUN` reverses a sync.

    Exit codes as `import`: 0 in step; 1 rows rejected or in conflict; 2 usage or input
    error; 3 authentication; 4 ambiguous outcome (run again); 75 temporary failure.
    """
    from timetracker_import.app.sync import SyncSettings, parse_window, sync_file
    from timetracker_import.errors import UsageError

    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "a real sync asks for confirmation, but there is no terminal",
            hint="add --yes to sync without asking (or --dry-run to see the plan)",
        )
    settings = SyncSettings(
        path=file, connection=connection.resolve(), mapping_path=mapping_path, preset=preset,
        keys=tuple(keys), prune=prune, window=None if window is None else parse_window(window),
        ledger_path=ledger_path, overwrite_edited=overwrite_edited,
        on_duplicate_key=on_duplicate_key, dry_run=dry_run, sheet=sheet, timezone=timezone,
        encoding=encoding, delimiter=delimiter, date=date, batch_size=batch_size, concurrency=concurrency,
        rejected_path=rejected_path, report_path=report_path, wait=wait,
    )  # fmt: skip
    result = sync_file(settings, confirm=None if (yes or dry_run) else _prompt)
    click.echo(render_sync(result), err=True)
    evidence.emit(result.summary_dict())
    return result.exit_code
