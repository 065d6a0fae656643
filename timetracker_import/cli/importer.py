"""``timetracker-import import``: import a file into 7pace, resumably (module named
``importer`` because ``import`` is a Python keyword)."""

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
    from timetracker_import.app.importer import ConfirmInfo, ImportResult
    from timetracker_import.app.multi_org import RoutedResult, RoutePlan
    from timetracker_import.cli.options import ConnectionOptions

_HALTS = {
    "auth": "halted: authentication or permission failure",
    "interrupted": "interrupted",
    "transient": "halted: temporary failure",
    "error": "halted: the server failed",
}


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f} h"


def render_summary(result: ImportResult) -> str:
    """The human summary printed to stderr."""
    c = result.accounting
    verb = "would be created" if result.dry_run else "created"
    lines = [
        f"{'dry run' if result.dry_run else 'import'} {result.run_id}"
        + (" (resumed)" if result.resumed else ""),
        f"rows {c.rows} = {verb} {c.created} + already existing {c.already_existing} + "
        f"rejected {c.rejected} + unprocessed {c.unprocessed}"
        + (f" + skipped {c.skipped}" if c.skipped else ""),
    ]
    zone = result.zone
    if zone:
        origin = {"--timezone": "--timezone", "mapping": "the mapping"}.get(
            str(zone.get("source")), "this machine's zone"
        )
        lines.append(f"times without an offset read in {zone.get('name')} (from {origin})")
    if result.in_file_duplicates:
        pairs = ", ".join(
            f"{r} (= row {f})" for r, f in sorted(result.in_file_duplicates.items())[:10]
        )
        more = len(result.in_file_duplicates) - 10
        # what --on-duplicate made of them
        what = {"skip": "skipped", "fail": "rejected", "allow": "imported too"}.get(
            result.on_duplicate, ""
        )
        lines.append(
            f"identical rows within the file ({what}, --on-duplicate {result.on_duplicate}): "
            f"{pairs}" + (f" and {more} more" if more > 0 else "")
        )
    for row, wid in sorted(result.existing.items())[:10]:
        lines.append(f"  row {row}: already exists as worklog {wid}")
    if len(result.existing) > 10:
        lines.append(f"  ... and {len(result.existing) - 10} more already existing")
    for rej in result.rejections[:10]:
        code = f" ({rej.error_code})" if rej.error_code else ""
        lines.append(f"  row {rej.source_row}{rej.where()}: {rej.stage}{code}: {rej.reason}")
    if len(result.rejections) > 10:
        lines.append(f"  ... and {len(result.rejections) - 10} more rejected")
    for note in result.notes:
        lines.append(f"note: {note}")
    if result.halt_reason:
        halt = _HALTS.get(result.halt_reason, "halted")
        # Ctrl-C carries no message: no dangling "interrupted: ".
        lines.append(f"{halt}: {result.halt_message}" if result.halt_message else halt)
    if result.ambiguous_batches:
        lines.append(
            f"{len(result.ambiguous_batches)} batch(es) with an unresolved outcome; "
            "run the same command again later to reconcile them"
        )
    if result.accounting.unprocessed and not result.dry_run:
        lines.append("run the same command again to resume the unprocessed rows")
    if result.rejected_path is not None:
        lines.append(f"rejected rows: {result.rejected_path}")
    if result.user_rejected_path is not None:
        lines.append(f"rejected rows also written to {result.user_rejected_path}")
    if result.created_csv is not None:
        lines.append(f"created worklogs: {result.created_csv}")
    if result.report_path is not None:
        lines.append(f"report written to {result.report_path}")
    lines.append(f"run id: {result.run_id} (timetracker-import runs show {result.run_id})")
    return "\n".join(lines)


def _prompt(info: ConfirmInfo) -> bool:
    users = ", ".join(info.users[:8]) + (
        f" and {len(info.users) - 8} more" if len(info.users) > 8 else ""
    )
    click.echo(
        f"About to create {info.rows} worklogs ({_hours(info.seconds)}) for "
        f"{len(info.users)} user(s): {users}\n  in {info.batches} batch(es) at {info.target}",
        err=True,
    )
    return click.confirm("Continue?", default=False, err=True)


def render_routed(result: RoutedResult) -> str:
    """The combined summary of an import split by organization (after each run's own)."""
    c = result.total
    verb = "would be created" if result.dry_run else "created"
    lines = [f"organizations: {len(result.outcomes)}"]
    for out in result.outcomes:
        n = out.counts()
        where = f"{out.route.name or 'default connection'} ({out.route.connection.rest_root})"
        run = f"run {out.result.run_id}" if out.result else f"stopped: {out.error}"
        lines.append(
            f"  {where}: rows {n['rows']} = {verb} {n['created']} + already existing "
            f"{n['already_existing']} + rejected {n['rejected']} + unprocessed "
            f"{n['unprocessed']}; {run}"
        )
    if result.unknown:
        orgs = sorted({str(r.value) for r in result.unknown if r.value})
        lines.append(
            f"  rejected {len(result.unknown)} row(s) naming an organization without a profile: "
            + ", ".join(orgs)
        )
        for rej in result.unknown[:10]:
            lines.append(f"  row {rej.source_row}: {rej.stage}: {rej.reason}")
    lines.append(
        f"total: rows {c.rows} = {verb} {c.created} + already existing {c.already_existing} + "
        f"rejected {c.rejected} + unprocessed {c.unprocessed}"
        + (f" + skipped {c.skipped}" if c.skipped else "")
    )
    lines.extend(f"note: {note}" for note in result.notes)
    if result.unknown_rejected_path is not None:
        lines.append(f"rows of unknown organizations: {result.unknown_rejected_path}")
    if result.user_rejected_path is not None:
        lines.append(f"rejected rows (all organizations) written to {result.user_rejected_path}")
    return "\n".join(lines)


