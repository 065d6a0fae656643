"""Use case: import a file into 7pace. The run sequences the stages of ``app.stages`` and owns
the journal:

    prepare -> (setup reads) -> resolve -> [reconcile] -> preflight -> plan -> confirm
            -> execute -> account

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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Set
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
    stop_signals,
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
    check_existing,
    locked_rejections,
    same_start_note,
)
from timetracker_import.app.stages.prepare import (
    PreparedFile,
    check_settings,
    file_sha256,
    load_import_mapping,
    prepare,
)
from timetracker_import.app.stages.resolve import ResolvedRows, resolve_rows
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.zone import ZoneChoice, require_declared, zone_warnings
from timetracker_import.errors import AuthError, Interrupted, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import RetryingClientFactory, TimetrackerClient
    from timetracker_import.app.limiter import Concurrency
    from timetracker_import.app.poster import Poster
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
    finish, the rest stays resumable. Raises ``UsageError`` and friends for problems found
    before anything is sent, ``Interrupted`` when cancelled before posting began."""
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
    """Internal: the poster halted during reconciliation."""


class _ImportRun:
    """The networked part of one run (one event loop): sequences the stages, owns the
    journal and the ``RowBook`` of row outcomes."""

    def __init__(
        self,
        settings: ImportSettings,
        prepared: PreparedFile | None,
        *,
        progress: Progress,
        confirm: Callable[[ConfirmInfo], bool] | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self._prepared = prepared
        #: the run read the file itself: it may drop the raw cells once they are journaled
        self._owns_prepared = prepared is None
        self._stop_reading = threading.Event()
        self.progress = progress
        self.confirm = confirm
        self.cancel = cancel
        self._cancelled_early = False
        self.notes: list[str] = [] if prepared is None else list(prepared.notes)
        self.poster: Poster | None = None
        self.bar: Any = None
        self.phases: dict[str, float] = {}
        self._phase_started = time.perf_counter()
        # what the finish needs from the stages
        self.existing: dict[int, str] = {}
        self.duplicates: dict[int, int] = {}
        self.ambiguous: list[int] = []
        self.halt: str | None = None
        self.halt_error: Exception | None = None
        self.users: list[dict[str, Any]] = []  # the setup read of ``users``
        self.me_offset: int | None = None  # the token user's offset (``me.timeZone``)
        #: the first SIGINT/SIGTERM/SIGHUP received during the run (exit 128 + it)
        self.stop_signal: int | None = None
        self._task: asyncio.Future[ImportResult] | None = None

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

    def _on_stop_signal(self, signo: int) -> None:
        """SIGINT, SIGTERM or SIGHUP: stop sending and finish resumably. Once the poster
        exists it stops dispatching and lets the requests in flight settle (their outcome is
        journaled); before that nothing was sent and the run is cancelled where it waits."""
        if self.stop_signal is None:
            self.stop_signal = signo
        if self.poster is not None:
            self.poster.interrupt()
        elif self._task is not None:
            self._task.cancel()

    def _on_retry(self, event: Any) -> None:
        # a 429, a 5xx or a timeout the client retries by itself halves the requests in flight
        if self.poster is not None:
            self.poster.retried(str(getattr(event, "reason", "")))

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

    async def run(self, client_factory: RetryingClientFactory) -> ImportResult:
        watcher = None
        if self.cancel is not None:
            main = asyncio.current_task()
            assert main is not None
            watcher = asyncio.ensure_future(self._watch_cancel(main))
        try:
            # SIGINT/SIGTERM/SIGHUP from here on: see _on_stop_signal
            self._task = asyncio.ensure_future(self._run_watched(client_factory))
            with stop_signals(self._on_stop_signal):
                return await self._task
        except asyncio.CancelledError:
            if self._cancelled_early:
                raise Interrupted(
                    "import cancelled before anything was sent",
                    hint="run it again to resume",
                ) from None
            if self.stop_signal is not None:  # while the file was read: no journal yet
                stopped = Interrupted(
                    stop_signal_message(self.stop_signal) or "interrupted",
                    hint="nothing was sent; run the same command again",
                )
                stopped.exit_code = 128 + self.stop_signal
                raise stopped from None
            raise
        finally:
            if watcher is not None:
                watcher.cancel()

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

    async def _run_watched(self, client_factory: RetryingClientFactory) -> ImportResult:
        client = client_factory(self.settings.connection, self._on_retry)
        async with client:
            # independent reads, sent at once: one round trip, on the wire while the file is
            # read (they change nothing, so a file that turns out unreadable costs nothing)
            setup = asyncio.ensure_future(
                _all_or_cancel(client.me(), client.users(), client.activity_types())
            )
            async with _reaped([setup]):
                if self._prepared is None:
                    self._prepared = await self._prepare()
                return await self._journaled(client, setup)

    async def _journaled(
        self, client: TimetrackerClient, setup: asyncio.Future[list[Any]]
    ) -> ImportResult:
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
            # before the poster exists, so every intent is still committed before its POST.
            rows = self.p.row_numbers()
            book, rejections = RowBook.fresh(rows, self.p.skipped, self.p.rejections)
            ready = asyncio.ensure_future(asyncio.to_thread(self._create_journal, rejections))
        try:
            # a stop signal from now on cancels this task (until the poster exists)
            self._task = asyncio.ensure_future(
                self._run(ready, book, resumed=resumable is not None, client=client, setup=setup)
            )
            try:
                return await self._task
            except asyncio.CancelledError:
                if self.stop_signal is None:
                    raise
            # stopped before the poster existed: nothing was sent, every open row stays
            # resumable (unprocessed), and the summary says so
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
        setup: asyncio.Future[list[Any]],
    ) -> ImportResult:
        s, p = self.settings, self.p
        if resumed:
            book.reject(ready.result(), p.rejections)  # a new journal records them itself
        try:
            reads: list[asyncio.Future[Any]] = []
            async with _reaped(reads):
                prefetched: PreflightReads | None = None
                to_check = book.pending_part(p.canonical)
                if not resumed and len(to_check):
                    # Nothing to reconcile first: the preflight reads (approvals, baseline)
                    # go out with the setup reads. Their windows cover every row still to
                    # check, a superset of what is left after resolving and the lock check.
                    prefetched = PreflightReads.start(client, to_check)
                    reads.extend(prefetched.futures)
                me, users, activity = await setup
                self.users = users
                self.me_offset = int(me.get("timeZone") or 0)
                self.notes.extend(
                    zone_warnings(self.zone, naive_times=p.naive_times, me_offset=self.me_offset)
                )
                # shield: a cancelled run still gets the journal, to close it
                journal = await asyncio.shield(ready)
                if self._owns_prepared:
                    # the rows are journaled: keep the raw cells of the rows rejected while
                    # reading only (the rejected-rows file reads any other row again)
                    p.release_raw(r.source_row for r in p.rejections)
                # stage: resolve
                resolved = resolve_rows(
                    to_check,
                    me=me,
                    users=users,
                    activity_types=activity,
                    user_header=p.user_header,
                    activity_header=p.activity_header,
                    user_fix=s.unknown_user_fix or p.loaded.unknown_user_fix(),
                )
                book.reject(journal, resolved.rejections)
                frame = book.pending_part(to_check)
                user_ids = resolved.user_ids.reindex(frame.index)
                poster = self._make_poster(client, journal, book, frame, resolved)
                self._phase("resolve")
                # 1. batches that were in flight when the last attempt stopped: read back first
                if resumed:
                    await self._reconcile(journal, poster, book)
                # from here on the journal holds what is created, not memory (flat in rows)
                poster.remember_created = False
                blocked = {r for b in journal.batches("ambiguous") for r in b.source_rows}
                frame = book.pending_part(frame)
                if blocked:
                    frame = frame[~frame.index.isin(list(blocked))]
                # 2. stage: preflight (both reads were sent together, see above)
                if len(frame):
                    if prefetched is None:
                        prefetched = PreflightReads.start(client, frame)
                        reads.extend(prefetched.futures)
                    frame = await self._preflight(
                        client, journal, book, poster, frame, user_ids, resolved, prefetched
                    )
                else:
                    poster.send_only(_row_set())
                # 3. stage: plan (creates only)
                batches = self._plan(journal, poster, frame, user_ids)
                bar = self.bar
                if bar is not None:
                    bar.total = len(poster.pending)
                    bar.refresh()
                # 4. confirm, then stage: execute
                if batches and not s.dry_run and self.confirm is not None:
                    info = _confirm_info(
                        frame, user_ids, users, poster.pending, len(batches), s.connection.rest_root
                    )
                    if not self.confirm(info):
                        if bar is not None:
                            bar.close()
                        raise UsageError(
                            "import cancelled; nothing was sent",
                            hint="run again to resume, or add --yes",
                        )
                self._phase("preflight")
                await poster.run(batches)
                self._phase("post")
                if bar is not None:
                    bar.close()
                self.ambiguous.extend(poster.stats.ambiguous_batches)
                if poster.stats.halt:
                    self.halt, self.halt_error = poster.stats.halt, poster.stats.halt_error
        except _Halt:
            assert self.poster is not None
            self.halt, self.halt_error = self.poster.stats.halt, self.poster.stats.halt_error
        except AuthError as exc:
            self.halt, self.halt_error = "auth", exc
            journal = await asyncio.shield(ready)
            if self.poster is None or not self.poster.stats.requests:
                # nothing was posted: leave the run open for a resume and fail with exit 3
                journal.finish("halted")
                raise
        self._phase_started = time.perf_counter()
        journal = await asyncio.shield(ready)
        return self._finish(journal, resumed)

    def _make_poster(
        self,
        client: TimetrackerClient,
        journal: Journal,
        book: RowBook,
        frame: pd.DataFrame,
        resolved: ResolvedRows,
    ) -> Poster:
        """Stage ``execute``'s poster for the resolved rows of ``frame``."""
        from datetime import datetime

        from timetracker_import.app.poster import Poster
        from timetracker_import.core.key_table import KeyTable

        user_ids = resolved.user_ids.reindex(frame.index)
        self_only = resolved.self_only
        bar = progress_bar(self.progress, len(frame), self.settings.dry_run)
        poster = Poster(
            client=client,
            journal=journal,
            bodies=LazyBodies(frame, user_ids, resolved.activity_type_ids),
            keys=KeyTable.from_frame(frame, user_ids),  # 24 bytes a row
            # looked up only to split a refused batch: no per-row conversion up front
            timestamps=frame["timestamp"],
            read_back=read_back_for(client, self_only=self_only),
            pending=_row_set(frame.index.to_numpy(dtype="int64")),
            known_ids=book.known_ids(),
            claim_after=datetime.fromisoformat(journal.info().started_at),
            dry_run=self.settings.dry_run,
            concurrency=self._concurrency(),
            on_rows_done=bar.update if bar is not None else None,
            naive_offset_minutes=resolved.naive_offset if self_only else 0,
            created_offset_minutes=resolved.naive_offset,
        )
        self.bar = bar
        self.poster = poster
        return poster

    def _concurrency(self) -> Concurrency:
        from timetracker_import.app.limiter import Concurrency

        return Concurrency.parse(self.settings.concurrency, self.settings.max_concurrency)

    async def _reconcile(self, journal: Journal, poster: Poster, book: RowBook) -> None:
        """Read back the batches in flight when the last attempt stopped, and settle them."""
        for batch in journal.in_flight_batches():
            await poster.reconcile(batch)
        self.ambiguous.extend(poster.stats.ambiguous_batches)
        poster.stats.ambiguous_batches.clear()
        for row, wid in poster.stats.created.items():
            book.settle(row, "created", wid)
        if poster.stats.halt:
            raise _Halt()

    async def _preflight(
        self,
        client: TimetrackerClient,
        journal: Journal,
        book: RowBook,
        poster: Poster,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        resolved: ResolvedRows,
        reads: PreflightReads,
    ) -> pd.DataFrame:
        """Stage ``preflight``: reject rows in locked weeks, then compare with the baseline
        (skip, allow or reject rows already on the server). Returns the rows left to post."""
        s, p = self.settings, self.p
        approvals = await reads.read_approvals(self.notes)
        book.reject(
            journal,
            locked_rejections(
                frame,
                user_ids,
                approvals,
                labels=resolved.labels,
                date_header=p.date_header,
                users=self.users,
                self_id=resolved.self_id,
                self_offset=resolved.naive_offset,
                notes=self.notes,
                prepared=p,
            ),
        )
        frame = book.pending_part(frame)
        # every row locked (or none left): the baseline and its errors do not matter
        if not len(frame):
            poster.send_only(_row_set())
            return frame
        baseline = await reads.read_baseline(client, self_only=resolved.self_only)
        from timetracker_import.core.key_table import KeyTable

        keys = poster.keys
        assert isinstance(keys, KeyTable)
        check = check_existing(
            keys.subset(frame.index.to_numpy()),
            baseline,
            ours=set(poster.known_ids),
            naive_offset_minutes=resolved.naive_offset if resolved.self_only else 0,
            on_existing=s.on_existing,
        )
        poster.knows(check.baseline_ids)
        self.duplicates = check.in_file_duplicates
        if check.existing:
            journal.mark_existing(check.existing)
            self.existing = dict(check.existing)
            for row, wid in check.existing.items():
                book.settle(row, "existing", wid)
        if check.rejections:
            book.reject(journal, check.rejections)
        frame = book.pending_part(frame)
        beside = same_start_note(
            frame, user_ids, check, labels={k.lower(): v for k, v in resolved.labels.items()}
        )
        if beside:
            self.notes.append(beside)
        poster.send_only(_row_set(frame.index.to_numpy(dtype="int64")))  # a byte a row
        return frame

    def _plan(
        self, journal: Journal, poster: Poster, frame: pd.DataFrame, user_ids: pd.Series
    ) -> list[Any]:
        """Stage ``plan``: keep the stored planned batches, plan (and journal) the rows they
        do not cover; the batches with a row still to send."""
        from timetracker_import.app.stages.plan import plan_creates

        plan = plan_creates(
            frame,
            user_ids,
            stored=journal.batches("planned"),
            pending=poster.pending,
            batch_size=self.settings.batch_size,
            first_batch_no=journal.next_batch_no(),
        )
        if plan.new:
            journal.record_plan(plan.new)
            poster.number_after(journal)
        return plan.batches

    # -- stage: account ------------------------------------------------------------------

    def _finish(self, journal: Journal, resumed: bool) -> ImportResult:
        s, poster = self.settings, self.poster
        would = poster.stats.would_create if poster is not None else set()
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
            requests=poster.stats.requests if poster else 0,
            throttled=poster.stats.throttled if poster else 0,
            round_trips=list(poster.stats.round_trips) if poster else [],
            concurrency=poster.limiter.summary() if poster and poster.stats.requests else {},
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
