"""Use case: import a file into 7pace. The run follows the one sequencer
(``app.stages.sequence``) with the create planner (``app.stages.plan.CreatePlanner``) and
owns the journal:

    prepare (while the setup reads are on the wire) -> resolve -> [read back the batches a
    killed attempt left in flight] -> plan (preflight reads, then locked and existing rows
    and batches) -> journal the plan -> confirm -> execute (the poster) -> account

Every step that promises something is journaled (``journal.store``) before the network call
that depends on it, so a run halted for any reason - even SIGKILL - resumes on the next
``import`` of the same file and mapping: in-flight batches are read back and reconciled
first, then the rows still pending are checked and posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator, MutableSet, Set
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.stages.account import (
    OPEN_OUTCOMES,
    RowBook,
    exit_code_for,
    rejected_in,
    write_rejected,
    write_report,
)
from timetracker_import.app.stages.execute import (
    LazyBodies,
    Progress,
    progress_bar,
    read_back_for,
    stop_signal_message,
)
from timetracker_import.app.stages.model import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    ON_EXISTING,
    ConfirmInfo,
    ImportResult,
    ImportSettings,
)
from timetracker_import.app.stages.preflight import (
    BASELINE_ROLE_HINT,
    PreflightReads,
)
from timetracker_import.app.stages.prepare import (
    PreparedFile,
    check_settings,
    file_sha256,
    load_import_mapping,
    prepare,
)
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.zone import ZoneChoice, require_declared
from timetracker_import.errors import AuthError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import RetryingClientFactory, TimetrackerClient
    from timetracker_import.app.limiter import Concurrency
    from timetracker_import.app.poster import Poster
    from timetracker_import.app.stages.plan import CreateRows, ImportPlan
    from timetracker_import.core.row_set import RowSet
    from timetracker_import.journal.store import Journal

__all__ = [
    "BASELINE_ROLE_HINT",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "ON_EXISTING",
    "ConfirmInfo",
    "ImportResult",
    "ImportSettings",
    "LazyBodies",
    "PreparedFile",
    "Progress",
    "file_sha256",
    "load_import_mapping",
    "prepare",
    "run_import",
]


def run_import(
    settings: ImportSettings,
    *,
    progress: Progress = False,
    confirm: Callable[[ConfirmInfo], bool] | None = None,
    client_factory: RetryingClientFactory | None = None,
    prepared: PreparedFile | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Run (or resume) an import. ``confirm`` is asked before a real import creates anything
    (None: no question); ``progress`` shows a tqdm bar on stderr (True) or is called with
    (rows done, rows to send); ``prepared``: the file as ``prepare(settings)`` already read
    it (otherwise the file is read in a worker thread while the setup reads are on the
    wire); setting ``cancel`` (from any thread) stops the run like Ctrl-C: requests in flight
    finish, the rest stays resumable (once its journal exists, a run stopped before posting
    finishes as interrupted with its summary, exit 130 or 128 + the signal). Raises
    ``UsageError`` and friends for problems found before anything is sent, ``Interrupted``
    when stopped while the file was still read (no run yet)."""
    check_settings(settings)  # before any request
    with _long_lived_frozen():
        runner = _ImportRun(settings, prepared, progress=progress, confirm=confirm, cancel=cancel)
        if prepared is not None:
            gc.freeze()  # the prepared frame lives until the end too
            runner.phases["read_validate"] = prepared.seconds
        with _one_writer(settings):
            from timetracker_import.api.client import retrying_client

            return asyncio.run(runner.run(client_factory or retrying_client))


def _one_writer(settings: ImportSettings) -> contextlib.AbstractContextManager[Any]:
    """The writer lock of the target server (journal.lock.target_lock: import, sync, undo
    and ``worklogs`` never write to one server at once), held from before the resumable run
    is looked up until the run is finished; a dry run creates nothing and takes none."""
    if settings.dry_run:
        return contextlib.nullcontext()
    from timetracker_import.journal.lock import target_lock

    return target_lock(
        settings.connection.rest_root, what="writing to this server (import)", wait=settings.wait
    )


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


