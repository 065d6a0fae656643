"""Stage ``prepare``: read the file, map it and validate every row, exactly like
``validate`` (``app.validate.iter_mapped_chunks``). Input: ``ImportSettings``; output: a
``PreparedFile`` (the raw and canonical frames, the rejections, the run's fingerprint). It
reads the input and mapping files and touches nothing else: no network, no journal."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.stages.model import ON_EXISTING, ImportSettings
from timetracker_import.app.validate import (
    EntryKeys,
    ValidateSettings,
    choose_timezone,
    entry_keys,
    iter_mapped_chunks,
    load_mapping_for,
    lookups_in_use,
    self_rows_note,
)
from timetracker_import.core.rejections import Rejection
from timetracker_import.errors import Interrupted, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.mapping import LookupMisses
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.files.readers import RawTable


@dataclass
class PreparedFile:
    """The offline stages' output for the whole file."""

    table: RawTable
    raw: pd.DataFrame
    canonical: pd.DataFrame
    rejections: list[Rejection]
    skipped: list[int]
    timezone: str
    loaded: LoadedMapping
    fingerprint: str
    date_header: str | None
    user_header: str | None
    activity_header: str | None
    #: wall-clock seconds the read, map and validate took
    seconds: float = 0.0
    #: what the run should tell about the mapping: its note, lookup files not found,
    #: values without a lookup entry (what became of them)
    notes: list[str] = field(default_factory=list)
    #: every copy of an earlier row -> that row (``--on-duplicate``, core.dedupe)
    repeats: dict[int, int] = field(default_factory=dict)
    #: the copies left out (``skip``): also in ``skipped``
    duplicate_skips: dict[int, int] = field(default_factory=dict)
    #: what identical rows got: --on-duplicate, else the mapping's ``on_duplicate``, else skip
    on_duplicate: str = "skip"
    #: what could be read of the rows rejected offline (user, timestamp, work item; see
    #: ``core.mapping.PARTIAL_COLUMNS``): which worklog a rejected row may stand for
    partial: pd.DataFrame | None = None
    #: where the time zone came from: "--timezone", "mapping" or "this machine's zone"
    timezone_source: str = ""
    #: rows whose time was read without an offset (localised in ``timezone``)
    naive_times: int = 0
    #: the entry ids of a source that declares them (None: no key declared)
    keys: EntryKeys | None = None
    #: rows replaced by a later row with the same entry id (``on_duplicate_key: last``):
    #: row -> the row that replaced it; also in ``skipped``
    replaced: dict[int, int] = field(default_factory=dict)
    #: valid rows without a user, booked to the token's own user (``default: me``)
    self_rows: list[int] = field(default_factory=list)
    #: SHA-256 of the input file's bytes as read (``raw_rows`` reads it again only if equal)
    file_digest: str = ""
    #: once ``release_raw`` dropped the cells: the source_row of every row read
    _row_numbers: Any = field(default=None, repr=False)
    #: the last cells ``raw_rows`` read again: (rows, frame)
    _reread: Any = field(default=None, repr=False)
    #: the position in ``raw`` of the column ``date_header`` names (None: no such column)
    date_position: int | None = None

    def row_numbers(self) -> list[int]:
        """The source_row of every row read, in file order."""
        if self._row_numbers is not None:
            return [int(r) for r in self._row_numbers.tolist()]
        return [int(r) for r in self.raw.index.tolist()]

    def release_raw(self, keep: Iterable[int] = ()) -> None:
        """Drop the raw cells of every row but ``keep`` (the rows rejected while reading):
        an import holds the raw frame (~300 bytes a row) only until the rows are journaled.
        ``raw`` then holds only ``keep``; ``raw_rows`` reads any other row again."""
        if self._row_numbers is not None:
            return
        import numpy as np

        self._row_numbers = self.raw.index.to_numpy(dtype=np.int64)
        self.raw = self.raw.loc[self.raw.index.intersection(list(keep))].copy()

    def raw_rows(self, rows: Iterable[int]) -> pd.DataFrame:
        """The raw cells of ``rows`` (those read), indexed by source_row: from memory, or
        once released, read again from the input file a chunk at a time (only while the
        file is still what was read; otherwise without the rows no longer held: a
        rejected-rows file then gives them empty cells)."""
        import pandas as pd

        wanted = sorted({int(r) for r in rows})
        held = self.raw.loc[self.raw.index.intersection(wanted)]
        if self._row_numbers is None:
            return held
        missing = set(wanted) - set(held.index.tolist())
        if not missing:
            return held
        key = tuple(wanted)
        if self._reread is not None and self._reread[0] == key:
            return self._reread[1]  # type: ignore[no-any-return]
        parts = [held]
        path = Path(self.table.path)
        if self.file_digest and path.is_file() and file_sha256(path) == self.file_digest:
            lookup = pd.Index(sorted(missing))
            for chunk in self.table.chunks():
                hit = chunk.index.isin(lookup)
                if hit.any():
                    parts.append(chunk[hit])
        found = pd.concat(parts) if len(parts) > 1 else held
        self._reread = (key, found)
        return found

    def date_cells(self, rows: Iterable[int]) -> dict[int, str]:
        """The date cell of ``rows`` as written in the file (stripped, as the map stage shows
        a cell), so that a message names what a person can search the file for. Rows whose
        cells cannot be read any more, and empty cells, are left out."""
        import pandas as pd

        position = self.date_position
        if position is None:
            return {}
        raw = self.raw_rows(rows)
        if position not in raw.columns:
            return {}
        found: dict[int, str] = {}
        for row, cell in raw[position].items():
            text = "" if cell is None or pd.isna(cell) else str(cell).strip()
            if text:
                found[int(row)] = text  # type: ignore[call-overload]
        return found

    def skip_reasons(self) -> dict[int, str]:
        """Why each skipped row is left out: the mapping's filter, a copy of an earlier
        row (``--on-duplicate skip``), or replaced by a later row with its entry id."""
        from timetracker_import.core.dedupe import repeat_reason, replaced_reason

        reasons = dict.fromkeys(self.skipped, "left out by the mapping")
        for row, first in self.duplicate_skips.items():
            reasons[int(row)] = repeat_reason(first)
        for row, by in self.replaced.items():
            reasons[int(row)] = replaced_reason(by, self.keys.keys.get(by, "") if self.keys else "")
        return reasons


