"""Role gates (D11), users/roles (D12), time approval (D13, D20, D21)."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import Api, uid
from timetracker_import.sandbox.seed import role_id


@pytest.mark.parametrize(
    "method,endpoint,body,allowed",
    [
        ("GET", "workLogs/all", None, {"alice", "dave"}),
        ("GET", "users/roles", None, {"alice"}),
        ("POST", "users/roles", {"users": []}, {"alice"}),
        ("GET", "timeApproval/all", None, {"alice"}),
        (
            "POST",
            "timeApproval/week",
            {"weekStart": "2026-11-02"},
            {"alice", "bob", "carol", "dave"},
        ),
        ("DELETE", "timeApproval/week", None, {"alice", "bob", "carol", "dave"}),
    ],
)
async def test_d11_role_gates(
    api: Api, method: str, endpoint: str, body: object, allowed: set[str]
) -> None:
    query = "weekStart=2026-11-02" if method == "DELETE" else ""
    for who in ("alice", "bob", "carol", "dave", "erin"):
        status, data, _ = await api.call(method, endpoint, who=who, json=body, query=query)
        if who in allowed:
            # DELETE of a week that nobody submitted is a 409, not a 403.
            assert status in (200, 409), (who, data)
        else:
            assert (status, data["error"]["errorCode"]) == (403, "AccessDenied"), who


async def test_d11_budget_role_reads_all(api: Api) -> None:
    status, _, _ = await api.post(
        "users/roles",
        {"users": [{"email": "bob@example.com", "role": {"name": "Budget"}}]},
        who="alice",
    )
    assert status == 200
    status, _, _ = await api.get("workLogs/all", who="bob")
    assert status == 200


async def test_d12_get_roles_flat_items_and_none_filter(api: Api) -> None:
    _, body, _ = await api.get("users/roles", who="alice")
    items = body["data"]
    assert [i["email"] for i in items] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    alice = items[0]
    assert alice["id"] == uid("alice") and alice["uniqueName"] == "alice@example.com"
    assert alice["role"] == {"id": role_id("Administrator"), "name": "Administrator"}
    _, body, _ = await api.get("users/roles", who="alice", query="includeNoneRoles=true")
    erin = [i for i in body["data"] if i["email"] == "erin@example.com"]
    assert erin[0]["role"]["name"] == "None"


async def test_d12_post_roles_by_id_vsts_email_and_role_id(api: Api) -> None:
    _, users, _ = await api.get("users")
    dave = next(u for u in users["data"] if u["email"] == "dave@example.com")
    body = {
        "skipErrors": False,
        "users": [
            {"email": "BOB@example.com", "role": {"name": "product"}},
            {"id": uid("carol"), "role": {"id": role_id("Budget")}},
            {"vstsId": dave["vstsId"], "role": {"name": "Team"}},
        ],
    }
    status, result, _ = await api.post("users/roles", body, who="alice")
    assert (status, result["data"]) == (200, {"succeeded": 3, "failed": 0, "failedEntries": []})
    _, roles, _ = await api.get("users/roles", who="alice")
    assert {i["email"]: i["role"]["name"] for i in roles["data"]} == {
        "alice@example.com": "Administrator",
        "bob@example.com": "Product",
        "carol@example.com": "Budget",
        "dave@example.com": "Team",
    }


async def test_d12_skip_errors_false_changes_nothing(api: Api) -> None:
    body = {
        "users": [
            {"email": "bob@example.com", "role": {"name": "Product"}},
            {"email": "ghost@example.com", "role": {"name": "Team"}},
        ]
    }
    status, result, _ = await api.post("users/roles", body, who="alice")
    assert status == 422
    assert result["error"]["errorCode"] == "EntityNotFound"
    status, _, _ = await api.get("workLogs/all", who="bob")
    assert status == 403  # still Team


async def test_d12_skip_errors_true_reports_failed_entries(api: Api) -> None:
    bad_role = {"email": "carol@example.com", "role": {"name": "Overlord"}}
    ghost = {"email": "ghost@example.com", "role": {"name": "Team"}}
    body = {
        "skipErrors": True,
        "users": [{"email": "bob@example.com", "role": {"name": "Product"}}, bad_role, ghost],
    }
    status, result, _ = await api.post("users/roles", body, who="alice")
    data = result["data"]
    assert status == 200
    assert (data["succeeded"], data["failed"]) == (1, 2)
    assert [f["entity"] for f in data["failedEntries"]] == [bad_role, ghost]
    assert all(f["error"]["message"] for f in data["failedEntries"])
    status, _, _ = await api.get("workLogs/all", who="bob")
    assert status == 200


async def test_d13_d20_approvals_list_shape_and_order(api: Api) -> None:
    status, body, _ = await api.get("timeApproval/all", who="alice")
    assert status == 200
    weeks = [(a["weekStartDate"], a["user"]["name"], a["approvalState"]) for a in body["data"]]
    assert weeks == [
        ("2026-10-05", "Bob Builder", 1),
        ("2026-10-05", "Carol Coder", 99),
        ("2026-10-12", "Bob Builder", 3),
        ("2026-10-19", "Carol Coder", 2),
    ]
    first = body["data"][0]
    assert set(first) == {
        "id",
        "weekStartDate",
        "weekEndDate",
        "user",
        "approvalState",
        "modificationTimestamp",
        "submittedTimestamp",
        "approvalTimestamp",
        "assignedManager",
        "approvedByManager",
    }
    assert first["weekEndDate"] == "2026-10-11"
    assert first["assignedManager"]["email"] == "alice@example.com"
    approved = body["data"][2]
    assert approved["approvedByManager"]["email"] == "alice@example.com"
    assert approved["approvalTimestamp"]


async def test_d21_approval_time_filters(api: Api) -> None:
    q = "$fromTimestamp=2026-10-18T12:00:00&$toTimestamp=2026-10-19T00:00:00"
    _, body, _ = await api.get("timeApproval/all", who="alice", query=q)
    # Week of 10-12 contains the from instant; week of 10-19 contains the to instant.
    assert [a["weekStartDate"] for a in body["data"]] == ["2026-10-12", "2026-10-19"]
    _, body, _ = await api.get("timeApproval/all", who="alice", query="$fromTimestamp=2026-11-01")
    assert body["data"] == []


async def test_d13_submit_and_revoke(api: Api) -> None:
    body = {"weekStart": "2026-11-02", "assignedManagerId": uid("alice")}
    status, result, _ = await api.post("timeApproval/week", body, who="carol")
    assert (status, result) == (200, {"data": True})
    # Submitted locks the week (D7) ...
    status, err, _ = await api.post(
        "workLogs", {"timeStamp": "2026-11-04T09:00:00", "length": 60, "comment": "x"}, who="carol"
    )
    assert (status, err["error"]["errorCode"]) == (409, "ApprovalStateFailed")
    # ... submitting again is a conflict (D21) ...
    status, err, _ = await api.post("timeApproval/week", body, who="carol")
    assert (status, err["error"]["errorCode"]) == (409, "ApprovalStateFailed")
    # ... revoking removes the record and unlocks.
    status, result, _ = await api.call(
        "DELETE", "timeApproval/week", who="carol", query="weekStart=2026-11-02"
    )
    assert (status, result) == (200, {"data": True})
    await api.create(who="carol", timeStamp="2026-11-04T09:00:00")
    _, listing, _ = await api.get("timeApproval/all", who="alice")
    assert "2026-11-02" not in [a["weekStartDate"] for a in listing["data"]]


async def test_d13_edge_cases(api: Api) -> None:
    status, err, _ = await api.post("timeApproval/week", {"weekStart": "2026-11-03"}, who="bob")
    assert status == 422  # not a Monday
    status, err, _ = await api.post("timeApproval/week", {"weekStart": "2026-10-12"}, who="bob")
    assert (status, err["error"]["errorCode"]) == (409, "ApprovalStateFailed")  # Approved
    status, _, _ = await api.post("timeApproval/week", {"weekStart": "2026-10-19"}, who="carol")
    assert status == 200  # Reopened -> Submitted
    for who, week in (("bob", "2026-10-12"), ("carol", "2026-10-05"), ("bob", "2026-11-09")):
        status, err, _ = await api.call(
            "DELETE", "timeApproval/week", who=who, query=f"weekStart={week}"
        )
        assert (status, err["error"]["errorCode"]) == (409, "ApprovalStateFailed"), week
    status, err, _ = await api.call("DELETE", "timeApproval/week", who="bob")
    assert status == 400  # weekStart missing
    status, err, _ = await api.post(
        "timeApproval/week", {"weekStart": "2026-11-09", "assignedManagerId": "x"}, who="bob"
    )
    assert (status, err["error"]["errorCode"]) == (400, "ApiVersionError")
