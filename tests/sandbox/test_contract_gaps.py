"""Where the sandbox used to differ from ../shared/docs/7pace-api.md (issue 14, item 6).

Each test here failed on the sandbox before the fix it names: 429-after-commit was accepted,
``"skipErrors": "false"`` was read as true, one malformed ``users/roles`` entry failed a
``skipErrors=true`` call, the None role could create and list worklogs, and naive timestamps
in a US or date-only form came back rewritten as ISO.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.sandbox.conftest import Api, ApiFactory, uid
from timetracker_import.sandbox import FaultSpecError, make_app, parse_fault

# -- D14/D15: a 429 never has side effects ------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    ["batch#1:429-after-commit", "any:429-after-commit=3", "worklogs:429-after-commit-date=2"],
)
def test_429_after_commit_is_refused_by_the_grammar(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="a 429 never has side effects"):
        parse_fault(spec)
    with pytest.raises(FaultSpecError):
        make_app(faults=[spec])


def test_429_before_commit_and_other_statuses_after_commit_still_parse() -> None:
    assert parse_fault("batch#1:429").after_commit is False
    assert parse_fault("batch#1:429=3").seconds == 3
    assert parse_fault("batch#1:503-after-commit").after_commit is True


async def test_429_after_commit_is_refused_by_the_control_endpoint(api: Api) -> None:
    async with api.client.post("/_sandbox/faults", json=["batch#1:429-after-commit"]) as resp:
        assert resp.status == 400
        assert "never has side effects" in (await resp.json())["error"]
    async with api.client.get("/_sandbox/faults") as resp:
        assert (await resp.json())["faults"] == []  # nothing half-installed
    status, _, _ = await api.post("workLogs/batch", [{"length": 60, "comment": "x"}])
    assert status == 200


def test_429_after_commit_is_a_usage_error_of_the_command() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "timetracker_import",
            "sandbox",
            "--port",
            "0",
            "--fault",
            "batch#2:429-after-commit",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr and "429" in result.stderr
    assert "Traceback" not in result.stderr


# -- D12: skipErrors ----------------------------------------------------------------------

GOOD = {"email": "bob@example.com", "role": {"name": "Product"}}
GHOST = {"email": "ghost@example.com", "role": {"name": "Team"}}


async def bob_role(api: Api) -> str:
    _, body, _ = await api.get("users/roles", who="alice")
    return next(i["role"]["name"] for i in body["data"] if i["email"] == "bob@example.com")


@pytest.mark.parametrize("value", ["false", "False", " FALSE ", "0", "no", 0, False, None])
async def test_skip_errors_false_in_any_spelling_fails_the_whole_call(
    api: Api, value: object
) -> None:
    status, body, _ = await api.post(
        "users/roles", {"skipErrors": value, "users": [GOOD, GHOST]}, who="alice"
    )
    assert (status, body["error"]["errorCode"]) == (422, "EntityNotFound")
    assert await bob_role(api) == "Team"  # nothing changed


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", 1, True])
async def test_skip_errors_true_in_any_spelling_skips_the_bad_entry(
    api: Api, value: object
) -> None:
    status, body, _ = await api.post(
        "users/roles", {"skipErrors": value, "users": [GOOD, GHOST]}, who="alice"
    )
    assert status == 200
    assert (body["data"]["succeeded"], body["data"]["failed"]) == (1, 1)
    assert await bob_role(api) == "Product"


@pytest.mark.parametrize("value", ["maybe", "", 2, -1, 0.5, [], {}])
async def test_skip_errors_that_is_no_boolean_is_400_and_changes_nothing(
    api: Api, value: object
) -> None:
    status, body, _ = await api.post(
        "users/roles", {"skipErrors": value, "users": [GOOD]}, who="alice"
    )
    assert (status, body["error"]["errorCode"]) == (400, "ApiVersionError")
    assert "skipErrors" in body["error"]["message"]
    assert await bob_role(api) == "Team"


MALFORMED: list[Any] = [
    "bob@example.com",  # not an object
    {"id": "not-a-guid", "role": {"name": "Team"}},  # malformed GUID (D19)
    {"vstsId": 42, "role": {"name": "Team"}},  # not a GUID string
    {"email": "carol@example.com", "role": {"id": "zzz"}},  # malformed role id
    {"email": "carol@example.com", "id": uid("carol"), "role": {"name": "Team"}},  # two keys
    {"email": "carol@example.com"},  # no role
]


async def test_skip_errors_true_puts_malformed_entries_in_failed_entries(api: Api) -> None:
    body = {"skipErrors": True, "users": [MALFORMED[0], GOOD, *MALFORMED[1:]]}
    status, result, _ = await api.post("users/roles", body, who="alice")
    assert status == 200, result
    data = result["data"]
    assert (data["succeeded"], data["failed"]) == (1, len(MALFORMED))
    assert [f["entity"] for f in data["failedEntries"]] == MALFORMED  # as sent, in order
    messages = [f["error"]["message"] for f in data["failedEntries"]]
    assert all(messages), messages
    assert "JSON object" in messages[0] and "not a GUID" in messages[1]
    assert await bob_role(api) == "Product"


@pytest.mark.parametrize(
    ("entry", "status"),
    [(MALFORMED[0], 400), (MALFORMED[1], 400), (MALFORMED[3], 400), (MALFORMED[4], 422)],
)
async def test_skip_errors_false_a_malformed_entry_fails_the_call(
    api: Api, entry: Any, status: int
) -> None:
    got, body, _ = await api.post("users/roles", {"users": [GOOD, entry]}, who="alice")
    assert got == status, body
    assert await bob_role(api) == "Team"


# -- §6.3/D11: the None role has no access to time data -----------------------------------


async def test_none_role_may_not_create_list_read_change_or_delete_worklogs(api: Api) -> None:
    # An Administrator may still record time for Erin; Erin herself may not touch it.
    mine = await api.create(who="alice", userId=uid("erin"), comment="for erin")
    one = {"timeStamp": "2026-11-02T09:00:00", "length": 60, "comment": "x"}
    calls: list[tuple[str, str, Any]] = [
        ("GET", "workLogs", None),
        ("POST", "workLogs", one),
        ("POST", "workLogs/batch", [one]),
        ("GET", f"workLogs/{mine['id']}", None),
        ("PATCH", f"workLogs/{mine['id']}", {"comment": "changed"}),
        ("DELETE", f"workLogs/{mine['id']}", None),
        ("GET", "workLogs/all", None),
    ]
    for method, endpoint, body in calls:
        status, data, _ = await api.call(method, endpoint, who="erin", json=body)
        assert (status, data["error"]["errorCode"]) == (403, "AccessDenied"), endpoint
        assert "None" in data["error"]["message"] or endpoint == "workLogs/all"
    status, body, _ = await api.post("workLogs/batch", [one], who="erin", query="validateOnly=true")
    assert status == 403
    _, listing, _ = await api.get("workLogs/all", who="alice")
    assert [(w["id"], w["comment"]) for w in listing["data"]] == [(mine["id"], "for erin")]


async def test_none_role_gate_comes_before_validation(api: Api) -> None:
    status, body, _ = await api.post("workLogs", {"length": -1}, who="erin")
    assert (status, body["error"]["errorCode"]) == (403, "AccessDenied")
    status, _, _ = await api.get("workLogs/11111111-1111-1111-1111-111111111111", who="erin")
    assert status == 403


async def test_none_role_may_still_read_who_it_is_and_the_directory(api: Api) -> None:
    """Recorded decision: the gate covers time data (worklogs, time approval), not ``me``,
    ``users`` or ``activityTypes``, so a client can tell the user which role blocks them."""
    for endpoint in ("me", "users", f"users/{uid('erin')}", "activityTypes"):
        status, _, _ = await api.get(endpoint, who="erin")
        assert status == 200, endpoint


async def test_a_role_given_back_opens_the_worklogs_again(api: Api) -> None:
    status, _, _ = await api.post(
        "users/roles",
        {"users": [{"email": "erin@example.com", "role": {"name": "Team"}}]},
        who="alice",
    )
    assert status == 200
    await api.create(who="erin")
    status, body, _ = await api.get("workLogs", who="erin")
    assert status == 200 and len(body["data"]) == 1


# -- recorded decisions beyond D7/D11 -----------------------------------------------------


@pytest.mark.parametrize("work_item", [0, -1, "0", "-7"])
async def test_work_item_zero_or_negative_is_entity_not_found(
    make_api: ApiFactory, work_item: object
) -> None:
    # any work item id is accepted by the demo seed (no list), and still <= 0 is refused,
    # for an Administrator too, on POST, batch and PATCH alike
    api = await make_api()
    body = {"length": 60, "workItemId": work_item}
    for method, endpoint, payload in (
        ("POST", "workLogs", body),
        ("POST", "workLogs/batch", [body]),
    ):
        status, data, _ = await api.call(method, endpoint, who="alice", json=payload)
        assert (status, data["error"]["errorCode"]) == (422, "EntityNotFound"), endpoint
        assert data["error"]["fields"] == {"workItemId": int(str(work_item))}
    w = await api.create(who="alice", workItemId=5)
    status, data, _ = await api.call(
        "PATCH", f"workLogs/{w['id']}", who="alice", json={"workItemId": work_item}
    )
    assert (status, data["error"]["errorCode"]) == (422, "EntityNotFound")
    _, listing, _ = await api.get("workLogs/all", who="alice")
    assert [x["workItemId"] for x in listing["data"]] == [5]


async def test_reading_another_users_worklog_needs_a_reader_role(api: Api) -> None:
    w = await api.create(who="bob")
    for who, status in (("alice", 200), ("dave", 200), ("carol", 403), ("bob", 200)):
        got, body, _ = await api.get(f"workLogs/{w['id']}", who=who)
        assert got == status, who
        if status == 403:
            assert body["error"]["errorCode"] == "AccessDenied"
    status, _, _ = await api.post(
        "users/roles",
        {"users": [{"email": "carol@example.com", "role": {"name": "Budget"}}]},
        who="alice",
    )
    assert status == 200
    got, _, _ = await api.get(f"workLogs/{w['id']}", who="carol")
    assert got == 200


# -- D6: naive timestamps come back exactly as sent ---------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "2026-11-03",
        "11/3/2026, 9:30:00 AM",
        "11/3/2026, 9:30:00\u202fAM",
        "11/3/2026 13:00",
        "2026-11-03T09:30:00.5",
        "2026-11-03T09:30",
    ],
)
async def test_naive_timestamps_come_back_exactly_as_sent_everywhere(api: Api, sent: str) -> None:
    one = {"timeStamp": sent, "length": 60, "comment": "x"}
    _, single, _ = await api.post("workLogs", one)
    _, batch, _ = await api.post("workLogs/batch", [one])
    _, checked, _ = await api.post("workLogs/batch", [one], query="validateOnly=true")
    ids = [single["data"]["id"], batch["data"][0]["id"]]
    assert single["data"]["timestamp"] == batch["data"][0]["timestamp"] == sent
    assert checked["data"][0]["timestamp"] == sent
    _, listing, _ = await api.get("workLogs")
    assert [w["timestamp"] for w in listing["data"]] == [sent, sent]
    _, got, _ = await api.get(f"workLogs/{ids[0]}")
    assert got["data"]["timestamp"] == sent
    _, patched, _ = await api.call("PATCH", f"workLogs/{ids[1]}", json={"timeStamp": sent})
    assert patched["data"]["timestamp"] == sent
