"""Stage ``execute`` for updates and deletes: the one executor of PATCH and DELETE actions
(``sync``, ``worklogs update``, ``worklogs delete``; creates go through the ``Poster``).

Rules, the same as the poster's:

- every intent is committed to the run's journal (``journal.actions``), and to the caller's
  own record through ``EditHooks.before`` (sync's ledger), before the first request leaves;
  outcomes are committed after the answers, in groups, off the event loop (journal first,
  then ``EditHooks.after``); until its group is committed an answered action counts as in
  flight, and the next run resolves it against the server;
- an unanswered PATCH is read back: the worklog holding the new values is done, holding the
  old ones it is sent once more, anything else stays unknown (exit 4; the next run decides);
  an unanswered DELETE is read back the same way (gone: done);
- a 404 is ``gone``; another refusal ``failed`` with the server's reason; a 401/403 halts the
  run (exit 3), a spent retry budget halts it (exit 75): requests in flight finish, the rest
  is not sent (``unsent``) and stays for the next run; ``interrupt()`` stops the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from timetracker_import.app.limiter import Concurrency, Limiter
from timetracker_import.core.actions import Delete, Update
from timetracker_import.core.outcomes import Halt
from timetracker_import.core.worklog import ServerWorklog, diff_content
from timetracker_import.errors import (
    AmbiguousOutcome,
    ApiError,
    AuthError,
    TimetrackerError,
    TransientApiError,
    delete_target_gone,
)
from timetracker_import.journal.actions import PlannedWrite, Settled

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.journal.store import Journal


class EditState(StrEnum):
    """What became of one update or delete."""

    DONE = "done"
    #: the worklog did not exist (404)
    GONE = "gone"
    #: the server refused it (the reason is in ``detail``); nothing changed
    FAILED = "failed"
    #: sent, outcome unknown after reading back: the intent stays open for the next run
    UNKNOWN = "unknown"
    #: never sent (the run halted or was interrupted first)
    UNSENT = "unsent"


@dataclass(frozen=True)
class EditWrite:
    """One planned write: an ``Update`` or a ``Delete`` with the row and key it serves."""

    action: Update | Delete
    source_row: int | None = None
    key: str | None = None

    @property
    def kind(self) -> str:
        return self.action.kind

    @property
    def worklog_id(self) -> str:
        return self.action.worklog_id

    def planned(self) -> PlannedWrite:
        if isinstance(self.action, Update):
            return PlannedWrite(
                "update",
                self.action.worklog_id,
                self.action.before,
                self.action.fields,
                self.source_row,
                self.key,
            )
        return PlannedWrite(
            "delete", self.action.worklog_id, self.action.before, None, self.source_row, self.key
        )


@dataclass
class EditOutcome:
    """The outcome of one write: its state, the worklog as the PATCH answered it, and the
    error of a refusal."""

    write: EditWrite
    action_id: int
    state: EditState
    answer: dict[str, Any] | None = None
    error: ApiError | None = None

    @property
    def detail(self) -> str | None:
        if self.error is None:
            return None
        return self.error.description or self.error.message

    @property
    def edited_after(self) -> str | None:
        value = (self.answer or {}).get("editedTimestamp")
        return None if value is None else str(value)


class EditHooks:
    """What a caller keeps besides the journal (sync: its ledger). ``before`` runs in a
    worker thread before any request is sent; ``after`` runs in a worker thread once a group
    of outcomes is committed to the journal."""

    def before(self, writes: Sequence[EditWrite], run_id: str) -> None:
        """Record the intents (committed before the first request)."""

    def after(self, outcomes: Sequence[EditOutcome], run_id: str) -> None:
        """Record the outcomes (after the journal committed them)."""


@dataclass
class EditStats:
    """What the executor did."""

    outcomes: list[EditOutcome] = field(default_factory=list)
    halt: Halt | None = None
    halt_error: TimetrackerError | None = None
    requests: int = 0

    def of(self, state: EditState) -> list[EditOutcome]:
        return [o for o in self.outcomes if o.state == state]

    @property
    def unknown(self) -> bool:
        return any(o.state == EditState.UNKNOWN for o in self.outcomes)


#: answered outcomes are committed in groups of this many (fewer fsyncs, no stall)
COMMIT_EVERY = 50


class EditExecutor:
    """Carries out updates and deletes for one run (see the module docstring)."""

    def __init__(
        self,
        client: TimetrackerClient,
        journal: Journal | None,
        *,
        concurrency: Concurrency | int | Limiter = 8,
        hooks: EditHooks | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal  # None: a dry run, nothing is sent or recorded
        self.hooks = hooks or EditHooks()
        # the one adaptive limiter of every executor (app.limiter): a Limiter given is shared
        # with the run's creates, so the server sees one run's load
        self.limiter = concurrency if isinstance(concurrency, Limiter) else Limiter(concurrency)
        self.on_done = on_done
        self.stats = EditStats()
        self.stopping = False
        self._group: list[EditOutcome] = []
        self._commit_lock = asyncio.Lock()

    # -- control -------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop dispatching (Ctrl-C, SIGTERM); requests in flight finish normally."""
        self._halt(Halt.INTERRUPTED, None)

    def _halt(self, reason: Halt, error: TimetrackerError | None) -> None:
        self.stopping = True
        if self.stats.halt is None:
            self.stats.halt, self.stats.halt_error = reason, error

    # -- running -------------------------------------------------------------------------

    async def run(self, writes: Sequence[EditWrite]) -> EditStats:
        """Journal every intent, then send the writes concurrently; every outcome is
        committed before this returns."""
        if not writes:
            return self.stats
        journal = self.journal
        assert journal is not None, "a dry run plans edits, it does not execute them"
        await asyncio.to_thread(self.hooks.before, writes, journal.run_id)
        ids = await asyncio.to_thread(journal.intend, [w.planned() for w in writes])
        results = await asyncio.gather(
            *(self._one(w, i) for w, i in zip(writes, ids, strict=True)),
            return_exceptions=True,
        )
        await self._flush()
        for failure in results:
            if isinstance(failure, BaseException):
                raise failure
        return self.stats

    async def _one(self, write: EditWrite, action_id: int) -> None:
        async with self.limiter.slot(kind=write.kind) as slot:
            if self.stopping:
                outcome = EditOutcome(write, action_id, EditState.UNSENT)
            else:
                outcome = await self._send(write, action_id)
                if outcome.state in (EditState.DONE, EditState.GONE, EditState.FAILED):
                    slot.done(rows=1 if outcome.state == EditState.DONE else 0)
                elif outcome.state == EditState.UNKNOWN:
                    slot.overloaded()  # no answer, or a 5xx the client gave up on
        await self._settle(outcome)

    async def _send(self, write: EditWrite, action_id: int) -> EditOutcome:
        self.stats.requests += 1
        try:
            answer = await self._request(write)
        except AmbiguousOutcome:
            return await self._read_back(write, action_id)
        except AuthError as exc:
            self._halt(Halt.AUTH, exc)
            return EditOutcome(write, action_id, EditState.UNSENT, error=exc)
        except TransientApiError as exc:
            self._halt(Halt.TRANSIENT, exc)
            # an attempt retried after a 5xx or a dropped answer may have gone through:
            # the intent stays open, the next run (or undo) reads the worklog and decides
            return EditOutcome(write, action_id, EditState.UNKNOWN, error=exc)
        except ApiError as exc:
            gone = write.kind == "delete" and delete_target_gone(exc)
            state = EditState.GONE if gone else EditState.FAILED
            return EditOutcome(write, action_id, state, error=exc)
        return EditOutcome(write, action_id, EditState.DONE, answer=answer)

    async def _request(self, write: EditWrite) -> dict[str, Any] | None:
        if isinstance(write.action, Update):
            return await self.client.patch_worklog(write.worklog_id, write.action.fields)
        await self.client.delete_worklog(write.worklog_id)
        return None

    async def _read_back(self, write: EditWrite, action_id: int) -> EditOutcome:
        """After a write without an answer: read the worklog; done if it shows the write,
        sent once more if it shows the old state, else unknown."""
        for attempt in range(2):
            try:
                found = await worklog_or_none(self.client, write.worklog_id)
            except TransientApiError as exc:
                self._halt(Halt.TRANSIENT, exc)  # stop sending more into the outage
                return EditOutcome(write, action_id, EditState.UNKNOWN, error=exc)
            except TimetrackerError as exc:
                error = exc if isinstance(exc, ApiError) else None
                return EditOutcome(write, action_id, EditState.UNKNOWN, error=error)
            applied = self._applied(write, found)
            if applied:
                return EditOutcome(write, action_id, EditState.DONE, answer=found)
            if applied is None or attempt:
                return EditOutcome(write, action_id, EditState.UNKNOWN)
            try:
                answer = await self._request(write)
            except AmbiguousOutcome:
                continue
            except ApiError as exc:
                if write.kind == "delete" and delete_target_gone(exc):
                    return EditOutcome(write, action_id, EditState.DONE)
                return EditOutcome(write, action_id, EditState.UNKNOWN, error=exc)
            return EditOutcome(write, action_id, EditState.DONE, answer=answer)
        return EditOutcome(write, action_id, EditState.UNKNOWN)

    @staticmethod
    def _applied(write: EditWrite, found: dict[str, Any] | None) -> bool | None:
        """True: the worklog shows the write; False: it shows the state before (send it
        again); None: neither (someone else changed it)."""
        if isinstance(write.action, Delete):
            return found is None
        if found is None:
            return None
        held = ServerWorklog.from_api(found).content
        if not diff_content(dict(write.action.fields), held):
            return True
        if not diff_content(dict(write.action.before), held):
            return False
        return None

    # -- committing outcomes -------------------------------------------------------------

    async def _settle(self, outcome: EditOutcome) -> None:
        self.stats.outcomes.append(outcome)
        self._group.append(outcome)
        if self.on_done is not None:
            self.on_done(1)
        if len(self._group) >= COMMIT_EVERY:
            await self._flush()

    async def _flush(self) -> None:
        async with self._commit_lock:
            group, self._group = self._group, []
            if group:
                await asyncio.to_thread(self._commit, group)

    def _commit(self, group: list[EditOutcome]) -> None:
        journal = self.journal
        assert journal is not None
        journal.settle(
            Settled(o.action_id, o.state.value, o.edited_after, o.detail)
            for o in group
            if o.state in (EditState.DONE, EditState.GONE, EditState.FAILED)
        )
        unsent = [
            Settled(o.action_id, "failed", None, "not sent: the run stopped first")
            for o in group
            if o.state == EditState.UNSENT
        ]
        journal.settle(unsent)
        self.hooks.after(group, journal.run_id)


async def worklog_or_none(client: TimetrackerClient, worklog_id: str) -> dict[str, Any] | None:
    """``GET workLogs/{id}``, or None when there is no such worklog (404, or an id that is
    not even well-formed: 400 ``ApiVersionError``)."""
    try:
        return await client.worklog(worklog_id)
    except AuthError:
        raise
    except ApiError as exc:
        if exc.status == 404 or (exc.status == 400 and exc.error_code == "ApiVersionError"):
            return None
        raise


async def gather_limited(calls: Sequence[Awaitable[Any]], limit: int) -> list[Any]:
    """Await ``calls`` with at most ``limit`` running at once; results in order."""
    slots = asyncio.Semaphore(max(1, limit))

    async def one(call: Awaitable[Any]) -> Any:
        async with slots:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))
