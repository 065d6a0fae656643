"""``timetracker-import runs list|show|undo``: the journaled import runs."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from timetracker_import.cli import evidence
from timetracker_import.cli.options import connection_options, json_option, wait_option

if TYPE_CHECKING:
    from timetracker_import.app.undo import UndoOutcome
    from timetracker_import.cli.options import ConnectionOptions
    from timetracker_import.journal.store import Journal
    from timetracker_import.journal.undo import UndoReport


def _open(run_id: str) -> Journal:
    from timetracker_import.app.undo import open_run

    return open_run(run_id)


def _counts(counts: dict[str, Any] | None) -> str:
    if not counts:
        return "-"
    if "updated" in counts:  # a sync run (its summary's counts)
        return (
            f"rows {counts.get('rows', 0)}: created {counts.get('created', 0)}, updated "
            f"{counts.get('updated', 0)}, unchanged {counts.get('unchanged', 0)}, conflicts "
            f"{counts.get('conflicts', 0)}, rejected {counts.get('rejected', 0)}, unprocessed "
            f"{counts.get('unprocessed', 0)}; deleted {counts.get('deleted', 0)}"
        )
    return (
        f"rows {counts.get('rows', 0)}: created {counts.get('created', 0)}, existing "
        f"{counts.get('already_existing', 0)}, rejected {counts.get('rejected', 0)}, "
        f"unprocessed {counts.get('unprocessed', 0)}"
    )


def _dry_run_summary(directory: Path) -> dict[str, Any] | None:
    """The counts of a dry run from its ``summary.json``, or None for a real run.

    The journal cannot tell a dry run's would-be-created rows from unprocessed ones (nothing
    was created, so they stay pending); the importer writes the true counts to the summary.
    """
    from timetracker_import.journal.store import SUMMARY_JSON

    try:
        summary = json.loads((directory / SUMMARY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("dry_run") is not True:
        return None
    counts = summary.get("counts")
    return counts if isinstance(counts, dict) else None


def _sync_summary(directory: Path) -> dict[str, Any] | None:
    """The counts of a real ``sync`` run from its ``summary.json`` (updated, unchanged, ...:
    more than the journal's row outcomes can tell), else None."""
    from timetracker_import.journal.store import SUMMARY_JSON

    try:
        summary = json.loads((directory / SUMMARY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    counts = summary.get("counts") if isinstance(summary, dict) else None
    if not isinstance(counts, dict) or "updated" not in counts or summary.get("dry_run"):
        return None
    return counts


def _dry_counts(counts: dict[str, Any]) -> str:
    text = f"dry run: would create {counts.get('created', 0)}, rejected {counts.get('rejected', 0)}"
    for key, label in (("already_existing", "already existing"), ("unprocessed", "unprocessed")):
        if counts.get(key):
            text += f", {label} {counts[key]}"
    return f"{text} (rows {counts.get('rows', 0)})"


@click.group("runs")
def runs() -> None:
    """List, inspect, undo and prune import runs (journal under the user state directory, or
    $TIMETRACKER_STATE_DIR)."""


@runs.command("list")
@json_option()
def list_(as_json: bool) -> int:
    """Every run, oldest first."""
    from timetracker_import.journal.store import list_runs, runs_root

    items = list_runs()
    dry = {r.run_id: _dry_run_summary(r.directory) for r in items}
    if as_json:
        doc = [
            {
                "run_id": r.run_id,
                "status": r.status,
                "input": r.input_path,
                "mapping": r.mapping_name,
                "target": r.base_url,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "dry_run": dry[r.run_id] is not None,
                "counts": dry[r.run_id] or _sync_summary(r.directory) or r.counts,
            }
            for r in items
        ]
        evidence.emit(doc)
        return 0
    if not items:
        click.echo(f"no runs in {runs_root()}", err=True)
        return 0
    for r in items:
        name = r.input_path.rsplit("/", 1)[-1] if r.input_path else "-"
        found = dry[r.run_id]
        synced = _sync_summary(r.directory)
        counts = _counts(synced or r.counts) if found is None else _dry_counts(found)
        click.echo(f"{r.run_id}  {r.status:<8}  {name}  {counts}")
    return 0


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@json_option()
def show(run_id: str, as_json: bool) -> int:
    """One run: where it is, its counts, its rejected rows and its undo log."""
    with _open(run_id) as journal:
        info = journal.info()
        counts = journal.accounting().to_dict()
        rejections = journal.rejections()
        undo = journal.undo_log()
        options = journal.options
    dry = _dry_run_summary(info.directory)
    if dry is not None:
        counts = dry
    counts = _sync_summary(info.directory) or counts
    if as_json:
        doc = {
            "run_id": info.run_id,
            "status": info.status,
            "directory": str(info.directory),
            "input": info.input_path,
            "mapping": info.mapping_name,
            "target": info.base_url,
            "options": options,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "dry_run": dry is not None,
            "counts": counts,
            "rejections": [r.to_dict() for r in rejections],
            "undo": [{"id": i, "action": a, "detail": d} for i, a, d in undo],
        }
        evidence.emit(doc)
        return 0
    lines = [
        f"run {info.run_id} ({info.status})",
        f"  directory: {info.directory}",
        f"  input: {info.input_path}  mapping: {info.mapping_name}",
        f"  target: {info.base_url}",
        f"  started {info.started_at}, finished {info.finished_at or '-'}",
        f"  {_counts(counts) if dry is None else _dry_counts(dry)}",
    ]
    for rej in rejections[:20]:
        lines.append(f"  row {rej.source_row}: {rej.stage}: {rej.reason}")
    if len(rejections) > 20:
        lines.append(f"  ... and {len(rejections) - 20} more rejected")
    if undo:
        actions: dict[str, int] = {}
        for _, action, _ in undo:
            actions[action] = actions.get(action, 0) + 1
        lines.append("  undo: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())))
    click.echo("\n".join(lines))
    return 0


def render_undo(report: UndoReport) -> str:
    """The human summary of an undo."""
    verb = "would delete" if report.dry_run else "deleted"
    lines = [
        f"{verb} {len(report.deleted)}, skipped (edited since) {len(report.skipped_edited)}, "
        f"already gone {len(report.already_gone)}, failed {len(report.failed)}"
    ]
    for wid, why in report.skipped_edited[:20]:
        lines.append(f"  skipped {wid}: {why}")
    for wid, why in report.failed[:20]:
        lines.append(f"  failed {wid}: {why}")
    return "\n".join(lines)


@runs.command("undo")
@click.argument("run_id", metavar="RUN")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option()
@wait_option
@connection_options
def undo(
    run_id: str,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Delete exactly the worklogs RUN created; worklogs edited since are skipped and reported.
    Running it again is harmless; two undos of one run do not run at once (--wait).

    Shows what it would do and asks before it deletes (--yes does not ask; without a
    terminal, --yes is required)."""
    from timetracker_import.app.undo import undo_run
    from timetracker_import.errors import UsageError

    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "undo deletes worklogs and asks for confirmation, but there is no terminal",
            hint=f"add --yes to undo without asking (or see first: runs undo {run_id} --dry-run)",
        )
    settings = connection.resolve()
    if not dry_run and not yes:
        plan = undo_run(run_id, settings, dry_run=True, wait=wait)
        click.echo(_render_outcome(plan), err=True)
        click.confirm(f"Undo run {run_id} at {settings.rest_root}?", abort=True, err=True)
    outcome = undo_run(run_id, settings, dry_run=dry_run, wait=wait)
    click.echo(_render_outcome(outcome), err=True)
    evidence.emit(outcome.to_dict())
    return outcome.exit_code


def _render_outcome(outcome: UndoOutcome) -> str:
    if outcome.report is not None:
        return render_undo(outcome.report)
    return str(outcome.changes.render())


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
    "--older-than", "older_than", required=True, metavar="AGE",
    help="Only runs started more than AGE ago: 30d, 12h, 2w (d days, h hours, w weeks).",
)  # fmt: skip
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
    reverse, unless --include-undoable.
    """
    from timetracker_import.journal.runs import prune_runs, runs_root

    seconds = parse_age(older_than)
    done = prune_runs(seconds, include_undoable=include_undoable, dry_run=dry_run)
    removed = [r for r in done if r.removed]
    kept = [r for r in done if not r.removed]
    verb = "would remove" if dry_run else "removed"
    lines = [
        f"{verb} {len(removed)} run(s) started more than {older_than} ago "
        f"({_mb(sum(r.size_bytes for r in removed))}) from {runs_root()}"
    ]
    lines += [f"  {r.run_id}  {_mb(r.size_bytes):>8}  {r.reason}" for r in removed]
    if kept:
        lines.append(f"kept {len(kept)} ({_mb(sum(r.size_bytes for r in kept))}):")
        lines += [f"  {r.run_id}  {_mb(r.size_bytes):>8}  {r.reason}" for r in kept]
        if any("undo" in r.reason for r in kept) and not include_undoable:
            lines.append("  (--include-undoable removes the runs undo could still reverse)")
    click.echo("\n".join(lines), err=True)
    evidence.emit(
        {
            "exit_code": 0,
            "dry_run": dry_run,
            "removed": len(removed),
            "kept": len(kept),
            "runs": [dataclasses.asdict(r) for r in done],
        }
    )
    return 0
