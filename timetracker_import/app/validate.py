"""Use case: validate a file offline (read -> map -> pandera -> rejected-rows file + totals).

``iter_mapped_chunks`` is the shared front half of the pipeline, so the import use case runs
exactly the same stages as ``validate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import MappingError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.mapping import LookupMiss, LookupMisses, Mapping
    from timetracker_import.core.rejections import Rejection
    from timetracker_import.core.zone import ZoneChoice
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
    #: rows identical to an earlier row: skip | allow | fail (None: the mapping's, else skip)
    on_duplicate: str | None = None
    date: str | None = None  # --date: the date of every row (files without dates)
    #: --date-order MDY|DMY|YMD: the day/month order, over the mapping's and the data's
    date_order: str | None = None
    #: --lookup-dir: where lookup files with a relative path are read (default: beside the
    #: mapping file; for a preset, beside the input file)
    lookup_dir: Path | None = None
    #: keep the original cells of the first N rejected rows in the result (the web app)
    keep_rejected_cells: int = 0
    #: keep the valid rows as they would be sent (``ValidateResult.rows_frame()``; the
    #: command does not: they cost memory)
    keep_rows: bool = False


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
    #: rows whose time had no offset (read in ``timezone``)
    naive_times: int = 0

    @property
    def zone(self) -> ZoneChoice:
        """The zone naive times were read in, and where it came from."""
        from timetracker_import.core.zone import ZoneChoice

        return ZoneChoice.of(self.timezone, self.timezone_source)

    #: every row identical to an earlier row -> that row (reported whatever the policy)
    repeats: dict[int, int] = dc_field(default_factory=dict)
    skipped_duplicates: int = 0
    on_duplicate: str = "skip"
    #: where ``on_duplicate`` came from: ``--on-duplicate``, ``mapping`` or ``default``
    on_duplicate_from: str = "default"
    #: values a lookup had no entry for, and what became of them (passed on, key in comment)
    lookup_misses: tuple[LookupMiss, ...] = ()
    #: lookups whose file does not exist: name -> the path looked for
    missing_lookup_files: dict[str, str] = dc_field(default_factory=dict)
    #: every lookup: name -> the file it is read from
    lookup_files: dict[str, str] = dc_field(default_factory=dict)
    detection: str | None = None  # how --preset auto chose
    note: str | None = None  # the mapping's note (what it cannot know)
    #: rows a later row with the same entry key replaced (``on_duplicate_key: last``)
    replaced: dict[int, int] = dc_field(default_factory=dict)
    #: valid rows without a user: booked to the token's own user (``default: me``)
    self_rows: int = 0
    #: what the run should know beyond the counts (key corrections, own-user rows)
    notes: tuple[str, ...] = ()
    #: source row -> its original cells in file order, for the first
    #: ``ValidateSettings.keep_rejected_cells`` rejected rows
    rejected_cells: dict[int, tuple[Any, ...]] = dc_field(default_factory=dict)
    #: valid rows whose comment is longer than the documented limit (a warning: the server
    #: may refuse them, an import then rejects them with its reason)
    long_comments: tuple[int, ...] = ()
    #: the valid rows as they would be sent (``ValidateSettings.keep_rows``), else None
    kept_rows: pd.DataFrame | None = dc_field(default=None, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        """0 when every row is valid, 1 when some were rejected."""
        return 1 if self.rejected else 0

    def rows_frame(self) -> pd.DataFrame:
        """The valid rows as they would be sent, indexed by ``source_row`` (``user``,
        ``timestamp`` in UTC, ``length_seconds``, ``billable_seconds``, ``work_item_id``,
        ``comment``, ``activity_type``, ...); ``UsageError`` unless ``keep_rows``."""
        from timetracker_import.app.frames import valid_rows_frame

        return valid_rows_frame(self.kept_rows)

    def rejections_frame(self) -> pd.DataFrame:
        """The rejected rows, indexed by ``source_row``: stage, column, value, reason,
        error_code, then the row's original cells (``app.frames``)."""
        from timetracker_import.app.frames import rejections_frame

        return rejections_frame(self.rejections, [self.rejected_path])


