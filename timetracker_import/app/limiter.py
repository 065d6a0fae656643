"""How many requests may be in flight at once: adaptive concurrency for every executor.

One module, one idea. ``Concurrency`` is the setting (``--concurrency auto|N``,
``--max-concurrency N``); ``AdaptiveLimit`` is the decision logic, pure and driven by an
injectable clock (tests run it on a fake one); ``Limiter`` gates asyncio requests by it.

Use around each request::

    limiter = Limiter(Concurrency.parse("auto", ceiling=64))    # or Limiter(Concurrency(8))
    async with limiter.slot(kind="batch") as slot:   # waits while ``limit`` requests are out
        try:
            answer = await client.post_batch(items)
        except AmbiguousOutcome:                      # 5xx, timeout, dropped connection
            slot.overloaded()
            raise
        slot.done(rows=len(items))                    # answered: latency measured by the slot
    limiter.throttled()          # a 429 (from the client's ``on_retry`` hook), any time
    limiter.overloaded()         # a 5xx/timeout the client retried itself (``on_retry``)
    limiter.summary()            # what it chose, for ``--json`` timings and the report

``slot.done(rows)`` for an answer (also a refusal such as 400/404/409/422: the server did
its work; pass the rows it processed, 0 if none); ``slot.overloaded()`` for a 5xx, a timeout,
a dropped connection or a spent retry budget; neither for what says nothing about load (an
authentication failure, an interrupt, a cancelled task). ``kind`` separates requests of
different cost (``"batch"``, ``"patch"``, ``"delete"``): latencies are compared only within a
kind and a size class. ``acquire()``/``Slot.release()`` do the same without ``async with``
when a slot is taken in one place and given back in another; ``ahead()`` is a second gate of
the same size for work prepared ahead of a slot (the poster stages at most ``limit`` batches).

The rule (``--concurrency auto``), in the manner of TCP slow start and AIMD with a latency
signal (TCP Vegas, Netflix's concurrency-limits):

- it starts at ``start`` (8, at most the ceiling) and judges a window of answers at a time:
  as many answers as the limit (about one round trip);
- latency is compared with the fastest answer seen for the same kind and size class (the
  unloaded latency): up to ``GROW_TOLERANCE`` (1.5x) is flat, beyond ``BACKOFF_TOLERANCE``
  (2x) requests are queueing at the server;
- slow start: while latency stays flat and throughput (rows/s) keeps rising, the limit
  doubles every window; it ends at the first window that is not better;
- then: flat latency adds ``floor(sqrt(limit))``, queueing multiplies the limit by
  ``GROW_TOLERANCE / ratio`` (at least by 0.5), in between the limit holds;
- a 429, 5xx, timeout or dropped connection halves it at once, once per round trip (answers
  of requests sent before the cut do not cut again);
- it grows only when the window used the whole limit (no credit for idle slots), never above
  the ceiling, never below 1. When latency stays high even at one or two requests in flight,
  the server itself got slower: the unloaded latency is learnt anew.

``Concurrency(fixed=N)`` keeps the limit at N; it still measures, for the summary.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

#: where ``auto`` starts, and its default ceiling
DEFAULT_START = 8
DEFAULT_CEILING = 64
#: the most requests in flight anyone may ask for (aiohttp's pool opens 100 connections)
MAX_CEILING = 100
#: latency up to this multiple of the unloaded latency counts as flat
GROW_TOLERANCE = 1.5
#: beyond this multiple, requests are queueing at the server: shrink
BACKOFF_TOLERANCE = 2.0
#: slow start goes on while a doubled limit brings at least this much more throughput
SLOW_START_GAIN = 1.2
#: windows in a row with high latency at <= 2 in flight before the unloaded latency is relearnt
RELEARN_AFTER = 3

Clock = Callable[[], float]


@dataclass(frozen=True)
class Concurrency:
    """The ``--concurrency`` setting: ``fixed`` requests in flight, or adaptive (``None``)
    between 1 and ``ceiling``."""

    fixed: int | None = None
    ceiling: int = DEFAULT_CEILING

    def __post_init__(self) -> None:
        if self.fixed is not None and not 1 <= self.fixed <= MAX_CEILING:
            raise ValueError(
                f"--concurrency must be auto or a number from 1 to {MAX_CEILING}, got {self.fixed}"
            )
        if not 1 <= self.ceiling <= MAX_CEILING:
            raise ValueError(
                f"--max-concurrency must be a number from 1 to {MAX_CEILING}, got {self.ceiling}"
            )

    @classmethod
    def parse(
        cls, value: Concurrency | int | str | None, ceiling: int | None = None
    ) -> Concurrency:
        """``"auto"`` (or None), a number (text or int), or a setting as it is; ``ceiling``
        (``--max-concurrency``) bounds auto. ValueError with the option's words when bad."""
        if isinstance(value, Concurrency):
            return value if ceiling is None else cls(value.fixed, ceiling)
        top = DEFAULT_CEILING if ceiling is None else ceiling
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return cls(None, top)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"--concurrency must be auto or a number from 1 to {MAX_CEILING}, got {value!r}"
            ) from None
        if ceiling is not None and number > ceiling:
            raise ValueError(f"--concurrency {number} is above --max-concurrency {ceiling}")
        return cls(number, max(top, number) if ceiling is None else top)

    @property
    def auto(self) -> bool:
        return self.fixed is None

    @property
    def start(self) -> int:
        """The first limit."""
        return self.fixed if self.fixed is not None else min(DEFAULT_START, self.ceiling)

    def __str__(self) -> str:
        return f"auto (at most {self.ceiling})" if self.fixed is None else str(self.fixed)


