"""``worklogs update FILE`` and ``worklogs delete FILE | --id ID...`` (journaled; undo with
``runs undo RUN``)."""

from __future__ import annotations

import asyncio
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
    from timetracker_import.app.worklogs import ChangeResult


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
    from timetracker_import.app.worklogs import input_lock, run_update

    settings = connection.resolve()
    with input_lock(settings, file=file, dry_run=dry_run, wait=wait):
        result = asyncio.run(run_update(settings, file, dry_run=dry_run))
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
    from timetracker_import.app.worklogs import (
        check_ids,
        ids_from_file,
        input_lock,
        run_delete,
    )
    from timetracker_import.errors import UsageError

    check_ids(ids, file)
    wanted = ids_from_file(file) if file is not None else list(ids)
    settings = connection.resolve()
    if not dry_run and not yes and not sys.stdin.isatty():
        # as `import`: a scheduled job must not hang on, or fail at, a prompt
        raise UsageError(
            "deleting asks for confirmation, but there is no terminal",
            hint="add --yes to delete without asking (or --dry-run to see what would go)",
        )
    if not dry_run and not yes:
        click.confirm(f"delete {len(set(wanted))} worklogs?", abort=True, err=True)
    with input_lock(settings, file=file, ids=wanted, dry_run=dry_run, wait=wait):
        result = asyncio.run(
            run_delete(settings, wanted, dry_run=dry_run, source=str(file) if file else None)
        )
    _finish(result, "deleted", as_json)
    return result.exit_code


def _finish(result: ChangeResult, verb: str, as_json: bool) -> None:
    """The summary: to stdout, or to stderr with --json (which prints the result)."""
    import dataclasses

    from timetracker_import.app.worklogs import summary_lines

    for line in summary_lines(result, verb):
        click.echo(line, err=as_json)
    evidence.emit({"exit_code": result.exit_code, **dataclasses.asdict(result)})