@dataclass(frozen=True)
class MappedChunk:
    """One chunk through the offline stages: valid canonical rows, one rejection per
    rejected row (stages map/validate), and the raw chunk they came from."""

    canonical: pd.DataFrame
    rejections: list[Rejection]
    raw: pd.DataFrame
    #: what could be read of the rejected rows (``core.mapping.PARTIAL_COLUMNS``)
    partial: pd.DataFrame | None = None
    #: rows whose time had no offset (read in the run's zone)
    naive_times: int = 0


@dataclass(frozen=True)
class EntryKeys:
    """What the mapping's ``key`` + ``on_duplicate_key`` make of rows sharing an entry key:
    ``replaced`` (an earlier row -> the later row that corrects it; those are skipped),
    ``rejections`` (``reject``: every row of a repeated key), ``keys`` (row -> key text)."""

    replaced: dict[int, int] = dc_field(default_factory=dict)
    rejections: tuple[Rejection, ...] = ()
    keys: dict[int, str] = dc_field(default_factory=dict)
    columns: tuple[str, ...] = ()
    #: rows with an empty key cell -> the column that is empty (no entry id)
    empty: dict[int, str] = dc_field(default_factory=dict)
    #: the key columns as declared (``sync --key`` or the mapping's ``key:``)
    spec: tuple[str, ...] = ()

    def apply(
        self, canonical: pd.DataFrame, rejections: list[Rejection]
    ) -> tuple[pd.DataFrame, list[Rejection]]:
        """``canonical`` and ``rejections`` of one chunk with the replaced rows left out (so
        they count as skipped, also when their own cells were bad) and the key rejections of
        the chunk's rows added."""
        if not self.replaced and not self.rejections:
            return canonical, rejections
        from timetracker_import.core.rejections import merge_rejections

        rows = set(int(r) for r in canonical.index) | {r.source_row for r in rejections}
        mine = [r for r in self.rejections if r.source_row in rows]
        drop = [r for r in canonical.index if int(r) in self.replaced]
        drop += [r.source_row for r in mine if r.source_row in canonical.index]
        kept = [r for r in rejections if r.source_row not in self.replaced]
        return canonical.drop(index=drop), merge_rejections(kept + mine)

    def note(self) -> str | None:
        """One line naming the corrections, for summaries (None without any)."""
        if not self.replaced:
            return None
        pairs = sorted(self.replaced.items())
        shown = ", ".join(
            f"row {r} by row {by} ({self.keys.get(by, '')!r})" for r, by in pairs[:10]
        )
        more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
        return (
            f"{len(pairs)} row(s) replaced by a later row with the same {' + '.join(self.columns)}"
            f" (a correction; on_duplicate_key: last), counted as skipped: {shown}{more}"
        )


def entry_keys(
    table: RawTable,
    mapping: Mapping,
    frames: Iterable[pd.DataFrame],
    *,
    columns: Sequence[str] | None = None,
    policy: str | None = None,
) -> EntryKeys:
    """Rows sharing an entry key (``columns``, default ``mapping.key``) under ``policy``
    (default ``mapping.on_duplicate_key``), over the raw ``frames`` of ``table`` (the whole
    file: a correction may come chunks later). Rows with an empty key cell take no part;
    without a rule no row is replaced or rejected (the keys are still read)."""
    asked = columns is not None  # the caller needs the keys themselves (sync)
    columns = list(columns or mapping.key or [])
    if policy is None:
        policy = mapping.on_duplicate_key
    if not columns or (policy is None and not asked):
        return EntryKeys()
    from timetracker_import.core.dedupe import column_keys, duplicate_keys
    from timetracker_import.core.mapping import find_column, resolve_columns

    positions = [
        find_column(table.headers, c, 1, has_header=table.has_header, key_path="key")
        for c in columns
    ]
    try:
        user_at = resolve_columns(mapping, table.headers, table.has_header).get("user")
    except MappingError:
        user_at = None  # reading the file reports the missing columns
    cells: dict[int, list[Any]] = {}
    user_cells: dict[int, Any] = {}  # whose entry each row is: a correction keeps its user
    for frame in frames:
        parts = [frame[p].tolist() for p in positions]
        for i, row in enumerate(frame.index.tolist()):
            cells[int(row)] = [part[i] for part in parts]
        if user_at is not None:
            rows = [int(r) for r in frame.index.tolist()]
            user_cells.update(zip(rows, frame[user_at].tolist(), strict=True))
    headers = [table.headers[p] for p in positions]
    keys, blank = column_keys(cells, headers)  # an empty key cell: no entry id
    rejections: list[Rejection] = []
    replaced: dict[int, int] = {}
    if policy is not None:
        _, rejections, replaced = duplicate_keys(keys, policy, owners=user_cells)
    empty = {r.source_row: str(r.column) for r in blank}
    return EntryKeys(replaced, tuple(rejections), keys, tuple(headers), empty, tuple(columns))


