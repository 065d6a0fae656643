"""Sandbox decisions where the contract is silent (docs/sandbox.md, S-numbers) that no other
test pinned: PATCH with explicit nulls, the flags, query names in any case, booleans in the
query string."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import Api
from timetracker_import.sandbox.seed import EMPTY_GUID, stable_guid


async def test_patch_explicit_nulls(api: Api) -> None:
    w = await api.create(
        workItemId=5, billableLength=30, activityTypeId=stable_guid("activity", "Testing")
    )
    wid = w["id"]
    status, body, _ = await api.call(
        "PATCH",
        f"workLogs/{wid}",
        json={
            "workItemId": None,
            "billableLength": None,
            "activityTypeId": None,
            "timeStamp": None,
            "userId": None,
        },
    )
    assert status == 200, body
    new = body["data"]
    assert (new["workItemId"], new["billableLength"]) == (None, None)
    assert new["activityType"]["id"] == EMPTY_GUID  # [Not Set]
    assert (new["timestamp"], new["user"]) == (w["timestamp"], w["user"])  # kept
    status, body, _ = await api.call("PATCH", f"workLogs/{wid}", json={"length": None})
    assert (status, body["error"]["errorCode"]) == (422, "LengthIsRequired")
    status, body, _ = await api.call("PATCH", f"workLogs/{wid}", json={"comment": None})
    assert (status, body["error"]["errorCode"]) == (422, "WorkItemIdOrCommentRequired")


async def test_flags_is_changed_after_a_patch_and_is_billable_when_billable(api: Api) -> None:
    plain = await api.create()
    billable = await api.create(billableLength=60)
    zero = await api.create(billableLength=0)
    assert [w["flags"]["isBillable"] for w in (plain, billable, zero)] == [False, True, False]
    assert plain["flags"]["isChanged"] is False
    _, body, _ = await api.call("PATCH", f"workLogs/{plain['id']}", json={"comment": "again"})
    assert body["data"]["flags"]["isChanged"] is True
    _, body, _ = await api.get("workLogs")
    changed = {w["id"]: w["flags"]["isChanged"] for w in body["data"]}
    assert changed == {plain["id"]: True, billable["id"]: False, zero["id"]: False}


async def test_query_names_in_any_case(api: Api) -> None:
    for _ in range(3):
        await api.create()
    status, body, _ = await api.call(
        "GET", "workLogs", version=None, query="API-Version=3.2&$COUNT=2"
    )
    assert status == 200 and len(body["data"]) == 2
    status, body, _ = await api.get("workLogs", query="%24Skip=2&%24count=5")
    assert status == 200 and len(body["data"]) == 1


@pytest.mark.parametrize(
    ("flag", "status"), [("TRUE", 200), ("yes", 200), ("0", 200), ("maybe", 400)]
)
async def test_boolean_query_values(api: Api, flag: str, status: int) -> None:
    got, body, _ = await api.post(
        "workLogs/batch", [{"length": 60, "comment": "x"}], query=f"validateOnly={flag}"
    )
    assert got == status, body
    if status == 400:
        assert body["error"]["errorCode"] == "ApiVersionError"


async def test_s18_comment_limit_and_request_size(api: Api) -> None:
    """S18: a comment of up to 4,000 characters is taken, a longer one is 422
    ``CommentTooLong`` (POST, batch, PATCH); a body over 30,000,000 bytes is 413
    ``RequestTooLarge`` in the D3 shape. Nothing is stored by a refused call."""
    item = {"timeStamp": "2026-09-01T09:00:00Z", "length": 60}
    ok = await api.create(comment="c" * 4000)
    assert len(ok["comment"]) == 4000
    for method, endpoint, body in (
        ("POST", "workLogs", item | {"comment": "c" * 4001}),
        ("POST", "workLogs/batch", [item | {"comment": "c" * 4001}]),
        ("POST", "workLogs/batch", [item | {"Comment": "c" * 4001}]),  # not the fast path
        ("PATCH", f"workLogs/{ok['id']}", {"comment": "c" * 4001}),
    ):
        status, answer, _ = await api.call(method, endpoint, json=body)
        assert (status, answer["error"]["errorCode"]) == (422, "CommentTooLong"), endpoint
        assert answer["error"]["fields"] == {"comment": 4001}
    status, answer, _ = await api.call(
        "POST", "workLogs/batch", json=[item | {"comment": "c" * 30_000_000}]
    )
    assert (status, answer["error"]["errorCode"]) == (413, "RequestTooLarge")
    status, answer, _ = await api.get("workLogs")
    assert [len(w["comment"]) for w in answer["data"]] == [4000]
