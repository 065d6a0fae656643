"""The adaptive limiter: its rule on a fake clock (servers simulated event by event, no
sleeping, no timing), and its asyncio gate."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from timetracker_import.app.limiter import (
    DEFAULT_CEILING,
    AdaptiveLimit,
    Concurrency,
    Limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    """``workers`` requests served at once (FIFO queue beyond), ``service`` seconds each (or
    per row with ``per_row``), ``wire`` seconds of round trip outside the server; optionally
    ``rate`` requests/s (token bucket, burst = rate): over it a request is answered 429 at
    once and retried by the client after ``retry_after`` s, holding its slot (as the client
    does)."""

    workers: int = 1_000_000
    service: float = 0.0
    per_row: bool = False
    wire: float = 0.05
    rate: float | None = None
    retry_after: float = 1.0
    busy_until: list[float] = field(default_factory=list)
    tokens: float = 0.0
    stamp: float = 0.0
    served: int = 0
    in_service_peak: int = 0

    def answer_at(self, now: float, rows: int) -> float:
        arrive = now + self.wire / 2
        cost = self.service * (rows if self.per_row else 1)
        if len(self.busy_until) < self.workers:
            start = arrive
        else:
            start = max(arrive, heapq.heappop(self.busy_until))
        heapq.heappush(self.busy_until, start + cost)
        self.served += 1
        return start + cost + self.wire / 2

    def admits(self, now: float) -> bool:
        if self.rate is None:
            return True
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Result:
    seconds: float
    limits: list[int]
    limiter: AdaptiveLimit
    throttled: int = 0


def simulate(
    server: Server,
    setting: Concurrency,
    requests: int,
    *,
    rows: Callable[[int], int] = lambda i: 500,
    max_attempts: int = 5,
) -> Result:
    """Send ``requests`` requests through ``AdaptiveLimit`` to ``server``; return the time
    taken and the limit after every answer. Raises if a request spends its retry budget."""
    clock = FakeClock()
    limiter = AdaptiveLimit(setting, clock=clock)
    if server.rate is not None:
        server.tokens = server.rate
    events: list[tuple[float, int, str, int, object, int]] = []
    seq = 0
    sent = 0
    limits: list[int] = []
    throttled = 0

    def send(ticket: object, index: int, attempt: int) -> None:
        nonlocal seq, throttled
        if server.admits(clock.now):
            done = server.answer_at(clock.now, rows(index))
            heapq.heappush(events, (done, seq, "answer", index, ticket, attempt))
        else:
            throttled += 1
            limiter.throttled()
            if attempt >= max_attempts:
                raise AssertionError(f"request {index} spent its retry budget")
            heapq.heappush(
                events,
                (
                    clock.now + server.wire + server.retry_after,
                    seq,
                    "retry",
                    index,
                    ticket,
                    attempt + 1,
                ),
            )
        seq += 1

    def dispatch() -> None:
        nonlocal sent
        while sent < requests and limiter.can_start():
            send(limiter.start("batch"), sent, 1)
            sent += 1

    dispatch()
    while events:
        at, _, what, index, ticket, attempt = heapq.heappop(events)
        clock.now = at
        if what == "retry":
            send(ticket, index, attempt)
            continue
        limiter.finish(ticket, rows=rows(index))  # type: ignore[arg-type]
        limits.append(limiter.limit)
        dispatch()
    return Result(clock.now, limits, limiter, throttled)


def best_fixed(server_factory: Callable[[], Server], requests: int, **kw: object) -> float:
    return min(
        simulate(server_factory(), Concurrency(n), requests, **kw).seconds  # type: ignore[arg-type]
        for n in (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64)
    )


# -- the setting --------------------------------------------------------------------------


def test_setting_parses_auto_numbers_and_ceiling() -> None:
    assert Concurrency.parse("auto") == Concurrency(None, DEFAULT_CEILING)
    assert Concurrency.parse(None, 16) == Concurrency(None, 16)
    assert Concurrency.parse("AUTO", 4).start == 4  # the ceiling bounds the start
    assert Concurrency.parse("12") == Concurrency(12, DEFAULT_CEILING)
    assert Concurrency.parse(80) == Concurrency(80, 80)  # a fixed number above the default
    assert str(Concurrency.parse("auto", 32)) == "auto (at most 32)"
    assert str(Concurrency.parse(3)) == "3"
    for bad in ("many", "0", 101, "-1"):
        with pytest.raises(ValueError, match="--concurrency"):
            Concurrency.parse(bad)
    with pytest.raises(ValueError, match="--max-concurrency"):
        Concurrency.parse("auto", 0)


# -- the rule, on simulated servers -------------------------------------------------------


def test_an_idle_far_server_gets_the_ceiling_by_doubling() -> None:
    # 200 ms away, answers at once: only the number in flight limits throughput
    result = simulate(Server(wire=0.2), Concurrency.parse("auto"), 400)
    assert result.limits[7] == 16 and result.limits[7 + 16] == 32  # doubling per window
    assert result.limiter.limit == DEFAULT_CEILING
    # 400 requests: 8+16+32 in the first three round trips, then 64 at a time
    assert result.seconds <= 0.2 * 10 + 1e-9
    fixed8 = simulate(Server(wire=0.2), Concurrency(8), 400).seconds
    assert fixed8 / result.seconds >= 5


def test_a_finite_server_keeps_busy_within_15_percent_of_the_best_fixed_level() -> None:
    # 4 requests at once, 2 ms per row: a batch of 500 takes 1 s of the server
    def server() -> Server:
        return Server(workers=4, service=0.002, per_row=True, wire=0.05)

    auto = simulate(server(), Concurrency.parse("auto"), 200)
    best = best_fixed(server, 200)
    assert auto.seconds <= best * 1.15
    # and it does not pile requests up: the limit ends between the capacity and 3x it
    assert 4 <= auto.limiter.limit <= 12
    assert max(auto.limits[20:]) <= 16


def test_queueing_latency_shrinks_a_limit_that_is_too_high() -> None:
    # 2 requests at once, 0.1 s each: the start (8) already queues; slow start overshoots
    # to 16 (latency 0.8 s), the queueing brings it back down and it stays there
    server = Server(workers=2, service=0.1, wire=0.01)
    result = simulate(server, Concurrency(None, 64), 400)
    assert result.limiter.summary()["peak"] >= 16
    assert result.limiter.limit <= 8
    assert max(result.limits[100:]) <= 8
    assert result.seconds <= 400 / 2 * 0.1 * 1.02  # the server never idles


def test_429s_halve_the_limit_once_per_round_trip_and_every_request_lands() -> None:
    # 10 requests/s; the client retries a 429 after 1 s holding its slot (5 attempts)
    server = Server(wire=0.05, rate=10.0, retry_after=1.0)
    result = simulate(server, Concurrency.parse("auto"), 300)
    assert server.served == 300  # every request answered, none spent its budget
    assert result.throttled > 0
    assert result.limiter.limit <= 4
    assert result.seconds <= 300 / 10 * 1.5


def test_one_429_burst_is_one_cut() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(Concurrency(None, 64), clock=clock)
    tickets = [limit.start() for _ in range(8)]
    clock.now = 0.1
    for t in tickets[:4]:
        limit.finish(t, rows=500)  # srtt 0.1 s
    for _ in range(5):
        limit.throttled()  # the same burst
    assert limit.limit == 4
    clock.now = 0.25
    limit.throttled()  # a round trip later: cut again
    assert limit.limit == 2
    assert limit.summary()["throttled"] == 6


async def test_retried_5xx_cut_like_429_once_per_round_trip() -> None:
    clock = FakeClock()
    limiter = Limiter(Concurrency(None, 64), clock=clock)
    slot = await limiter.acquire()
    clock.now = 0.2
    slot.done(rows=1)
    slot.release()  # srtt 0.2 s
    limiter.overloaded()
    limiter.overloaded()  # the same round trip
    assert limiter.limit == 4
    clock.now = 0.5
    limiter.overloaded()
    assert limiter.limit == 2 and limiter.summary()["overloaded"] == 3


def test_overload_halves_once_for_requests_sent_before_the_cut() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(Concurrency(None, 64), clock=clock)
    tickets = [limit.start() for _ in range(8)]
    clock.now = 1.0
    limit.finish(tickets[0], rows=None, overloaded=True)
    assert limit.limit == 4
    for t in tickets[1:4]:  # sent before the cut: no further cuts
        limit.finish(t, rows=None, overloaded=True)
    assert limit.limit == 4
    fresh = limit.start()
    limit.finish(fresh, rows=None, overloaded=True)  # sent after it: cut again
    assert limit.limit == 2
    assert limit.summary()["overloaded"] == 5


def test_no_growth_without_demand() -> None:
    # 200 requests, never more than 3 at once: the limit has no reason to grow
    clock = FakeClock()
    limit = AdaptiveLimit(Concurrency.parse("auto"), clock=clock)
    for _ in range(100):
        tickets = [limit.start() for _ in range(3)]
        clock.now += 0.05
        for t in tickets:
            limit.finish(t, rows=500)
    assert limit.limit == 8


def test_small_batches_are_not_taken_for_queueing() -> None:
    # batches of 500 take 1 s, a split half of 1 row 20 ms: latencies compare per size
    sizes = [500 if i % 5 else 1 for i in range(300)]
    result = simulate(
        Server(workers=64, service=0.002, per_row=True, wire=0.02),
        Concurrency.parse("auto"),
        len(sizes),
        rows=lambda i: sizes[i],
    )
    assert result.limiter.limit == DEFAULT_CEILING
    assert result.limiter.generation == 0  # never cut


def test_a_slower_server_is_relearnt_at_low_limits() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(Concurrency(None, 64), clock=clock)
    t = limit.start()
    clock.now += 0.1
    limit.finish(t, rows=500)  # unloaded: 0.1 s
    for _ in range(3):  # 8 -> 4 -> 2 -> 1, a round trip apart
        limit.throttled()
        clock.now += 1
    assert limit.limit == 1
    for _ in range(10):  # the server now takes 1 s per request, alone
        t = limit.start()
        clock.now += 1.0
        limit.finish(t, rows=500)
    assert limit.limit > 1  # it learnt the new unloaded latency and grows again


def test_fixed_never_moves_but_measures() -> None:
    server = Server(workers=2, service=0.1, wire=0.01, rate=5.0)
    result = simulate(server, Concurrency(3), 50)
    assert set(result.limits) == {3}
    summary = result.limiter.summary()
    assert summary["mode"] == "fixed" and summary["final"] == summary["peak"] == 3
    assert "ceiling" not in summary
    assert summary["requests"] == 50 and summary["rows_per_second"] > 0


def test_describe_says_it_in_words() -> None:
    from timetracker_import.app.limiter import describe

    grew = {
        "mode": "auto",
        "start": 8,
        "peak": 32,
        "final": 24,
        "mean": 27.4,
        "ceiling": 64,
        "throttled": 3,
        "overloaded": 0,
    }
    assert describe(grew) == (
        "auto: from 8 up to 32, 24 at the end, 27.4 on average (ceiling 64); 3 throttled (429)"
    )
    flat = grew | {"peak": 8, "final": 8, "throttled": 0, "overloaded": 1}
    assert describe(flat) == "auto: 8 throughout (ceiling 64); 1 overloaded (5xx, timeout)"
    assert describe({"mode": "fixed", "start": 4, "peak": 4, "final": 4}) == "fixed at 4"


def test_summary_means_are_time_weighted() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(Concurrency(4), clock=clock)
    a, b = limit.start(), limit.start()
    clock.now = 1.0
    limit.finish(a, rows=10)
    clock.now = 2.0
    limit.finish(b, rows=10)
    clock.now = 10.0  # idle time does not count
    c = limit.start()
    clock.now = 11.0
    limit.finish(c, rows=10)
    summary = limit.summary()
    assert summary["mean"] == 4.0
    assert summary["mean_in_flight"] == pytest.approx((2 + 1 + 1) / 3, abs=0.05)
    assert summary["rows_per_second"] == 10


# -- the asyncio gate ----------------------------------------------------------------------


async def test_gate_holds_requests_above_a_shrunk_limit() -> None:
    limiter = Limiter(Concurrency(None, 8))
    release = [asyncio.Event() for _ in range(8)]
    started = asyncio.Event()

    async def holder(n: int) -> None:
        async with limiter.slot():
            await release[n].wait()

    async def late() -> None:
        async with limiter.slot() as slot:
            started.set()
            slot.done(1)

    holders = [asyncio.create_task(holder(n)) for n in range(8)]
    await asyncio.sleep(0)
    assert limiter.in_flight == 8
    limiter.throttled()
    assert limiter.limit == 4
    waiter = asyncio.create_task(late())
    for n in range(4):
        release[n].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not started.is_set()  # still 7..4 out: not below the limit of 4
    release[4].set()
    await asyncio.wait_for(started.wait(), 1)
    for n in range(5, 8):
        release[n].set()
    await asyncio.gather(waiter, *holders)
    assert limiter.in_flight == 0


async def test_gate_is_first_come_first_served_and_survives_cancellation() -> None:
    limiter = Limiter(1)
    order: list[int] = []
    first = await limiter.acquire()

    async def wait(n: int) -> None:
        async with limiter.slot():
            order.append(n)

    tasks = [asyncio.create_task(wait(n)) for n in range(5)]
    await asyncio.sleep(0)
    tasks[1].cancel()  # a waiter gives up: nobody is stuck behind it
    first.release()
    first.release()  # a second release does nothing
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2, 3, 4]
    assert limiter.in_flight == 0 and limiter._slots.held == 0


async def test_a_waiter_cancelled_just_before_a_release_leaves_quietly() -> None:
    # The release wakes past the cancelled waiter (it is first in line) before the cancelled
    # task runs again: that task must not fail looking for its waiter (a ValueError that
    # printed a traceback when a full disk stopped an import).
    limiter = Limiter(1)
    first = await limiter.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        async with limiter.slot():
            order.append(n)

    tasks = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    first.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError), results
    assert results[1:] == [None, None] and order == [1, 2]
    assert limiter.in_flight == 0 and limiter._slots.held == 0


async def test_ahead_is_bounded_by_the_limit() -> None:
    limiter = Limiter(2)
    inside = 0
    peak = 0
    gate = asyncio.Event()

    async def stage() -> None:
        nonlocal inside, peak
        async with limiter.ahead():
            inside += 1
            peak = max(peak, inside)
            await gate.wait()
            inside -= 1

    tasks = [asyncio.create_task(stage()) for _ in range(6)]
    await asyncio.sleep(0)
    assert inside == 2
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 2


async def test_many_waiters_are_woken_one_place_at_a_time() -> None:
    # 5,000 requests queued behind 4 places: every answer wakes one waiter, not all of them
    limiter = Limiter(4)
    done = 0

    async def request() -> None:
        nonlocal done
        async with limiter.slot() as slot:
            await asyncio.sleep(0)
            slot.done(1)
            done += 1

    await asyncio.gather(*(request() for _ in range(5000)))
    assert done == 5000 and limiter.summary()["requests"] == 5000