def lookups_in_use(loaded: LoadedMapping, table: RawTable) -> LoadedMapping:
    """``loaded`` with only the missing lookup files this file's columns use (a lookup of an
    optional column the file lacks, such as Clockify's Issue Key, is nothing to report)."""
    from dataclasses import replace

    from timetracker_import.core.mapping import effective_mapping

    try:
        mapping = effective_mapping(loaded.mapping, table.headers, table.has_header)
    except MappingError:
        return loaded  # reading the file reports the missing columns
    used = set(mapping.used_lookups().lookups)
    missing = tuple(n for n in loaded.missing_lookups if n in used)
    return loaded if missing == loaded.missing_lookups else replace(loaded, missing_lookups=missing)


def self_rows_note(count: int) -> str | None:
    """The line that says how many rows go to the token's own user (None for none)."""
    if not count:
        return None
    return (
        f"{count} row(s) have no user and are booked to the token's own user (the mapping "
        "says so: `default: me` on fields.user, or no user field)"
    )


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


def conversion_hint(error: MappingError, table: RawTable) -> MappingError:
    """``error`` (a mapped column the file lacks), with the fix when the file is an export
    that needs reshaping first (a raw Jira issue export: ``convert jira``)."""
    from timetracker_import.core.preset_detect import detect_conversion

    found = detect_conversion(table.headers)
    if found is None:
        return error
    error.hint = (
        f"{table.path.name} is a Jira issue export (columns "
        + ", ".join(dict.fromkeys(found.matched))
        + f"): run `timetracker-import convert jira {table.path}` first, then validate or "
        "import the converted file with --preset jira-worklogs"
    )
    return error


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
    import pandas as pd

    from timetracker_import.core.mapping import apply_mapping, resolve_columns
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.core.schema import validate_worklogs
    from timetracker_import.core.timestamps import DateMemo

    mapping = loaded.mapping
    try:
        positions = resolve_columns(mapping, table.headers, table.has_header)
    except MappingError as exc:
        raise conversion_hint(exc, table) from None
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
        partial: list[pd.DataFrame] = []
        naive_rows: list[int] = []
        canonical, rejections = apply_mapping(
            mapping,
            table.headers,
            raw,
            lookups=loaded.lookups,
            timezone=timezone,
            memo=memo,
            misses=misses,
            partial=partial,
            naive_rows=naive_rows,
        )
        columns: dict[str, tuple[str | None, dict[int, object]]] = {}
        for field, canon in canonical_of.items():
            if field in positions:
                pos = positions[field]
                # The whole raw column: lookups are by source_row of canonical rows, which
                # all come from this chunk (selecting them first cost a hash join per field).
                columns[canon] = (table.headers[pos], _LazyCells(raw[pos]))
        valid, problems = validate_worklogs(canonical, columns)
        if problems:
            from timetracker_import.core.mapping import PARTIAL_COLUMNS

            dropped = canonical.index.difference(valid.index)
            partial.append(canonical.loc[dropped, list(PARTIAL_COLUMNS)])
        yield MappedChunk(
            valid,
            merge_rejections(rejections + problems),
            raw,
            partial=pd.concat(partial) if partial else None,
            naive_times=sum(naive_rows),
        )


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
    date_order: str | None = None,
) -> Any:
    """``core.preset_detect.choose_preset`` over the header and the first ``DETECT_ROWS``
    rows of ``path`` (a ``Choice``); where the day/month order decides, over the date
    columns of every row (all the evidence, never one row). ``date_order``: the order the
    user named."""
    import pandas as pd

    from timetracker_import.core.mapping import normalise_header
    from timetracker_import.core.preset_detect import best_presets, choose_preset, date_columns
    from timetracker_import.files.readers import open_table

    table = open_table(path, sheet=sheet, encoding=encoding, delimiter=delimiter)
    chunks = iter(table.chunks(DETECT_ROWS))
    first = next(chunks, None)
    wanted = {
        normalise_header(c) for c in date_columns(d.preset for d in best_presets(table.headers))
    }
    positions = [i for i, h in enumerate(table.headers) if normalise_header(h) in wanted]
    if first is not None and positions and date_order is None:
        rest = [chunk[positions] for chunk in chunks]
        if rest:
            dates = pd.concat([first[positions], *rest])
            first = pd.concat([first, dates.iloc[len(first) :]])  # the other columns empty
    return choose_preset(table.headers, first, date_order=date_order)


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
            date_order=getattr(settings, "date_order", None),
        )
        if choice.preset is None:
            from timetracker_import.core.preset_detect import detect_conversion
            from timetracker_import.files.readers import open_table

            table = open_table(
                Path(settings.path),
                sheet=settings.sheet,
                encoding=settings.encoding,
                delimiter=settings.delimiter,
            )
            if not choice.candidates and detect_conversion(table.headers) is not None:
                raise conversion_hint(MappingError(choice.refusal()), table)
            raise UsageError(choice.refusal(), hint=choice.hint())
        loaded = load_preset(choice.preset, lookup_dir=lookup_dir_for(settings))
        if choice.date_order is not None and loaded.mapping.date_order is None:
            mapping = loaded.mapping.model_copy(update={"date_order": choice.date_order})
            loaded = replace(loaded, mapping=mapping)
        loaded = replace(loaded, detection=choice.explain())
        (notify or _stderr)(loaded.detection or "")
    elif settings.preset is not None:
        loaded = load_preset(settings.preset, lookup_dir=lookup_dir_for(settings))
    else:
        assert settings.mapping_path is not None
        given = getattr(settings, "lookup_dir", None)
        loaded = load_mapping(settings.mapping_path, lookup_dir=given)
    if getattr(settings, "date", None):
        loaded = replace(loaded, mapping=with_date(loaded.mapping, str(settings.date)))
    order = getattr(settings, "date_order", None)
    if order:
        loaded = replace(loaded, mapping=with_date_order(loaded.mapping, order))
    return loaded


