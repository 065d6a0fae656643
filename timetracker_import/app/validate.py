"""Use case: validate a file offline (read -> map -> pandera -> rejected-rows file + totals).

``iter_mapped_chunks`` is the shared front half of the pipeline, so the import use case runs
exactly the same stages as ``validate``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.mapping import Mapping
    from timetracker_import.core.rejections import Rejection
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.files.readers import RawTable

CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class ValidateSettings:
    """What ``validate`` was asked to do."""

    path: Path
    mapping_path: Path | None = None
    preset: str | None = None
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rejected_path: Path | None = None
    chunk_rows: int = CHUNK_ROWS
    report_path: Path | None = None  # --report: .html or .json
    #: a mapping given as data (library callers): used instead of --mapping/--preset
    loaded: LoadedMapping | None = None


@dataclass(frozen=True)
class ValidateResult:
    """Totals of a validate run; ``rows == valid + rejected + skipped``."""

    rows: int
    valid: int
    rejected: int
    skipped: int
    total_seconds: int
    seconds_per_user: dict[str, int]
    rejections: tuple[Rejection, ...]
    rejected_path: Path | None
    timezone: str
    timezone_source: str
    mapping_source: str
    billable_over_length: int
    report_path: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 when every row is valid, 1 when some were rejected."""
        return 1 if self.rejected else 0


@dataclass(frozen=True)
class MappedChunk:
    """One chunk through the offline stages: valid canonical rows, one rejection per
    rejected row (stages map/validate), and the raw chunk they came from."""

    canonical: pd.DataFrame
    rejections: list[Rejection]
    raw: pd.DataFrame


def local_timezone() -> str:
    """The machine's IANA zone name (TZ, /etc/timezone, /etc/localtime), else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz:
        return tz
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def choose_timezone(mapping: Mapping, cli_timezone: str | None) -> tuple[str, str]:
    """(zone, where it came from). ``--timezone`` beats the mapping (the command line is the
    most specific choice), the mapping beats the machine's zone."""
    import zoneinfo

    if cli_timezone:
        try:
            zoneinfo.ZoneInfo(cli_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"unknown time zone {cli_timezone!r}",
                hint="use an IANA name such as Europe/Berlin or America/New_York",
            ) from None
        return cli_timezone, "--timezone"
    if mapping.timezone:
        return mapping.timezone, "mapping"
    return local_timezone(), "this machine's zone"