def describe(summary: dict[str, Any]) -> str:
    """One line of ``AdaptiveLimit.summary()`` for people (the HTML report), e.g. ``auto:
    from 8 up to 32, 24 at the end, 27.4 on average (ceiling 64); 3 throttled (429)``,
    ``auto: 8 throughout (ceiling 64)`` or ``fixed at 8``."""
    start, peak, final = summary.get("start"), summary.get("peak"), summary.get("final")
    if summary.get("mode") != "auto":
        text = f"fixed at {final}"
    elif start == peak == final:
        text = f"auto: {final} throughout (ceiling {summary.get('ceiling')})"
    else:
        text = (
            f"auto: from {start} up to {peak}, {final} at the end, {summary.get('mean')} on "
            f"average (ceiling {summary.get('ceiling')})"
        )
    events = [
        f"{summary[key]} {label}"
        for key, label in (
            ("throttled", "throttled (429)"),
            ("overloaded", "overloaded (5xx, timeout)"),
        )
        if summary.get(key)
    ]
    return "; ".join([text, *events])


@dataclass
class Ticket:
    """One request in flight: when it started, under which cut, what the limiter had seen."""

    kind: str
    started: float
    generation: int
    throttles: int


@dataclass
class _Window:
    """About one round trip of answers: as many as the limit when it opened."""

    opened: float
    size: int
    samples: int = 0
    rows: int = 0
    #: latencies per (kind, size class)
    latencies: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    peak_in_flight: int = 0