class _Halt(Exception):
    """Internal: the poster halted while the batches in flight were read back."""


class _ImportRun:
    """The networked part of one import (one event loop): the stages in the order of the
    one ``Sequencer`` (``app.stages.sequence``) with the create planner; owns the journal
    and the ``RowBook`` of row outcomes."""

    def __init__(
        self,
        settings: ImportSettings,
        prepared: PreparedFile | None,
        *,
        progress: Progress,
        confirm: Callable[[ConfirmInfo], bool] | None,
        cancel: threading.Event | None = None,
    ) -> None:
        from timetracker_import.app.limiter import Limiter
        from timetracker_import.app.poster import PostStats
        from timetracker_import.app.stages.sequence import Sequencer

        self.settings = settings
        self._prepared = prepared
        #: the run read the file itself: it may drop the raw cells once they are journaled
        self._owns_prepared = prepared is None
        self._stop_reading = threading.Event()
        self.progress = progress
        self.confirm = confirm
        self.seq = Sequencer(
            settings.connection, what="import", cancel=cancel, retried=self._retried
        )
        self.notes: list[str] = [] if prepared is None else list(prepared.notes)
        #: shared by the posters of the run (the one reading back a resumed run's batches,
        #: then the one posting the plan)
        self.limiter = Limiter(self._concurrency())
        self.stats = PostStats()
        self.bar: Any = None
        self.phases: dict[str, float] = {}
        self._phase_started = time.perf_counter()
        # what the finish needs from the stages
        self.existing: dict[int, str] = {}
        self.duplicates: dict[int, int] = {}
        self.ambiguous: list[int] = []
        self.halt: str | None = None
        self.halt_error: Exception | None = None
        self.me_offset: int | None = None  # the token user's offset (``me.timeZone``)

    @property
    def stop_signal(self) -> int | None:
        """The first SIGINT/SIGTERM/SIGHUP received during the run (exit 128 + it)."""
        return self.seq.stop_signal

    def _phase(self, name: str) -> None:
        """Close the current stage as ``name`` (wall-clock, for the benchmark and -v)."""
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._phase_started
        self._phase_started = now

    @property
    def zone(self) -> ZoneChoice:
        return ZoneChoice.of(self.p.timezone, self.p.timezone_source)

    def _check_zone(self) -> None:
        """An unattended run never reads naive times in this machine's zone (before any
        journal or write)."""
        if self.settings.unattended and self.p.naive_times and not self.settings.dry_run:
            require_declared(
                self.zone,
                command="an unattended import",
                why=f"{self.p.naive_times} time(s) in the file have no offset",
            )

    # -- the journal ---------------------------------------------------------------------

    def _open_resumable(self) -> Journal | None:
        """The journal of the run this one resumes (reopened), or None for a new run."""
        from timetracker_import.journal.store import Journal, find_resumable

        if not self.settings.new_run and not self.settings.dry_run:
            run_id = find_resumable(self.p.fingerprint)
            if run_id is not None:
                journal = Journal.open(run_id)
                journal.reopen()
                self._complete_journal(journal)
                return journal
        return None

    def _complete_journal(self, journal: Journal) -> None:
        """Record the rows a killed run had not journaled yet. A new run commits its run
        record first and its rows (then the skipped rows) in later transactions, in a worker
        thread while the setup reads are on the wire; a SIGKILL in between leaves a
        resumable journal without rows (or with the skipped rows still pending). Nothing was
        sent by that run (the poster waits for the complete journal), so the missing rows
        are exactly pending now; rows already known keep their outcome."""
        journal.record_rows(self.p.row_numbers())
        if self.p.skipped:
            outcomes = journal.row_outcomes()
            reasons = self.p.skip_reasons()
            still_open = [r for r in self.p.skipped if outcomes[r][0] in OPEN_OUTCOMES]
            for reason in sorted({reasons[r] for r in still_open}):
                journal.mark_skipped([r for r in still_open if reasons[r] == reason], reason)

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
                "concurrency": str(self._concurrency()),
                "on_existing": self.settings.on_existing,
                "timezone": self.p.timezone,
            },
            base_url=self.settings.connection.rest_root,
        )
        try:
            journal.record_rows(self.p.row_numbers())
            reasons = self.p.skip_reasons()  # the filter, --on-duplicate skip, replaced ids
            for reason in sorted(set(reasons.values())):
                journal.mark_skipped([r for r, why in reasons.items() if why == reason], reason)
            if rejections:
                journal.mark_rejections(rejections)
        except BaseException:
            journal.close()
            raise
        return journal

    # -- running -------------------------------------------------------------------------

    def _retried(self, reason: str) -> None:
        # a 429, a 5xx or a timeout the client retries by itself halves the requests in
        # flight (the posters share this limiter); every 429 is counted in the run's timings
        if reason == "429":
            self.stats.throttled += 1
        self.limiter.retried(reason)

    async def run(self, client_factory: RetryingClientFactory) -> ImportResult:
        return await self.seq.run(client_factory, self._connected)

    async def _connected(self, client: TimetrackerClient) -> ImportResult:
        # the setup reads go out while the file is read (they change nothing, so a file that
        # turns out unreadable costs nothing)
        self.seq.start_setup(client)
        if self._prepared is None:
            self._prepared = await self._prepare()
        return await self._journaled(client)

    @property
    def p(self) -> PreparedFile:
        """The prepared file (read before the run, or by ``_prepare`` during it)."""
        assert self._prepared is not None, "the file is not read yet"
        return self._prepared

    async def _prepare(self) -> PreparedFile:
        """Stage ``prepare`` in a daemon thread (the event loop meanwhile serves the setup
        reads). A cancelled run (Ctrl-C, ``cancel``) does not wait for it: the reader only
        reads, and stops at its next chunk (or with the process)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[PreparedFile] = loop.create_future()

        def settle(result: PreparedFile | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)  # type: ignore[arg-type]

        def read() -> None:
            try:
                result = prepare(self.settings, stop=self._stop_reading, keep_raw=False)
            except BaseException as exc:  # handed to the event loop, raised there
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    loop.call_soon_threadsafe(settle, None, exc)
                return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, result, None)

        threading.Thread(target=read, name="prepare", daemon=True).start()
        try:
            prepared = await done
        except BaseException:
            self._stop_reading.set()
            raise
        gc.freeze()  # the prepared frame lives until the end too
        self.phases["read_validate"] = prepared.seconds
        self.notes[:0] = prepared.notes
        return prepared

    async def _journaled(self, client: TimetrackerClient) -> ImportResult:
        self._phase_started = time.perf_counter()
        self._check_zone()
        resumable = self._open_resumable()
        ready: asyncio.Future[Journal]
        if resumable is not None:
            ready = asyncio.get_running_loop().create_future()
            ready.set_result(resumable)
            book = RowBook(resumable.row_outcomes())
        else:
            # A new run's journal is written in a worker thread while the setup reads (all
            # GETs) are on the wire; _run waits for it before anything else is journaled and
            # before a poster exists, so every intent is still committed before its POST.
            rows = self.p.row_numbers()
            book, rejections = RowBook.fresh(rows, self.p.skipped, self.p.rejections)
            ready = asyncio.ensure_future(asyncio.to_thread(self._create_journal, rejections))
        try:
            try:
                # a stop from now on, until a poster writes, cancels this step
                return await self.seq.step(
                    self._run(ready, book, resumed=resumable is not None, client=client)
                )
            except asyncio.CancelledError:
                if not self.seq.stopped:
                    raise
            # stopped before anything was posted: every open row stays resumable
            # (unprocessed), and the summary says so
            self.halt = "interrupted"
            return self._finish(await asyncio.shield(ready), resumable is not None)
        finally:
            with contextlib.suppress(Exception):  # a failed creation raised in _run already
                (await ready).close()

    async def _run(
        self,
        ready: asyncio.Future[Journal],
        book: RowBook,
        *,
        resumed: bool,
        client: TimetrackerClient,
    ) -> ImportResult:
        from timetracker_import.app.stages.plan import CreatePlanner, CreateRows
        from timetracker_import.app.stages.sequence import reaped
        from timetracker_import.core.key_table import KeyTable

        s, p, seq = self.settings, self.p, self.seq
        if resumed:
            book.reject(ready.result(), p.rejections)  # a new journal records them itself
        try:
            reads: list[asyncio.Future[Any]] = []
            async with reaped(reads):
                prefetched: PreflightReads | None = None
                to_check = book.pending_part(p.canonical)
                if not resumed and len(to_check):
                    # Nothing to read back first: the preflight reads (approvals, baseline)
                    # go out with the setup reads. Their windows cover every row still to
                    # check, a superset of what is left after resolving and the lock check.
                    prefetched = PreflightReads.start(client, to_check)
                    reads.extend(prefetched.futures)
                setup = await seq.setup(
                    client, zone=self.zone, naive_times=p.naive_times, notes=self.notes
                )
                self.me_offset = setup.me_offset
                # shield: a cancelled run still gets the journal, to close it
                journal = await asyncio.shield(ready)
                if self._owns_prepared:
                    # the rows are journaled: keep the raw cells of the rows rejected while
                    # reading only (the rejected-rows file reads any other row again)
                    p.release_raw(r.source_row for r in p.rejections)
                # stage: resolve
                resolved = seq.resolve(to_check, p, setup, user_fix=s.unknown_user_fix)
                book.reject(journal, resolved.rejections)
                frame = book.pending_part(to_check)
                user_ids = resolved.user_ids.reindex(frame.index)
                rows = CreateRows(
                    frame,
                    user_ids,
                    resolved,
                    KeyTable.from_frame(frame, user_ids),  # 24 B a row
                )
                bodies = LazyBodies(frame, user_ids, resolved.activity_type_ids)
                self.bar = progress_bar(self.progress, len(frame), s.dry_run)
                ours = book.known_ids()
                self._phase("resolve")
                # 1. batches that were in flight when the last attempt stopped: read back first
                if resumed:
                    ours = await self._reconcile(client, journal, book, rows, bodies, ours)
                blocked = {r for b in journal.batches("ambiguous") for r in b.source_rows}
                frame = book.pending_part(frame)
                if blocked:
                    frame = frame[~frame.index.isin(list(blocked))]
                # 2. the create planner: preflight reads (a new run sent them with the setup
                # reads above; a resumed run sends them now), then the plan, journaled before
                # anything is posted
                planner = CreatePlanner(
                    users=setup.users,
                    date_header=p.date_header,
                    on_existing=s.on_existing,
                    batch_size=s.batch_size,
                    stored=journal.batches("planned"),
                    first_batch_no=journal.next_batch_no(),
                    ours=ours,
                    prefetched=prefetched,
                    prepared=p,
                )
                plan = await seq.plan(
                    planner,
                    client,
                    replace(rows, frame=frame, user_ids=user_ids.reindex(frame.index)),
                )
                self._journal_plan(journal, book, plan)
                # 3. confirm, then stage: execute (the poster posts the plan, nothing else)
                # the baseline's worklogs are not this run's to claim on a read-back
                poster = self._make_poster(
                    client,
                    journal,
                    rows,
                    bodies,
                    pending=plan.pending,
                    known=ours | plan.baseline_ids,
                )
                bar = self.bar
                if bar is not None:
                    bar.total = len(plan.pending)
                    bar.refresh()
                batches = plan.creates.batches
                if batches and not s.dry_run and self.confirm is not None:
                    info = _confirm_info(
                        frame,
                        user_ids,
                        setup.users,
                        plan.pending,
                        len(batches),
                        s.connection.rest_root,
                    )
                    if not self.confirm(info):
                        if bar is not None:
                            bar.close()
                        raise UsageError(
                            "import cancelled; nothing was sent",
                            hint="run again to resume, or add --yes",
                        )
                self._phase("preflight")
                with seq.writing(poster.interrupt):
                    await poster.run(batches)
                self._phase("post")
                if bar is not None:
                    bar.close()
                self.ambiguous.extend(self.stats.ambiguous_batches)
                if self.stats.halt:
                    self.halt, self.halt_error = self.stats.halt, self.stats.halt_error
        except _Halt:
            self.halt, self.halt_error = self.stats.halt, self.stats.halt_error
        except AuthError as exc:
            self.halt, self.halt_error = "auth", exc
            journal = await asyncio.shield(ready)
            if not self.stats.requests:
                # nothing was posted: leave the run open for a resume and fail with exit 3
                journal.finish("halted")
                raise
        self._phase_started = time.perf_counter()
        journal = await asyncio.shield(ready)
        return self._finish(journal, resumed)

    def _journal_plan(self, journal: Journal, book: RowBook, plan: ImportPlan) -> None:
        """Journal what the plan settled (locked rows, rows already on the server) and its
        new batches, before anything is posted."""
        book.reject(journal, plan.locked)
        if plan.existing:
            journal.mark_existing(plan.existing)
            self.existing = dict(plan.existing)
            for row, wid in plan.existing.items():
                book.settle(row, "existing", wid)
        if plan.rejections:
            book.reject(journal, plan.rejections)
        self.duplicates = plan.duplicates
        self.notes.extend(plan.notes)
        if plan.creates.new:
            journal.record_plan(plan.creates.new)

    def _make_poster(
        self,
        client: TimetrackerClient,
        journal: Journal,
        rows: CreateRows,
        bodies: LazyBodies,
        *,
        pending: MutableSet[int],
        known: Set[str],
        remember_created: bool = False,
    ) -> Poster:
        """Stage ``execute``'s poster of ``pending`` (rows of ``rows``), built once what it
        sends is settled; it numbers the batches it splits after those journaled."""
        from datetime import datetime

        from timetracker_import.app.poster import Poster

        resolved = rows.resolved
        self_only = resolved.self_only
        bar = self.bar
        poster = Poster(
            client=client,
            journal=journal,
            bodies=bodies,
            keys=rows.keys,
            # looked up only to split a refused batch: no per-row conversion up front
            timestamps=rows.frame["timestamp"],
            read_back=read_back_for(client, self_only=self_only),
            pending=pending,
            known_ids=known,
            claim_after=datetime.fromisoformat(journal.info().started_at),
            dry_run=self.settings.dry_run,
            concurrency=self.limiter,
            on_rows_done=bar.update if bar is not None else None,
            naive_offset_minutes=resolved.naive_offset if self_only else 0,
            created_offset_minutes=resolved.naive_offset,
            remember_created=remember_created,
            stats=self.stats,
        )
        return poster

    def _concurrency(self) -> Concurrency:
        from timetracker_import.app.limiter import Concurrency

        return Concurrency.parse(self.settings.concurrency, self.settings.max_concurrency)

    async def _reconcile(
        self,
        client: TimetrackerClient,
        journal: Journal,
        book: RowBook,
        rows: CreateRows,
        bodies: LazyBodies,
        ours: set[str],
    ) -> set[str]:
        """Read back the batches in flight when the last attempt stopped, and settle them;
        returns the worklogs this run created, those claimed now included."""
        poster = self._make_poster(
            client,
            journal,
            rows,
            bodies,
            pending=_row_set(rows.frame.index.to_numpy(dtype="int64")),
            known=ours,
            remember_created=True,
        )
        with self.seq.writing(poster.interrupt):
            for batch in journal.in_flight_batches():
                await poster.reconcile(batch)
        self.ambiguous.extend(self.stats.ambiguous_batches)
        self.stats.ambiguous_batches.clear()
        for row, wid in self.stats.created.items():
            book.settle(row, "created", wid)
        if self.stats.halt:
            raise _Halt()
        return set(poster.known_ids)

    # -- stage: account ------------------------------------------------------------------

    def _finish(self, journal: Journal, resumed: bool) -> ImportResult:
        s, stats = self.settings, self.stats
        would = stats.would_create
        pending = journal.pending_rows()
        leftover = [r for r in pending if r not in would] if s.dry_run else pending
        if leftover and not s.dry_run:
            journal.mark_unprocessed(leftover)
        status = (
            "halted" if (leftover or self.ambiguous or self.halt) and not s.dry_run else "complete"
        )
        counts = journal.accounting()
        if s.dry_run:
            counts.created = len(would)
            counts.unprocessed = len(leftover)
        journal.finish(status, counts if s.dry_run else None, halt_reason=self.halt)
        # copies found before resolving (--on-duplicate) and those the keys found after
        self.duplicates = {**self.p.repeats, **self.duplicates}
        counts.in_file_duplicates = len(self.duplicates)
        rejections = journal.rejections()
        rejected_path = rejected_in(journal.directory, Path(s.path), self.p, rejections)
        user_rejected = None
        if s.rejected_path is not None and rejections:
            user_rejected = write_rejected(s.rejected_path, self.p, rejections)
        result = ImportResult(
            run_id=journal.run_id,
            run_dir=journal.directory,
            dry_run=s.dry_run,
            resumed=resumed,
            accounting=counts,
            exit_code=exit_code_for(
                counts,
                halt=self.halt,
                halt_error=self.halt_error,
                ambiguous=bool(self.ambiguous),
                stop_signal=self.stop_signal,
            ),
            rejections=rejections,
            existing=self.existing,
            in_file_duplicates=self.duplicates,
            halt_reason=self.halt,
            halt_message=(
                str(self.halt_error)
                if self.halt_error is not None
                else stop_signal_message(self.stop_signal)
            ),
            ambiguous_batches=sorted(set(self.ambiguous)),
            rejected_path=rejected_path,
            user_rejected_path=user_rejected,
            created_csv=None if s.dry_run else journal.write_created_csv(),
            summary_path=journal.directory / "summary.json",
            report_path=None,
            notes=list(self.notes),
            requests=stats.requests,
            throttled=stats.throttled,
            round_trips=list(stats.round_trips),
            concurrency=self.limiter.summary() if stats.requests else {},
            phases=self.phases,
            on_duplicate=self.p.on_duplicate,
            zone=self.zone.to_dict(self.me_offset),
        )
        if s.report_path is not None:
            result.report_path = write_report(
                s.report_path, result, self.p, input_path=Path(s.path)
            )
        journal.write_summary({k: v for k, v in result.summary_dict().items() if k != "run_id"})
        self._phase("finish")
        return result


def _row_set(rows: Any = ()) -> RowSet:
    """The rows still to send, a byte a row (``core.row_set``; numpy loads with it)."""
    from timetracker_import.core.row_set import RowSet

    return RowSet(rows)


def _confirm_info(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    users: list[dict[str, Any]],
    pending: Set[int],
    batches: int,
    target: str,
) -> ConfirmInfo:
    """What the confirmation shows: rows, hours and users about to be created."""
    by_id = {str(u.get("id")).lower(): u for u in users}
    shown = sorted(
        {
            str((by_id.get(str(user_ids[r]).lower()) or {}).get("email") or user_ids[r])
            for r in pending
        }
    )
    seconds = int(frame.loc[list(pending), "length_seconds"].sum())
    return ConfirmInfo(len(pending), seconds, tuple(shown), batches, target)
