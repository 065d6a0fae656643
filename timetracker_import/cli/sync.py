"""``timetracker-import sync``: make 7pace equal to a recurring source (updates, deletes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import (
    connection_options,
    date_order_option,
    input_file_argument,
    input_options,
    lookup_dir_option,
    posting_options,
    progress_option,
    result_options,
    wait_option,
)

if TYPE_CHECKING:
    from timetracker_import.cli.options import ConnectionOptions
    from timetracker_import.library import SyncConfirm, SyncResult

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
    """The human summary (stderr): source, period, zone, counts, per-row diffs, deletes,
    the guard's verdict, conflicts, held rows, notes."""
    from timetracker_import.core.outcomes import RunKind

    c = result.counts
    lines = [f"{'sync dry run' if result.dry_run else 'sync'} {result.run_id}"]
    where = f"source {result.source!r}"
    if result.period is not None:
        where += f", period {result.period.label}"
    else:
        where += ", no period declared (nothing is deleted)"
    zone = result.timezone
    if zone:
        origin = {"--timezone": "--timezone", "mapping": "the mapping"}.get(
            str(zone.get("source")), "this machine"
        )
        where += f", times in {zone.get('name')} (from {origin})"
    lines.append(where)
    lines.append(c.describe(RunKind.SYNC, dry_run=result.dry_run))
    for change in result.changes[:_SHOWN]:
        fields = ", ".join(
            f"{name} {_value(name, v['old'])} -> {_value(name, v['new'])}"
            for name, v in change["fields"].items()
        )
        adopted = " (adopted)" if change.get("adopted") else ""
        lines.append(
            f"  update row {change['source_row']}: worklog {change['worklog_id']}"
            f"{adopted}: {fields}"
        )
    if len(result.changes) > _SHOWN:
        lines.append(f"  ... and {len(result.changes) - _SHOWN} more updates")
    verb = "would delete" if result.dry_run else "delete"
    for d in result.deletes[:_SHOWN]:
        lines.append(
            f"  {verb} worklog {d['worklog_id']} ({d.get('user')}, {d['timestamp']}, "
            f"{_value('length', d.get('length'))}, key {d['key']}): not in the file"
        )
    if len(result.deletes) > _SHOWN:
        lines.append(f"  ... and {len(result.deletes) - _SHOWN} more deletes")
    for conflict in result.conflicts[:_SHOWN]:
        where = f"row {conflict['source_row']}" if conflict.get("source_row") else "absent row"
        lines.append(f"  conflict {where}: {conflict['reason']}")
        if conflict.get("ours") is not None or conflict.get("theirs") is not None:
            lines.append(f"    ours {conflict.get('ours')}, theirs {conflict.get('theirs')}")
    if len(result.conflicts) > _SHOWN:
        lines.append(f"  ... and {len(result.conflicts) - _SHOWN} more conflicts")
    other = [r for r in result.rejections if r.stage != "conflict"]
    for rej in other[:_SHOWN]:
        code = f" ({rej.error_code})" if rej.error_code else ""
        lines.append(f"  row {rej.source_row}{rej.where()}: {rej.stage}{code}: {rej.reason}")
    if len(other) > _SHOWN:
        lines.append(f"  ... and {len(other) - _SHOWN} more rejected")
    for held in result.held[:_SHOWN]:
        lines.append(f"  held row {held['source_row']}: {held['why']}")
    guard = result.guard
    if guard is not None and not guard.allowed and guard.deletes:
        if result.dry_run:
            lines.append(
                f"the real run would be STOPPED by the deletion guard "
                f"({guard.deletes} delete(s) planned)"
            )
        else:
            lines.append(
                f"STOPPED by the deletion guard: nothing was written "
                f"({guard.deletes} delete(s) planned)"
            )
    if result.renamed_from is not None:
        lines.append(
            f"{'the real run would be STOPPED' if result.dry_run else 'STOPPED'}: "
            f"the first sync of source {result.source!r} lies on worklogs of source "
            f"{result.renamed_from!r} (the same feed under a new name?); nothing "
            "was written"
        )
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
@input_options
@date_order_option
@lookup_dir_option
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
    default=None,
    help="Rows sharing a key: reject them all (default), or let the last one replace the "
    "earlier (a correction); default: the mapping's `on_duplicate_key:`, else reject.",
)
@click.option(
    "--source",
    metavar="NAME",
    help="The name of this feed: a source owns the worklogs it wrote, and no other "
    "source's sync updates or deletes them. Default: the mapping's `source:`, else the "
    "input file's name.",
)
@click.option(
    "--window",
    metavar="PERIOD",
    help="The period this sync is about: FROM..TO (dates, inclusive), last:14d, last:2w, "
    "week:previous, week:current, month:previous, month:current (default: the mapping's "
    "`window:`). Rows outside it are rejected; --prune deletes only inside it.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete worklogs this source wrote that are no longer in the file, inside the "
    "declared period (--window). Guarded: see --max-delete.",
)
@click.option(
    "--max-delete",
    metavar="N|P%",
    help="How many deletes one run may make: a count, a share of this source's worklogs in "
    "the period, or `all`. Default: 5, or 20% when that is more. A file with no rows, or "
    "none that can be used, deletes only with `all`.",
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
@progress_option
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
    date_order: str | None,
    lookup_dir: Path | None,
    keys: tuple[str, ...],
    on_duplicate_key: str | None,
    on_duplicate: str | None,
    source: str | None,
    window: str | None,
    prune: bool,
    max_delete: str | None,
    ledger_path: Path | None,
    overwrite_edited: bool,
    dry_run: bool,
    batch_size: int,
    concurrency: int | str,
    max_concurrency: int | None,
    rejected_path: Path | None,
    report_path: Path | None,
    as_json: bool,
    yes: bool,
    progress: bool | None,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Make 7pace equal to FILE for the period it covers, and never delete by mistake.

    Reads, maps, validates and resolves FILE like `import`. Each row has a key (an id column,
    or its slot: user + start + work item); a ledger remembers which worklog this source
    wrote for each key. Rows not seen before are created (or adopt the one worklog already on
    their slot), corrected rows update only the changed fields, unchanged rows send nothing.
    With --prune and a declared period (--window), worklogs this source wrote whose key left
    the file are deleted inside the period - unless the deletion guard (--max-delete) stops
    the run first. Worklogs edited in 7pace since sync wrote them are conflicts, never
    overwritten unless --overwrite-edited. `runs undo RUN` reverses a sync.

    Times without an offset need a declared zone (--timezone or the mapping's `timezone:`).

    Exit codes as `import`: 0 in step; 1 rows rejected, in conflict, held, or stopped by the
    deletion guard; 2 usage or input error; 3 authentication; 4 ambiguous outcome (run
    again); 75 temporary failure or another writer busy; 130/143 interrupted (run again).
    """
    from timetracker_import import library
    from timetracker_import.cli.render import progress_counter
    from timetracker_import.errors import UsageError

    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "a real sync asks for confirmation, but there is no terminal",
            hint="add --yes to sync without asking (or --dry-run to see the plan)",
        )
    show = sys.stderr.isatty() if progress is None else progress
    with progress_counter(show and not dry_run, desc="sync", unit=" writes") as on_progress:
        result = library.sync_file(
            file,
            connection=connection.resolve(),
            mapping=mapping_path,
            preset=preset,
            keys=tuple(keys),
            prune=prune,
            window=window,
            source=source,
            max_delete=max_delete,
            ledger=ledger_path,
            overwrite_edited=overwrite_edited,
            on_duplicate_key=on_duplicate_key,
            on_duplicate=on_duplicate,
            dry_run=dry_run,
            sheet=sheet,
            timezone=timezone,
            encoding=encoding,
            delimiter=delimiter,
            date=date,
            batch_size=batch_size,
            concurrency=concurrency,
            max_concurrency=max_concurrency,
            rejected=rejected_path,
            report=report_path,
            wait=wait,
            confirm=None if (yes or dry_run) else _prompt,
            date_order=date_order,
            lookup_dir=lookup_dir,
            progress=on_progress,
        )
    click.echo(render_sync(result), err=True)
    evidence.emit(result.summary_dict())
    return result.exit_code
