"""Use case: validate a file offline (read -> map -> pandera -> rejected-rows file + totals).

``iter_mapped_chunks`` is the shared front half of the pipeline, so the import use case runs
exactly the same stages as ``validate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.mapping import LookupMiss, LookupMisses, Mapping
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
    on_duplicate: str = "skip"  # rows identical to an earlier row: skip | allow | fail
    date: str | None = None  # --date: the date of every row (files without dates)


@dataclass(frozen=True)
class ValidateResult:
    """Totals of a validate run; ``rows == valid + rejected + skipped`` (``skipped``
    includes ``skipped_duplicates``, the copies left out by ``--on-duplicate skip``)."""

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
    #: every row identical to an earlier row -> that row (reported whatever the policy)
    repeats: dict[int, int] = dc_field(default_factory=dict)
    skipped_duplicates: int = 0
    on_duplicate: str = "skip"
    #: values a lookup had no entry for, and what became of them (passed on, key in comment)
    lookup_misses: tuple[LookupMiss, ...] = ()
    #: lookups whose file does not exist: name -> the path looked for
    missing_lookup_files: dict[str, str] = dc_field(default_factory=dict)
    #: every lookup: name -> the file it is read from
    lookup_files: dict[str, str] = dc_field(default_factory=dict)
    detection: str | None = None  # how --preset auto chose
    note: str | None = None  # the mapping's note (what it cannot know)
    #: valid rows whose comment is longer than the documented limit (a warning: the server
    #: may refuse them, an import then rejects them with its reason)
    long_comments: tuple[int, ...] = ()

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
    misses: LookupMisses | None = None,
) -> Iterator[MappedChunk]:
    """Stream a table through mapping and pandera validation, chunk by chunk (``misses``
    collects the values a lookup had no entry for)."""
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
            mapping,
            table.headers,
            raw,
            lookups=loaded.lookups,
            timezone=timezone,
            memo=memo,
            misses=misses,
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


AUTO = "auto"
DETECT_ROWS = 1000  # rows ``--preset auto`` and ``mapping init`` read for evidence


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


def detect_preset_for(
    path: Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Any:
    """``core.preset_detect.choose_preset`` over the header and the first ``DETECT_ROWS``
    rows of ``path`` (a ``Choice``)."""
    from timetracker_import.core.preset_detect import choose_preset
    from timetracker_import.files.readers import open_table

    table = open_table(path, sheet=sheet, encoding=encoding, delimiter=delimiter)
    first = next(iter(table.chunks(DETECT_ROWS)), None)
    return choose_preset(table.headers, first)


def load_mapping_for(
    settings: ValidateSettings, *, notify: Callable[[str], None] | None = None
) -> LoadedMapping:
    """The mapping named by ``--mapping`` or ``--preset`` (exactly one). ``--preset auto``
    recognises the preset from the file (header, then the first rows' data), tells
    ``notify`` (default: stderr) what it chose and why, and refuses (UsageError, exit 2)
    when the file fits no preset or several. ``--date`` replaces the mapping's date."""
    from dataclasses import replace

    from timetracker_import.files.mapping_loader import load_mapping, load_preset

    if settings.loaded is not None:  # loaded already (the names say where it came from)
        loaded = settings.loaded
    elif (settings.mapping_path is None) == (settings.preset is None):
        raise UsageError("give exactly one of --mapping PATH or --preset NAME")
    elif settings.preset is not None and settings.preset.strip().lower() == AUTO:
        choice = detect_preset_for(
            Path(settings.path),
            sheet=settings.sheet,
            encoding=settings.encoding,
            delimiter=settings.delimiter,
        )
        if choice.preset is None:
            raise UsageError(choice.refusal(), hint=choice.hint())
        loaded = load_preset(choice.preset)
        if choice.date_order is not None and loaded.mapping.date_order is None:
            mapping = loaded.mapping.model_copy(update={"date_order": choice.date_order})
            loaded = replace(loaded, mapping=mapping)
        loaded = replace(loaded, detection=choice.explain())
        (notify or _stderr)(loaded.detection or "")
    elif settings.preset is not None:
        loaded = load_preset(settings.preset)
    else:
        assert settings.mapping_path is not None
        loaded = load_mapping(settings.mapping_path)
    if getattr(settings, "date", None):
        loaded = replace(loaded, mapping=with_date(loaded.mapping, str(settings.date)))
    return loaded


def with_date(mapping: Mapping, date: str) -> Mapping:
    """``mapping`` with every row dated ``date`` (``--date``, for files without a date per
    entry such as an Azure DevOps query export): the date/timestamp field becomes that
    constant; a start time column is kept."""
    import datetime as dt

    from timetracker_import.core.mapping import Fields, TimeField

    try:
        day = dt.date.fromisoformat(date.strip()).isoformat()
    except ValueError:
        raise UsageError(f"--date {date!r} is not a date", hint="write it as YYYY-MM-DD") from None
    data = mapping.fields.model_dump(exclude_none=True)
    data.pop("timestamp", None)
    data["date"] = TimeField.model_validate({"value": day, "format": "%Y-%m-%d"}).model_dump(
        exclude_none=True
    )
    return mapping.model_copy(update={"fields": Fields.model_validate(data)})


def run_validate(
    settings: ValidateSettings, *, notify: Callable[[str], None] | None = None
) -> ValidateResult:
    """Validate ``settings.path`` with its mapping; write the rejected-rows file if needed.
    ``notify``: where ``--preset auto`` says what it chose (default stderr; the result's
    ``detection`` holds it too)."""
    from timetracker_import.core.dedupe import ON_DUPLICATE, RepeatIndex, in_file_repeats
    from timetracker_import.core.mapping import LookupMisses
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.core.summary import Totals
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import RejectedWriter

    if settings.on_duplicate not in ON_DUPLICATE:
        raise UsageError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}")
    loaded = load_mapping_for(settings, notify=notify)
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
    misses = LookupMisses()
    repeats_index = RepeatIndex()
    repeats: dict[int, int] = {}
    skipped_duplicates = 0
    long_comments: list[int] = []
    writer = RejectedWriter(rejected_path, table)
    ok = False
    try:
        for chunk in iter_mapped_chunks(
            table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows, misses=misses
        ):
            canonical, rejections = chunk.canonical, chunk.rejections
            outcome = in_file_repeats(canonical, settings.on_duplicate, index=repeats_index)
            repeats.update(outcome.repeats)
            left_out = list(outcome.skip) + [r.source_row for r in outcome.rejections]
            if left_out:
                canonical = canonical.drop(index=left_out)
                rejections = merge_rejections(rejections + outcome.rejections)
            skipped_duplicates += len(outcome.skip)
            long_comments.extend(_long_comments(canonical))
            totals.add_chunk(len(chunk.raw), canonical, len(rejections))
            all_rejections.extend(rejections)
            writer.write(chunk.raw, rejections)
            if builder is not None:
                from timetracker_import.core.report import source_cells

                rows = [r.source_row for r in rejections]
                builder.add_rows(canonical)
                builder.add_rejections(rejections, source_cells(chunk.raw, table.headers, rows))
                builder.add_flags(duplicate_rows=list(outcome.skip))
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
            "in_file_duplicates": len(repeats),
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
        repeats=repeats,
        skipped_duplicates=skipped_duplicates,
        on_duplicate=settings.on_duplicate,
        lookup_misses=tuple(misses.in_order()),
        missing_lookup_files={n: loaded.lookup_files.get(n, n) for n in loaded.missing_lookups},
        lookup_files=dict(loaded.lookup_files),
        detection=loaded.detection,
        note=mapping.note,
        long_comments=tuple(long_comments),
    )


def _long_comments(canonical: pd.DataFrame) -> list[int]:
    """The rows of ``canonical`` whose comment is past ``MAX_COMMENT_CHARS``."""
    from timetracker_import.api.protocol import MAX_COMMENT_CHARS

    if "comment" not in canonical.columns or canonical.empty:
        return []
    lengths = canonical["comment"].str.len()
    return [int(r) for r in canonical.index[(lengths > MAX_COMMENT_CHARS).fillna(False)]]
