"""``worklogs update FILE`` and ``worklogs delete FILE | --id ID...`` (journaled; undo with
``runs undo RUN``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import evidence
from .options import (
    ConnectionOptions,
    InputFile,
    connection_options,
    existing_file_argument,
    json_option,
    wait_option,
)

if TYPE_CHECKING:
    from timetracker_import.library import ChangeResult


@click.group("worklogs")
def worklogs() -> None:
    """Change or delete existing worklogs (round trip with `export`)."""


@worklogs.command("update")
@existing_file_argument
@click.option("--dry-run", is_flag=True, help="Show the field changes, send nothing.")
@json_option()
@wait_option
@connection_options
def update(
    connection: ConnectionOptions, file: Path, dry_run: bool, as_json: bool, wait: float
) -> int:
    """PATCH the worklogs of FILE (an edited `export`: an id column plus the fields to change).

    Only fields that differ from the server are sent; empty cells leave a field unchanged.
    The run is journaled: `runs undo RUN` puts the old values back. One run at a time
    changes the worklogs of one file on a server (--wait).
    """
    from timetracker_import import library

    settings = connection.resolve()
    result = library.update_worklogs(file, connection=settings, dry_run=dry_run, wait=wait)
    _finish(result, "updated", as_json)
    return result.exit_code


@worklogs.command("delete")
@click.argument("file", required=False, type=InputFile(exists=True))
@click.option("--id", "ids", multiple=True, metavar="ID", help="Worklog id (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option()
@wait_option
@connection_options
def delete(
    connection: ConnectionOptions,
    file: Path | None,
    ids: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    as_json: bool,
    wait: float,
) -> int:
    """DELETE the worklogs in FILE's id column or given with --id.

    Asks for confirmation unless --yes. Unknown ids are reported as not found. The run is
    journaled: `runs undo RUN` re-creates the deleted worklogs (they get new ids). One run
    at a time deletes the worklogs of one input on a server (--wait).
    """
    from timetracker_import import library
    from timetracker_import.errors import UsageError

    wanted = library.worklog_ids(file, ids=ids)
    settings = connection.resolve()
    if not dry_run and not yes and not sys.stdin.isatty():
        # as `import`: a scheduled job must not hang on, or fail at, a prompt
        raise UsageError(
            "deleting asks for confirmation, but there is no terminal",
            hint="add --yes to delete without asking (or --dry-run to see what would go)",
        )
    if not dry_run and not yes:
        click.confirm(f"delete {len(set(wanted))} worklogs?", abort=True, err=True)
    result = library.delete_worklogs(
        wanted, connection=settings, source=str(file) if file else None, dry_run=dry_run, wait=wait
    )
    _finish(result, "deleted", as_json)
    return result.exit_code


def _finish(result: ChangeResult, verb: str, as_json: bool) -> None:
    """The summary: to stdout, or to stderr with --json (which prints the result)."""
    import dataclasses

    for line in summary_lines(result, verb):
        click.echo(line, err=as_json)
    evidence.emit({"exit_code": result.exit_code, **dataclasses.asdict(result)})


def summary_lines(result: ChangeResult, verb: str) -> list[str]:
    """Human lines for an update (``verb`` "updated") or delete ("deleted") result."""
    lines: list[str] = []
    unsent = set(result.unsent)
    for item in result.items:
        if item.error:
            lines.append(f"row {item.source_row}: {item.worklog_id or '-'}: {item.error}")
        note = " (not sent)" if item.worklog_id in unsent else ""
        for c in item.changes:
            lines.append(f"{item.worklog_id}: {c.field}: {c.old!r} -> {c.new!r}{note}")
    for worklog_id, why in result.failed:
        lines.append(f"failed {worklog_id}: {why}")
    for worklog_id in result.not_found:
        if not any(i.worklog_id == worklog_id for i in result.items):
            lines.append(f"not found: {worklog_id}")
    if result.dry_run:
        n = (
            len(result.done)
            if verb == "deleted"
            else sum(1 for i in result.items if i.changes and not i.error)
        )
        head = f"would be {verb}: {n}"
    else:
        head = f"{verb}: {len(result.done)}"
    counts = (
        f"{head}, unchanged {len(result.unchanged)}, not found {len(result.not_found)}, "
        f"failed {len(result.failed)}"
    )
    if result.unsent:
        counts += f", not sent {len(result.unsent)}"
    lines.append(counts)
    if result.unsent:
        why = "stopped" if result.interrupted else "the server kept failing"
        again = (
            "the ones deleted now then show as not found"
            if verb == "deleted"
            else "the ones updated now then show as unchanged"
        )
        lines.append(
            f"{why}: {len(result.unsent)} worklog(s) were not {verb} (`unsent` in --json); "
            f"run the same command again for them ({again})"
        )
    if result.run_id:
        lines.append(f"run {result.run_id} (undo: timetracker-import runs undo {result.run_id})")
    return lines
