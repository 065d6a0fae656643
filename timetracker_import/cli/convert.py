"""``timetracker-import convert``: reshape another tool's export into a flat worklog file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from timetracker_import.cli.options import (
    date_order_option,
    lookup_dir_option,
    mapping_options,
    reading_options,
    timezone_option,
)
from timetracker_import.cli.render import rejection_lines

if TYPE_CHECKING:
    from timetracker_import.library import ConvertResult, SplitResult


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
        lines += rejection_lines(result.rejections, cells=False)  # the reason names the cell
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
    from timetracker_import import library

    result = library.convert_jira(
        file, output=output, sheet=sheet, encoding=encoding, delimiter=delimiter
    )
    click.echo(render_summary(result, file), err=True)
    return result.exit_code


def render_split(result: SplitResult, path: Path) -> str:
    """The human summary of ``convert split-days`` (stderr)."""
    lines = [
        f"{path.name}: {result.rows} rows, {result.converted} converted into "
        f"{result.worklogs} worklogs ({result.split} cut at midnight in {result.timezone}), "
        f"{result.rejected} rejected, {result.skipped} skipped; written to {result.output_path}"
    ]
    if result.rejected_path is not None:
        lines.append(f"rejected rows written to {result.rejected_path}")
        lines += rejection_lines(result.rejections)
    lines.append(
        f"next: timetracker-import validate --preset split-days {result.output_path}, then "
        f"timetracker-import import --preset split-days {result.output_path}"
    )
    return "\n".join(lines)


@convert.command(
    "split-days", short_help="One worklog per calendar day: cut entries at local midnight."
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@mapping_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the day parts here, .csv or .xlsx (default: <file>.days.csv).",
)
@reading_options
@timezone_option
@date_order_option
@lookup_dir_option
def split_days(
    file: Path,
    mapping_path: Path | None,
    preset: str | None,
    output: Path | None,
    sheet: str | None,
    encoding: str | None,
    delimiter: str | None,
    timezone: str | None,
    date_order: str | None,
    lookup_dir: Path | None,
) -> int:
    """Read FILE with its mapping (--mapping or --preset, as for validate) and write one
    row per calendar day of each entry: an entry that crosses midnight (in --timezone, else
    the mapping's zone, else this machine's) is cut there, so a 26-hour entry from 09:00 to
    11:15 the next day becomes 15 h + 11.25 h. Billable time is shared out in proportion.
    The mapping's max_hours then holds for each day's part. Import the result with
    --preset split-days; its source_row column names the entry's row in FILE.

    Exit 0 when every row converted (or was skipped by the mapping), 1 when some were
    rejected (written to <file>.rejected.<ext> with source_row, stage and reason), 2 for a
    usage, mapping or unreadable-file error.
    """
    from timetracker_import import library

    result = library.split_days(
        file,
        mapping=mapping_path,
        preset=preset,
        output=output,
        sheet=sheet,
        timezone=timezone,
        encoding=encoding,
        delimiter=delimiter,
        date_order=date_order,
        lookup_dir=lookup_dir,
    )
    click.echo(render_split(result, file), err=True)
    return result.exit_code
