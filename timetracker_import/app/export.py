"""Use case: export worklogs (``workLogs/all`` or ``workLogs``) to CSV, XLSX, JSON or NDJSON.

The day range is cut into windows fetched concurrently; each window is paged with
``$skip``/``$count`` (lists are ordered by timestamp, so a window's paging is stable).
Worklogs are deduplicated by id across windows and sorted by (timestamp, id), so the output
does not depend on which window answered first.

Memory does not grow with the export: up to ``spill_after`` rows (100,000) are sorted in
memory; beyond, every row goes to a temporary SQLite file (``RowSpill``) as it arrives, and
is read back deduplicated and in order while the output is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import pickle
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from timetracker_import.api.client import ClientFactory, TimetrackerClient
from timetracker_import.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.core.export import DayRange

OnPage = Callable[[int], None]
FORMATS = ("csv", "xlsx", "json", "ndjson")
DEFAULT_CONCURRENCY = 8
PAGE_SIZE = 500
#: rows kept (and sorted) in memory; beyond, they go to a temporary file
SPILL_AFTER = 100_000


@dataclass(frozen=True)
class ExportSettings:
    """What ``export`` was asked to do (dates are inclusive local days in ``timezone``)."""

    timezone: str
    first: dt.date | None = None
    last: dt.date | None = None
    mine: bool = False
    users: tuple[str, ...] = ()
    work_items: tuple[int, ...] = ()
    activity_types: tuple[str, ...] = ()
    concurrency: int = DEFAULT_CONCURRENCY
    windows: int | None = None  # None: chosen from the range and the concurrency
    page_size: int = PAGE_SIZE
    #: rows kept in memory before they go to a temporary file (None: ``SPILL_AFTER``)
    spill_after: int | None = None


class RowSpill:
    """Export rows in a temporary SQLite file, read back deduplicated by (organization, id)
    (the first one taken wins, as in memory) and in ``core.export.sort_key`` order. Memory
    stays flat however many rows there are; the file is removed by ``close``."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._dir = tempfile.TemporaryDirectory(prefix="timetracker-export-")
        self._db = sqlite3.connect(Path(self._dir.name) / "rows.sqlite")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE row (seq INTEGER PRIMARY KEY, ts INTEGER, org TEXT, wid TEXT, cells BLOB)"
        )
        self._indexed = False

    def add(self, keyed: Iterable[tuple[tuple[dt.datetime, str, str], dict[str, Any]]]) -> None:
        """Store rows with their sort keys, in the order they were taken."""
        columns = self.columns
        self._db.executemany(
            "INSERT INTO row (ts, org, wid, cells) VALUES (?, ?, ?, ?)",
            (
                (_micros(ts), org, wid, pickle.dumps(tuple(row.get(c) for c in columns)))
                for (ts, org, wid), row in keyed
            ),
        )

    def _index(self) -> None:
        if not self._indexed:
            self._db.execute("CREATE INDEX by_id ON row (org, wid, seq)")
            self._db.execute("CREATE INDEX by_order ON row (ts, org, wid, seq)")
            self._indexed = True

    _FIRST = "NOT EXISTS (SELECT 1 FROM row AS s WHERE s.org = r.org AND s.wid = r.wid AND s.seq < r.seq)"

    def per_organization(self) -> dict[str, int]:
        """Rows per organization key (after deduplication)."""
        self._index()
        query = f"SELECT org, COUNT(*) FROM row AS r WHERE {self._FIRST} GROUP BY org"
        return {str(org): int(n) for org, n in self._db.execute(query)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._index()
        query = f"SELECT cells FROM row AS r WHERE {self._FIRST} ORDER BY ts, org, wid, seq"
        columns = self.columns
        for (cells,) in self._db.execute(query):
            yield dict(zip(columns, pickle.loads(cells), strict=True))

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def _micros(ts: dt.datetime) -> int:
    """An aware timestamp as microseconds since 1970 (exact; sorts like the datetime)."""
    return (ts - _EPOCH) // dt.timedelta(microseconds=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(repr=False)
class ExportResult:
    """The rows (in output order), their columns and what it took. ``iter_rows()`` streams
    the rows (from a temporary file for a large export); ``rows`` is them as a list."""

    columns: list[str]
    days: DayRange
    count: int
    requests: int = 0
    fetched: int = 0
    per_organization: dict[str, int] = field(default_factory=dict)
    kept: list[dict[str, Any]] | None = None  # the rows, when they stayed in memory
    spill: RowSpill | None = None  # else where they are

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """The rows in output order, one at a time."""
        if self.kept is not None:
            return iter(self.kept)
        assert self.spill is not None
        return iter(self.spill)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row, in output order (read into memory from the temporary file if the
        export went there)."""
        if self.kept is None:
            self.kept = list(self.iter_rows())
        return self.kept

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame: ``*_utc`` columns as UTC datetimes, ``*_seconds`` and
        ``work_item_id`` as nullable integers (``app.frames.export_frame``)."""
        from timetracker_import.app.frames import export_frame

        return export_frame(self.columns, self.iter_rows())

    def close(self) -> None:
        """Remove the temporary file of a large export (the rows read so far stay)."""
        if self.spill is not None:
            self.spill.close()
            self.spill = None
            if self.kept is None:
                self.kept = []

    def __repr__(self) -> str:
        # Short on purpose: Python 3.11's asyncio.run formats the main task (and so its
        # result) when it restores the SIGINT handler; a full repr of 100k rows took ~0.4 s.
        return (
            f"ExportResult({self.count} rows, {self.days.first}..{self.days.last}, "
            f"requests={self.requests}, fetched={self.fetched})"
        )


def window_count(settings: ExportSettings, days: DayRange) -> int:
    """Windows to cut the range into: given, else four per concurrent slot (short windows
    balance uneven data), at most one per hour of the range."""
    if settings.windows is not None:
        return max(1, settings.windows)
    hours = max(1, int((days.end - days.start).total_seconds() // 3600))
    return max(1, min(settings.concurrency * 4, hours))


async def fetch_worklogs(
    client: TimetrackerClient,
    settings: ExportSettings,
    days: DayRange,
    *,
    on_page: OnPage | None = None,
    consume: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Fetch every worklog of ``days`` (widened for the strict filters); returns the raw
    worklogs (may contain boundary duplicates) and the number of requests made.

    With ``consume``, each page goes to it as it arrives (so its work overlaps the requests
    still in flight) and the returned list is empty."""
    from timetracker_import.api.client import MAX_WORK_ITEM_IDS, worklog_query
    from timetracker_import.core.export import chunked, format_query_instant, split_windows
    from timetracker_import.core.worklog import QUERY_MARGIN

    path = "workLogs" if settings.mine else "workLogs/all"
    windows = split_windows(days.start, days.end, window_count(settings, days))
    id_chunks: list[list[int] | None] = (
        list(chunked(settings.work_items, MAX_WORK_ITEM_IDS)) if settings.work_items else [None]
    )
    slots = asyncio.Semaphore(max(1, settings.concurrency))
    requests = 0
    results: list[list[dict[str, Any]]] = []

    async def fetch_window(start: dt.datetime, end: dt.datetime, ids: list[int] | None) -> None:
        nonlocal requests
        query = worklog_query(
            from_ts=format_query_instant(start - QUERY_MARGIN),
            to_ts=format_query_instant(end),
            work_item_ids=ids,
            expand_display_name=True,
        )
        found: list[dict[str, Any]] = []
        count = 0
        async with slots:
            async for page in client.iter_pages(path, query, page_size=settings.page_size):
                requests += 1
                count += len(page)
                if consume is not None:
                    consume(page)
                else:
                    found.extend(page)
                if on_page is not None:
                    on_page(len(page))
            if not count or count % settings.page_size == 0:
                requests += 1  # the empty/short closing page
        results.append(found)

    try:
        async with asyncio.TaskGroup() as group:
            for start, end in windows:
                for ids in id_chunks:
                    group.create_task(fetch_window(start, end, ids))
    except BaseExceptionGroup as group_error:
        # one failing window cancels the others; report the first real cause, not the group
        raise _first_leaf(group_error) from None
    return [w for chunk in results for w in chunk], requests


async def run_export(
    connections: Sequence[tuple[str | None, ConnectionSettings]],
    settings: ExportSettings,
    *,
    client_factory: ClientFactory | None = None,
    on_page: OnPage | None = None,
    today: dt.date | None = None,
) -> ExportResult:
    """Export from one organization (``[(None, settings)]``) or several
    (``[(name, settings), ...]``: rows get an ``organization`` column, fetched in parallel)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from timetracker_import.core.export import ExportFilter, RowBuilder, day_range, export_columns

    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {settings.timezone!r}", hint="use an IANA name like Europe/Berlin"
        ) from None
    if today is None:
        today = dt.datetime.now(zone).date()
    try:
        days = day_range(settings.first, settings.last, settings.timezone, today=today)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    factory = client_factory or TimetrackerClient
    row_filter = ExportFilter.build(
        days, settings.users, settings.activity_types, settings.work_items
    )
    builder = RowBuilder(row_filter, zone)
    multi = len(connections) > 1
    columns = export_columns(multi)
    spill: RowSpill | None = None
    spill_after = SPILL_AFTER if settings.spill_after is None else settings.spill_after

    def take(name: str | None, page: list[dict[str, Any]]) -> None:
        nonlocal spill
        builder.add(name, page)
        if spill is None and builder.taken > spill_after:
            spill = RowSpill(columns)  # from now on rows go to the file as they come
        if spill is not None:
            spill.add(builder.drain())

    async def one(name: str | None, conn: ConnectionSettings) -> int:
        async with factory(conn) as client:
            _, requests = await fetch_worklogs(
                client, settings, days, on_page=on_page, consume=lambda p: take(name, p)
            )
            return requests

    try:
        with paused_gc():
            # rows are laid out page by page while other windows' requests are in flight
            requests = await asyncio.gather(*(one(name, conn) for name, conn in connections))
            kept = builder.rows() if spill is None else None
    except BaseException:
        if spill is not None:
            spill.close()
        raise
    if spill is not None:
        counts = spill.per_organization()
    else:
        assert kept is not None
        counts = {}
        for row in kept:
            key = str(row.get("organization") or "")
            counts[key] = counts.get(key, 0) + 1
    return ExportResult(
        columns=columns,
        days=days,
        count=sum(counts.values()),
        requests=sum(requests),
        fetched=builder.received,
        per_organization=counts if multi else {},
        kept=kept,
        spill=spill,
    )


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk phase (restored after, if it was on).

    Decoding and laying out 100k worklogs allocates millions of acyclic objects (JSON dicts
    and lists, row dicts); every ~700 allocations start a collection and the full ones walk
    everything alive: measured 0.8 s of 3.3 s CPU on the 100k bench. Reference counting
    still frees all of it; cycles made meanwhile wait for the next collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def choose_format(fmt: str | None, output: str | None) -> str:
    """``--format`` if given, else from the output extension, else csv.

    A ``--format`` that contradicts a known extension (``--format csv -o x.xlsx``) is refused:
    the file writers go by the extension, so one of the two would silently lose.
    """
    implied: str | None = None
    if output and output != "-":
        suffix = Path(output).suffix.lower().lstrip(".")
        if suffix in FORMATS:
            implied = suffix
        elif suffix in ("jsonl",):
            implied = "ndjson"
        elif suffix in ("tsv", "txt"):
            implied = "csv"
    if fmt:
        if (implied is not None and implied != fmt) or (
            fmt == "xlsx" and implied is None and output not in (None, "-")
        ):
            raise UsageError(
                f"--format {fmt} does not match the output name {output!r}",
                hint=f"drop --format, or name the output file .{fmt}",
            )
        return fmt
    if output and output != "-":
        if implied is not None:
            return implied
        raise UsageError(
            f"cannot tell the format from {output!r}",
            hint="use --format csv|xlsx|json|ndjson or a .csv/.xlsx/.json/.ndjson name",
        )
    return "csv"


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def write_export(
    result: ExportResult, output: str | None, fmt: str, *, stdout: IO[str] | None = None
) -> None:
    """Write the rows to ``output`` (a path; ``None``/``-`` = stdout) atomically. CSV and
    XLSX go through ``files.writers`` (formula-safe); XLSX cannot go to stdout."""
    from timetracker_import.files.writers import write_table

    to_stdout = output in (None, "-")
    out = stdout or sys.stdout
    if fmt == "xlsx" and to_stdout:
        raise UsageError("XLSX cannot be written to stdout", hint="give --output PATH.xlsx")
    cells = ([row.get(c) for c in result.columns] for row in result.iter_rows())
    if fmt in ("csv", "xlsx"):
        if not to_stdout:
            write_table(Path(str(output)), result.columns, cells)
            return
        with tempfile.TemporaryDirectory(prefix="export-") as tmp:
            path = Path(tmp) / "export.csv"
            write_table(path, result.columns, cells)
            with path.open(encoding="utf-8", newline="") as handle:
                shutil.copyfileobj(handle, out)
        return
    if to_stdout:
        _write_json(out, result, fmt)
        return
    from timetracker_import.files.writers import atomic_text_file

    with atomic_text_file(Path(str(output))) as handle:
        _write_json(handle, result, fmt)


def _write_json(out: IO[str], result: ExportResult, fmt: str) -> None:
    """The rows as one JSON array (``json.dumps(rows, indent=2)``, byte for byte) or one
    object a line (NDJSON), written row by row."""
    columns = result.columns
    first = True
    for row in result.iter_rows():
        obj = {c: _jsonable(row.get(c)) for c in columns}
        if fmt == "ndjson":
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            continue
        # strings are escaped, so every newline of the dump is layout: indent it once more
        text = json.dumps(obj, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        out.write(("[\n  " if first else ",\n  ") + text)
        first = False
    if fmt == "json":
        out.write("[]\n" if first else "\n]\n")