def lookup_dir_for(settings: Any) -> Path:
    """Where a preset's lookup files are read: ``--lookup-dir``, else the input file's
    folder (never the current directory, so a scheduled run finds them without a ``cd``)."""
    given = getattr(settings, "lookup_dir", None)
    if given is not None:
        return Path(given)
    return Path(settings.path).resolve().parent


DATE_ORDERS = ("MDY", "DMY", "YMD")


def with_date_order(mapping: Mapping, order: str) -> Mapping:
    """``mapping`` reading dates in ``order`` (``--date-order``: the run's choice beats the
    mapping's, as ``--timezone`` does)."""
    value = order.strip().upper()
    if value not in DATE_ORDERS:
        raise UsageError(
            f"--date-order {order!r} is not a day/month order",
            hint="use MDY (month/day, US), DMY (day/month) or YMD",
        )
    return mapping.model_copy(update={"date_order": value})


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
    from timetracker_import.core.dedupe import (
        ON_DUPLICATE,
        RepeatIndex,
        duplicate_policy,
        in_file_repeats,
    )
    from timetracker_import.core.mapping import LookupMisses
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.core.summary import RunningTotals
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import RejectedWriter

    if settings.on_duplicate is not None and settings.on_duplicate not in ON_DUPLICATE:
        raise UsageError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}")
    loaded = load_mapping_for(settings, notify=notify)
    mapping = loaded.mapping
    on_duplicate = duplicate_policy(settings.on_duplicate, mapping.on_duplicate)
    timezone, tz_source = choose_timezone(mapping, settings.timezone)
    table = open_table(
        settings.path,
        sheet=settings.sheet,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        has_header=mapping.header,
    )
    loaded = lookups_in_use(loaded, table)
    rejected_path = settings.rejected_path or default_rejected_path(Path(settings.path))
    if rejected_path.resolve() == Path(settings.path).resolve():
        raise UsageError("--rejected must not be the input file itself")
    builder = None
    if settings.report_path is not None:
        from timetracker_import.core.report import ReportBuilder, ReportSettings
        from timetracker_import.files.report_json import check_report_path

        check_report_path(settings.report_path)  # fail now, not after a long run
        builder = ReportBuilder(ReportSettings(timezone=timezone))
    totals = RunningTotals()
    all_rejections: list[Rejection] = []
    misses = LookupMisses()
    repeats_index = RepeatIndex()
    repeats: dict[int, int] = {}
    skipped_duplicates = 0
    self_rows = 0
    naive_times = 0
    corrections = entry_keys(table, mapping, table.chunks(settings.chunk_rows))
    kept_cells: dict[int, tuple[Any, ...]] = {}
    kept_rows: list[pd.DataFrame] = []
    long_comments: list[int] = []
    writer = RejectedWriter(rejected_path, table)
    ok = False
    try:
        for chunk in iter_mapped_chunks(
            table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows, misses=misses
        ):
            naive_times += chunk.naive_times
            canonical, rejections = corrections.apply(chunk.canonical, chunk.rejections)
            outcome = in_file_repeats(canonical, on_duplicate, index=repeats_index)
            repeats.update(outcome.repeats)
            left_out = list(outcome.skip) + [r.source_row for r in outcome.rejections]
            if left_out:
                canonical = canonical.drop(index=left_out)
                rejections = merge_rejections(rejections + outcome.rejections)
            skipped_duplicates += len(outcome.skip)
            self_rows += int(canonical["user"].isna().sum())
            long_comments.extend(_long_comments(canonical))
            if settings.keep_rows:
                kept_rows.append(canonical)
            totals.add_chunk(len(chunk.raw), canonical, len(rejections))
            all_rejections.extend(rejections)
            writer.write(chunk.raw, rejections)
            room = settings.keep_rejected_cells - len(kept_cells)
            if room > 0 and rejections:
                wanted = [
                    r.source_row for r in rejections[:room] if r.source_row in chunk.raw.index
                ]
                frame = chunk.raw.loc[wanted]
                for row, values in zip(
                    wanted, frame.itertuples(index=False, name=None), strict=True
                ):
                    kept_cells[int(row)] = tuple(values)
            if builder is not None:
                from timetracker_import.core.report import source_cells

                rows = [r.source_row for r in rejections]
                builder.add_rows(canonical)
                builder.add_rejections(rejections, source_cells(chunk.raw, table.headers, rows))
                builder.add_flags(duplicate_rows=list(outcome.skip))
        ok = True
    finally:
        writer.close(ok)
    from timetracker_import.core.zone import ZoneChoice, zone_warnings

    zone_notes = zone_warnings(ZoneChoice.of(timezone, tz_source), naive_times=naive_times)
    notes = tuple(n for n in (corrections.note(), self_rows_note(self_rows), *zone_notes) if n)
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
            "timezone": ZoneChoice.of(timezone, tz_source).describe(),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        report_path = write_report(
            builder.build(accounting, meta, notes=notes), settings.report_path
        )
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
        naive_times=naive_times,
        mapping_source=loaded.source,
        billable_over_length=totals.billable_over_length,
        report_path=report_path,
        repeats=repeats,
        skipped_duplicates=skipped_duplicates,
        on_duplicate=on_duplicate,
        on_duplicate_from=(
            "--on-duplicate"
            if settings.on_duplicate
            else "mapping"
            if mapping.on_duplicate
            else "default"
        ),
        lookup_misses=tuple(misses.in_order()),
        missing_lookup_files={n: loaded.lookup_files.get(n, n) for n in loaded.missing_lookups},
        lookup_files=dict(loaded.lookup_files),
        detection=loaded.detection,
        note=mapping.note,
        replaced=dict(corrections.replaced),
        self_rows=self_rows,
        notes=notes,
        rejected_cells=kept_cells,
        long_comments=tuple(long_comments),
        kept_rows=_concat(kept_rows) if settings.keep_rows else None,
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    if not frames:
        return pd.DataFrame(index=pd.Index([], dtype="int64", name="source_row"))
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _long_comments(canonical: pd.DataFrame) -> list[int]:
    """The rows of ``canonical`` whose comment is past ``MAX_COMMENT_CHARS``."""
    from timetracker_import.api.protocol import MAX_COMMENT_CHARS

    if "comment" not in canonical.columns or canonical.empty:
        return []
    lengths = canonical["comment"].str.len()
    return [int(r) for r in canonical.index[(lengths > MAX_COMMENT_CHARS).fillna(False)]]
