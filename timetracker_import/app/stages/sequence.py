"""The one sequencer of a run, and the planners it drives.

Every run kind that writes (``import``, ``sync``, ``worklogs update`` and ``worklogs
delete``) goes through the same steps, in one event loop, and only the planning differs:

    connect -> setup reads (me, users, activity types) -> zone warnings -> resolve
            -> planner.read_server -> planner.plan -> [journal, confirm] -> execute -> account

``Sequencer`` owns what every run has once: the client's lifetime, the setup reads (sent at
once, while the file may still be read), the zone warnings, the resolve stage, and how a run
stops. A stop (SIGINT, SIGTERM, SIGHUP, or the caller's ``cancel`` event) means one thing
everywhere:

- while the executors write (inside ``writing()``), they stop dispatching and let the
  requests in flight get their outcome, which is journaled: the run finishes resumably;
- before that, the step the run awaits (``step()``) is cancelled: nothing was sent. A run
  that already has a journal catches it and finishes as interrupted; otherwise ``run()``
  raises ``Interrupted`` with exit code 128 + the signal (130 for Ctrl-C or ``cancel``).

A ``Planner`` is what a run kind adds: what it must read from the server for the resolved
rows (``read_server``), and the actions it plans from those rows and reads (``plan``, pure:
the run journals the plan before anything is executed). ``import``'s is
``app.stages.plan.CreatePlanner`` (creates, after the locked-week and existing-worklog
checks); ``sync``'s is ``app.sync._SyncRun`` (creates, updates and deletes of one source in
a declared period, ``core.sync_plan``); ``worklogs update``'s and ``delete``'s are
``app.worklogs.UpdatePlanner`` and ``DeletePlanner`` (PATCHes of the fields that differ,
DELETEs that keep each worklog as it was). ``worklogs update/delete`` do not resolve rows
from a file, so they use the run and stop rules only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from timetracker_import.app.stages.execute import interrupted_error, stop_signals
from timetracker_import.core.zone import ZoneChoice, zone_warnings
from timetracker_import.errors import Interrupted

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import RetryingClientFactory, TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.app.stages.resolve import ResolvedRows

T = TypeVar("T")
RowsT = TypeVar("RowsT", contravariant=True)
ReadsT = TypeVar("ReadsT")
PlanT = TypeVar("PlanT", covariant=True)


class Planner(Protocol[RowsT, ReadsT, PlanT]):
    """What one run kind plans. ``read_server``: the server state its plan depends on, for
    the resolved ``rows``; ``plan``: the actions, from the rows and those reads alone."""

    async def read_server(self, client: TimetrackerClient, rows: RowsT) -> ReadsT: ...

    def plan(self, rows: RowsT, reads: ReadsT) -> PlanT: ...


@dataclass(frozen=True)
class Setup:
    """The setup reads every run starts with."""

    me: dict[str, Any]
    users: list[dict[str, Any]]
    activity_types: dict[str, Any]

    @property
    def me_offset(self) -> int:
        """The token user's offset from UTC in minutes (``me.timeZone``)."""
        return int(self.me.get("timeZone") or 0)


