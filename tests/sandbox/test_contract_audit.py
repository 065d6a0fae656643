"""Divergences from the API contract found by the statement-by-statement audit (docs/sandbox.md,
"Contract checklist"): each test failed on the sandbox before its fix."""

from __future__ import annotations

import pytest

from .conftest import Api, auth


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        # D6's own example, and the .NET round-trip form of a fraction: up to 7 digits
        # (DateTime's tick), trailing zeros dropped, none when it is zero (S20)
        ("2024-03-04T10:00:00+02:00", "2024-03-04T08:00:00Z"),
        ("2024-03-04T10:00:00.5+02:00", "2024-03-04T08:00:00.5Z"),
        ("2024-03-04T10:00:00.1234567-01:30", "2024-03-04T11:30:00.1234567Z"),
        ("2024-03-04T10:00:00.120Z", "2024-03-04T10:00:00.12Z"),
        ("2024-03-04T10:00:00.000Z", "2024-03-04T10:00:00Z"),
        ("2024-03-04T10:00:00,25Z", "2024-03-04T10:00:00.25Z"),
        ("2024-03-04T10:00:00.123456789Z", "2024-03-04T10:00:00.1234567Z"),
    ],
)
async def test_s20_offset_timestamps_keep_their_fraction_as_dotnet_writes_it(
    api: Api, sent: str, echoed: str
) -> None:
    w = await api.create(timeStamp=sent)
    assert w["timestamp"] == echoed
    _, single, _ = await api.get(f"workLogs/{w['id']}")
    assert single["data"]["timestamp"] == echoed
    _, page, _ = await api.get("workLogs")
    assert [x["timestamp"] for x in page["data"] if x["id"] == w["id"]] == [echoed]
    _, batch, _ = await api.post(
        "workLogs/batch", [{"timeStamp": sent, "length": 60, "comment": "b"}]
    )
    assert batch["data"][0]["timestamp"] == echoed


async def test_d1_version_error_names_what_is_wrong_in_words(api: Api) -> None:
    """A missing api-version is said to be missing (not ``api-version None``)."""
    status, body, _ = await api.get("me", version=None)
    message = body["error"]["message"]
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")
    assert "None" not in message and "missing" in message and "3.2" in message
    status, body, _ = await api.get("me", version="9.9")
    assert status == 400 and "'9.9' is not supported" in body["error"]["message"]


async def test_d5_default_page_is_500(api: Api) -> None:
    """§1.7/D5: without ``$count`` a page holds 500 items; ``$skip`` alone goes on."""
    for chunk in range(2):
        items = [
            {"timeStamp": "2024-01-01T00:00:00Z", "length": 60, "workItemId": 1 + i}
            for i in range(chunk * 500, chunk * 500 + 260)
        ]
        status, _, _ = await api.post("workLogs/batch", items)
        assert status == 200
    _, first, _ = await api.get("workLogs")
    _, rest, _ = await api.get("workLogs", query="$skip=500")
    assert (len(first["data"]), len(rest["data"])) == (500, 20)


@pytest.mark.parametrize("expand", [True, False])
async def test_expand_display_name_on_writes(api: Api, expand: bool) -> None:
    """§12/§13: ``$expand=user.displayName`` is a query option of POST workLogs and of the
    batch (validateOnly too): it fills displayName of every user object, else null."""
    query = "$expand=user.displayName" if expand else ""
    body = {"timeStamp": "2024-03-04T09:00:00", "length": 60, "comment": "x"}
    _, one, _ = await api.post("workLogs", body, query=query)
    _, batch, _ = await api.post("workLogs/batch", [body], query=query)
    _, check, _ = await api.post("workLogs/batch", [body], query=f"validateOnly=true&{query}")
    for w in (one["data"], batch["data"][0], check["data"][0]):
        names = {w[k]["displayName"] for k in ("user", "addedByUser", "editedByUser")}
        assert names == ({"Bob Builder"} if expand else {None})


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        # local date 10-19 (an open week), but 10-18 23:00 UTC: Sunday of the Approved week
        ("2026-10-19T01:00:00+02:00", 409),
        # local date 10-18 (Sunday of the Approved week), but 10-19 01:30 UTC: open
        ("2026-10-18T23:30:00-02:00", 200),
        ("2026-10-18T23:59:59Z", 409),
        ("2026-10-19T00:00:00Z", 200),
    ],
)
async def test_d21_the_lock_follows_the_utc_week_of_the_timestamp(
    api: Api, sent: str, status: int
) -> None:
    """D21: the approval lock is the week (Monday to Sunday, UTC) that holds the worklog's
    own timestamp; bob's week of 2026-10-12 is Approved in the demo seed."""
    got, body, _ = await api.post("workLogs", {"timeStamp": sent, "length": 60, "comment": "x"})
    assert got == status, body
    if status == 409:
        assert body["error"]["errorCode"] == "ApprovalStateFailed"


