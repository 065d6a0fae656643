"""POST workLogs/batch (D8): limits, atomicity, validateOnly, order and speed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Api, ApiFactory


def items(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "timeStamp": f"2024-03-04T09:{i % 60:02d}:{i // 60 % 60:02d}",
            "length": 60 + i,
            "comment": f"#{i}",
        }
        | extra
        for i in range(n)
    ]


async def count_all(api: Api) -> int:
    status, body, _ = await api.get("workLogs/all", who="alice")
    assert status == 200
    return len(body["data"])


async def test_d8_success_returns_worklogs_in_request_order(api: Api) -> None:
    batch = items(5)
    batch.reverse()
    status, body, _ = await api.post("workLogs/batch", batch)
    assert status == 200
    assert [w["comment"] for w in body["data"]] == [b["comment"] for b in batch]
    assert all(w["id"] for w in body["data"])
    assert await count_all(api) == 5


async def test_d8_more_than_500_is_413_and_creates_nothing(api: Api) -> None:
    status, body, _ = await api.post("workLogs/batch", items(501))
    assert (status, body["error"]["errorCode"]) == (413, "RequestTooLarge")
    assert await count_all(api) == 0
    status, body, _ = await api.post("workLogs/batch", items(500))
    assert status == 200 and len(body["data"]) == 500


async def test_d8_all_or_nothing_first_error_without_index(api: Api) -> None:
    batch = items(10)
    batch[3] = {"timeStamp": "2024-03-04T09:00:00", "comment": "no length"}
    batch[7] = {"timeStamp": "2024-03-04T09:00:00", "length": 60}  # a later, different error
    status, body, _ = await api.post("workLogs/batch", batch)
    assert status == 422
    error = body["error"]
    assert error["errorCode"] == "LengthIsRequired"
    text = str(error)
    assert "index" not in text.lower() and "[3]" not in text and "item 3" not in text.lower()
    assert await count_all(api) == 0


async def test_d8_lock_or_rights_error_status_in_batch(api: Api) -> None:
    batch = items(3)
    batch[1]["timeStamp"] = "2026-10-08T09:00:00"  # bob's Submitted week
    status, body, _ = await api.post("workLogs/batch", batch)
    assert (status, body["error"]["errorCode"]) == (409, "ApprovalStateFailed")
    assert await count_all(api) == 0


@pytest.mark.parametrize(
    "flag", ["validateOnly=true", "$validateOnly=true", "%24validateOnly=True"]
)
async def test_d8_validate_only_creates_nothing(api: Api, flag: str) -> None:
    status, body, _ = await api.post("workLogs/batch", items(4), query=flag)
    assert status == 200
    assert len(body["data"]) == 4
    assert all(w["id"] is None for w in body["data"])
    assert body["data"][2]["comment"] == "#2"
    assert await count_all(api) == 0
    bad = items(4)
    bad[2]["length"] = 0
    status, body, _ = await api.post("workLogs/batch", bad, query=flag)
    assert (status, body["error"]["errorCode"]) == (422, "LengthMustBePositive")


async def test_d8_validate_only_false_creates(api: Api) -> None:
    status, _, _ = await api.post("workLogs/batch", items(2), query="validateOnly=false")
    assert status == 200
    assert await count_all(api) == 2


async def test_d8_body_must_be_an_array(api: Api) -> None:
    status, body, _ = await api.post("workLogs/batch", {"workLogs": items(2)})
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")
    status, body, _ = await api.post("workLogs/batch", [])
    assert (status, body) == (200, {"data": []})


async def test_batch_of_20000_rows_and_paging_over_them(make_api: ApiFactory) -> None:
    """Correctness at scale only: the sandbox's speed is measured by bench/bench_import.py
    (no timed assertions in tests)."""
    api = await make_api()
    for chunk in range(40):
        batch = [
            {"timeStamp": "2024-01-01T00:00:00Z", "length": 60, "workItemId": chunk * 500 + i + 1}
            for i in range(500)
        ]
        status, _, _ = await api.post("workLogs/batch", batch)
        assert status == 200
    seen: set[int] = set()
    skip = 0
    while True:
        _, body, _ = await api.get("workLogs/all", who="alice", query=f"$count=500&$skip={skip}")
        page = body["data"]
        seen.update(w["workItemId"] for w in page)
        skip += len(page)
        if len(page) < 500:
            break
    assert len(seen) == 20_000  # same timestamp everywhere: the id tie-break keeps paging exact


async def test_d17_old_npm_importer_flow_is_accepted(api: Api) -> None:
    """Replays the requests of 7pace's npm importer: api 3.0-preview, lookups, then
    validateOnly=true and validateOnly=false batches with toLocaleString() timestamps."""
    v = "3.0-preview"
    _, users, _ = await api.get("users", who="alice", version=v)
    ids = {u["uniqueName"]: u["id"] for u in users["data"]}
    _, types, _ = await api.get("activityTypes", who="alice", version=v)
    names = {a["name"]: a["id"] for a in types["data"]["activityTypes"]}
    batch = [
        {
            "userId": ids["carol@example.com"],
            "workItemId": 17,
            "timeStamp": "11/2/2026, 9:30:00\u202fAM",
            "length": 5400,
            "billableLength": 0,
            "activityTypeId": names["Testing"],
            "comment": "review",
        },
        {
            "userId": ids["bob@example.com"],
            "timeStamp": "11/3/2026, 1:00:00 PM",
            "length": 900,
            "comment": "standup",
        },
    ]
    for flag in ("true", "false"):
        status, body, _ = await api.post(
            "workLogs/batch", batch, who="alice", version=v, query=f"validateOnly={flag}"
        )
        assert status == 200, body
    assert await count_all(api) == 2
    _, body, _ = await api.get("workLogs/all", who="alice")
    assert [(w["timestamp"], w["activityType"]["name"]) for w in body["data"]] == [
        ("11/2/2026, 9:30:00\u202fAM", "Testing"),  # exactly as sent (D6)
        ("11/3/2026, 1:00:00 PM", "Development"),
    ]