def declared_keys(
    settings: ImportSettings, loaded: LoadedMapping, table: RawTable, raw: pd.DataFrame
) -> EntryKeys | None:
    """The entry ids of every row, from ``sync --key`` or the mapping's ``key:`` (None when
    neither declares one), and what the duplicate-key rule makes of rows sharing one
    (``app.validate.entry_keys``, the rule ``validate`` applies too): ``--on-duplicate-key``
    beats the mapping's ``on_duplicate_key``; a sync, which must know every row's entry,
    rejects shared keys by default. UsageError when a key column is not in the file."""
    from timetracker_import.errors import MappingError

    columns = tuple(settings.keys) or tuple(loaded.mapping.key or ())
    if not columns:
        return None
    policy = settings.on_duplicate_key or loaded.mapping.on_duplicate_key
    if policy is None and settings.require_keys:
        policy = "reject"
    try:
        return entry_keys(
            table, loaded.mapping, [raw] if len(raw) else [], columns=columns, policy=policy
        )
    except MappingError as exc:
        raise UsageError(
            f"the key: {exc.message}",
            hint="name the column that holds the entry id (--key COLUMN, or key: in the mapping)",
        ) from None


def empty_canonical() -> pd.DataFrame:
    """The canonical frame of a file without data rows (a header-only export): every
    column there, with its type, so that every later stage sees the usual shape."""
    import pandas as pd

    from timetracker_import.core.mapping import CANONICAL_COLUMNS

    dtypes = {
        "timestamp": "datetime64[ns, UTC]",
        "length_seconds": "int64",
        "billable_seconds": "Int64",
        "work_item_id": "Int64",
    }
    frame = pd.DataFrame(
        {c: pd.Series(dtype=dtypes.get(c, object)) for c in CANONICAL_COLUMNS},
        index=pd.Index([], dtype="int64", name="source_row"),
    )
    return frame


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_settings(settings: ImportSettings) -> None:
    """Refuse option values that cannot work, before anything is read."""
    from timetracker_import.core.planning import MAX_BATCH_SIZE

    if not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}")
    from timetracker_import.app.limiter import Concurrency

    try:
        Concurrency.parse(settings.concurrency, settings.max_concurrency)
    except ValueError as exc:
        raise UsageError(str(exc), hint="--concurrency auto adapts to the server") from None
    if settings.on_existing not in ON_EXISTING:
        raise UsageError(f"--on-existing must be one of {', '.join(ON_EXISTING)}")
    from timetracker_import.core.dedupe import ON_DUPLICATE

    if settings.on_duplicate is not None and settings.on_duplicate not in ON_DUPLICATE:
        raise UsageError(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}")
    if settings.rejected_path is not None and (
        settings.rejected_path.resolve() == Path(settings.path).resolve()
    ):
        raise UsageError("--rejected must not be the input file itself")
    if settings.report_path is not None:
        from timetracker_import.files.report_json import check_report_path

        check_report_path(settings.report_path)