def _prompt_routes(plan: RoutePlan) -> bool:
    click.echo(f"About to import into {len(plan.routes)} destination(s):", err=True)
    for route in plan.routes:
        click.echo(
            f"  {route.name or 'default connection'}: {len(route.rows)} row(s) "
            f"({_hours(route.seconds)}) at {route.connection.rest_root}",
            err=True,
        )
    if plan.unknown:
        click.echo(f"  {len(plan.unknown)} row(s) of unknown organizations: rejected", err=True)
    return click.confirm("Continue?", default=False, err=True)


@click.command("import")
@input_file_argument
@input_options
@date_order_option
@lookup_dir_option
@click.option(
    "--dry-run", is_flag=True, help="Validate on the server (validateOnly); create nothing."
)
@posting_options("Rows per request (<= 500).")
@click.option(
    "--on-existing",
    type=click.Choice(["skip", "allow", "fail"]),
    default="skip",
    show_default=True,
    help="Rows identical to a worklog already on the server: skip them, post anyway, or reject.",
)
@result_options("Write a report: PATH.html or PATH.json.")
@click.option("--new-run", is_flag=True, help="Start afresh instead of resuming an unfinished run.")
@progress_option
@wait_option
@connection_options
def import_(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    sheet: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    date: str | None,
    on_duplicate: str,
    date_order: str | None,
    lookup_dir: Path | None,
    dry_run: bool,
    batch_size: int,
    concurrency: int | str,
    max_concurrency: int | None,
    on_existing: str,
    rejected_path: Path | None,
    report_path: Path | None,
    as_json: bool,
    yes: bool,
    new_run: bool,
    progress: bool | None,
    wait: float,
    connection: ConnectionOptions,
) -> int:
    """Import FILE into 7pace Timetracker.

    Reads, maps and validates FILE like `validate`, resolves users and activity types,
    rejects rows in approval-locked weeks, skips rows that already exist, then posts in
    batches. Every run is journaled: running the same command again resumes an unfinished
    run; `runs undo RUN` removes what a run created. One run at a time imports a file into a
    server: a second one waits up to --wait seconds, then exits 75.

    Exit codes: 0 all rows created or already existing; 1 some rows rejected; 2 usage or
    input error (nothing sent); 3 authentication or permission failure; 4 ambiguous outcome
    (run again later); 75 temporary failure or another run importing the file (resumable);
    130 interrupted, 143 SIGTERM, 129 SIGHUP (resumable).
    """
    from timetracker_import.app.importer import ImportResult
    from timetracker_import.errors import UsageError
    from timetracker_import.library import import_file

    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "a real import asks for confirmation, but there is no terminal",
            hint="add --yes to import without asking (or --dry-run to check first)",
        )
    ask = not (yes or dry_run)
    from timetracker_import.cli.allocator import keep_large_blocks_mapped
    from timetracker_import.cli.startup import IMPORT_ALONGSIDE, IMPORT_MODULES, preload

    keep_large_blocks_mapped()  # a large file's peak memory is what is alive
    preload(IMPORT_MODULES, alongside=IMPORT_ALONGSIDE)

    def on_route(step: str, item: Any) -> None:
        if step == "start":
            click.echo(
                f"organization {item.name or 'default connection'}: {len(item.rows)} row(s) "
                f"to {item.connection.rest_root} ...",
                err=True,
            )
        else:
            click.echo(
                render_summary(item.result) if item.result else f"error: {item.error}", err=True
            )

    result = import_file(
        file,
        connection=connection.resolve(),
        mapping=mapping_path,
        preset=preset,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        dry_run=dry_run,
        batch_size=batch_size,
        concurrency=concurrency,
        max_concurrency=max_concurrency,
        on_existing=on_existing,
        rejected=rejected_path,
        report=report_path,
        new_run=new_run,
        on_duplicate=on_duplicate,
        date=date,
        date_order=date_order,
        lookup_dir=lookup_dir,
        wait=wait,
        unattended=yes and not dry_run,
        progress=sys.stderr.isatty() if progress is None else progress,
        confirm=_prompt if ask else None,
        confirm_routes=_prompt_routes if ask else None,
        on_route=on_route,
    )
    if isinstance(result, ImportResult):
        click.echo(render_summary(result), err=True)
    else:
        click.echo(render_routed(result), err=True)
    evidence.emit(result.summary_dict())
    return result.exit_code
