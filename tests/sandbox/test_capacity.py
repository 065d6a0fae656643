"""A sandbox of finite capacity: calls served at once, a line beyond (503 when a bounded
line is full), a cost per row. No timing: the row cost's waits are recorded or held open."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.sandbox.conftest import Api, ApiFactory
from timetracker_import.sandbox import STATE, Capacity, CapacitySpecError
from timetracker_import.sandbox.capacity import rows_of
from timetracker_import.sandbox.context import RawJson


def items(n: int) -> list[dict[str, Any]]:
    return [
        {"timeStamp": f"2024-03-04T{9 + i % 8:02d}:00:00", "length": 60, "comment": f"c{i}"}
        for i in range(n)
    ]


def capacity_of(api: Api) -> Capacity:
    return api.client.app[STATE].capacity


async def stats(api: Api) -> dict[str, Any]:
    async with api.client.get("/_sandbox/stats") as resp:
        return dict(await resp.json())


class HeldCost:
    """Stands in for the row cost's sleep: records each wait and holds it until released."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.entered.set()
        await self.release.wait()


async def test_calls_beyond_capacity_wait_in_line_first_come_first_served() -> None:
    cap = Capacity(workers=2)
    gates = [asyncio.Event() for _ in range(5)]
    order: list[int] = []

    async def call(n: int) -> None:
        async with cap.serve() as place:
            assert place is not None
            order.append(n)
            await gates[n].wait()

    tasks = [asyncio.create_task(call(n)) for n in range(5)]
    await asyncio.sleep(0)
    assert (cap.serving, cap.waiting) == (2, 3)
    assert order == [0, 1]
    gates[1].set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order == [0, 1, 2] and (cap.serving, cap.waiting) == (2, 2)
    tasks[3].cancel()  # a caller that hangs up while waiting leaves the line
    await asyncio.sleep(0)
    gates[0].set()
    for gate in gates:
        gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 2, 4]
    assert (cap.serving, cap.waiting, cap.peak_serving, cap.peak_waiting) == (0, 0, 2, 3)


async def test_row_cost_is_paid_per_row_of_the_answer(make_api: ApiFactory) -> None:
    api = await make_api(capacity=2, row_cost_ms=40)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    capacity_of(api).sleep = record
    status, body, _ = await api.post("workLogs/batch", items(7))
    assert status == 200 and len(body["data"]) == 7
    assert (await api.get("workLogs", query="$count=5"))[0] == 200
    assert (await api.get("me"))[0] == 200
    status, _, _ = await api.post("workLogs/batch", [{"length": -1}])  # refused: one row
    assert status in (400, 422)
    assert waits == pytest.approx([7 * 0.04, 5 * 0.04, 0.04, 0.04])


async def test_a_full_line_is_turned_away_with_503_and_nothing_stored(
    make_api: ApiFactory,
) -> None:
    api = await make_api(capacity=1, row_cost_ms=10, queue=1)
    held = HeldCost()
    capacity_of(api).sleep = held
    first = asyncio.create_task(api.post("workLogs/batch", items(2)))
    await held.entered.wait()  # the first call is being served (its rows are stored)
    second = asyncio.create_task(api.post("workLogs/batch", items(3)))
    while capacity_of(api).waiting < 1:  # the second waits in line
        await asyncio.sleep(0.01)
    status, body, headers = await api.post("workLogs/batch", items(4))  # the line is full
    assert status == 503 and headers["Retry-After"] == "1"
    assert body["error"]["errorCode"] == "UnexpectedError"
    held.release.set()
    assert [(await first)[0], (await second)[0]] == [200, 200]
    s = await stats(api)
    assert s["worklogs"] == 5  # 2 + 3; the turned-away 4 were never stored
    assert s["capacity"] | {"rowCostMs": 10} == {
        "workers": 1,
        "rowCostMs": 10,
        "queue": 1,
        "serving": 0,
        "waiting": 0,
        "peakServing": 1,
        "peakWaiting": 1,
        "turnedAway": 1,
    }
    async with api.client.post("/_sandbox/reset", json={}) as resp:
        assert resp.status == 200
    assert (await stats(api))["capacity"]["turnedAway"] == 0


async def test_the_rate_limit_answers_before_the_line(make_api: ApiFactory) -> None:
    # a 429 costs the server nothing: it is answered at once, even while every place is taken
    api = await make_api(capacity=1, row_cost_ms=10, rate_limit="1/min")
    held = HeldCost()
    capacity_of(api).sleep = held
    first = asyncio.create_task(api.post("workLogs/batch", items(1)))
    await held.entered.wait()
    status, _, _ = await api.post("workLogs/batch", items(1))
    assert status == 429
    assert capacity_of(api).waiting == 0
    held.release.set()
    assert (await first)[0] == 200


def test_rows_of_an_answer() -> None:
    raw = RawJson("[1,2,3]")
    raw.items_count = 3
    assert [rows_of(raw), rows_of([1, 2]), rows_of({"id": 1}), rows_of(None)] == [3, 2, 1, 1]


@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"row_cost": -1.0}, {"workers": 2, "queue": -1}]
)
def test_bad_capacity_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CapacitySpecError):
        Capacity(**kwargs)


def test_the_banner_says_how_it_serves() -> None:
    from timetracker_import.cli.sandbox import _serving

    assert _serving(4, 2.0, None, "10/s") == (
        "4 calls at once (the rest wait: any number), 2 ms per row, at most 10/s"
    )
    assert _serving(1, 0.0, 3, None) == "1 call at once (the rest wait: at most 3, then 503)"
