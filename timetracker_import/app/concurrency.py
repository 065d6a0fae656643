"""An asyncio adapter over ``core.concurrency.AdaptiveLimit``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from timetracker_import.core.concurrency import AdaptiveLimit


class AdaptiveSemaphore:
    """A semaphore whose size follows an ``AdaptiveLimit``.

    Use ``async with sem.slot(): ...`` around a request and report its outcome with
    ``sem.throttled()`` / ``sem.succeeded()`` / ``sem.failed()``. When the limit shrinks,
    running requests finish normally; new ones wait until fewer than the limit are in flight.
    """

    def __init__(self, maximum: int, *, grow_after: int = 10) -> None:
        self.state = AdaptiveLimit(maximum, grow_after=grow_after)
        self.in_flight = 0
        self._changed = asyncio.Condition()

    @property
    def limit(self) -> int:
        """The current limit."""
        return self.state.limit

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot, hold it for the body, then release it."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.state.can_start(self.in_flight))
            self.in_flight += 1
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    async def _update(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def succeeded(self) -> None:
        """The request went through."""
        self.state.on_success()
        await self._update()

    async def throttled(self) -> None:
        """The request got a 429."""
        self.state.on_throttled()
        await self._update()

    async def failed(self) -> None:
        """The request failed otherwise."""
        self.state.on_failure()
        await self._update()