def load_import_mapping(settings: ImportSettings) -> LoadedMapping:
    """The mapping named by ``settings`` (``--mapping`` or ``--preset``)."""
    return load_mapping_for(
        ValidateSettings(
            path=settings.path,
            mapping_path=settings.mapping_path,
            preset=settings.preset,
            loaded=settings.loaded,
            sheet=settings.sheet,
            encoding=settings.encoding,
            delimiter=settings.delimiter,
            date=settings.date,
            date_order=settings.date_order,
            lookup_dir=settings.lookup_dir,
        )
    )


def prepare(
    settings: ImportSettings,
    loaded: LoadedMapping | None = None,
    *,
    stop: threading.Event | None = None,
    keep_raw: bool = True,
) -> PreparedFile:
    """Read, map and validate the whole file, exactly like ``validate`` (``loaded``: the
    mapping when the caller has loaded it already; ``stop``: set from another thread to
    stop between chunks with ``Interrupted``). ``keep_raw=False`` (an import): ``raw``
    holds only the cells of the rows rejected here, and the copies of earlier rows are
    found chunk by chunk; memory then holds the canonical frame and little else per row
    (``PreparedFile.raw_rows`` reads other rows' cells again). A mapping that declares
    entry ids needs every row's cells and keeps them."""
    import time

    import numpy as np
    import pandas as pd

    from timetracker_import.core.dedupe import in_file_repeats
    from timetracker_import.core.mapping import resolve_columns
    from timetracker_import.core.rejections import merge_rejections
    from timetracker_import.files.readers import open_table

    started = time.perf_counter()
    check_settings(settings)
    if loaded is None:
        loaded = load_import_mapping(settings)
    timezone, timezone_source = choose_timezone(loaded.mapping, settings.timezone)
    table = open_table(
        settings.path,
        sheet=settings.sheet,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        has_header=loaded.mapping.header,
    )
    loaded = lookups_in_use(loaded, table)
    canon_parts, raw_parts, partial_parts, rejections = [], [], [], []
    naive_times = 0
    from timetracker_import.core.dedupe import RepeatIndex, RepeatOutcome, duplicate_policy
    from timetracker_import.core.mapping import LookupMisses

    # identical rows: --on-duplicate, else the mapping's on_duplicate, else skip
    on_duplicate = duplicate_policy(settings.on_duplicate, loaded.mapping.on_duplicate)

    misses = LookupMisses()
    # without declared entry ids the copies of earlier rows are found chunk by chunk (the
    # same rows as over the whole frame: RepeatIndex carries the rows seen so far)
    lean = not keep_raw and not (tuple(settings.keys) or tuple(loaded.mapping.key or ()))
    index = RepeatIndex() if lean else None
    row_parts: list[Any] = []
    chunk_repeats: list[RepeatOutcome] = []
    for chunk in iter_mapped_chunks(
        table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows, misses=misses
    ):
        if stop is not None and stop.is_set():
            raise Interrupted("stopped while reading the file; nothing was sent")
        canon = chunk.canonical
        if not lean:
            raw_parts.append(chunk.raw)
        else:
            row_parts.append(chunk.raw.index.to_numpy(dtype="int64"))
            gone = {r.source_row for r in chunk.rejections}
            if len(canon):
                found = in_file_repeats(canon, on_duplicate, index=index)
                chunk_repeats.append(found)
                dropped = list(found.skip) + [r.source_row for r in found.rejections]
                if dropped:
                    canon = canon.drop(index=dropped)
                gone.update(r.source_row for r in found.rejections)
            if gone:  # the rejected rows' cells, for the rejected-rows file and report
                raw_parts.append(chunk.raw.loc[chunk.raw.index.intersection(sorted(gone))])
        canon_parts.append(canon)
        naive_times += chunk.naive_times
        if chunk.partial is not None and len(chunk.partial):
            partial_parts.append(chunk.partial)
        rejections.extend(chunk.rejections)
    raw = pd.concat(raw_parts) if raw_parts else pd.DataFrame()
    canonical = pd.concat(canon_parts) if canon_parts else empty_canonical()
    del canon_parts
    # a declared entry id (mapping `key:`, sync --key): rows sharing one are rejected, or a
    # later row corrects the earlier ones (on_duplicate_key: last, BambooHR's Time Entry ID)
    keyed = declared_keys(settings, loaded, table, raw)
    if keyed is not None and len(canonical):
        canonical, rejections = keyed.apply(canonical, rejections)
    if keyed is not None and len(canonical):
        from timetracker_import.core.dedupe import KEY_COLUMN

        identity = canonical.copy()
        identity[KEY_COLUMN] = pd.Series(
            [keyed.keys.get(int(r)) for r in canonical.index], index=canonical.index, dtype=object
        )
    else:
        identity = canonical
    # rows identical to an earlier row: skipped, allowed or rejected (--on-duplicate)
    repeats: RepeatOutcome | None
    if lean:
        repeats = RepeatOutcome(
            {r: f for part in chunk_repeats for r, f in part.repeats.items()},
            {r: f for part in chunk_repeats for r, f in part.skip.items()},
            [r for part in chunk_repeats for r in part.rejections],
        )
        if repeats.rejections:
            rejections = merge_rejections(rejections + repeats.rejections)
    else:
        repeats = in_file_repeats(identity, on_duplicate) if len(canonical) else None
        if repeats is not None and (repeats.skip or repeats.rejections):
            canonical = canonical.drop(
                index=list(repeats.skip) + [r.source_row for r in repeats.rejections]
            )
            rejections = merge_rejections(rejections + repeats.rejections)
    read_rows = np.concatenate(row_parts) if lean and row_parts else None
    # the rows neither valid nor rejected (column-wise: no set of every row)
    every_row = raw.index.to_numpy(dtype="int64") if read_rows is None else read_rows
    left_out = ~np.isin(every_row, canonical.index.to_numpy(dtype="int64"))
    if rejections:
        rejected_rows = np.array(sorted({r.source_row for r in rejections}), dtype="int64")
        left_out &= ~np.isin(every_row, rejected_rows)
    skipped = [int(r) for r in every_row[left_out].tolist()]
    positions = resolve_columns(loaded.mapping, table.headers, table.has_header)
    self_rows = (
        [int(r) for r in canonical.index[canonical["user"].isna()]] if len(canonical) else []
    )

    def position(*names: str) -> int | None:
        """The column of the first of the mapping's ``names`` it maps."""
        return next((positions[n] for n in names if n in positions), None)

    def header(*names: str) -> str | None:
        at = position(*names)
        return None if at is None else table.headers[at]

    mapping_text = json.dumps(
        {"mapping": loaded.mapping.model_dump(mode="json"), "lookups": loaded.lookups},
        sort_keys=True,
        default=str,
    )
    options = {
        "batch_size": settings.batch_size,
        "on_existing": settings.on_existing,
        "on_duplicate": on_duplicate,
        "timezone": timezone,
        "sheet": settings.sheet,
        "encoding": settings.encoding,
        "delimiter": settings.delimiter,
        "dry_run": settings.dry_run,
        "target": settings.connection.rest_root,
        "keys": list(settings.keys),
        "on_duplicate_key": settings.on_duplicate_key,
    }
    from timetracker_import.journal.store import fingerprint

    digest = file_sha256(Path(settings.path))
    return PreparedFile(
        table=table,
        raw=raw,
        canonical=canonical,
        rejections=rejections,
        skipped=skipped,
        timezone=timezone,
        loaded=loaded,
        fingerprint=fingerprint(digest, mapping_text, options),
        file_digest=digest,
        _row_numbers=np.array([], dtype="int64") if lean and read_rows is None else read_rows,
        date_header=header(*_DATE_FIELDS),
        date_position=position(*_DATE_FIELDS),
        user_header=header("user"),
        activity_header=header("activity_type"),
        seconds=time.perf_counter() - started,
        repeats=repeats.repeats if repeats is not None else {},
        duplicate_skips=repeats.skip if repeats is not None else {},
        on_duplicate=on_duplicate,
        notes=mapping_notes(loaded, misses)
        + [n for n in (keyed.note() if keyed else None, self_rows_note(len(self_rows))) if n],
        partial=pd.concat(partial_parts) if partial_parts else None,
        keys=keyed,
        replaced=dict(keyed.replaced) if keyed else {},
        self_rows=self_rows,
        timezone_source=timezone_source,
        naive_times=naive_times,
    )


