"""The posting engine of ``import``: batches go out concurrently, under an adaptive limit
(``app.limiter``: each batch holds a slot while on the wire and reports how it went).

Rules (docs/architecture.md, stage 4):

- the intent to send a batch is committed to the journal before the request leaves, created ids
  are committed before they are reported;
- one failing batch never cancels the others;
- a batch the server refuses for its content (400/404/409/422) is split in halves until the
  offending rows are isolated (in a dry run the halves go with ``validateOnly`` too);
- an ambiguous outcome (timeout or 5xx after sending, dropped connection) is resolved by reading
  the batch's window back and claiming matching worklogs by natural key before anything is
  re-sent; if the read-back fails the batch stays ambiguous (exit 4, resumable);
- a 401/403 halts the run (exit 3), an exhausted retry budget halts it (exit 75), an interrupt
  stops dispatching and lets in-flight requests finish (exit 130). Halted runs are resumable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableSet, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from timetracker_import.api.redact import redact_text
from timetracker_import.app.limiter import Concurrency, Limiter, Slot
from timetracker_import.core.dedupe import existing_from_worklogs, match_existing
from timetracker_import.core.key_table import KeyTable
from timetracker_import.core.planning import PlannedBatch, split_in_half
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.row_set import RowSet
from timetracker_import.core.worklog_key import WorklogKey, parse_api_timestamp
from timetracker_import.errors import (
    AmbiguousOutcome,
    ApiError,
    AuthError,
    TimetrackerError,
    TransientApiError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.journal.store import Journal

#: statuses that mean "the server refused what is in this batch" (bisect to find the rows);
#: 413: the batch is too large for the server, so its halves may fit (a row that is too large
#: alone is rejected with the server's reason, never retried as "temporary")
CONTENT_STATUSES = frozenset({400, 404, 409, 413, 422})
#: how many read-back-and-resend rounds one ambiguous batch gets before it is left for resume
MAX_AMBIGUOUS_ROUNDS = 3
#: worklogs created this long before the run started may still be ours (clock skew)
CLAIM_CLOCK_MARGIN = timedelta(minutes=2)
#: what _record_success reads of a batch answer (the rest is skipped while decoding)
ANSWER_FIELDS = ("id", "editedTimestamp")

ReadBack = Callable[[PlannedBatch], Awaitable[list[dict[str, Any]]]]


@dataclass
class PostStats:
    """What the posting stage did (the journal holds the authoritative row outcomes)."""

    halt: str | None = None  # "auth" | "transient" | "interrupted" | "error"
    halt_error: TimetrackerError | None = None
    ambiguous_batches: list[int] = field(default_factory=list)
    created: dict[int, str] = field(default_factory=dict)
    #: rows created, whether or not ``created`` holds them (``Poster.remember_created``)
    created_count: int = 0
    would_create: set[int] = field(default_factory=set)  # dry run: rows the server accepted
    rejections: list[Rejection] = field(default_factory=list)
    requests: int = 0
    split_batches: int = 0
    throttled: int = 0
    round_trips: list[float] = field(default_factory=list)  # seconds per successful request


@dataclass
class _Outcome:
    kind: str  # ok | content | ambiguous | halt | skipped
    result: Any = None
    error: ApiError | None = None


class Poster:
    """Posts planned batches for one run. ``pending`` is the set of rows still to send; it
    shrinks as rows get an outcome (so a row is never sent twice from one process)."""

    def __init__(
        self,
        *,
        client: TimetrackerClient,
        journal: Journal,
        bodies: Mapping[int, dict[str, Any]],
        keys: Mapping[int, WorklogKey] | KeyTable,
        timestamps: Mapping[int, Any] | pd.Series,
        read_back: ReadBack,
        pending: Iterable[int],
        known_ids: Iterable[str] = (),
        claim_after: datetime | None = None,
        dry_run: bool = False,
        concurrency: Concurrency | int | Limiter = 8,
        on_rows_done: Callable[[int], None] | None = None,
        naive_offset_minutes: int = 0,
        created_offset_minutes: int = 0,
        resend: bool = True,
        remember_created: bool = True,
        stats: PostStats | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.bodies = bodies
        self.keys = keys
        self.timestamps = timestamps
        self.read_back = read_back
        # a RowSet (core.row_set, a byte a row) is kept as it is
        self.pending: MutableSet[int] = pending if isinstance(pending, RowSet) else set(pending)
        self.known_ids = set(known_ids)
        self.claim_after = claim_after
        self.dry_run = dry_run
        # a Limiter given is shared with the run's other writes (sync: updates, deletes)
        self.limiter = concurrency if isinstance(concurrency, Limiter) else Limiter(concurrency)
        self.on_rows_done = on_rows_done
        self.naive_offset_minutes = naive_offset_minutes
        # the token user's offset (me.timeZone): the real service may give createdTimestamp
        # in that local time without an offset, the sandbox gives UTC (API §1.6, D6)
        self.created_offset_minutes = created_offset_minutes
        #: shared by the posters of one run (reading back a resumed run's batches, then
        #: posting the plan): the run's counts and halt
        self.stats = stats if stats is not None else PostStats()
        self.stopping = False
        #: False: ``reconcile`` only claims what the server holds and never sends again
        #: (a later run settling a killed run's batches in that run's journal)
        self.resend = resend
        #: False: created rows are counted, not held (``stats.created`` and ``known_ids``
        #: stop growing with the rows; a read-back asks the journal which of the worklogs it
        #: finds this run created). The importer keeps it on only for the poster that reads
        #: back a resumed run's batches
        self.remember_created = remember_created
        self._next_no = journal.next_batch_no()

    # -- control -------------------------------------------------------------------------

    def retried(self, reason: str) -> None:
        """The client's ``on_retry`` hook: a 429 is counted; 429, 5xx and timeouts halve the
        limit (``Limiter.retried``)."""
        if reason == "429":
            self.stats.throttled += 1
        self.limiter.retried(reason)

    def interrupt(self) -> None:
        """Stop dispatching (Ctrl-C); requests in flight finish normally."""
        self._halt("interrupted", None)

    def _halt(self, reason: str, error: TimetrackerError | None) -> None:
        self.stopping = True
        if self.stats.halt is None:
            self.stats.halt = reason
            self.stats.halt_error = error

    def _done(self, count: int) -> None:
        if self.on_rows_done is not None and count:
            self.on_rows_done(count)

    # -- running -------------------------------------------------------------------------

    async def run(self, batches: Iterable[PlannedBatch]) -> PostStats:
        """Post every batch (rows no longer pending are left out); return the stats."""
        await asyncio.gather(*(self.run_batch(b) for b in batches))
        return self.stats

    async def run_batch(self, batch: PlannedBatch) -> None:
        """Post one batch and deal with its outcome (split, reconcile) to the end."""
        rows = [r for r in batch.source_rows if r in self.pending]
        if not rows:
            if not self.dry_run:
                await self._write(
                    self.journal.mark_created, batch.batch_no, [], result="nothing left to send"
                )
            return
        outcome = await self._send(batch, rows)
        await self._handle(batch, rows, outcome, rounds=0)

    async def _handle(
        self, batch: PlannedBatch, rows: list[int], outcome: _Outcome, *, rounds: int
    ) -> None:
        if outcome.kind == "ok":
            await self._record_success(batch, rows, outcome.result)
        elif outcome.kind == "content":
            assert outcome.error is not None
            await self._bisect(batch, rows, outcome.error)
        elif outcome.kind == "ambiguous":
            await self.reconcile(batch, rows, rounds=rounds, error=outcome.error)

    async def _send(self, batch: PlannedBatch, rows: list[int]) -> _Outcome:
        if self.stopping:
            return _Outcome("skipped")
        # Staged ahead of a free slot: the intent is committed and the bodies are built while
        # the batch waits, so a slot freed by an answer is reused at once instead of after a
        # journal commit (which queued behind the answers' own commits). At most ``limit``
        # batches wait staged; one never sent goes back to planned.
        async with self.limiter.ahead():
            if self.stopping:
                return _Outcome("skipped")
            items = await self._stage(batch, rows)
            slot = await self.limiter.acquire("batch")
        try:
            return await self._post(batch, items, slot)
        finally:
            slot.release()

    async def _stage(self, batch: PlannedBatch, rows: list[int]) -> list[dict[str, Any]]:
        """The request bodies, with the intent to send them committed (write-ahead)."""
        if self.dry_run:
            return self._bodies_of(rows)
        # the bodies are built while the commit runs in its worker thread
        intent = asyncio.ensure_future(self._write(self.journal.mark_sending, batch.batch_no))
        try:
            return self._bodies_of(rows)
        finally:
            await intent

    async def _post(self, batch: PlannedBatch, items: list[dict[str, Any]], slot: Slot) -> _Outcome:
        if self.stopping:  # halted while waiting for a slot: never sent
            self._unsent(batch)
            return _Outcome("skipped")
        started = time.monotonic()
        self.stats.requests += 1
        try:
            result = await self.client.post_batch(
                items, validate_only=self.dry_run, fields=ANSWER_FIELDS
            )
        except AmbiguousOutcome as exc:
            slot.overloaded()
            if not self.dry_run:
                # redacted before it is cut and stored (a server may echo the credential)
                self.journal.mark_ambiguous(batch.batch_no, redact_text(exc.message)[:500])
            return _Outcome("ambiguous", error=exc)
        except AuthError as exc:
            self._unsent(batch)
            self._halt("auth", exc)
            return _Outcome("halt", error=exc)
        except TransientApiError as exc:
            slot.overloaded()
            self._unsent(batch)
            self._halt("transient", exc)
            return _Outcome("halt", error=exc)
        except ApiError as exc:
            if exc.status in CONTENT_STATUSES:
                slot.done(rows=0)  # refused for its content: answered, nothing processed
                return _Outcome("content", error=exc)
            self._unsent(batch)
            self._halt("error", exc)
            return _Outcome("halt", error=exc)
        self.stats.round_trips.append(time.monotonic() - started)
        slot.done(rows=len(items))
        return _Outcome("ok", result=result)

    def _bodies_of(self, rows: list[int]) -> list[dict[str, Any]]:
        # a lazy mapping (importer.LazyBodies) builds a whole batch's bodies in one pass
        many = getattr(self.bodies, "many", None)
        if many is not None:
            return list(many(rows))
        return [self.bodies[r] for r in rows]

    def _release(self, rows: Iterable[int]) -> None:
        # a lazy mapping (importer.LazyBodies) forgets bodies whose outcome is committed:
        # memory follows the batches in flight, not the rows of the file
        release = getattr(self.bodies, "release", None)
        if release is not None:
            release(rows)

    def _unsent(self, batch: PlannedBatch) -> None:
        # a definite failure: nothing was created, the batch can simply be sent again later
        if not self.dry_run:
            self.journal.mark_planned(batch.batch_no)

    async def _record_success(self, batch: PlannedBatch, rows: list[int], result: Any) -> None:
        if self.dry_run:
            self.stats.would_create.update(rows)
            for row in rows:
                self.pending.discard(row)
            self._release(rows)
            self._done(len(rows))
            return
        worklogs = result if isinstance(result, list) else []
        if len(worklogs) != len(rows) or not all(
            isinstance(w, dict) and w.get("id") for w in worklogs
        ):
            # cannot tell which row became which worklog (the client raises AmbiguousWrite
            # for such an answer; this guards a client that does not): read back now
            self.journal.mark_ambiguous(batch.batch_no, "unexpected batch response shape")
            await self.reconcile(batch, rows)
            return
        created = [(row, str(w["id"]), _edited(w)) for row, w in zip(rows, worklogs, strict=True)]
        await self._commit_created(batch.batch_no, created)

    async def _write(self, method: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run a journal write in a worker thread and wait for its commit: the event loop
        keeps reading other batches' responses during the fsync, and whatever depends on the
        write (the request, reporting ids) still comes after it."""
        await asyncio.to_thread(method, *args, **kwargs)

    async def _commit_created(
        self, batch_no: int | None, created: list[tuple[int, str, str | None]]
    ) -> None:
        """Journal first, then memory and progress (ids are reported only once committed)."""
        await self._write(
            self.journal.mark_created,
            batch_no,
            created,
            {row: self.bodies[row] for row, _, _ in created},
        )
        self.stats.created_count += len(created)
        for row, worklog_id, _ in created:
            if self.remember_created:
                self.stats.created[row] = worklog_id
                self.known_ids.add(worklog_id)
            self.pending.discard(row)
        self._release(row for row, _, _ in created)
        self._done(len(created))

    async def _bisect(self, batch: PlannedBatch, rows: list[int], error: ApiError) -> None:
        if len(rows) == 1:
            row = rows[0]
            detail = error.description or error.message
            reason = f"the server refused this row: {detail}"
            if error.status == 413:
                reason = (
                    f"the server refused this row as too large ({error.status}: {detail}); "
                    "shorten its comment"
                )
            rejection = Rejection(
                row,
                "server",
                None,
                None,
                reason,
                error.error_code or (str(error.status) if error.status else None),
            )
            if not self.dry_run:
                self.journal.mark_failed(batch.batch_no, error.error_code)
            self.journal.mark_rejections([rejection])  # a dry run reports it the same way
            self.stats.rejections.append(rejection)
            self.pending.discard(row)
            self._release([row])
            self._done(1)
            return
        first = self._next_no
        self._next_no += 2
        narrowed = replace(batch, source_rows=tuple(rows))
        halves = split_in_half(narrowed, first, self.timestamps)
        if not self.dry_run:
            self.journal.mark_split(batch.batch_no, halves)
        self.stats.split_batches += 1
        await asyncio.gather(*(self.run_batch(h) for h in halves))

    async def reconcile(
        self,
        batch: PlannedBatch,
        rows: list[int] | None = None,
        *,
        rounds: int = 0,
        error: ApiError | None = None,
    ) -> None:
        """Resolve an ambiguous batch: read its window back, claim worklogs that match its
        rows by natural key (as created by this run), re-send only the unclaimed rest.

        ``error`` is what made the last send ambiguous. When the rounds are spent and the
        last read-back proved the rest of the rows are not stored, the outcome is known (the
        server keeps failing) and the run halts as transient (exit 75; the batch stays
        ``ambiguous`` in the journal, so a resume reads it back once more first)."""
        rows = [r for r in (rows or batch.source_rows) if r in self.pending]
        while True:
            if not rows:
                if not self.dry_run:
                    await self._write(
                        self.journal.mark_created, batch.batch_no, [], result="reconciled"
                    )
                return
            try:
                found = await self.read_back(batch)
            except AuthError as exc:
                self._halt("auth", exc)
                self.stats.ambiguous_batches.append(batch.batch_no)
                return
            except TransientApiError as exc:
                # the server is down (retry budget spent even for a GET): stop sending more
                # batches into the outage; a resume reads this one back first (exit 75)
                self._halt("transient", exc)
                self.stats.ambiguous_batches.append(batch.batch_no)
                return
            except TimetrackerError:
                self.stats.ambiguous_batches.append(batch.batch_no)
                return
            ours: set[str] = set()
            if not self.remember_created:  # created by this run: in the journal, not here
                ours = await asyncio.to_thread(
                    self.journal.created_worklog_ids, [str(w.get("id") or "") for w in found]
                )
            claimed = self._claim(rows, found, ours)
            edited = {str(w.get("id")): _edited(w) for w in found}
            created = [(row, wid, edited.get(wid)) for row, wid in sorted(claimed.items())]
            rest = [r for r in rows if r not in claimed]
            if not rest:
                await self._commit_created(batch.batch_no, created)
                return
            if created:
                await self._commit_created(None, created)
            rows = rest
            if not self.resend:
                # what the server holds is claimed; the rest was never created
                await self._write(
                    self.journal.mark_failed,
                    batch.batch_no,
                    "not created (found so when reconciled)",
                )
                return
            if rounds >= MAX_AMBIGUOUS_ROUNDS:
                self._halt("transient", _kept_failing(batch, len(rows), rounds + 1, error))
                return
            if self.stopping:
                self.stats.ambiguous_batches.append(batch.batch_no)
                return
            rounds += 1
            outcome = await self._send(batch, rows)
            if outcome.kind == "ambiguous":
                error = outcome.error
                continue
            if outcome.kind == "skipped":
                # halted meanwhile: the batch is still ambiguous, a resume reads it back
                self.stats.ambiguous_batches.append(batch.batch_no)
                return
            await self._handle(batch, rows, outcome, rounds=rounds)
            return

    def _claim(
        self, rows: list[int], worklogs: list[dict[str, Any]], ours: Set[str] = frozenset()
    ) -> dict[int, str]:
        candidates = []
        for worklog in worklogs:
            wid = str(worklog.get("id") or "")
            if not wid or wid in self.known_ids or wid in ours:
                continue
            if self.claim_after is not None and worklog.get("createdTimestamp"):
                text = str(worklog["createdTimestamp"])
                try:
                    # a naive stamp may be UTC or local: the later reading, so that a worklog
                    # of this run is never taken for an older one (and re-sent)
                    created = max(
                        parse_api_timestamp(text),
                        parse_api_timestamp(text, naive_offset_minutes=self.created_offset_minutes),
                    )
                except ValueError:
                    created = None
                if created is not None and created < self.claim_after - CLAIM_CLOCK_MARGIN:
                    continue  # existed before this run: not ours
            candidates.append(worklog)
        existing = existing_from_worklogs(
            candidates, naive_offset_minutes=self.naive_offset_minutes
        )
        keys = self.keys
        if isinstance(keys, KeyTable):  # digests (core.key_table)
            claimed = keys.match(existing, rows=rows)
        else:
            claimed = match_existing({r: keys[r] for r in rows if r in keys}, existing)
        # reserve the ids now, not after the commit: a concurrent read-back of another batch
        # (identical rows) must not claim the same worklog while this commit is in flight
        self.known_ids.update(claimed.values())
        return claimed


def _kept_failing(
    batch: PlannedBatch, unsent: int, posts: int, error: ApiError | None
) -> TransientApiError:
    """The halt of a batch whose every send was ambiguous while each read-back showed its
    rows (``unsent`` of them) not stored: a failing server, not an unknown outcome."""
    last = f" (last: {error.message})" if error is not None else ""
    return TransientApiError(
        f"batch {batch.batch_no} failed {posts} times{last}; reading it back showed "
        f"{unsent} of its rows not stored",
        status=error.status if error is not None else None,
        transient=True,
        hint="the server keeps failing; run the same command again later, it reads the "
        "batch back first and sends only what is missing",
    )


def _edited(worklog: Mapping[str, Any]) -> str | None:
    value = worklog.get("editedTimestamp")
    return None if value is None else str(value)
