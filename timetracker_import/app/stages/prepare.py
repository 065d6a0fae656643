"""Stage ``prepare``: read the file, map it and validate every row, exactly like
``validate`` (``app.validate.iter_mapped_chunks``). Input: ``ImportSettings``; output: a
``PreparedFile`` (the raw and canonical frames, the rejections, the run's fingerprint). It
reads the input and mapping files and touches nothing else: no network, no journal."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
        return entry_keys(table, loaded.mapping, [raw] if len(raw) else [], columns=columns,
                          policy=policy)  # fmt: skip
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

    dtypes = {"timestamp": "datetime64[ns, UTC]", "length_seconds": "int64",
              "billable_seconds": "Int64", "work_item_id": "Int64"}  # fmt: skip
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

    if settings.on_duplicate not in ON_DUPLICATE:
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
) -> PreparedFile:
    """Read, map and validate the whole file, exactly like ``validate`` (``loaded``: the
    mapping when the caller has loaded it already; ``stop``: set from another thread to
    stop between chunks with ``Interrupted``)."""
    import time

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
    from timetracker_import.core.mapping import LookupMisses

    misses = LookupMisses()
    for chunk in iter_mapped_chunks(
        table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows, misses=misses
    ):
        if stop is not None and stop.is_set():
            raise Interrupted("stopped while reading the file; nothing was sent")
        canon_parts.append(chunk.canonical)
        raw_parts.append(chunk.raw)
        naive_times += chunk.naive_times
        if chunk.partial is not None and len(chunk.partial):
            partial_parts.append(chunk.partial)
        rejections.extend(chunk.rejections)
    raw = pd.concat(raw_parts) if raw_parts else pd.DataFrame()
    canonical = pd.concat(canon_parts) if canon_parts else empty_canonical()
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
    repeats = in_file_repeats(identity, settings.on_duplicate) if len(canonical) else None
    if repeats is not None and (repeats.skip or repeats.rejections):
        canonical = canonical.drop(
            index=list(repeats.skip) + [r.source_row for r in repeats.rejections]
        )
        rejections = merge_rejections(rejections + repeats.rejections)
    rejected_rows = {r.source_row for r in rejections}
    valid_rows = set(int(r) for r in canonical.index)
    skipped = [
        int(r) for r in raw.index if int(r) not in valid_rows and int(r) not in rejected_rows
    ]
    positions = resolve_columns(loaded.mapping, table.headers, table.has_header)
    self_rows = (
        [int(r) for r in canonical.index[canonical["user"].isna()]] if len(canonical) else []
    )

    def header(*names: str) -> str | None:
        for name in names:
            if name in positions:
                return table.headers[positions[name]]
        return None

    mapping_text = json.dumps(
        {"mapping": loaded.mapping.model_dump(mode="json"), "lookups": loaded.lookups},
        sort_keys=True,
        default=str,
    )
    options = {
        "batch_size": settings.batch_size,
        "on_existing": settings.on_existing,
        "on_duplicate": settings.on_duplicate,
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

    return PreparedFile(
        table=table,
        raw=raw,
        canonical=canonical,
        rejections=rejections,
        skipped=skipped,
        timezone=timezone,
        loaded=loaded,
        fingerprint=fingerprint(file_sha256(Path(settings.path)), mapping_text, options),
        date_header=header("date", "timestamp", "start"),
        user_header=header("user"),
        activity_header=header("activity_type"),
        seconds=time.perf_counter() - started,
        repeats=repeats.repeats if repeats is not None else {},
        duplicate_skips=repeats.skip if repeats is not None else {},
        notes=mapping_notes(loaded, misses) + [
            n for n in (keyed.note() if keyed else None, self_rows_note(len(self_rows))) if n
        ],
        partial=pd.concat(partial_parts) if partial_parts else None,
        keys=keyed,
        replaced=dict(keyed.replaced) if keyed else {},
        self_rows=self_rows,
        timezone_source=timezone_source,
        naive_times=naive_times,
    )


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