async def test_comment_only_worklog_has_null_work_item_and_billable_length(api: Api) -> None:
    """§1.6/§1.8: ``workItemId`` may be null (a comment-only worklog); ``billableLength`` is
    null when not sent and read back as not billable."""
    body = {"timeStamp": "2024-03-04T09:00:00", "length": 60, "comment": "only a comment"}
    _, one, _ = await api.post("workLogs", body)
    _, batch, _ = await api.post("workLogs/batch", [body])
    _, page, _ = await api.get("workLogs")
    for w in (one["data"], batch["data"][0], *page["data"]):
        assert (w["workItemId"], w["billableLength"]) == (None, None)
        assert w["flags"]["isBillable"] is False
        assert "workItemId" in w and "billableLength" in w
    assert len(page["data"]) == 2


async def test_the_internal_api_and_put_are_not_served(api: Api) -> None:
    """§1.1: ``/api-internal/rest/...`` is the web UI's, not the public API; §11.2: no PUT."""
    status, body, _ = await api.post(
        "worklogs/batch", [], prefix="/api-internal/rest/", version="3.1"
    )
    assert (status, set(body)) == (404, {"Message"})
    status, body, _ = await api.call("PUT", "workLogs/0f8fad5b-d9cb-469f-a165-70867728950e")
    assert (status, set(body)) == (405, {"Message"})


async def test_me_has_the_documented_shape(api: Api) -> None:
    """§3: ``{user, account {vstsId, vstsCollectionId, name, id}, defaultActivityType,
    timeZone}`` and nothing else."""
    _, body, _ = await api.get("me")
    me = body["data"]
    assert set(me) == {"user", "account", "defaultActivityType", "timeZone"}
    assert set(me["account"]) == {"vstsId", "vstsCollectionId", "name", "id"}
    assert set(me["defaultActivityType"]) == {"color", "name", "id"}


@pytest.mark.parametrize(
    ("comment", "stored"), [(5, "5"), (1.5, "1.5"), (True, "True"), ("text", "text")]
)
async def test_s21_a_primitive_comment_is_text_as_dotnet_binds_it(
    api: Api, comment: object, stored: str
) -> None:
    w = await api.create(comment=comment)
    assert w["comment"] == stored


@pytest.mark.parametrize("comment", [{"a": 1}, [1, 2], []])
async def test_s21_an_object_or_array_comment_is_400_and_stores_nothing(
    api: Api, comment: object
) -> None:
    """D4 converts numeric strings, nothing more: a comment that is an object or an array is
    "a parameter of the wrong type" (§1.2), never stored as Python's repr of it."""
    body = {"timeStamp": "2024-03-04T09:00:00", "length": 60, "comment": comment}
    for endpoint, payload in (("workLogs", body), ("workLogs/batch", [body])):
        status, answer, _ = await api.post(endpoint, payload)
        assert (status, answer["error"]["errorCode"]) == (400, "ApiVersionError")
        assert "comment" in answer["error"]["message"]
    w = await api.create()
    status, answer, _ = await api.call("PATCH", f"workLogs/{w['id']}", json={"comment": comment})
    assert status == 400
    _, page, _ = await api.get("workLogs")
    assert [x["comment"] for x in page["data"]] == ["work"]


