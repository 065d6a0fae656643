"""``timetracker-import validate``: check a file offline against a mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.options import input_options

if TYPE_CHECKING:
    from timetracker_import.app.validate import ValidateResult


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f} h"


def render_summary(result: ValidateResult, path: Path) -> str:
    """The human summary printed to stderr."""
    lines = [
        f"{path.name}: {result.rows} rows, {result.valid} valid, {result.rejected} rejected"
        + (f", {result.skipped} skipped by skip_rows" if result.skipped else ""),
        f"total {_hours(result.total_seconds)} valid time",
    ]
    for user, seconds in sorted(result.seconds_per_user.items()):
        lines.append(f"  {user}: {_hours(seconds)}")
    lines.append(
        f"times without an offset read as {result.timezone} ({result.timezone_source}); "
        f"mapping: {result.mapping_source}"
    )
    if result.billable_over_length:
        lines.append(
            f"note: {result.billable_over_length} rows have billable length > length "
            "(7pace accepts this)"
        )
    if result.rejected_path is not None:
        lines.append(f"rejected rows written to {result.rejected_path}")
        for rej in result.rejections[:10]:
            lines.append(f"  row {rej.source_row}{rej.where()}: {rej.reason}")
        if len(result.rejections) > 10:
            lines.append(f"  ... and {len(result.rejections) - 10} more")
    return "\n".join(lines)


def render_json(result: ValidateResult) -> str:
    """The ``--json`` document printed to stdout."""
    doc = {
        "rows": result.rows,
        "valid": result.valid,
        "rejected": result.rejected,
        "skipped": result.skipped,
        "total_seconds": result.total_seconds,
        "seconds_per_user": result.seconds_per_user,
        "timezone": result.timezone,
        "rejected_path": str(result.rejected_path) if result.rejected_path else None,
        "rejections": [
            {
                "source_row": r.source_row,
                "stage": r.stage,
                "column": r.column,
                "value": r.value,
                "reason": r.reason,
            }
            for r in result.rejections
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


@click.command("validate")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@input_options
@click.option(
    "--rejected",
    "rejected_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write rejected rows (default: <file>.rejected.<ext>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report to stdout.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a report: PATH.html (a page to read or print) or PATH.json "
    "(docs/report-schema.md).",
)
def validate(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    sheet: str | None,
    timezone: str | None,
    encoding: str | None,
    delimiter: str | None,
    rejected_path: Path | None,
    as_json: bool,
    report_path: Path | None,
) -> int:
    """Check FILE against a mapping without sending anything.

    Exit 0 when every row is valid, 1 when some rows were rejected (they are written to the
    rejected-rows file with source_row, stage and reason), 2 for usage, mapping or
    unreadable-file errors.
    """
    from timetracker_import.library import validate as run

    result = run(
        file, mapping=mapping_path, preset=preset, sheet=sheet, timezone=timezone,
        encoding=encoding, delimiter=delimiter, rejected=rejected_path, report=report_path,
    )  # fmt: skip
    click.echo(render_summary(result, file), err=True)
    if result.report_path is not None:
        click.echo(f"report written to {result.report_path}", err=True)
    if as_json:
        click.echo(render_json(result))
    return result.exit_code
