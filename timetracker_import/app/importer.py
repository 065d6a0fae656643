"""Use case: import a file into 7pace (read, map, validate, resolve, preflight, plan, post).

The offline stages are exactly ``validate``'s (``iter_mapped_chunks``). Every step that
promises something is journaled (``journal.store``) before the network call that depends on
it, so a run halted for any reason - even SIGKILL - resumes on the next ``import`` of the same
file and mapping: in-flight batches are read back and reconciled first, then the rows still
pending are checked and posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.validate import (
    ValidateSettings,
    choose_timezone,
    iter_mapped_chunks,
    load_mapping_for,
)
from timetracker_import.core.accounting import Accounting
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.errors import (
    EXIT_AMBIGUOUS,
    EXIT_AUTH,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TEMPFAIL,
    AuthError,
    Interrupted,
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.poster import Poster
    from timetracker_import.core.planning import PlannedBatch
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.files.readers import RawTable
    from timetracker_import.journal.store import Journal

ON_EXISTING = ("skip", "allow", "fail")
DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = 8
_OPEN_OUTCOMES = ("pending", "unprocessed")
BASELINE_ROLE_HINT = (
    "reading the existing worklogs of other users (duplicate check) needs the Administrator, "
    "Budget or Product role in 7pace; ask an administrator, or import only your own rows"
)

ClientFactory = Callable[["ConnectionSettings", Callable[[Any], None]], "TimetrackerClient"]


@dataclass(frozen=True)
class ImportSettings:
    """What ``import`` was asked to do."""

    path: Path
    connection: ConnectionSettings
    mapping_path: Path | None = None
    preset: str | None = None
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    dry_run: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    on_existing: str = "skip"
    rejected_path: Path | None = None
    report_path: Path | None = None
    new_run: bool = False
    chunk_rows: int = 100_000
    #: a mapping given as data (library callers): used instead of mapping_path/preset
    loaded: LoadedMapping | None = None


@dataclass(frozen=True)
class ConfirmInfo:
    """What a confirmation prompt shows before anything is created."""

    rows: int
    seconds: int
    users: tuple[str, ...]
    batches: int
    target: str


@dataclass
class ImportResult:
    """The outcome of one ``import`` (or one resumed part of it)."""

    run_id: str
    run_dir: Path
    dry_run: bool
    resumed: bool
    accounting: Accounting
    exit_code: int
    rejections: list[Rejection]
    existing: dict[int, str]
    in_file_duplicates: dict[int, int]
    halt_reason: str | None
    halt_message: str | None
    ambiguous_batches: list[int]
    rejected_path: Path | None
    user_rejected_path: Path | None
    created_csv: Path | None
    summary_path: Path
    report_path: Path | None
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    round_trips: list[float] = field(default_factory=list)
    #: wall-clock seconds per stage: read_validate, resolve, preflight, post, finish
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> Accounting:
        """Where the rows ended up (``created``, ``already_existing``, ``rejected``, ...)."""
        return self.accounting

    def summary_dict(self) -> dict[str, Any]:
        """The JSON summary (also written as ``summary.json``)."""
        counts = self.accounting.to_dict()
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "exit_code": self.exit_code,
            "counts": counts,
            "halt_reason": self.halt_reason,
            "halt_message": self.halt_message,
            "ambiguous_batches": self.ambiguous_batches,
            "in_file_duplicates": [
                {"source_row": r, "same_as_row": f}
                for r, f in sorted(self.in_file_duplicates.items())
            ],
            "already_existing": [
                {"source_row": r, "worklog_id": w} for r, w in sorted(self.existing.items())
            ],
            "rejected_path": str(self.rejected_path) if self.rejected_path else None,
            "created_csv": str(self.created_csv) if self.created_csv else None,
            "report_path": str(self.report_path) if self.report_path else None,
            "notes": self.notes,
            "rejections": [r.to_dict() for r in self.rejections],
        }


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


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_settings(settings: ImportSettings) -> None:
    from timetracker_import.core.planning import MAX_BATCH_SIZE

    if not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}")
    if settings.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if settings.on_existing not in ON_EXISTING:
        raise UsageError(f"--on-existing must be one of {', '.join(ON_EXISTING)}")
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
        )
    )


def prepare(settings: ImportSettings, loaded: LoadedMapping | None = None) -> PreparedFile:
    """Read, map and validate the whole file, exactly like ``validate`` (``loaded``: the
    mapping when the caller has loaded it already)."""
    import pandas as pd

    from timetracker_import.core.mapping import resolve_columns
    from timetracker_import.files.readers import open_table

    _check_settings(settings)
    if loaded is None:
        loaded = load_import_mapping(settings)
    timezone, _ = choose_timezone(loaded.mapping, settings.timezone)
    table = open_table(
        settings.path,
        sheet=settings.sheet,
        encoding=settings.encoding,
        delimiter=settings.delimiter,
        has_header=loaded.mapping.header,
    )
    canon_parts, raw_parts, rejections = [], [], []
    for chunk in iter_mapped_chunks(
        table, loaded, timezone=timezone, chunk_rows=settings.chunk_rows
    ):
        canon_parts.append(chunk.canonical)
        raw_parts.append(chunk.raw)
        rejections.extend(chunk.rejections)
    raw = pd.concat(raw_parts) if raw_parts else pd.DataFrame()
    canonical = pd.concat(canon_parts) if canon_parts else pd.DataFrame()
    rejected_rows = {r.source_row for r in rejections}
    valid_rows = set(int(r) for r in canonical.index)
    skipped = [
        int(r) for r in raw.index if int(r) not in valid_rows and int(r) not in rejected_rows
    ]
    positions = resolve_columns(loaded.mapping, table.headers, table.has_header)

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
        "timezone": timezone,
        "sheet": settings.sheet,
        "encoding": settings.encoding,
        "delimiter": settings.delimiter,
        "dry_run": settings.dry_run,
        "target": settings.connection.rest_root,
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
    )


def _default_client_factory(
    connection: ConnectionSettings, on_retry: Callable[[Any], None]
) -> TimetrackerClient:
    from timetracker_import.api.client import TimetrackerClient

    return TimetrackerClient(connection, on_retry=on_retry)


#: ``progress``: True for a tqdm bar on stderr, or a callback ``(rows_done, rows_total)``
Progress = bool | Callable[[int, int], None] | None


def run_import(
    settings: ImportSettings,
    *,
    progress: Progress = False,
    confirm: Callable[[ConfirmInfo], bool] | None = None,
    client_factory: ClientFactory | None = None,
    prepared: PreparedFile | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Run (or resume) an import. ``confirm`` is asked before a real import creates anything
    (None: no question); ``progress`` shows a tqdm bar on stderr (True) or is called with
    (rows done, rows to send); ``prepared``: the file as ``prepare(settings)`` already read
    it; setting ``cancel`` (from any thread) stops the run like Ctrl-C: requests in flight
    finish, the rest stays resumable. Raises ``UsageError`` and friends for problems found
    before anything is sent, ``Interrupted`` when cancelled before posting began."""
    started = time.perf_counter()
    with _long_lived_frozen():
        if prepared is None:
            prepared = prepare(settings)
        gc.freeze()  # the prepared frame lives until the end too
        runner = _ImportRun(
            settings, prepared, progress=progress, confirm=confirm, cancel=cancel
        )
        runner.phases["read_validate"] = time.perf_counter() - started
        return asyncio.run(runner.run(client_factory or _default_client_factory))


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep what is alive now (modules, and the prepared file once frozen again) out of the
    cyclic collector's full passes for the run: one such pass walked ~0.5M objects and
    stalled posting (event loop and journal threads alike) for ~55 ms. Objects still die by
    reference count as usual; on leaving, all of it is handed back to the collector (unless
    someone else had frozen objects before us, whose choice we keep)."""
    ours = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


class _ImportRun:
    """The networked part of one run (one event loop)."""

    def __init__(
        self,
        settings: ImportSettings,
        prepared: PreparedFile,
        *,
        progress: Progress,
        confirm: Callable[[ConfirmInfo], bool] | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.p = prepared
        self.progress = progress
        self.confirm = confirm
        self.cancel = cancel
        self._cancelled_early = False
        self.notes: list[str] = []
        self.poster: Poster | None = None
        self.self_only = False
        self.naive_offset = 0
        self.phases: dict[str, float] = {}
        self._phase_started = time.perf_counter()

    def _phase(self, name: str) -> None:
        """Close the current stage as ``name`` (wall-clock, for the benchmark and -v)."""
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._phase_started
        self._phase_started = now

    def _open_resumable(self) -> Journal | None:
        """The journal of the run this one resumes (reopened), or None for a new run."""
        from timetracker_import.journal.store import Journal, find_resumable

        if not self.settings.new_run and not self.settings.dry_run:
            run_id = find_resumable(self.p.fingerprint)
            if run_id is not None:
                journal = Journal.open(run_id)
                journal.reopen()
                return journal
        return None

    def _fresh_outcomes(self) -> tuple[dict[int, tuple[str, str | None]], list[Rejection]]:
        """What a new journal will hold once ``_create_journal`` is done: every row pending
        but the skipped and rejected ones; and the rejections it records."""
        outcomes: dict[int, tuple[str, str | None]] = dict.fromkeys(
            (int(r) for r in self.p.raw.index.tolist()), ("pending", None)
        )
        for row in self.p.skipped:
            outcomes[row] = ("skipped", None)
        merged = merge_rejections(self.p.rejections)
        fresh = [r for r in merged if outcomes.get(r.source_row, ("pending",))[0] in _OPEN_OUTCOMES]
        for r in fresh:
            outcomes[r.source_row] = ("rejected", None)
        return outcomes, fresh

    def _create_journal(self, rejections: list[Rejection]) -> Journal:
        """A new run's journal with its rows, skipped rows and file rejections (runs in a
        worker thread while the setup reads are on the wire)."""
        from timetracker_import.journal.store import Journal

        journal = Journal.create(
            fingerprint=self.p.fingerprint,
            input_path=Path(self.settings.path).resolve(),
            mapping_name=self.p.loaded.source,
            mapping_path=self.settings.mapping_path,
            options={
                "dry_run": self.settings.dry_run,
                "batch_size": self.settings.batch_size,
                "concurrency": self.settings.concurrency,
                "on_existing": self.settings.on_existing,
                "timezone": self.p.timezone,
            },
            base_url=self.settings.connection.rest_root,
        )
        try:
            journal.record_rows(int(r) for r in self.p.raw.index.tolist())
            if self.p.skipped:
                journal.mark_skipped(self.p.skipped, "left out by the mapping")
            if rejections:
                journal.mark_rejections(rejections)
        except BaseException:
            journal.close()
            raise
        return journal

    def _on_retry(self, event: Any) -> None:
        if getattr(event, "reason", "") == "429" and self.poster is not None:
            self.poster.throttled()

    async def _watch_cancel(self, main: asyncio.Task[Any]) -> None:
        """Poll ``cancel``; once set, stop like Ctrl-C (the poster stops dispatching), or,
        before the poster exists (only reads so far), cancel the run outright."""
        assert self.cancel is not None
        while not self.cancel.is_set():
            await asyncio.sleep(0.05)
        if self.poster is not None:
            self.poster.interrupt()
        else:
            self._cancelled_early = True
            main.cancel()

    async def run(self, client_factory: ClientFactory) -> ImportResult:
        watcher = None
        if self.cancel is not None:
            main = asyncio.current_task()
            assert main is not None
            watcher = asyncio.ensure_future(self._watch_cancel(main))
        try:
            return await self._run_watched(client_factory)
        except asyncio.CancelledError:
            if self._cancelled_early:
                raise Interrupted(
                    "import cancelled before anything was sent",
                    hint="run it again to resume",
                ) from None
            raise
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _run_watched(self, client_factory: ClientFactory) -> ImportResult:
        self._phase_started = time.perf_counter()
        resumable = self._open_resumable()
        ready: asyncio.Future[Journal]
        if resumable is not None:
            ready = asyncio.get_running_loop().create_future()
            ready.set_result(resumable)
            outcomes = None
        else:
            # A new run's journal is written in a worker thread while the setup reads (all
            # GETs) are on the wire; _run waits for it before anything else is journaled and
            # before the poster exists, so every intent is still committed before its POST.
            outcomes, rejections = self._fresh_outcomes()
            ready = asyncio.ensure_future(asyncio.to_thread(self._create_journal, rejections))
        try:
            return await self._run(ready, outcomes, client_factory)
        finally:
            with contextlib.suppress(Exception):  # a failed creation raised in _run already
                (await ready).close()

    async def _run(
        self,
        ready: asyncio.Future[Journal],
        fresh_outcomes: dict[int, tuple[str, str | None]] | None,
        client_factory: ClientFactory,
    ) -> ImportResult:
        import pandas as pd

        from timetracker_import.app.poster import Poster
        from timetracker_import.core.approval import locked_weeks, reject_locked
        from timetracker_import.core.dedupe import (
            existing_from_worklogs,
            find_in_file_duplicates,
            match_existing,
        )
        from timetracker_import.core.planning import plan_batches, read_back_window
        from timetracker_import.core.resolve import (
            ActivityTypeDirectory,
            UserDirectory,
            resolve_activity_types,
            resolve_users,
        )
        from timetracker_import.core.worklog_key import keys_from_frame

        s, p = self.settings, self.p
        resumed = fresh_outcomes is None
        if fresh_outcomes is None:
            journal = ready.result()
            outcomes = journal.row_outcomes()
        else:
            outcomes = fresh_outcomes
        # rows with a final outcome: "still pending" is one set lookup (or one isin) per row
        closed = {r for r, (o, _) in outcomes.items() if o not in _OPEN_OUTCOMES}

        def settle(row: int, outcome: str, worklog_id: str | None) -> None:
            outcomes[row] = (outcome, worklog_id)
            closed.add(row)

        def still_pending(rows: Any) -> list[int]:
            if isinstance(rows, pd.Index):  # plain ints, not numpy scalars
                if closed:
                    rows = rows[~rows.isin(list(closed))]
                return [int(r) for r in rows.tolist()]
            return [int(r) for r in rows if int(r) not in closed]

        def pending_part(frame: pd.DataFrame) -> pd.DataFrame:
            if not len(frame) or not closed:
                return frame
            done = frame.index.isin(list(closed))
            return frame[~done] if done.any() else frame

        def reject(rejections: list[Rejection]) -> list[Rejection]:
            merged = merge_rejections(rejections)
            open_rows = set(still_pending(r.source_row for r in merged))
            fresh = [r for r in merged if r.source_row in open_rows]
            if fresh:
                journal.mark_rejections(fresh)
                for r in fresh:
                    settle(r.source_row, "rejected", None)
            return fresh

        if resumed:
            reject(p.rejections)  # a new run's journal records them as it is created
        halt: str | None = None
        halt_error: Exception | None = None
        existing: dict[int, str] = {}
        duplicates: dict[int, int] = {}
        ambiguous: list[int] = []
        poster: Poster | None = None
        client = client_factory(s.connection, self._on_retry)
        try:
            reads: list[asyncio.Future[Any]] = []
            async with client, _reaped(reads):
                prefetched: _Preflight | None = None
                to_check = pending_part(p.canonical)
                if not resumed and len(to_check):
                    # Nothing to reconcile first: the preflight reads (approvals, baseline)
                    # go out with the setup reads. Their windows cover every row still to
                    # check, a superset of what is left after resolving and the lock check.
                    prefetched = _Preflight.start(client, to_check)
                    reads.extend((prefetched.approvals, prefetched.baseline))
                # independent reads: one round trip instead of three
                me, users, activity = await _all_or_cancel(
                    client.me(), client.users(), client.activity_types()
                )
                # shield: a cancelled run still gets the journal, to close it
                journal = await asyncio.shield(ready)
                self_id = str((me.get("user") or {}).get("id") or "")
                self.naive_offset = int(me.get("timeZone") or 0)
                frame = to_check
                directory = UserDirectory.from_users(users)
                user_ids, user_rej = resolve_users(
                    frame, directory, self_user_id=self_id, column_header=p.user_header
                )
                at_ids, at_rej = resolve_activity_types(
                    frame,
                    ActivityTypeDirectory.from_payload(activity),
                    column_header=p.activity_header,
                )
                reject(user_rej + at_rej)
                frame = pending_part(frame)
                user_ids = user_ids.reindex(frame.index)
                keys = keys_from_frame(frame, user_ids)
                at_of = at_ids.to_dict()
                bodies = LazyBodies(frame, user_ids, at_of)
                self.self_only = bool(len(user_ids)) and all(
                    str(u).lower() == self_id.lower() for u in user_ids
                )
                known_ids = {wid for _, wid in outcomes.values() if wid}
                info = journal.info()
                started = datetime.fromisoformat(info.started_at)

                async def read_back(batch: PlannedBatch) -> list[dict[str, Any]]:
                    lo, hi = read_back_window(batch)
                    if self.self_only:
                        return await client.worklogs(from_ts=lo, to_ts=hi)
                    return await client.worklogs_all(from_ts=lo, to_ts=hi)

                bar = _progress_bar(self.progress, len(frame), s.dry_run)
                poster = Poster(
                    client=client,
                    journal=journal,
                    bodies=bodies,
                    keys=keys,
                    # looked up only to split a refused batch: no per-row conversion up front
                    timestamps=frame["timestamp"],
                    read_back=read_back,
                    pending=frame.index,
                    known_ids=known_ids,
                    claim_after=started,
                    dry_run=s.dry_run,
                    concurrency=s.concurrency,
                    on_rows_done=bar.update if bar is not None else None,
                    naive_offset_minutes=self.naive_offset if self.self_only else 0,
                    created_offset_minutes=self.naive_offset,
                )
                self.poster = poster
                self._phase("resolve")
                # 1. batches that were in flight when the last attempt stopped: read back first
                if resumed:
                    for batch in journal.in_flight_batches():
                        await poster.reconcile(batch)
                    ambiguous.extend(poster.stats.ambiguous_batches)
                    poster.stats.ambiguous_batches.clear()
                    for row, wid in poster.stats.created.items():
                        settle(row, "created", wid)
                    if poster.stats.halt:
                        raise _Halt()
                blocked = {r for b in journal.batches("ambiguous") for r in b.source_rows}
                frame = pending_part(frame)
                if blocked:
                    frame = frame[~frame.index.isin(list(blocked))]
                # 2. preflight: approval locks, and 3. the baseline of existing worklogs. Both
                # reads go out together (with the setup reads when nothing was reconciled);
                # the baseline window covers the rows before the lock check (a superset:
                # worklogs outside the final window match no row's key).
                baseline: list[Any] = []
                if len(frame):
                    if prefetched is None:
                        prefetched = _Preflight.start(client, frame)
                        reads.extend((prefetched.approvals, prefetched.baseline))
                    try:
                        approvals = await prefetched.approvals
                    except AuthError as exc:
                        if exc.status != 403:
                            raise
                        approvals = []
                        self.notes.append(
                            "approval states were not readable with this token; rows in "
                            "locked weeks are refused by the server and isolated"
                        )
                    labels = {
                        str(u.get("id")): str(u.get("email") or u.get("uniqueName") or u.get("id"))
                        for u in users
                    }
                    reject(
                        reject_locked(
                            frame,
                            user_ids,
                            locked_weeks(approvals),
                            user_labels=labels,
                            column_header=p.date_header,
                        )
                    )
                    frame = pending_part(frame)
                # every row locked (or none left): the baseline and its errors do not matter
                if len(frame):
                    assert prefetched is not None
                    try:
                        baseline = await prefetched.baseline
                    except AuthError as exc:
                        if exc.status != 403:
                            raise
                        if not self.self_only:
                            raise AuthError(
                                "this token may not read other users' worklogs, which the "
                                "duplicate check needs",
                                status=403,
                                hint=BASELINE_ROLE_HINT,
                            ) from None
                        baseline = await client.worklogs(
                            from_ts=prefetched.base_lo, to_ts=prefetched.base_hi
                        )
                if len(frame):
                    # ids of this run, including those claimed by the reconciliation above:
                    # a worklog claimed for one row must not count as "existing" for its twin
                    ours = set(poster.known_ids)
                    base_ids = {str(w.get("id")) for w in baseline if w.get("id")}
                    poster.known_ids.update(base_ids)
                    fresh_keys = {r: keys[r] for r in frame.index if r in keys}
                    duplicates = find_in_file_duplicates(fresh_keys)
                    pool = existing_from_worklogs(
                        [w for w in baseline if str(w.get("id")) not in ours],
                        naive_offset_minutes=self.naive_offset if self.self_only else 0,
                    )
                    matched = match_existing(fresh_keys, pool)
                    if s.on_existing == "skip" and matched:
                        journal.mark_existing(matched)
                        existing = dict(matched)
                        for row, wid in matched.items():
                            settle(row, "existing", wid)
                    elif s.on_existing == "fail" and matched:
                        reject(
                            [
                                Rejection(
                                    row,
                                    "duplicate",
                                    None,
                                    None,
                                    f"already exists on the server as worklog {wid}; "
                                    "use --on-existing skip or allow",
                                )
                                for row, wid in matched.items()
                            ]
                        )
                    frame = pending_part(frame)
                    poster.pending = set(int(r) for r in frame.index)
                else:
                    poster.pending = set()
                # 4. plan: keep stored planned batches, plan the rows they do not cover
                stored = journal.batches("planned")
                covered = {r for b in stored for r in b.source_rows}
                uncovered = frame.loc[[r for r in frame.index if r not in covered]]
                new_plan = []
                if len(uncovered):
                    first = journal.next_batch_no()
                    planned = plan_batches(
                        pd.DataFrame(
                            {
                                "user_id": user_ids.reindex(uncovered.index),
                                "timestamp": uncovered["timestamp"],
                            },
                            index=uncovered.index,
                        ),
                        s.batch_size,
                    )
                    new_plan = [replace(b, batch_no=first + i) for i, b in enumerate(planned)]
                    journal.record_plan(new_plan)
                    poster._next_no = journal.next_batch_no()
                batches = [
                    b for b in stored + new_plan if any(r in poster.pending for r in b.source_rows)
                ]
                if bar is not None:
                    bar.total = len(poster.pending)
                    bar.refresh()
                # 5. confirm, then post
                if batches and not s.dry_run and self.confirm is not None:
                    by_id = {str(u.get("id")).lower(): u for u in users}
                    shown = sorted(
                        {
                            str(
                                (by_id.get(str(user_ids[r]).lower()) or {}).get("email")
                                or user_ids[r]
                            )
                            for r in poster.pending
                        }
                    )
                    seconds = int(frame.loc[list(poster.pending), "length_seconds"].sum())
                    info_ = ConfirmInfo(
                        len(poster.pending),
                        seconds,
                        tuple(shown),
                        len(batches),
                        s.connection.rest_root,
                    )
                    if not self.confirm(info_):
                        if bar is not None:
                            bar.close()
                        raise UsageError(
                            "import cancelled; nothing was sent",
                            hint="run again to resume, or add --yes",
                        )
                self._phase("preflight")
                with _sigint_stops(poster):
                    await poster.run(batches)
                self._phase("post")
                if bar is not None:
                    bar.close()
                ambiguous.extend(poster.stats.ambiguous_batches)
                if poster.stats.halt:
                    halt = poster.stats.halt
                    halt_error = poster.stats.halt_error
        except _Halt:
            assert poster is not None
            halt = poster.stats.halt
            halt_error = poster.stats.halt_error
        except AuthError as exc:
            halt, halt_error = "auth", exc
            journal = await asyncio.shield(ready)
            if poster is None or not poster.stats.requests:
                # nothing was posted: leave the run open for a resume and fail with exit 3
                journal.finish("halted")
                raise
        self._phase_started = time.perf_counter()
        journal = await asyncio.shield(ready)
        return self._finish(
            journal, resumed, poster, existing, duplicates, ambiguous, halt, halt_error
        )

    def _finish(
        self,
        journal: Journal,
        resumed: bool,
        poster: Poster | None,
        existing: dict[int, str],
        duplicates: dict[int, int],
        ambiguous: list[int],
        halt: str | None,
        halt_error: Exception | None,
    ) -> ImportResult:
        s = self.settings
        would = poster.stats.would_create if poster is not None else set()
        pending = journal.pending_rows()
        leftover = [r for r in pending if r not in would] if s.dry_run else pending
        if leftover and not s.dry_run:
            journal.mark_unprocessed(leftover)
        status = "halted" if (leftover or ambiguous or halt) and not s.dry_run else "complete"
        counts = journal.finish(status)
        if s.dry_run:
            counts.created = len(would)
            counts.unprocessed = len(leftover)
        counts.in_file_duplicates = len(duplicates)
        rejections = journal.rejections()
        rejected_path = self._write_rejected(journal.directory, rejections)
        user_rejected = None
        if s.rejected_path is not None and rejections:
            user_rejected = self._write_rejected_to(s.rejected_path, rejections)
        created_csv = None if s.dry_run else journal.write_created_csv()
        if halt == "auth":
            code = EXIT_AUTH
        elif halt == "interrupted":
            code = EXIT_INTERRUPTED
        elif halt == "transient":
            code = getattr(halt_error, "exit_code", EXIT_TEMPFAIL)
        elif halt == "error":
            # a refusal that stopped the run: the rows not sent stay unprocessed and resumable
            code = EXIT_TEMPFAIL
        elif ambiguous:
            code = EXIT_AMBIGUOUS
        elif counts.rejected:
            code = EXIT_REJECTED
        elif counts.unprocessed:
            code = EXIT_TEMPFAIL
        else:
            code = EXIT_OK
        result = ImportResult(
            run_id=journal.run_id,
            run_dir=journal.directory,
            dry_run=s.dry_run,
            resumed=resumed,
            accounting=counts,
            exit_code=code,
            rejections=rejections,
            existing=existing,
            in_file_duplicates=duplicates,
            halt_reason=halt,
            halt_message=None if halt_error is None else str(halt_error),
            ambiguous_batches=sorted(set(ambiguous)),
            rejected_path=rejected_path,
            user_rejected_path=user_rejected,
            created_csv=created_csv,
            summary_path=journal.directory / "summary.json",
            report_path=None,
            notes=list(self.notes),
            requests=poster.stats.requests if poster else 0,
            throttled=poster.stats.throttled if poster else 0,
            round_trips=list(poster.stats.round_trips) if poster else [],
            phases=self.phases,
        )
        if s.report_path is not None:
            result.report_path = self._write_report(result, existing, duplicates)
        journal.write_summary({k: v for k, v in result.summary_dict().items() if k != "run_id"})
        self._phase("finish")
        return result

    # -- outputs -------------------------------------------------------------------------

    def _write_rejected(self, directory: Path, rejections: list[Rejection]) -> Path | None:
        if not rejections:
            return None
        from timetracker_import.files.rejected import rejected_suffix

        ext = rejected_suffix(self.settings.path).lower()
        return self._write_rejected_to(directory / f"rejected{ext}", rejections)

    def _write_rejected_to(self, path: Path, rejections: list[Rejection]) -> Path:
        from timetracker_import.files.rejected import write_rejected

        written = write_rejected(path, self.p.table, self.p.raw, rejections)
        assert written is not None  # callers only come here with rejections
        return written

    def _write_report(
        self, result: ImportResult, existing: dict[int, str], duplicates: dict[int, int]
    ) -> Path | None:
        from timetracker_import.core.report import ReportBuilder, ReportSettings, source_cells
        from timetracker_import.files.report_json import write_report

        assert self.settings.report_path is not None
        builder = ReportBuilder(ReportSettings(timezone=self.p.timezone))
        rows = [r.source_row for r in result.rejections]
        # The grid shows the hours this import brings (created, already there, or pending),
        # not the hours of rows that were turned away.
        canonical = self.p.canonical
        builder.add_rows(canonical.drop(index=canonical.index.intersection(rows)))
        builder.add_rejections(
            result.rejections, source_cells(self.p.raw, self.p.table.headers, rows)
        )
        builder.add_flags(
            locked_week_rows=[
                (r.source_row, r.reason.split(";")[0])
                for r in result.rejections
                if r.stage == "preflight"
            ],
            duplicate_rows=sorted(set(existing) | set(duplicates)),
        )
        counts = {k: int(v) for k, v in result.accounting.to_dict().items()}
        meta: dict[str, Any] = {
            "command": "import --dry-run" if result.dry_run else "import",
            "input": str(self.settings.path),
            "mapping": self.p.loaded.source,
            "run_id": result.run_id,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return write_report(builder.build(counts, meta), self.settings.report_path)


class _Halt(Exception):
    """Internal: the poster halted during reconciliation."""


@dataclass
class _Preflight:
    """The preflight reads in flight: approval states and the baseline of existing worklogs,
    over the window of the rows they were started for."""

    approvals: asyncio.Future[Any]
    baseline: asyncio.Future[Any]
    base_lo: datetime
    base_hi: datetime

    @classmethod
    def start(cls, client: TimetrackerClient, frame: pd.DataFrame) -> _Preflight:
        """Send both reads for the rows of ``frame`` (not empty)."""
        import pandas as pd

        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        lo, hi = stamps.min(), stamps.max()
        base_lo = lo.to_pydatetime() - timedelta(seconds=1)
        base_hi = hi.to_pydatetime() + timedelta(seconds=1)
        approvals = asyncio.ensure_future(
            client.approvals(
                from_ts=(lo - timedelta(days=8)).date(), to_ts=(hi + timedelta(days=8)).date()
            )
        )
        baseline = asyncio.ensure_future(client.worklogs_all(from_ts=base_lo, to_ts=base_hi))
        return cls(approvals, baseline, base_lo, base_hi)


@contextlib.asynccontextmanager
async def _reaped(tasks: list[asyncio.Future[Any]]) -> AsyncIterator[None]:
    """On leaving the block, cancel the reads in ``tasks`` still running and collect every
    outcome: no orphaned request, and no error of a read whose answer was not needed."""
    try:
        yield
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _body(row: Any, user_id: Any, activity_type_id: Any) -> dict[str, Any]:
    """The creation model of one canonical row (API §12): UTC timestamp with ``Z``."""
    import pandas as pd

    ts = pd.Timestamp(row["timestamp"]).tz_convert("UTC")
    body: dict[str, Any] = {
        "timeStamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "length": int(row["length_seconds"]),
        "userId": str(user_id),
    }
    billable = row.get("billable_seconds")
    if billable is not None and not pd.isna(billable) and int(billable) != body["length"]:
        body["billableLength"] = int(billable)
    work_item = row.get("work_item_id")
    if work_item is not None and not pd.isna(work_item):
        body["workItemId"] = int(work_item)
    comment = row.get("comment")
    if isinstance(comment, str) and comment.strip():
        body["comment"] = comment
    if isinstance(activity_type_id, str) and activity_type_id:
        body["activityTypeId"] = activity_type_id
    return body


async def _all_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather``, but the first failure cancels the others (no orphaned requests)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class LazyBodies(Mapping[int, dict[str, Any]]):
    """``_body`` of every row of a canonical frame, built per batch when first asked for.

    Only the cheap column extraction happens up front; the per-row dicts are built for a
    batch's rows when the poster sends it (while other batches are on the wire) and kept,
    so a re-send, a split and the journal's undo copy get the very same dict."""

    def __init__(
        self, frame: pd.DataFrame, user_ids: pd.Series, activity_type_ids: Mapping[Any, Any]
    ) -> None:
        import numpy as np
        import pandas as pd

        rows = [int(r) for r in frame.index.tolist()]
        self._pos = {row: i for i, row in enumerate(rows)}
        self._built: dict[int, dict[str, Any]] = {}
        n = len(rows)
        if n:
            stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
            # datetime64[s] floors to the second, like strftime's %S
            self._seconds = stamps.to_numpy().astype("datetime64[s]")
        else:
            self._seconds = np.array([], dtype="datetime64[s]")

        def column(name: str) -> list[Any]:
            return frame[name].tolist() if name in frame.columns else [None] * n

        self._lengths = column("length_seconds")
        self._users = user_ids.reindex(frame.index).tolist() if n else []
        self._billable = column("billable_seconds")
        self._work_items = column("work_item_id")
        self._comments = column("comment")
        self._activity = activity_type_ids

    def __getitem__(self, row: int) -> dict[str, Any]:
        body = self._built.get(row)
        if body is None:
            body = self.many([row])[0]
        return body

    def __iter__(self) -> Iterator[int]:
        return iter(self._pos)

    def __len__(self) -> int:
        return len(self._pos)

    def __contains__(self, row: object) -> bool:
        return row in self._pos

    def many(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        """The bodies of ``rows`` in that order (built column-wise for those not built yet;
        KeyError for a row not in the frame)."""
        import numpy as np
        import pandas as pd

        built = self._built
        todo = [r for r in rows if r not in built]
        if todo:
            positions = [self._pos[r] for r in todo]
            texts = np.datetime_as_string(self._seconds[positions], unit="s").tolist()
            isna = pd.isna
            for row, i, text in zip(todo, positions, texts, strict=True):
                length = int(self._lengths[i])
                body: dict[str, Any] = {
                    "timeStamp": f"{text}Z",
                    "length": length,
                    "userId": str(self._users[i]),
                }
                billable = self._billable[i]
                if billable is not None and not isna(billable) and int(billable) != length:
                    body["billableLength"] = int(billable)
                work_item = self._work_items[i]
                if work_item is not None and not isna(work_item):
                    body["workItemId"] = int(work_item)
                comment = self._comments[i]
                if isinstance(comment, str) and comment.strip():
                    body["comment"] = comment
                activity_type_id = self._activity.get(row)
                if isinstance(activity_type_id, str) and activity_type_id:
                    body["activityTypeId"] = activity_type_id
                built[row] = body
        return [built[r] for r in rows]


def _bodies(
    frame: pd.DataFrame, user_ids: pd.Series, activity_type_ids: dict[Any, Any]
) -> dict[int, dict[str, Any]]:
    """``_body`` for every row of ``frame``, column-wise (the same dicts, ~5x faster)."""
    lazy = LazyBodies(frame, user_ids, activity_type_ids)
    rows = list(lazy)
    return dict(zip(rows, lazy.many(rows), strict=True))


class _CallbackBar:
    """The part of tqdm's interface the run uses, reporting to a callback instead."""

    def __init__(self, callback: Callable[[int, int], None], total: int) -> None:
        self.callback = callback
        self.total = total
        self.n = 0

    def update(self, count: int) -> None:
        self.n += count
        self.callback(self.n, self.total)

    def refresh(self) -> None:
        self.callback(self.n, self.total)

    def close(self) -> None:
        pass


def _progress_bar(enabled: Progress, total: int, dry_run: bool) -> Any:
    if not enabled:
        return None
    if callable(enabled):
        return _CallbackBar(enabled, total)
    from tqdm import tqdm

    return tqdm(total=total, unit="row", desc="validating" if dry_run else "importing",
                leave=False)  # fmt: skip


@contextlib.contextmanager
def _sigint_stops(poster: Poster) -> Iterator[None]:
    """First Ctrl-C: stop dispatching and let requests in flight finish (exit 130)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, poster.interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
