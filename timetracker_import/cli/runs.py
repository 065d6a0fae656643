"""``timetracker-import runs list|show|undo``: the journaled import runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.options import connection_options, wait_option

if TYPE_CHECKING:
    from timetracker_import.cli.options import ConnectionOptions
    from timetracker_import.journal.store import Journal


def _open(run_id: str) -> Journal:
    from timetracker_import.app.undo import open_run

    return open_run(run_id)


@click.group("runs")
def runs() -> None:
    """List, inspect and undo import runs (journal under the user state directory, or
    $TIMETRACKER_STATE_DIR)."""


@runs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
def list_(as_json: bool) -> int:
    """Every run, oldest first: its kind, status and counts (from its journal)."""
    from timetracker_import import library
    from timetracker_import.journal.store import runs_root

    items = library.run_summaries()
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in items], indent=2))
        return 0
    if not items:
        click.echo(f"no runs in {runs_root()}", err=True)
        return 0
    for r in items:
        name = r.input_path.rsplit("/", 1)[-1] if r.input_path else "-"
        kind = r.kind.value + (" (dry run)" if r.dry_run else "")
        click.echo(f"{r.run_id}  {r.status:<8}  {kind:<18}  {name}  {r.describe()}")
    return 0


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
def show(run_id: str, as_json: bool) -> int:
    """One run: where it is, its counts, its rejected rows and its undo log."""
    from timetracker_import import library

    summary = library.run_summary(run_id)
    with _open(run_id) as journal:
        rejections = journal.rejections()
        undo = journal.undo_log()
        options = journal.options
        actions = journal.action_counts()
    if as_json:
        doc = {
            **summary.to_dict(),
            "directory": str(summary.directory),
            "options": options,
            "actions": [{"kind": k, "state": st, "count": n} for (k, st), n in sorted(actions.items())],
            "rejections": [r.to_dict() for r in rejections],
            "undo": [{"id": i, "action": a, "detail": d} for i, a, d in undo],
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return 0
    kind = summary.kind.value + (" (dry run)" if summary.dry_run else "")
    lines = [
        f"run {summary.run_id} ({kind}, {summary.status}"
        + (f": {summary.halt_reason}" if summary.halt_reason else "") + ")",
        f"  directory: {summary.directory}",
        f"  input: {summary.input_path}  mapping: {summary.mapping_name}",
        f"  target: {summary.target}",
        f"  started {summary.started_at}, finished {summary.finished_at or '-'}",
        f"  {summary.describe()}",
    ]
    if actions:
        lines.append("  writes: " + ", ".join(
            f"{k} {st} {n}" for (k, st), n in sorted(actions.items())))  # fmt: skip
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@wait_option
@connection_options
def undo(
    run_id: str, dry_run: bool, as_json: bool, wait: float, connection: ConnectionOptions
) -> int:
    """Reverse what RUN wrote: delete what it created, put back what it updated, re-create
    what it deleted. Worklogs edited since are skipped and reported. Running it again is
    harmless; it waits for (--wait) or refuses while another run writes to the server."""
    from timetracker_import import library

    outcome = library.undo_run(run_id, connection=connection.resolve(), dry_run=dry_run,
                               wait=wait)  # fmt: skip
    click.echo(outcome.report.render(), err=True)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    return outcome.exit_code