def iter_mapped_chunks(
    table: RawTable,
    loaded: LoadedMapping,
    *,
    timezone: str,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[MappedChunk]:
    """Stream a table through mapping and pandera validation, chunk by chunk."""
    from timetracker_import.core.mapping import apply_mapping, resolve_columns
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.core.schema import validate_worklogs
    from timetracker_import.core.timestamps import DateMemo

    mapping = loaded.mapping
    positions = resolve_columns(mapping, table.headers, table.has_header)
    canonical_of = {
        "length": "length_seconds",
        "billable_length": "billable_seconds",
        "work_item": "work_item_id",
        "comment": "comment",
        "user": "user",
        "activity_type": "activity_type",
        "organization": "organization",
    }
    memo = DateMemo()  # this file's dates repeat chunk after chunk: parse each text once
    for raw in table.chunks(chunk_rows):
        canonical, rejections = apply_mapping(
            mapping, table.headers, raw, lookups=loaded.lookups, timezone=timezone, memo=memo
        )
        columns: dict[str, tuple[str | None, dict[int, object]]] = {}
        for field, canon in canonical_of.items():
            if field in positions:
                pos = positions[field]
                # The whole raw column: lookups are by source_row of canonical rows, which
                # all come from this chunk (selecting them first cost a hash join per field).
                columns[canon] = (table.headers[pos], _LazyCells(raw[pos]))  # type: ignore[assignment]
        valid, problems = validate_worklogs(canonical, columns)
        yield MappedChunk(valid, merge_rejections(rejections + problems), raw)


class _LazyCells(dict):  # type: ignore[type-arg]
    """Cell lookup by source_row without building a dict of the whole column."""

    def __init__(self, cells: Any) -> None:
        super().__init__()
        self._cells = cells

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self._cells.at[key]
        except KeyError:
            return default


def default_rejected_path(path: Path) -> Path:
    """``<stem>.rejected.<ext>`` beside the input; .xls input gives .xlsx (we cannot write xls)."""
    from timetracker_import.files.rejected import rejected_suffix

    return path.with_name(f"{path.stem}.rejected{rejected_suffix(path)}")


def load_mapping_for(settings: ValidateSettings) -> LoadedMapping:
    """The mapping named by ``--mapping`` or ``--preset`` (exactly one)."""
    from timetracker_import.files.mapping_loader import load_mapping, load_preset

    if settings.loaded is not None:  # loaded already (the names say where it came from)
        return settings.loaded
    if (settings.mapping_path is None) == (settings.preset is None):
        raise UsageError("give exactly one of --mapping PATH or --preset NAME")
    if settings.preset is not None:
        return load_preset(settings.preset)
    assert settings.mapping_path is not None
    return load_mapping(settings.mapping_path)


def run_validate(settings: ValidateSettings) -> ValidateResult:
    """Validate ``settings.path`` with its mapping; write the rejected-rows file if needed."""
    from timetracker_import.core.summary import Totals
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import RejectedWriter

    loaded = load_mapping_for(settings)
    mapping = loaded.mapping
    timezone, tz_source = choose_timezone(mapping, settings.timezone)
    table = open_table(
        settings.path,
        sheet=settings.sheet,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        has_header=mapping.header,
    )
    rejected_path = settings.rejected_path or default_rejected_path(Path(settings.path))
    if rejected_path.resolve() == Path(settings.path).resolve():
        raise UsageError("--rejected must not be the input file itself")
    builder = None
    if settings.report_path is not None:
        from timetracker_import.core.report import ReportBuilder, ReportSettings
        from timetracker_import.files.report_json import check_report_path

        check_report_path(settings.report_path)  # fail now, not after a long run
        builder = ReportBuilder(ReportSettings(timezone=timezone))
    totals = Totals()
    all_rejections: list[Rejection] = []
    writer = RejectedWriter(rejected_path, table)
    ok = False
    try:
        for chunk in iter_mapped_chunks(
            table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows
        ):
            totals.add_chunk(len(chunk.raw), chunk.canonical, len(chunk.rejections))
            all_rejections.extend(chunk.rejections)
            writer.write(chunk.raw, chunk.rejections)
            if builder is not None:
                from timetracker_import.core.report import source_cells

                rows = [r.source_row for r in chunk.rejections]
                builder.add_rows(chunk.canonical)
                builder.add_rejections(
                    chunk.rejections, source_cells(chunk.raw, table.headers, rows)
                )
        ok = True
    finally:
        writer.close(ok)
    report_path = None
    if builder is not None and settings.report_path is not None:
        from datetime import UTC, datetime

        from timetracker_import.files.report_json import write_report

        accounting = {
            "rows": totals.rows,
            "valid": totals.valid,
            "rejected": totals.rejected,
            "skipped": totals.skipped,
        }
        meta = {
            "command": "validate",
            "input": str(settings.path),
            "mapping": loaded.source,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        report_path = write_report(builder.build(accounting, meta), settings.report_path)
    return ValidateResult(
        rows=totals.rows,
        valid=totals.valid,
        rejected=totals.rejected,
        skipped=totals.skipped,
        total_seconds=totals.total_seconds,
        seconds_per_user=dict(totals.seconds_per_user),
        rejections=tuple(all_rejections),
        rejected_path=rejected_path if totals.rejected else None,
        timezone=timezone,
        timezone_source=tz_source,
        mapping_source=loaded.source,
        billable_over_length=totals.billable_over_length,
        report_path=report_path,
    )
