"""Worklog endpoints: lists, filters, timestamps, validation, PATCH/DELETE, editability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.sandbox.conftest import Api, ApiFactory, uid

EMPTY = "00000000-0000-0000-0000-000000000000"


async def test_d5_order_by_timestamp_then_id_and_stable_paging(api: Api) -> None:
    stamps = ["2024-03-06T09:00:00", "2024-03-04T09:00:00", "2024-03-05T09:00:00"] * 3
    for ts in stamps:
        await api.create(timeStamp=ts)
    _, body, _ = await api.get("workLogs")
    rows = body["data"]
    keys = [(w["timestamp"], w["id"]) for w in rows]
    assert keys == sorted(keys)
    paged = []
    for skip in range(0, 9, 2):
        _, page, _ = await api.get("workLogs", query=f"$count=2&$skip={skip}")
        paged += page["data"]
    assert [w["id"] for w in paged] == [w["id"] for w in rows]


@pytest.mark.parametrize("count", ["0", "501", "-1", "x"])
async def test_d5_count_out_of_range_is_400(api: Api, count: str) -> None:
    status, body, _ = await api.get("workLogs", query=f"$count={count}")
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")


async def test_d5_count_500_allowed(api: Api) -> None:
    status, _, _ = await api.get("workLogs", query="$count=500")
    assert status == 200


async def test_d5_strict_timestamp_filters(api: Api) -> None:
    for day in (4, 5, 6):
        await api.create(timeStamp=f"2024-03-0{day}T09:00:00")
    query = "$fromTimestamp=2024-03-04T09:00:00&$toTimestamp=2024-03-06T09:00:00"
    _, body, _ = await api.get("workLogs", query=query)
    assert [w["timestamp"] for w in body["data"]] == ["2024-03-05T09:00:00"]
    # Date-only and offset forms are accepted as bounds too.
    _, body, _ = await api.get(
        "workLogs", query="$fromTimestamp=2024-03-05&$toTimestamp=2024-03-06T10:00:00%2B01:00"
    )
    assert [w["timestamp"] for w in body["data"]] == ["2024-03-05T09:00:00"]
    status, body, _ = await api.get("workLogs", query="$fromTimestamp=yesterday")
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")


async def test_d5_created_timestamp_filters_are_strict(api: Api) -> None:
    first = await api.create()
    second = await api.create()
    q = f"$fromCreatedTimestamp={first['createdTimestamp']}"
    _, body, _ = await api.get("workLogs", query=q)
    assert [w["id"] for w in body["data"]] == [second["id"]]
    q = f"$toCreatedTimestamp={second['createdTimestamp']}"
    _, body, _ = await api.get("workLogs", query=q)
    assert [w["id"] for w in body["data"]] == [first["id"]]


async def test_d5_work_item_filter_and_limit(api: Api) -> None:
    await api.create(workItemId=7)
    await api.create(workItemId=8)
    await api.create(workItemId=9)
    _, body, _ = await api.get("workLogs", query="$workItemIds=7,9")
    assert sorted(w["workItemId"] for w in body["data"]) == [7, 9]
    too_many = ",".join(str(i) for i in range(1, 102))
    status, body, _ = await api.get("workLogs", query=f"$workItemIds={too_many}")
    assert (status, body["error"]["errorCode"]) == (422, "FilterWorkItemIdsCountExceeded")


async def test_workLogs_lists_only_the_callers_own(api: Api) -> None:
    await api.create(who="bob")
    await api.create(who="carol")
    _, body, _ = await api.get("workLogs", who="carol")
    assert [w["user"]["email"] for w in body["data"]] == ["carol@example.com"]


@pytest.mark.parametrize(
    "sent,echoed,key",
    [
        ("2024-03-04T10:00:00+02:00", "2024-03-04T08:00:00Z", "2024-03-04T08:00:00"),
        ("2024-03-04T08:00:00Z", "2024-03-04T08:00:00Z", "2024-03-04T08:00:00"),
        ("2024-03-04T09:00:00.1234567", "2024-03-04T09:00:00.1234567", "2024-03-04T09:00:00"),
        # D6: without an offset the text comes back exactly as sent, whatever its form
        # (these four were echoed as ISO before issue 14; D17 only says how they parse)
        ("2024-03-04", "2024-03-04", "2024-03-04T00:00:00"),
        ("3/4/2024, 9:00:00 AM", "3/4/2024, 9:00:00 AM", "2024-03-04T09:00:00"),
        ("3/4/2024, 9:00:00\u202fPM", "3/4/2024, 9:00:00\u202fPM", "2024-03-04T21:00:00"),
        ("3/4/2024 9:00 AM", "3/4/2024 9:00 AM", "2024-03-04T09:00:00"),
        ("12/31/2024, 12:30:00 AM", "12/31/2024, 12:30:00 AM", "2024-12-31T00:30:00"),
        (" 2024-03-04T09:00:00 ", " 2024-03-04T09:00:00 ", "2024-03-04T09:00:00"),
    ],
)
async def test_d6_d17_timestamps(api: Api, sent: str, echoed: str, key: str) -> None:
    w = await api.create(timeStamp=sent)
    assert w["timestamp"] == echoed
    # Naive bounds are taken as UTC, so the strict window around the instant finds it.
    instant = datetime.fromisoformat(key)
    lo = (instant - timedelta(seconds=1)).isoformat()
    hi = (instant + timedelta(seconds=1)).isoformat()
    _, body, _ = await api.get("workLogs", query=f"$fromTimestamp={lo}&$toTimestamp={hi}")
    assert [x["id"] for x in body["data"]] == [w["id"]]


@pytest.mark.parametrize("bad", ["13/40/2024", "not a date", "2024-02-30", "", "3/4/2024 13:00 PM"])
async def test_d17_unparseable_timestamp_is_400(api: Api, bad: str) -> None:
    status, body, _ = await api.post("workLogs", {"timeStamp": bad, "length": 60, "comment": "x"})
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")


async def test_d6_created_and_edited_timestamps_are_utc_with_7_digits(api: Api) -> None:
    w = await api.create()
    created = w["createdTimestamp"]
    assert len(created) == 27 and created[19] == "." and not created.endswith("Z")
    parsed = datetime.fromisoformat(created[:26]).replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60


async def test_d18_defaults(api: Api) -> None:
    status, body, _ = await api.post("workLogs", {"length": 60, "comment": "now"})
    w = body["data"]
    assert status == 200
    assert w["timestamp"].endswith("Z")
    ts = datetime.fromisoformat(w["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60
    assert w["activityType"]["name"] == "Development"  # bob's default
    assert w["user"]["id"] == uid("bob")
    # Erin's seed entry has no default activity type. She has the None role, which may not
    # create worklogs (issue 14), so an Administrator creates one for her.
    erin = await api.create(who="alice", userId=uid("erin"))
    assert erin["activityType"]["id"] == EMPTY  # no default in the seed


async def test_d9_created_shape(api: Api) -> None:
    w = await api.create(workItemId=12)
    assert w["flags"]["isFromApi"] is True
    assert w["flags"]["isManuallyEntered"] is True
    assert w["user"] == w["addedByUser"] == w["editedByUser"]
    assert set(w["user"]) == {
        "uniqueName",
        "displayName",
        "vstsId",
        "vstsCollectionId",
        "vstsCollectionId2",
        "email",
        "name",
        "id",
    }
    assert w["user"]["displayName"] is None
    assert w["isCanEdit"] is None and w["isCanDelete"] is None
    _, body, _ = await api.get(f"workLogs/{w['id']}", query="$expand=user.displayName")
    assert body["data"]["user"]["displayName"] == "Bob Builder"


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"comment": "x"}, 422, "LengthIsRequired"),
        ({"length": 0, "comment": "x"}, 422, "LengthMustBePositive"),
        ({"length": -5, "comment": "x"}, 422, "LengthMustBePositive"),
        ({"length": 60, "billableLength": -1, "comment": "x"}, 422, "LengthMustBePositive"),
        ({"length": 60}, 422, "WorkItemIdOrCommentRequired"),
        ({"length": 60, "comment": "   "}, 422, "WorkItemIdOrCommentRequired"),
        (
            {"length": 60, "comment": "x", "userId": "11111111-1111-1111-1111-111111111111"},
            422,
            "EntityNotFound",
        ),
        (
            {"length": 60, "comment": "x", "userId": uid("carol")},
            403,
            "NoRightsToWorkLogModification",
        ),
        (
            {"length": 60, "timeStamp": "2026-10-07T10:00:00", "comment": "x"},
            409,
            "ApprovalStateFailed",
        ),
        (
            {"length": 60, "timeStamp": "2026-10-18T23:59:59Z", "comment": "x"},
            409,
            "ApprovalStateFailed",
        ),
    ],
)
async def test_d7_validation(api: Api, body: dict[str, object], status: int, code: str) -> None:
    got, data, _ = await api.post("workLogs", body, who="bob")
    assert (got, data["error"]["errorCode"]) == (status, code)
    _, listing, _ = await api.get("workLogs/all", who="alice")
    assert listing["data"] == []


async def test_d7_billable_zero_and_reopened_week_are_fine(api: Api) -> None:
    w = await api.create(who="carol", billableLength=0, timeStamp="2026-10-20T09:00:00")
    assert w["billableLength"] == 0
    # Bob's week of 2026-10-19 has no record: not locked either.
    await api.create(who="bob", timeStamp="2026-10-19T00:00:00")


async def test_d7_admin_may_create_for_others_even_into_nothing_locked(api: Api) -> None:
    w = await api.create(who="alice", userId=uid("carol"))
    assert w["user"]["email"] == "carol@example.com"
    assert w["addedByUser"]["email"] == "alice@example.com"
    # Carol's 2026-10-05 week is Closed: locked even for an Administrator.
    status, body, _ = await api.post(
        "workLogs",
        {"length": 60, "comment": "x", "userId": uid("carol"), "timeStamp": "2026-10-06T09:00:00"},
        who="alice",
    )
    assert (status, body["error"]["errorCode"]) == (409, "ApprovalStateFailed")


async def test_d7_work_items_and_future_check_from_seed(make_api: ApiFactory) -> None:
    seed = {
        "users": [{"email": "u@x.test", "token": "t-u", "role": "Team"}],
        "work_items": [1, 2],
        "future_check": True,
    }
    api = await make_api(seed=seed)
    headers = {"Authorization": "Bearer t-u"}

    async def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        async with api.client.post(
            "/api/rest/workLogs?api-version=3.2", json=body, headers=headers
        ) as r:
            return r.status, await r.json()

    status, _ = await post({"length": 60, "workItemId": 2, "timeStamp": "2024-01-01"})
    assert status == 200
    status, body = await post({"length": 60, "workItemId": 3, "timeStamp": "2024-01-01"})
    assert (status, body["error"]["errorCode"]) == (422, "EntityNotFound")  # type: ignore[index]
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = await post({"length": 60, "workItemId": 1, "timeStamp": future})
    assert (status, body["error"]["errorCode"]) == (422, "FutureCheckFailed")  # type: ignore[index]


async def test_d10_patch_keeps_missing_fields(api: Api) -> None:
    w = await api.create(workItemId=5, billableLength=30)
    status, body, _ = await api.call("PATCH", f"workLogs/{w['id']}", json={"Comment": "changed"})
    assert status == 200
    new = body["data"]
    assert new["comment"] == "changed"
    for key in (
        "timestamp",
        "length",
        "billableLength",
        "workItemId",
        "activityType",
        "user",
        "id",
    ):
        assert new[key] == w[key], key
    assert new["editedTimestamp"] >= w["editedTimestamp"]
    _, again, _ = await api.get(f"workLogs/{w['id']}")
    assert again["data"]["comment"] == "changed"


async def test_d10_patch_validates_merged_result(api: Api) -> None:
    w = await api.create(workItemId=None, comment="only comment")
    status, body, _ = await api.call("PATCH", f"workLogs/{w['id']}", json={"comment": None})
    assert (status, body["error"]["errorCode"]) == (422, "WorkItemIdOrCommentRequired")
    status, body, _ = await api.call(
        "PATCH", f"workLogs/{w['id']}", json={"timeStamp": "2026-10-13T09:00:00"}
    )
    assert (status, body["error"]["errorCode"]) == (409, "ApprovalStateFailed")
    status, body, _ = await api.call(
        "PATCH", f"workLogs/{w['id']}", json={"length": 1}, who="carol"
    )
    assert (status, body["error"]["errorCode"]) == (403, "NoRightsToWorkLogModification")
    status, body, _ = await api.call(
        "PATCH", f"workLogs/{w['id']}", json={"length": 99}, who="alice"
    )
    assert (status, body["data"]["length"]) == (200, 99)
    assert body["data"]["editedByUser"]["email"] == "alice@example.com"


async def test_d10_unknown_ids_and_delete(api: Api) -> None:
    unknown = "11111111-2222-3333-4444-555555555555"
    for method in ("PATCH", "DELETE"):
        status, body, _ = await api.call(method, f"workLogs/{unknown}", json={"length": 5})
        assert (status, body["error"]["errorCode"]) == (404, "EntityNotFound")
    w = await api.create()
    status, body, _ = await api.call("DELETE", f"workLogs/{w['id']}", who="carol")
    assert (status, body["error"]["errorCode"]) == (403, "NoRightsToWorkLogModification")
    status, body, _ = await api.call("DELETE", f"workLogs/{w['id']}")
    assert (status, body) == (200, {"data": None})
    status, _, _ = await api.get(f"workLogs/{w['id']}")
    assert status == 404


async def test_d10_delete_in_locked_week_is_409(api: Api) -> None:
    w = await api.create(who="bob", timeStamp="2026-10-19T09:00:00")
    # Lock the week by submitting it, then try to delete.
    status, _, _ = await api.post("timeApproval/week", {"weekStart": "2026-10-19"}, who="bob")
    assert status == 200
    status, body, _ = await api.call("DELETE", f"workLogs/{w['id']}")
    assert (status, body["error"]["errorCode"]) == (409, "ApprovalStateFailed")


async def test_d23_include_editable(api: Api) -> None:
    own = await api.create(who="bob", timeStamp="2026-10-19T09:00:00")
    await api.create(who="carol", timeStamp="2026-10-20T09:00:00")
    await api.post("timeApproval/week", {"weekStart": "2026-10-19"}, who="bob")
    _, body, _ = await api.get("workLogs/all", who="alice", query="$includeEditable=true")
    flags = {w["user"]["email"]: (w["isCanEdit"], w["isCanDelete"]) for w in body["data"]}
    assert flags == {"bob@example.com": (False, False), "carol@example.com": (True, True)}
    _, body, _ = await api.get("workLogs/all", who="dave", query="$includeEditable=true")
    assert {(w["isCanEdit"], w["isCanDelete"]) for w in body["data"]} == {(False, False)}
    _, body, _ = await api.get(f"workLogs/{own['id']}", who="bob", query="$includeEditable=true")
    assert body["data"]["isCanEdit"] is False
    _, body, _ = await api.get("workLogs", who="carol", query="$includeEditable=true")
    assert body["data"][0]["isCanEdit"] is True
    _, body, _ = await api.get("workLogs", who="carol")
    assert body["data"][0]["isCanEdit"] is None


async def test_get_other_users_worklog_needs_a_reader_role(api: Api) -> None:
    w = await api.create(who="bob")
    status, body, _ = await api.get(f"workLogs/{w['id']}", who="carol")
    assert (status, body["error"]["errorCode"]) == (403, "AccessDenied")
    status, _, _ = await api.get(f"workLogs/{w['id']}", who="dave")
    assert status == 200
