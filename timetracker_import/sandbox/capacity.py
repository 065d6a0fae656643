"""A server of finite capacity: ``workers`` API calls are served at once, the others wait in
line (first come, first served) and, with a bounded line, a call that finds it full is turned
away with 503. Each call holds its place for ``row_cost`` seconds per row it processes, so
latency rises with the load as on a real server whose database is the limit (docs/sandbox.md,
"Capacity"). Nothing here is shared with the client's code.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


class CapacitySpecError(ValueError):
    """A capacity option is out of range."""


@dataclass
class Place:
    """A call being served; ``rows`` is set once the handler knows how many it processed."""

    rows: int = 1


@dataclass
class Capacity:
    """``workers``: calls served at once (None: no limit); ``row_cost``: seconds per row a
    call keeps its place; ``queue``: calls that may wait (None: no limit; 0: none)."""

    workers: int | None = None
    row_cost: float = 0.0
    queue: int | None = None
    serving: int = 0
    peak_serving: int = 0
    peak_waiting: int = 0
    turned_away: int = 0  # 503 because the line was full
    #: how the row cost is waited out (tests put a recorder here)
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep, repr=False)
    _waiting: deque[asyncio.Future[None]] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise CapacitySpecError(f"capacity must be at least 1 call at once, got {self.workers}")
        if self.row_cost < 0:
            raise CapacitySpecError(f"the row cost cannot be negative, got {self.row_cost}")
        if self.queue is not None and self.queue < 0:
            raise CapacitySpecError(f"the queue cannot be negative, got {self.queue}")

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[Place | None]:
        """Wait for a place and hold it for the ``async with`` body plus the row cost of
        ``place.rows``; yields None (no place taken) when the line is full."""
        if not await self._enter():
            self.turned_away += 1
            yield None
            return
        place = Place()
        try:
            yield place
            if self.row_cost > 0:
                await self.sleep(self.row_cost * place.rows)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        if self.workers is None or (self.serving < self.workers and not self._waiting):
            self._take()
            return True
        if self.queue is not None and len(self._waiting) >= self.queue:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self.peak_waiting = max(self.peak_waiting, len(self._waiting))
        try:
            await waiter  # the place is taken for us by _leave
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._leave()
            else:
                self._waiting.remove(waiter)
            raise
        return True

    def _take(self) -> None:
        self.serving += 1
        self.peak_serving = max(self.peak_serving, self.serving)

    def _leave(self) -> None:
        self.serving -= 1
        while self._waiting and (self.workers is None or self.serving < self.workers):
            waiter = self._waiting.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)
                break

    def stats(self) -> dict[str, Any]:
        """For ``GET /_sandbox/stats``."""
        return {
            "workers": self.workers,
            "rowCostMs": self.row_cost * 1000,
            "queue": self.queue,
            "serving": self.serving,
            "waiting": self.waiting,
            "peakServing": self.peak_serving,
            "peakWaiting": self.peak_waiting,
            "turnedAway": self.turned_away,
        }

    def reset_counters(self) -> None:
        self.peak_serving = self.serving
        self.peak_waiting = len(self._waiting)
        self.turned_away = 0


def rows_of(payload: Any) -> int:
    """How many rows an answer's ``data`` holds: the items of a list (a batch, a page), one
    for anything else (a single worklog, ``me``, an error)."""
    items = getattr(payload, "items_count", None)
    if isinstance(items, int):
        return items
    if isinstance(payload, list):
        return len(payload)
    return 1
