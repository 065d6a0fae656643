import asyncio

import pytest

from timetracker_import.app.concurrency import AdaptiveSemaphore
from timetracker_import.core.concurrency import AdaptiveLimit


def test_halves_on_throttle_down_to_one() -> None:
    limit = AdaptiveLimit(8)
    seen = []
    for _ in range(5):
        limit.on_throttled()
        seen.append(limit.limit)
    assert seen == [4, 2, 1, 1, 1]


def test_grows_by_one_after_k_successes_up_to_maximum() -> None:
    limit = AdaptiveLimit(4, grow_after=3)
    limit.on_throttled()
    limit.on_throttled()
    assert limit.limit == 1
    limits = []
    for _ in range(12):
        limit.on_success()
        limits.append(limit.limit)
    assert limits == [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4]


def test_failure_breaks_the_streak_without_changing_limit() -> None:
    limit = AdaptiveLimit(4, grow_after=2)
    limit.on_throttled()
    limit.on_success()
    limit.on_failure()
    limit.on_success()
    assert limit.limit == 2
    limit.on_success()
    assert limit.limit == 3


def test_can_start() -> None:
    limit = AdaptiveLimit(2)
    assert limit.can_start(1) and not limit.can_start(2)


@pytest.mark.parametrize("bad", [0, -1])
def test_rejects_bad_maximum(bad: int) -> None:
    with pytest.raises(ValueError):
        AdaptiveLimit(bad)


async def test_semaphore_waits_below_the_shrunk_limit() -> None:
    sem = AdaptiveSemaphore(4, grow_after=100)
    release = [asyncio.Event() for _ in range(4)]
    started = asyncio.Event()

    async def holder(n: int) -> None:
        async with sem.slot():
            await release[n].wait()

    async def late() -> None:
        async with sem.slot():
            started.set()

    holders = [asyncio.create_task(holder(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert sem.in_flight == 4
    await sem.throttled()
    assert sem.limit == 2
    waiter = asyncio.create_task(late())
    release[0].set()
    await asyncio.sleep(0.01)
    # 3 still running: above the new limit of 2, the late request must wait
    assert sem.in_flight == 3 and not started.is_set()
    release[1].set()
    await asyncio.sleep(0.01)
    assert not started.is_set()
    release[2].set()
    await asyncio.wait_for(started.wait(), 1)
    release[3].set()
    await asyncio.gather(waiter, *holders)
    assert sem.in_flight == 0


async def test_semaphore_grows_back_after_successes() -> None:
    sem = AdaptiveSemaphore(2, grow_after=2)
    await sem.throttled()
    assert sem.limit == 1
    await sem.failed()
    await sem.succeeded()
    assert sem.limit == 1
    await sem.succeeded()
    assert sem.limit == 2