INT32_MAX = 2**31 - 1


@pytest.mark.parametrize("field", ["length", "billableLength", "workItemId"])
@pytest.mark.parametrize("value", [INT32_MAX + 1, 10**20, -(10**20)])
async def test_s22_numbers_beyond_int32_are_400_not_a_server_error(
    api: Api, field: str, value: int
) -> None:
    """§12: the specification's ``int``: a value outside 32 bits is "a parameter of the
    wrong type" (400 ApiVersionError), never a 500 (POST, batch, PATCH)."""
    body = {"timeStamp": "2024-03-04T09:00:00Z", "length": 60, "comment": "x", field: value}
    for endpoint, payload in (("workLogs", body), ("workLogs/batch", [body])):
        status, answer, _ = await api.post(endpoint, payload)
        assert (status, answer["error"]["errorCode"]) == (400, "ApiVersionError"), endpoint
        assert field in answer["error"]["message"]
    w = await api.create()
    status, _, _ = await api.call("PATCH", f"workLogs/{w['id']}", json={field: value})
    assert status == 400
    assert (await api.create(length=INT32_MAX))["length"] == INT32_MAX


@pytest.mark.parametrize(
    "query",
    [
        "$skip=99999999999999999999",
        f"$skip={INT32_MAX + 1}",
        "$workItemIds=99999999999999999999",
        f"$workItemIds=1,{INT32_MAX + 1}",
        "$count=99999999999999999999",
    ],
)
async def test_s22_query_numbers_beyond_int32_are_400(api: Api, query: str) -> None:
    for endpoint, who in (("workLogs", "bob"), ("workLogs/all", "alice"), ("users", "bob")):
        status, answer, _ = await api.get(endpoint, who=who, query=query)
        if endpoint == "users" and "workItemIds" in query:
            assert status == 200  # not a parameter of users: ignored (D4)
            continue
        assert (status, answer["error"]["errorCode"]) == (400, "ApiVersionError"), endpoint


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00Z"),
        ("0999-03-04T10:00:00.5+02:00", "0999-03-04T08:00:00.5Z"),
        ("9999-12-31T23:59:59+01:00", "9999-12-31T22:59:59Z"),
    ],
)
async def test_s20_early_and_late_years_keep_four_digits(api: Api, sent: str, echoed: str) -> None:
    assert (await api.create(timeStamp=sent))["timestamp"] == echoed


@pytest.mark.parametrize("sent", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
async def test_s22_an_instant_outside_years_1_to_9999_is_400(api: Api, sent: str) -> None:
    """.NET's DateTime holds years 1 to 9999: an offset that moves a timestamp out of them is
    a value of the wrong type (400), as a filter, a worklog's or a week's start."""
    status, answer, _ = await api.post(
        "workLogs", {"timeStamp": sent, "length": 60, "comment": "x"}
    )
    assert (status, answer["error"]["errorCode"]) == (400, "ApiVersionError")
    status, answer, _ = await api.get(
        "workLogs", query=f"$fromTimestamp={sent.replace('+', '%2B')}"
    )
    assert status == 400
    status, answer, _ = await api.post("timeApproval/week", {"weekStart": sent})
    assert status == 400


async def test_deeply_nested_json_is_400_not_a_server_error(api: Api) -> None:
    """A body nested past Python's recursion limit is malformed JSON to the client (400
    ApiVersionError, §2.3), not a plain-text 500 (found by fuzzing every body field)."""
    body = b"[" * 100_000 + b"]" * 100_000
    for endpoint in ("workLogs", "workLogs/batch", "users/roles", "timeApproval/week"):
        async with api.client.post(
            f"/api/rest/{endpoint}?api-version=3.2",
            data=body,
            headers={**auth("alice"), "Content-Type": "application/json"},
        ) as resp:
            answer = await resp.json()
        assert (resp.status, answer["error"]["errorCode"]) == (400, "ApiVersionError")
