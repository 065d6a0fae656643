"""Use case: convert another tool's export into a flat worklog file a preset can read.

``convert jira``: a Jira issue export (one row per issue, a repeated ``Log Work`` column)
becomes one row per worklog (``core.jira.OUTPUT_HEADERS``), imported afterwards with
``--preset jira-worklogs``. Keeping the reshaping a separate step leaves every pipeline
invariant (one worklog per input row, keyed by ``source_row``) as it is, and the user sees
and can check the worklogs before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import UsageError

if TYPE_CHECKING:
    from timetracker_import.core.rejections import Rejection

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class ConvertSettings:
    """What ``convert jira`` was asked to do."""

    path: Path
    output_path: Path | None = None  # default: <stem>.worklogs.csv (.xlsx for Excel input)
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    chunk_rows: int = CHUNK_ROWS


@dataclass(frozen=True)
class ConvertResult:
    """Counts of a conversion: every issue row is converted, rejected, or had no worklogs
    (``issues == converted_issues + rejected + without_worklogs``)."""

    issues: int
    worklogs: int
    rejected: int
    without_worklogs: int
    output_path: Path
    rejected_path: Path | None
    rejections: tuple[Rejection, ...]

    @property
    def converted_issues(self) -> int:
        """Issue rows that gave at least one worklog."""
        return self.issues - self.rejected - self.without_worklogs

    @property
    def exit_code(self) -> int:
        """0 when every issue row converted, 1 when some were rejected."""
        return 1 if self.rejected else 0


def default_output_path(path: Path) -> Path:
    """``<stem>.worklogs.csv`` beside the input; ``.xlsx`` for Excel input."""
    from timetracker_import.files.rejected import EXCEL_SUFFIXES

    ext = ".xlsx" if path.suffix.lower() in EXCEL_SUFFIXES else ".csv"
    return path.with_name(f"{path.stem}.worklogs{ext}")


def run_convert_jira(settings: ConvertSettings) -> ConvertResult:
    """Convert a Jira issue export; write the worklog file and, when some issue rows have
    an unreadable ``Log Work`` cell, ``<stem>.rejected.<ext>`` with those rows.

    Raises ``InputError`` for unreadable input or a file without a ``Log Work`` column.
    """
    from timetracker_import.app.validate import default_rejected_path
    from timetracker_import.core.jira import OUTPUT_HEADERS, explode_worklogs, find_layout
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import RejectedWriter
    from timetracker_import.files.writers import TableWriter

    source = Path(settings.path)
    output = settings.output_path or default_output_path(source)
    rejected_path = default_rejected_path(source)
    if source.exists():
        paths = {p.resolve() for p in (source, output, rejected_path)}
        if len(paths) < 3:
            raise UsageError(
                f"the output {output} must differ from the input and from {rejected_path.name}",
                hint="choose another -o path",
            )
    table = open_table(
        source, sheet=settings.sheet, encoding=settings.encoding, delimiter=settings.delimiter
    )
    layout = find_layout(table.headers, source=source.name)

    issues = worklogs = without = 0
    rejections: list[Rejection] = []
    rejected_writer = RejectedWriter(rejected_path, table)
    csv_opts: dict[str, Any] = {"encoding": "utf-8"} if output.suffix.lower() != ".xlsx" else {}
    ok = False
    try:
        with TableWriter(output, OUTPUT_HEADERS, **csv_opts) as writer:
            for chunk in table.chunks(settings.chunk_rows):
                part = explode_worklogs(chunk, layout)
                writer.write_rows(part.rows)
                rejected_writer.write(chunk, part.rejections)
                issues += part.issues
                worklogs += len(part.rows)
                without += part.without_worklogs
                rejections.extend(part.rejections)
        ok = True
    finally:
        rejected_writer.close(ok)
    return ConvertResult(
        issues=issues,
        worklogs=worklogs,
        rejected=len(rejections),
        without_worklogs=without,
        output_path=output,
        rejected_path=rejected_path if rejections else None,
        rejections=tuple(rejections),
    )


# --------------------------------------------------------------------------- split-days


@dataclass(frozen=True)
class SplitSettings:
    """What ``convert split-days`` was asked to do: the file and its mapping as for
    ``validate`` (``mapping_path`` or ``preset``), and where to write."""

    path: Path
    mapping_path: Path | None = None
    preset: str | None = None
    output_path: Path | None = None  # default: <stem>.days.csv
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date_order: str | None = None
    lookup_dir: Path | None = None
    chunk_rows: int = CHUNK_ROWS


@dataclass(frozen=True)
class SplitResult:
    """Counts of a split: ``rows == converted + rejected + skipped``; ``worklogs`` rows were
    written (``split`` entries became more than one)."""

    rows: int
    converted: int
    rejected: int
    skipped: int
    split: int
    worklogs: int
    timezone: str
    output_path: Path
    rejected_path: Path | None
    rejections: tuple[Rejection, ...]

    @property
    def exit_code(self) -> int:
        """0 when every row converted (or was skipped), 1 when some were rejected."""
        return 1 if self.rejected else 0


def run_split_days(settings: SplitSettings) -> SplitResult:
    """Map ``settings.path`` with its mapping (every rule of ``validate`` but ``max_hours``,
    which each day's part must keep instead), cut each entry at the local midnights of the
    run's zone and write one row per part (``core.split_days.SPLIT_HEADERS``, read back
    with ``--preset split-days``); rejected rows go to ``<stem>.rejected.<ext>``."""
    from timetracker_import.app.validate import (
        ValidateSettings,
        choose_timezone,
        default_rejected_path,
        entry_keys,
        iter_mapped_chunks,
        load_mapping_for,
    )
    from timetracker_import.core.rejections import Rejection as Rej
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.core.split_days import SPLIT_HEADERS, split_rows
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import RejectedWriter
    from timetracker_import.files.writers import TableWriter

    source = Path(settings.path)
    output = settings.output_path or source.with_name(f"{source.stem}.days.csv")
    rejected_path = default_rejected_path(source)
    if source.exists() and len({p.resolve() for p in (source, output, rejected_path)}) < 3:
        raise UsageError(
            f"the output {output} must differ from the input and from {rejected_path.name}",
            hint="choose another -o path",
        )
    loaded = load_mapping_for(
        ValidateSettings(
            path=source,
            mapping_path=settings.mapping_path,
            preset=settings.preset,
            sheet=settings.sheet,
            encoding=settings.encoding,
            delimiter=settings.delimiter,
            date_order=settings.date_order,
            lookup_dir=settings.lookup_dir,
        )
    )
    limit = loaded.mapping.max_hours * 3600
    # an entry longer than max_hours is what this command is for: the limit holds per day
    from dataclasses import replace

    lifted = replace(loaded, mapping=loaded.mapping.model_copy(update={"max_hours": 1e9}))
    zone, _ = choose_timezone(loaded.mapping, settings.timezone)
    table = open_table(
        source,
        sheet=settings.sheet,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        has_header=loaded.mapping.header,
    )
    corrections = entry_keys(table, loaded.mapping, table.chunks(settings.chunk_rows))
    rows = converted = split = worklogs = 0
    rejections: list[Rejection] = []
    writer_rejected = RejectedWriter(rejected_path, table)
    csv_opts: dict[str, Any] = {"encoding": "utf-8"} if output.suffix.lower() != ".xlsx" else {}
    ok = False
    try:
        with TableWriter(output, SPLIT_HEADERS, **csv_opts) as writer:
            for chunk in iter_mapped_chunks(
                table, lifted, timezone=zone, chunk_rows=settings.chunk_rows
            ):
                canonical, rejected = corrections.apply(chunk.canonical, chunk.rejections)
                parts = split_rows(canonical, zone)
                too_long = {row: cells[4] for row, cells in parts if int(cells[4]) > limit}
                rejected = merge_rejections(
                    rejected
                    + [
                        Rej(
                            row,
                            "map",
                            None,
                            None,
                            f"a day's part of this entry is {seconds / 3600:g} hours, over "
                            f"max_hours {limit / 3600:g} of the mapping; check the times "
                            "or raise max_hours",
                        )
                        for row, seconds in too_long.items()
                    ]
                )
                kept = [(row, cells) for row, cells in parts if row not in too_long]
                writer.write_rows(cells for _, cells in kept)
                writer_rejected.write(chunk.raw, rejected)
                per_row: dict[int, int] = {}
                for row, _ in kept:
                    per_row[row] = per_row.get(row, 0) + 1
                rows += len(chunk.raw)
                converted += len(per_row)
                split += sum(1 for n in per_row.values() if n > 1)
                worklogs += len(kept)
                rejections.extend(rejected)
        ok = True
    finally:
        writer_rejected.close(ok)
    return SplitResult(
        rows=rows,
        converted=converted,
        rejected=len(rejections),
        skipped=rows - converted - len(rejections),
        split=split,
        worklogs=worklogs,
        timezone=zone,
        output_path=output,
        rejected_path=rejected_path if rejections else None,
        rejections=tuple(rejections),
    )
