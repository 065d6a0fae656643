"""``timetracker-import runs list|show|undo``: the journaled import runs."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import (
    connection_options,
    json_option,
    progress_option,
    wait_option,
)

if TYPE_CHECKING:
    from timetracker_import.cli.options import ConnectionOptions


@click.group("runs")
def runs() -> None:
    """List, inspect, undo and prune import runs (journal under the user state directory, or
    $TIMETRACKER_STATE_DIR)."""


@runs.command("list")
@json_option()
def list_(as_json: bool) -> int:
    """Every run, oldest first: its kind, status and counts (from its journal)."""
    from timetracker_import import library

    items = library.run_summaries()
    if as_json:
        evidence.emit([r.to_dict() for r in items])
        return 0
    if not items:
        click.echo(f"no runs in {library.runs_directory()}", err=True)
        return 0
    for r in items:
        name = r.input_path.rsplit("/", 1)[-1] if r.input_path else "-"
        kind = r.kind.value + (" (dry run)" if r.dry_run else "")
        click.echo(f"{r.run_id}  {r.status:<8}  {kind:<18}  {name}  {r.describe()}")
    return 0


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@json_option()
def show(run_id: str, as_json: bool) -> int:
    """One run: where it is, its counts, its rejected rows and its undo log."""
    from timetracker_import import library

    details = library.run_details(run_id)
    summary, rejections, undo = details.summary, details.rejections, details.undo_log
    options, actions = details.options, details.actions
    if as_json:
        doc = {
            **summary.to_dict(),
            "directory": str(summary.directory),
            "options": options,
            "actions": [
                {"kind": k, "state": st, "count": n} for (k, st), n in sorted(actions.items())
            ],
            "rejections": [r.to_dict() for r in rejections],
            "undo": [{"id": i, "action": a, "detail": d} for i, a, d in undo],
        }
        evidence.emit(doc)
        return 0
    kind = summary.kind.value + (" (dry run)" if summary.dry_run else "")
    lines = [
        f"run {summary.run_id} ({kind}, {summary.status}"
        + (f": {summary.halt_reason}" if summary.halt_reason else "")
        + ")",
        f"  directory: {summary.directory}",
        f"  input: {summary.input_path}  mapping: {summary.mapping_name}",
        f"  target: {summary.target}",
        f"  started {summary.started_at}, finished {summary.finished_at or '-'}",
        f"  {summary.describe()}",
    ]
    if actions:
        lines.append(
            "  writes: " + ", ".join(f"{k} {st} {n}" for (k, st), n in sorted(actions.items()))
        )
    for rej in rejections[:20]:
        lines.append(f"  row {rej.source_row}: {rej.stage}: {rej.reason}")
    if len(rejections) > 20:
        lines.append(f"  ... and {len(rejections) - 20} more rejected")
    if undo:
        counted: dict[str, int] = {}
        for _, action, _ in undo:
            counted[action] = counted.get(action, 0) + 1
        lines.append("  undo: " + ", ".join(f"{a} {n}" for a, n in sorted(counted.items())))
    click.echo("\n".join(lines))
    return 0


@runs.command("undo")
@click.argument("run_id", metavar="RUN")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@progress_option
@json_option()
@wait_option
@connection_options
def undo(
    run_id: str,
    dry_run: bool,
    yes: bool,
    progress: bool | None,
    as_json: bool,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Reverse what RUN wrote: delete what it created, put back what it updated, re-create
    what it deleted. Worklogs edited since are skipped and reported. Running it again is
    harmless; it waits for (--wait) or refuses while another run writes to the server.

    Shows what it would do and asks first (--yes does not ask; without a terminal, --yes is
    required). Ctrl-C (or SIGTERM) stops after the change in flight and says how many are
    left; undo again for the rest."""
    from timetracker_import import library
    from timetracker_import.errors import UsageError

    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "undo changes worklogs and asks for confirmation, but there is no terminal",
            hint=f"add --yes to undo without asking (or see first: runs undo {run_id} --dry-run)",
        )
    settings = connection.resolve()
    if not dry_run and not yes:
        plan = library.undo_run(run_id, connection=settings, dry_run=True, wait=wait)
        click.echo(plan.report.render(), err=True)
        click.confirm(f"Undo run {run_id} at {settings.rest_root}?", abort=True, err=True)
    from timetracker_import.cli.render import progress_counter

    with progress_counter(
        False if dry_run else progress, desc="undo", unit=" changes"
    ) as on_progress:
        outcome = library.undo_run(
            run_id, connection=settings, dry_run=dry_run, wait=wait, progress=on_progress
        )
    click.echo(outcome.report.render(), err=True)
    evidence.emit(outcome.to_dict())
    return outcome.exit_code


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m`` or ``45s`` in seconds (a BadParameter otherwise)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = text[:-1].strip(), text[-1:].lower()
    if unit not in units or not number.isdigit():
        raise click.BadParameter(f"{text!r}: give a number and a unit, e.g. 30d, 12h or 2w")
    return int(number) * units[unit]


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@runs.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="Only runs started more than AGE ago: 30d, 12h, 2w (d days, h hours, w weeks).",
)
@click.option(
    "--include-undoable",
    is_flag=True,
    help="Also remove finished runs that `runs undo` could still reverse (they no longer can).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@json_option()
def prune(older_than: str, include_undoable: bool, dry_run: bool, as_json: bool) -> int:
    """Remove old run directories that nothing needs any more, and say which.

    Removed: dry runs, runs that changed nothing and runs already undone. Kept: unfinished
    runs (running the same command again resumes them) and runs `runs undo` can still
    reverse, unless --include-undoable. The CSV copies of DataFrames given to the library
    go too, unless an unfinished run reads one.
    """
    from timetracker_import import library

    seconds = parse_age(older_than)
    done = library.prune_runs(seconds, include_undoable=include_undoable, dry_run=dry_run)
    removed = [r for r in done if r.removed]
    kept = [r for r in done if not r.removed]
    verb = "would remove" if dry_run else "removed"
    lines = [
        f"{verb} {len(removed)} run(s) started more than {older_than} ago "
        f"({_mb(sum(r.size_bytes for r in removed))}) from {library.runs_directory()}"
    ]
    lines += [f"  {r.run_id}  {_mb(r.size_bytes):>8}  {r.reason}" for r in removed]
    if kept:
        lines.append(f"kept {len(kept)} ({_mb(sum(r.size_bytes for r in kept))}):")
        lines += [f"  {r.run_id}  {_mb(r.size_bytes):>8}  {r.reason}" for r in kept]
        if any("undo" in r.reason for r in kept) and not include_undoable:
            lines.append("  (--include-undoable removes the runs undo could still reverse)")
    frames = library.prune_frames(seconds, dry_run=dry_run)
    gone = [f for f in frames if f.removed]
    if frames:
        lines.append(
            f"{verb} {len(gone)} DataFrame copy file(s) ({_mb(sum(f.size_bytes for f in gone))})"
            f" from {library.frames_directory()}"
            + (
                f"; kept {len(frames) - len(gone)} an unfinished run reads"
                if len(gone) < len(frames)
                else ""
            )
        )
    click.echo("\n".join(lines), err=True)
    evidence.emit(
        {
            "exit_code": 0,
            "dry_run": dry_run,
            "removed": len(removed),
            "kept": len(kept),
            "runs": [dataclasses.asdict(r) for r in done],
            "frames": [dataclasses.asdict(f) for f in frames],
        }
    )
    return 0