class AdaptiveLimit:
    """The decision logic (no asyncio): ``start()`` a request when ``can_start()``,
    ``finish()`` it with its outcome, ``throttled()`` on a 429. See the module docstring."""

    def __init__(self, setting: Concurrency, *, clock: Clock = time.monotonic) -> None:
        self.setting = setting
        self.clock = clock
        self.limit = setting.start
        self.in_flight = 0
        self.slow_start = setting.auto
        self.generation = 0  # bumped on every cut: answers from before it are not judged
        self.throttles = 0
        self.overloads = 0
        self._base: dict[tuple[str, int], float] = {}
        self._high_at_low = 0
        self._last_cut = -math.inf
        self._srtt: float | None = None
        self._window = self._open(clock())
        self._last_throughput: float | None = None
        # for the summary
        self.peak = self.limit
        self.answers = 0
        self.rows = 0
        self.changes: list[tuple[float, int]] = []
        self._t0: float | None = None  # the first request
        self._t_last: float | None = None
        self._busy = 0.0  # seconds with at least one request out
        self._area = 0.0  # integral of the limit over those seconds
        self._area_busy = 0.0  # integral of in_flight over time

    # -- requests ------------------------------------------------------------------------

    def can_start(self) -> bool:
        return self.in_flight < self.limit

    def start(self, kind: str = "") -> Ticket:
        """A request leaves now (the caller checked ``can_start``)."""
        now = self.clock()
        self._advance(now)
        if self._t0 is None:
            self._t0 = now
            self._window = self._open(now)
        self.in_flight += 1
        self._window.peak_in_flight = max(self._window.peak_in_flight, self.in_flight)
        return Ticket(kind, now, self.generation, self.throttles)

    def finish(self, ticket: Ticket, *, rows: int | None, overloaded: bool = False) -> None:
        """The request ended: answered (``rows`` processed), ``overloaded`` (5xx, timeout,
        dropped connection), or neither (``rows=None``: nothing learnt)."""
        now = self.clock()
        self._advance(now)
        saturated = self.in_flight >= self.limit
        self.in_flight -= 1
        if overloaded:
            self.overloads += 1
            if ticket.generation == self.generation:
                self._cut(now, 0.5)
            return
        if rows is None:
            return
        self.answers += 1
        self.rows += rows
        window = self._window
        window.samples += 1
        window.rows += rows
        latency = max(now - ticket.started, 1e-6)
        # an answer from before the last cut, or with a 429 while it was out (its latency
        # holds a retry wait, not the server's speed), is not judged
        if ticket.throttles == self.throttles and ticket.generation == self.generation:
            key = (ticket.kind, rows.bit_length())
            window.latencies.setdefault(key, []).append(latency)
            self._srtt = latency if self._srtt is None else 0.8 * self._srtt + 0.2 * latency
            base = self._base.get(key)
            if self.slow_start and saturated and (base is None or latency <= base * GROW_TOLERANCE):
                # slow start: one more for each flat answer, so the limit doubles per round
                # trip without waiting for the slowest answer of the window
                self._set(now, min(self.setting.ceiling, self.limit + 1))
        if window.samples >= window.size:
            self._judge(now)

    def throttled(self) -> None:
        """The server answered 429: halve the limit (at most once per round trip)."""
        self.throttles += 1
        self._cut_once_per_round_trip()

    def overloaded_elsewhere(self) -> None:
        """A 5xx or a timeout outside any slot's outcome (one the client retried by itself,
        e.g. for a GET or DELETE): halve the limit (at most once per round trip)."""
        self.overloads += 1
        self._cut_once_per_round_trip()

    def _cut_once_per_round_trip(self) -> None:
        now = self.clock()
        if now - self._last_cut >= (self._srtt or 0.0):
            self._cut(now, 0.5)

    # -- decisions -----------------------------------------------------------------------

    def _open(self, now: float) -> _Window:
        return _Window(now, size=max(1, self.limit), peak_in_flight=self.in_flight)

    def _judge(self, now: float) -> None:
        window = self._window
        self._window = self._open(now)
        ratio = self._ratio(window)
        if not self.setting.auto or ratio is None:
            return
        elapsed = now - window.opened
        throughput = window.rows / elapsed if elapsed > 0 else None
        previous, self._last_throughput = self._last_throughput, throughput
        if ratio > BACKOFF_TOLERANCE and self.limit <= 2:
            self._high_at_low += 1
            if self._high_at_low >= RELEARN_AFTER:  # the server itself got slower
                self._base.clear()
                self._high_at_low = 0
            return
        self._high_at_low = 0
        if self.slow_start:
            gained = (
                previous is None or throughput is None or throughput >= previous * SLOW_START_GAIN
            )
            if ratio <= GROW_TOLERANCE and gained:
                return  # the answers already grew it
            self.slow_start = False
            if ratio > BACKOFF_TOLERANCE:
                self._cut(now, max(0.5, GROW_TOLERANCE / ratio))
            return
        if ratio > BACKOFF_TOLERANCE:
            self._cut(now, max(0.5, GROW_TOLERANCE / ratio))
        elif ratio <= GROW_TOLERANCE and window.peak_in_flight >= window.size:
            step = max(1, math.isqrt(self.limit))
            self._set(now, min(self.setting.ceiling, self.limit + step))

    def _ratio(self, window: _Window) -> float | None:
        """The window's latency over the unloaded latency, per kind and size class: the
        window's median over the class's baseline, weighted by answers. The baseline is the
        lowest first quartile of any window so far (this one included): steadier than the
        fastest single answer, yet in a window where half the requests queued it is still
        the latency of those that did not."""
        total = 0.0
        count = 0
        for key, latencies in window.latencies.items():
            latencies.sort()
            quartile = latencies[len(latencies) // 4]
            base = min(self._base.get(key, quartile), quartile)
            self._base[key] = base
            total += latencies[len(latencies) // 2] / base * len(latencies)
            count += len(latencies)
        return total / count if count else None

    def _cut(self, now: float, factor: float) -> None:
        if not self.setting.auto:
            return
        self.slow_start = False
        self.generation += 1
        self._last_cut = now
        self._last_throughput = None
        self._set(now, max(1, math.floor(self.limit * factor)))
        self._window = self._open(now)

    def _set(self, now: float, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self.peak = max(self.peak, limit)
            if len(self.changes) < 200:
                self.changes.append((now - (self._t0 or now), limit))

    def _advance(self, now: float) -> None:
        if self._t_last is not None and self.in_flight:
            elapsed = now - self._t_last
            self._busy += elapsed
            self._area += self.limit * elapsed
            self._area_busy += self.in_flight * elapsed
        self._t_last = now

    # -- reporting -----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What the limit was: ``mode``, ``start``, ``ceiling`` (auto), ``final``, ``peak``,
        ``mean`` (the limit averaged over the time requests were out), ``mean_in_flight``,
        ``throttled`` (429s) and ``overloaded`` (5xx, timeouts) seen, ``rows_per_second``
        (rows answered over the time requests were out)."""
        busy = self._busy
        out: dict[str, Any] = {
            "mode": "auto" if self.setting.auto else "fixed",
            "start": self.setting.start,
            "final": self.limit,
            "peak": self.peak,
            "mean": round(self._area / busy, 1) if busy else float(self.limit),
            "mean_in_flight": round(self._area_busy / busy, 1) if busy else 0.0,
            "requests": self.answers,
            "throttled": self.throttles,
            "overloaded": self.overloads,
            "rows_per_second": round(self.rows / busy) if busy else 0,
        }
        if self.setting.auto:
            out["ceiling"] = self.setting.ceiling
        return out


class Slot:
    """One request's place under the limit: report its outcome, then ``release()`` (the
    ``async with limiter.slot()`` form releases by itself)."""

    def __init__(self, limiter: Limiter, ticket: Ticket) -> None:
        self._limiter = limiter
        self._ticket = ticket
        self._rows: int | None = None
        self._overloaded = False
        self._released = False

    def done(self, rows: int = 1) -> None:
        """The server answered, having processed ``rows`` rows."""
        self._rows = rows

    def overloaded(self) -> None:
        """A 5xx, a timeout, a dropped connection or a spent retry budget."""
        self._overloaded = True

    def release(self) -> None:
        """Give the place back (once; later calls do nothing)."""
        if not self._released:
            self._released = True
            self._limiter._finish(self._ticket, self._rows, self._overloaded)


class _Gate:
    """Admits callers in arrival order while fewer than ``capacity()`` hold a place. Each
    release wakes at most as many waiters as there are free places (no thundering herd:
    thousands of waiting requests cost nothing per answer)."""

    def __init__(self, capacity: Callable[[], int]) -> None:
        self.capacity = capacity
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> None:
        if not self._waiters and self.held < self.capacity():
            self.held += 1
            return
        import asyncio  # here: the setting is read by commands that never run a request

        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # the place was handed over just before the cancel: give it on
            elif waiter in self._waiters:  # wake() drops a cancelled waiter it passes
                self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        self.held -= 1
        self.wake()

    def wake(self) -> None:
        while self._waiters and self.held < self.capacity():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.held += 1
                waiter.set_result(None)


class Limiter:
    """Gates asyncio requests by an ``AdaptiveLimit`` (see the module docstring)."""

    def __init__(self, setting: Concurrency | int, *, clock: Clock = time.monotonic) -> None:
        if isinstance(setting, int):
            setting = Concurrency(setting)
        self.state = AdaptiveLimit(setting, clock=clock)
        self._slots = _Gate(lambda: self.state.limit)
        self._ahead = _Gate(lambda: self.state.limit)

    @property
    def limit(self) -> int:
        """How many requests may be out now."""
        return self.state.limit

    @property
    def in_flight(self) -> int:
        return self.state.in_flight

    async def acquire(self, kind: str = "") -> Slot:
        """Wait for a place, take it; hand the ``Slot`` back with ``release()``."""
        await self._slots.enter()
        return Slot(self, self.state.start(kind))

    @asynccontextmanager
    async def slot(self, kind: str = "") -> AsyncIterator[Slot]:
        """``acquire()`` for the body of an ``async with``; released on the way out."""
        taken = await self.acquire(kind)
        try:
            yield taken
        finally:
            taken.release()

    @asynccontextmanager
    async def ahead(self) -> AsyncIterator[None]:
        """A place among at most ``limit`` pieces of work prepared ahead of their slot."""
        await self._ahead.enter()
        try:
            yield
        finally:
            self._ahead.leave()

    def throttled(self) -> None:
        """The server answered 429 (any request): halve the limit, once per round trip."""
        self.state.throttled()

    def overloaded(self) -> None:
        """A 5xx or a timeout the client retried by itself (its ``on_retry`` hook; a slot's
        own failure is ``Slot.overloaded``): halve the limit, once per round trip."""
        self.state.overloaded_elsewhere()

    def retried(self, reason: str) -> None:
        """The client's ``on_retry`` hook saw ``reason`` (``"429"``, ``"503"``, a transport
        error's name): 429 is ``throttled``, anything else ``overloaded``."""
        if reason == "429":
            self.throttled()
        else:
            self.overloaded()

    def summary(self) -> dict[str, Any]:
        """See ``AdaptiveLimit.summary``."""
        return self.state.summary()

    def _finish(self, ticket: Ticket, rows: int | None, overloaded: bool) -> None:
        self.state.finish(ticket, rows=rows, overloaded=overloaded)
        self._slots.leave()
        self._ahead.wake()  # the limit may have grown