class Sequencer:
    """Runs the stages of one run in order and stops it the one way (module docstring).

    ``what`` names the run in messages ("import", "sync"); ``retried(reason)`` is told of
    every request the client retries by itself (a 429, a 5xx, a timeout), to slow the run's
    writes down."""

    def __init__(
        self,
        connection: ConnectionSettings,
        *,
        what: str,
        cancel: threading.Event | None = None,
        retried: Callable[[str], None] | None = None,
    ) -> None:
        self.connection = connection
        self.what = what
        self.cancel = cancel
        self.retried = retried
        #: the first SIGINT/SIGTERM/SIGHUP received (exit 128 + it)
        self.stop_signal: int | None = None
        self._stopped = False
        self._step: asyncio.Future[Any] | None = None
        self._writer_stop: Callable[[], None] | None = None
        self._setup: asyncio.Future[list[Any]] | None = None

    # -- stopping ------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """A stop was asked (a signal or the ``cancel`` event)."""
        return self._stopped

    def stop(self, signo: int | None = None) -> None:
        """Stop the run: the writers if they write, else the step it awaits. Only the first
        stop cancels a step (a run finishing after one, e.g. writing its summary, is not
        cancelled by a second Ctrl-C); every one reaches the writers."""
        if signo is not None and self.stop_signal is None:
            self.stop_signal = signo
        first, self._stopped = not self._stopped, True
        if self._writer_stop is not None:
            self._writer_stop()
        elif first and self._step is not None and not self._step.done():
            self._step.cancel()

    async def step(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` as the step a stop cancels (unless ``writing()`` has taken over).
        Steps nest: once ``work`` ends, the step that awaited it is again the one a stop
        cancels."""
        if self._stopped and self._writer_stop is None:
            work.close()
            raise asyncio.CancelledError
        outer, task = self._step, asyncio.ensure_future(work)
        self._step = task
        try:
            return await task
        finally:
            self._step = outer

    @contextlib.contextmanager
    def writing(self, stop: Callable[[], None]) -> Iterator[None]:
        """While the block runs, a stop calls ``stop`` (the executors stop dispatching)
        instead of cancelling; a stop asked before takes effect at once."""
        outer = self._writer_stop
        self._writer_stop = stop
        if self._stopped:
            stop()
        try:
            yield
        finally:
            self._writer_stop = outer

    def interrupted(self, hint: str) -> Interrupted:
        """The error of a run stopped before it wrote anything."""
        return interrupted_error(self.stop_signal, self.what, hint)

    async def _watch_cancel(self) -> None:
        assert self.cancel is not None
        while not self.cancel.is_set():
            await asyncio.sleep(0.05)
        self.stop()

    def _on_retry(self, event: Any) -> None:
        if self.retried is not None:
            self.retried(str(getattr(event, "reason", "")))

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        client_factory: RetryingClientFactory,
        body: Callable[[TimetrackerClient], Coroutine[Any, Any, T]],
        *,
        nothing_sent: str = "nothing was sent; run the same command again",
    ) -> T:
        """Connect, run ``body(client)`` as the first step with the stop signals handled,
        and close the client. A stop that cancels it raises ``Interrupted`` (``nothing_sent``
        is its hint)."""
        watcher = asyncio.ensure_future(self._watch_cancel()) if self.cancel else None
        try:
            client = client_factory(self.connection, self._on_retry)
            async with client:
                with stop_signals(self.stop):
                    try:
                        return await self.step(body(client))
                    except asyncio.CancelledError:
                        if not self._stopped:
                            raise
                        raise self.interrupted(nothing_sent) from None
                    finally:
                        await _reap([self._setup] if self._setup is not None else [])
        finally:
            if watcher is not None:
                watcher.cancel()

    def start_setup(self, client: TimetrackerClient) -> None:
        """Send the setup reads (independent GETs: one round trip, on the wire while the
        file may still be read; they change nothing)."""
        if self._setup is None:
            self._setup = asyncio.ensure_future(
                all_or_cancel(client.me(), client.users(), client.activity_types())
            )

    async def setup(
        self,
        client: TimetrackerClient,
        *,
        zone: ZoneChoice,
        naive_times: int,
        notes: list[str],
    ) -> Setup:
        """The setup reads' answers (sent now unless ``start_setup`` did); the zone warnings
        (this machine's zone taken for naive times, a declared zone other than the token
        user's) are added to ``notes``."""
        self.start_setup(client)
        assert self._setup is not None
        me, users, activity = await self._setup
        setup = Setup(me, users, activity)
        notes.extend(zone_warnings(zone, naive_times=naive_times, me_offset=setup.me_offset))
        return setup

    @staticmethod
    def resolve(
        frame: pd.DataFrame, prepared: PreparedFile, setup: Setup, *, user_fix: str | None
    ) -> ResolvedRows:
        """Stage ``resolve`` of ``frame``'s rows: users and activity types by name."""
        from timetracker_import.app.stages.resolve import resolve_rows

        return resolve_rows(
            frame,
            me=setup.me,
            users=setup.users,
            activity_types=setup.activity_types,
            user_header=prepared.user_header,
            activity_header=prepared.activity_header,
            user_fix=user_fix or prepared.loaded.unknown_user_fix(),
        )

    @staticmethod
    async def plan(
        planner: Planner[RowsT, ReadsT, PlanT], client: TimetrackerClient, rows: RowsT
    ) -> PlanT:
        """The planner's reads, then its plan."""
        return planner.plan(rows, await planner.read_server(client, rows))


async def all_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather``, but the first failure cancels the others (no orphaned requests)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        await _reap(tasks)
        raise


async def _reap(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def reaped(tasks: list[asyncio.Future[Any]]) -> AsyncIterator[None]:
    """On leaving the block, cancel the reads in ``tasks`` still running and collect every
    outcome: no orphaned request, and no error of a read whose answer was not needed."""
    try:
        yield
    finally:
        await _reap(tasks)