#: the mapping fields that say when a row's work started (the first one mapped names the
#: date column of messages)
_DATE_FIELDS = ("date", "timestamp", "start")

#: what became of a value without a lookup entry, by the miss's outcome
_MISS_FATE = {
    "passed on": "passed on as written for the server to resolve",
    "key in comment": "left without a work item, the key kept in the comment",
}


def mapping_notes(loaded: LoadedMapping, misses: LookupMisses) -> list[str]:
    """One line per thing the mapping did that the user should know: its ``note``, each
    lookup file not found, and per field the values no lookup entry matched."""
    notes = [loaded.mapping.note.strip()] if loaded.mapping.note else []
    for name in loaded.missing_lookups:
        where = loaded.lookup_files.get(name, name)
        notes.append(f"lookup {name!r}: {where} not found; its values were passed on")
    by_field: dict[tuple[str, str, str], list[str]] = {}
    for miss in misses.in_order():
        by_field.setdefault((miss.field, miss.lookup, miss.outcome), []).append(miss.value)
    for (name, lookup, outcome), values in by_field.items():
        shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
        notes.append(
            f"{name}: {len(values)} value(s) not in lookup {lookup!r} "
            f"({_MISS_FATE.get(outcome, outcome)}): {shown}"
        )
    return notes
