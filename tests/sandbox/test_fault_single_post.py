"""Issue: ``worklogs#1:drop-after-commit`` on a single ``POST workLogs`` was said to store
nothing (while ``batch#1:drop-after-commit`` stores). The ``worklogs`` selector counts every
call of its endpoints (GET/POST workLogs, GET/PATCH/DELETE workLogs/{id}), so ``#1`` is the
first of those, whichever method it is."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.sandbox.conftest import ApiFactory
from tests.sandbox.test_faults import stats

BODY: dict[str, Any] = {"timeStamp": "2024-03-04T09:00:00", "length": 60, "comment": "single"}


@pytest.mark.parametrize(("action", "stored"), [("drop", 0), ("drop-after-commit", 1)])
async def test_single_post_first_call(make_api: ApiFactory, action: str, stored: int) -> None:
    api = await make_api(faults=[f"worklogs#1:{action}"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.post("workLogs", BODY)
    doc = await stats(api)
    assert doc["worklogs"] == stored
    assert doc["fired"] == {f"worklogs#1:{action}": 1}
    status, _, _ = await api.post("workLogs", BODY)  # the next call is normal
    assert status == 200
    assert (await stats(api))["worklogs"] == stored + 1


async def test_a_get_counts_as_a_worklogs_call(make_api: ApiFactory) -> None:
    """A read of workLogs before the POST is call #1: the rule fires on the GET (a drop of a
    read stores nothing) and the POST, call #2, is untouched. Select it with #2."""
    api = await make_api(faults=["worklogs#1:drop-after-commit"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.get("workLogs")
    status, _, _ = await api.post("workLogs", BODY)
    assert status == 200
    assert (await stats(api))["worklogs"] == 1

    api = await make_api(faults=["worklogs#2:drop-after-commit"])
    assert (await api.get("workLogs"))[0] == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.post("workLogs", BODY)
    doc = await stats(api)
    assert doc["worklogs"] == 1 and doc["faultCalls"]["worklogs"] == 2
