"""``timetracker-import convert``: reshape another tool's export into a flat worklog file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.options import reading_options

if TYPE_CHECKING:
    from timetracker_import.app.convert import ConvertResult


@click.group("convert")
def convert() -> None:
    """Reshape an export into one worklog per row, ready for a preset."""


def render_summary(result: ConvertResult, path: Path) -> str:
    """The human summary printed to stderr."""
    lines = [
        f"{path.name}: {result.issues} issue rows, {result.worklogs} worklogs written to "
        f"{result.output_path}; {result.rejected} rejected, "
        f"{result.without_worklogs} without worklogs"
    ]
    if result.rejected_path is not None:
        lines.append(
            f"rejected issue rows written to {result.rejected_path} (none of their worklogs "
            "were converted: fix the cells, then convert that file)"
        )
        for rej in result.rejections[:10]:
            lines.append(f"  row {rej.source_row}: {rej.reason}")
        if len(result.rejections) > 10:
            lines.append(f"  ... and {len(result.rejections) - 10} more")
    lines.append(
        f"next: timetracker-import validate --preset jira-worklogs {result.output_path} "
        "(Jira keys become work items through jira-keys.csv beside the converted file)"
    )
    return "\n".join(lines)


@convert.command(
    "jira", short_help="Jira issue export -> one row per worklog (for --preset jira-worklogs)."
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the worklogs here, .csv or .xlsx (default: <file>.worklogs.csv, "
    ".xlsx for Excel input).",
)
@reading_options
def jira(
    file: Path,
    output: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
) -> int:
    """Turn a Jira issue export (CSV or Excel, one repeated 'Log Work' column per worklog)
    into one row per worklog: Issue Key, Issue id, Summary, Author, Started, Time Spent
    (seconds), Comment, Source Row (the row in FILE). Import the result with
    --preset jira-worklogs.

    Exit 0 when every issue row converted; 1 when some had an unreadable 'Log Work' cell
    (those rows go whole to <file>.rejected.<ext> with source_row, stage and reason); 2 for
    an unreadable file or one without a 'Log Work' column.
    """
    from timetracker_import.app.convert import ConvertSettings, run_convert_jira

    settings = ConvertSettings(
        path=file, output_path=output, sheet=sheet, encoding=encoding, delimiter=delimiter
    )
    result = run_convert_jira(settings)
    click.echo(render_summary(result, file), err=True)
    return result.exit_code
