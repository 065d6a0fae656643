"""Routing, versions, auth, envelopes, lenient input and identifiers (D1-D4, D19, D22, D24)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.sandbox.conftest import TOKENS, Api, raw_http, uid


@pytest.mark.parametrize(
    "prefix,endpoint",
    [
        ("/api/rest/", "me"),
        ("/api/DefaultCollection/rest/", "me"),
        ("/API/REST/", "ME"),
        ("/api/rest/", "me/"),
        ("/api/rest/", "activitytypes"),
        ("/api/rest/", "workLogs/"),
    ],
)
async def test_d1_paths_case_insensitive_collection_and_trailing_slash(
    api: Api, prefix: str, endpoint: str
) -> None:
    status, body, _ = await api.get(endpoint, prefix=prefix)
    assert status == 200
    assert "data" in body


@pytest.mark.parametrize("version", ["3.0-preview", "3.0", "3.1", "3.2-beta", "3.2", "3.3-beta"])
async def test_d1_accepted_versions(api: Api, version: str) -> None:
    status, _, _ = await api.get("me", version=version)
    assert status == 200


@pytest.mark.parametrize("version", [None, "2.1", "3.4", "latest"])
async def test_d1_missing_or_unknown_version_is_400_api_version_error(
    api: Api, version: str | None
) -> None:
    status, body, _ = await api.get("me", version=version)
    assert status == 400
    assert body["error"]["errorCode"] == "ApiVersionError"


async def test_unknown_route_gets_aspnet_message_body(api: Api) -> None:
    status, body, _ = await api.get("nothing/here")
    assert status == 404
    assert "Message" in body
    status, body, _ = await api.call("PUT", "workLogs/batch")
    assert status == 405


async def test_d2_bearer_and_basic_with_empty_user(api: Api) -> None:
    token = TOKENS["carol@example.com"]
    basic = base64.b64encode(f":{token}".encode()).decode()
    async with api.client.get(
        "/api/rest/me?api-version=3.2", headers={"Authorization": f"Basic {basic}"}
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"]["user"]["email"] == "carol@example.com"
    async with api.client.get(
        "/api/rest/me?api-version=3.2", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert (await resp.json())["data"]["user"]["id"] == uid("carol")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token",
        "Basic " + base64.b64encode(f"carol:{TOKENS['carol@example.com']}".encode()).decode(),
        "Basic !!notbase64",
        f"Token {TOKENS['carol@example.com']}",
    ],
)
async def test_d2_anything_else_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with api.client.get("/api/rest/me?api-version=3.2", headers=headers) as resp:
        assert resp.status == 401
        error = (await resp.json())["error"]
    assert error["errorCode"] == "UnauthorizedError"
    assert error["statusCode"] == 401


async def test_d3_error_body_shape(api: Api) -> None:
    status, body, _ = await api.post("workLogs", {"comment": "no length"})
    assert status == 422
    error = body["error"]
    assert set(error) >= {"statusCode", "errorCode", "errorDescription", "message"}
    assert error["statusCode"] == 422
    assert error["errorCode"] == "LengthIsRequired"


async def test_d4_literal_and_percent_encoded_dollar_parameters(api: Api) -> None:
    for hour in (9, 10, 11):
        await api.create(timeStamp=f"2024-03-04T{hour:02d}:00:00")
    headers = {"Authorization": f"Bearer {TOKENS['bob@example.com']}"}
    literal = "GET /api/rest/workLogs?api-version=3.2&$count=1&$skip=1 HTTP/1.1"
    encoded = "GET /api/rest/workLogs?api-version=3.2&%24count=1&%24skip=1 HTTP/1.1"
    ignored = "GET /api/rest/workLogs?api-version=3.2&count=1&_skip=1 HTTP/1.1"
    for line, expected in ((literal, ["10"]), (encoded, ["10"]), (ignored, ["09", "10", "11"])):
        status, raw = await raw_http(api, line, headers)
        assert status == 200
        hours = [w["timestamp"][11:13] for w in json.loads(raw)["data"]]
        assert hours == expected, line


async def test_d4_case_insensitive_body_keys_numeric_strings_unknown_fields(api: Api) -> None:
    body = {
        "TIMESTAMP": "2024-03-05T08:00:00",
        "Length": "5400",
        "billablelength": "60",
        "WORKITEMID": "42",
        "lengthFriendly": "1h 30m",
        "date": "ignored",
    }
    status, data, _ = await api.post("workLogs", body)
    assert status == 200, data
    w = data["data"]
    assert (w["length"], w["billableLength"], w["workItemId"]) == (5400, 60, 42)
    assert w["timestamp"] == "2024-03-05T08:00:00"


async def test_d4_non_numeric_string_is_400(api: Api) -> None:
    status, body, _ = await api.post("workLogs", {"length": "an hour", "comment": "x"})
    assert status == 400
    assert body["error"]["errorCode"] == "ApiVersionError"


async def test_malformed_json_body_is_400(api: Api) -> None:
    async with api.client.post(
        "/api/rest/workLogs?api-version=3.2",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKENS['bob@example.com']}"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["errorCode"] == "ApiVersionError"


async def test_d19_identifiers_malformed_400_unknown_404_or_422(api: Api) -> None:
    unknown = "11111111-2222-3333-4444-555555555555"
    for endpoint in ("users/not-a-guid", "activityTypes/xyz", "workLogs/123"):
        status, body, _ = await api.get(endpoint, who="alice")
        assert status == 400, endpoint
        assert body["error"]["errorCode"] == "ApiVersionError"
    for endpoint in (f"users/{unknown}", f"activityTypes/{unknown}", f"workLogs/{unknown}"):
        status, body, _ = await api.get(endpoint, who="alice")
        assert status == 404, endpoint
        assert body["error"]["errorCode"] == "EntityNotFound"
    status, body, _ = await api.post(
        "workLogs", {"length": 60, "comment": "x", "activityTypeId": unknown}
    )
    assert (status, body["error"]["errorCode"]) == (422, "EntityNotFound")
    status, body, _ = await api.post("workLogs", {"length": 60, "comment": "x", "userId": "nope"})
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")


async def test_d22_me_time_zone_and_d9_user_shape(api: Api) -> None:
    status, body, _ = await api.get("me", who="alice", query="$expand=user.displayName")
    me = body["data"]
    assert status == 200
    assert me["timeZone"] == 60
    assert me["defaultActivityType"]["name"] == "Development"
    assert set(me["user"]) == {
        "uniqueName",
        "displayName",
        "vstsId",
        "vstsCollectionId",
        "vstsCollectionId2",
        "email",
        "name",
        "id",
    }
    assert me["user"]["displayName"] == "Alice Admin"
    _, body, _ = await api.get("me", who="carol")
    assert body["data"]["timeZone"] == -300
    assert body["data"]["user"]["displayName"] is None
    _, body, _ = await api.get("me", who="erin")
    assert body["data"]["defaultActivityType"] is None


async def test_d20_users_and_activity_types_ordered_by_name(api: Api) -> None:
    _, body, _ = await api.get("users")
    names = [u["name"] for u in body["data"]]
    assert names == sorted(names, key=str.casefold)
    assert len(names) == 5
    _, body, _ = await api.get("users", query="$count=2&$skip=1")
    assert [u["name"] for u in body["data"]] == names[1:3]
    _, body, _ = await api.get("activityTypes")
    data = body["data"]
    assert data["enabled"] is True
    types = [a["name"] for a in data["activityTypes"]]
    assert types == ["[Not Set]", "Development", "Documentation", "Meetings", "Testing"]
    assert data["activityTypes"][0]["id"] == "00000000-0000-0000-0000-000000000000"
    dev = data["activityTypes"][1]
    assert data["systemDefaultActivityTypeId"] == dev["id"]
    status, body, _ = await api.get(f"activityTypes/{dev['id']}")
    assert (status, body["data"]) == (200, dev)
    status, body, _ = await api.get(f"users/{uid('dave')}")
    assert (status, body["data"]["name"]) == (200, "Dave Product")
