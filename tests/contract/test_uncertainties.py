"""The client against every variant of what the API contract leaves open (§17, §18).

The sandbox answers one variant of each open question (its §19 decision); the others come
from a scripted server over real loopback HTTP, so every call still goes through the
client's whole stack (URL building, aiohttp, retries). docs/sandbox.md, "Contract
checklist", lists which test holds which uncertainty.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.protocol import AmbiguousWrite
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.admin import role_row
from timetracker_import.errors import ApiError

from .conftest import Sandbox, SleepRecorder

#: one scripted answer: (status, headers, body); body None closes the connection unanswered
Answer = tuple[int, dict[str, str], bytes | None]


def js(payload: Any, status: int = 200, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


@dataclass
class Scripted:
    """A server that answers each call with the next scripted answer."""

    answers: list[Answer]
    seen: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.seen.append(f"{request.method} {request.raw_path}")
        status, headers, body = self.answers.pop(0)
        if body is None:
            assert request.transport is not None
            request.transport.abort()  # no answer at all: a dropped connection
            return web.Response(status=500)
        return web.Response(status=status, headers=headers, body=body)

    def client(self, sleep: SleepRecorder | None = None) -> TimetrackerClient:
        settings = ConnectionSettings(url=self.url, token=Secret("scripted-token-0001"))
        return TimetrackerClient(settings, sleep=sleep or SleepRecorder(), rand=lambda: 0.0)


ScriptedFactory = Callable[..., Awaitable[Scripted]]


@pytest.fixture
async def scripted(aiohttp_server: Any) -> ScriptedFactory:
    async def factory(*answers: Answer) -> Scripted:
        script = Scripted(list(answers))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", script.handle)
        server = await aiohttp_server(app)
        script.url = str(server.make_url("")).rstrip("/")
        return script

    return factory


NOT_FOUND = {"error": {"statusCode": 0, "errorCode": "EntityNotFound", "message": "no such"}}


@pytest.mark.parametrize("status", [404, 422], ids=["404", "422"])
async def test_delete_of_a_gone_worklog_after_an_unanswered_attempt_is_done(
    scripted: ScriptedFactory, status: int
) -> None:
    """§2.3/§17.4: an unknown id may be 404 or 422 EntityNotFound on the real service; after
    an attempt that got no answer, either one means the first attempt deleted it."""
    body = {"error": {**NOT_FOUND["error"], "statusCode": status}}
    server = await scripted((0, {}, None), js(body, status))
    async with server.client() as client:
        await client.delete_worklog("0f8fad5b-d9cb-469f-a165-70867728950e")  # no error: done
    assert [s.split("?")[0] for s in server.seen] == [
        "DELETE /api/rest/workLogs/" + "0f8fad5b-d9cb-469f-a165-70867728950e"
    ] * 2


@pytest.mark.parametrize("status", [404, 422], ids=["404", "422"])
async def test_delete_of_an_unknown_id_at_first_try_is_an_error(
    scripted: ScriptedFactory, status: int
) -> None:
    server = await scripted(js({"error": {**NOT_FOUND["error"], "statusCode": status}}, status))
    async with server.client() as client:
        with pytest.raises(ApiError) as info:
            await client.delete_worklog("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert (info.value.status, info.value.error_code) == (status, "EntityNotFound")


@pytest.mark.parametrize(
    "answer",
    [js({"data": None}), (204, {}, b""), (200, {}, b"")],
    ids=["data-null", "204", "200-empty"],
)
async def test_delete_answered_in_any_documented_form(
    scripted: ScriptedFactory, answer: Answer
) -> None:
    """§11.3: ``{"data": null}`` with 200 (sample), 204 (one client accepts it)."""
    server = await scripted(answer)
    async with server.client() as client:
        await client.delete_worklog("0f8fad5b-d9cb-469f-a165-70867728950e")  # no error: done


@pytest.mark.parametrize("key", ["timeZone", "timezone", "TimeZone"])
async def test_me_time_zone_in_the_real_or_the_specification_casing(
    scripted: ScriptedFactory, key: str
) -> None:
    """§1.4/§3: real answers say ``timeZone``, the specification ``timezone``; the client
    hands ``timeZone`` on whichever came."""
    server = await scripted(js({"data": {"user": {"id": "u"}, key: -300}}))
    async with server.client() as client:
        me = await client.me()
    assert me["timeZone"] == -300


USER = {
    "uniqueName": "ann@x.test",
    "displayName": None,
    "email": "ann@x.test",
    "name": "Ann",
    "id": "u1",
    "vstsId": "v1",
}
ROLE = {"id": "r1", "name": "Team"}


@pytest.mark.parametrize(
    "item", [{**USER, "role": ROLE}, {"user": USER, "role": ROLE}], ids=["flat", "nested"]
)
async def test_roles_items_flat_or_nested(scripted: ScriptedFactory, item: Any) -> None:
    """§6.1/§17.3: the ``users/roles`` item shape was never captured."""
    server = await scripted(js({"data": [item]}))
    async with server.client() as client:
        rows = [role_row(i) for i in await client.roles()]
    assert rows == [
        {
            "name": "Ann",
            "email": "ann@x.test",
            "uniqueName": "ann@x.test",
            "id": "u1",
            "vstsId": "v1",
            "role": "Team",
            "roleId": "r1",
        }
    ]


WORKLOG = {"id": "w1", "timestamp": "2024-03-04T09:00:00Z", "length": 60}


@pytest.mark.parametrize("fields", [None, ("id",)], ids=["full", "fields"])
@pytest.mark.parametrize(
    "answer", [js({"data": [WORKLOG]}), js([WORKLOG])], ids=["wrapped", "bare"]
)
async def test_batch_answer_wrapped_or_bare(
    scripted: ScriptedFactory, answer: Answer, fields: tuple[str, ...] | None
) -> None:
    """§13: the specification types the batch answer as a bare array."""
    server = await scripted(answer)
    async with server.client() as client:
        items = await client.post_batch([{"length": 60, "comment": "x"}], fields=fields)
    assert [i["id"] for i in items] == ["w1"]


@pytest.mark.parametrize(
    ("answer", "count"),
    [
        (js({"data": [{**WORKLOG, "id": None}]}), 1),
        (js([{**WORKLOG, "id": None}]), 1),
        (js({"data": []}), 0),
        (js({"data": None}), 0),
        (js(None), 0),
        ((200, {}, b""), 0),
    ],
    ids=["would-be", "bare-would-be", "empty", "data-null", "null", "no-body"],
)
async def test_validate_only_answer_in_any_form(
    scripted: ScriptedFactory, answer: Answer, count: int
) -> None:
    """§13: the validateOnly answer is undocumented; both spellings go out."""
    server = await scripted(answer)
    async with server.client() as client:
        items = await client.post_batch([{"length": 60, "comment": "x"}], validate_only=True)
    assert len(items) == count
    assert "validateOnly=true&$validateOnly=true" in server.seen[0]


@pytest.mark.parametrize(
    ("answer", "code", "text"),
    [
        (
            js(
                {
                    "error": {
                        "statusCode": 422,
                        "errorCode": "LengthMustBePositive",
                        "errorDescription": "Length must be greater than 0",
                    }
                },
                422,
            ),
            "LengthMustBePositive",
            "Length must be greater than 0",
        ),
        (
            js({"statusCode": 422, "errorCode": "DbValidationError", "message": "bare"}, 422),
            "DbValidationError",
            "bare",
        ),
        (js({"error": {"errorCode": 17, "message": "numeric code"}}, 422), "17", "numeric code"),
        (js({"Message": "An error has occurred."}, 422), None, "An error has occurred."),
        ((422, {"Content-Type": "text/plain"}, b"plain failure"), None, "plain failure"),
    ],
    ids=["wrapped", "bare", "numeric-code", "aspnet", "text"],
)
async def test_error_body_in_any_shape(
    scripted: ScriptedFactory, answer: Answer, code: str | None, text: str
) -> None:
    """§2.1: no REST v3 error body was ever captured; the client reads every shape."""
    server = await scripted(answer)
    async with server.client() as client:
        with pytest.raises(ApiError) as info:
            await client.create_worklog({"length": 0, "comment": "x"})
    assert (info.value.status, info.value.error_code) == (422, code)
    assert text in info.value.message


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (js({"error": {"errorCode": "QuoteExceededError"}}, 429, **{"Retry-After": "3"}), 3.0),
        # doc-rate's own example: no `error` wrapper, the wait a string in fields
        (
            js(
                {"statusCode": 429, "errorDescription": "exceeded", "fields": {"retryAfter": "4"}},
                429,
            ),
            4.0,
        ),
        (js({"error": {"fields": {"retryAfter": 5}}}, 429), 5.0),
        (
            js({"Message": "slow down"}, 429, **{"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
            1.0,
        ),
        ((429, {}, b""), 1.0),
    ],
    ids=["header", "doc-rate-body", "wrapped-number", "past-http-date", "nothing"],
)
async def test_429_waits_as_long_as_asked_however_it_is_said(
    scripted: ScriptedFactory, answer: Answer, wait: float
) -> None:
    """§2.4: Retry-After header first, then fields.retryAfter, else the backoff floor (1 s);
    a 429 POST is re-sent (it had no side effects)."""
    server = await scripted(answer, js({"data": WORKLOG}))
    sleep = SleepRecorder()
    async with server.client(sleep) as client:
        assert (await client.create_worklog({"length": 60, "comment": "x"}))["id"] == "w1"
    assert sleep.delays == [wait]
    assert [s.split(" ")[0] for s in server.seen] == ["POST", "POST"]


async def test_query_names_keep_a_literal_dollar_on_the_wire(sandbox: Sandbox) -> None:
    """§1.5/§18.1: ``$`` goes out literally, a ``+`` of an offset as %2B, and the sandbox
    (which also accepts %24) reads the filters."""
    async with sandbox.client("alice") as client:
        await client.worklogs_all(
            from_ts="2026-11-02T00:00:00+01:00",
            to_ts="2026-11-03",
            work_item_ids=[1, 2],
            expand_display_name=True,
            include_editable=True,
            page_size=7,
        )
    (line,) = [r for r in sandbox.raw_requests if "workLogs/all" in r]
    assert line == (
        "GET /api/rest/workLogs/all?api-version=3.2&$fromTimestamp=2026-11-02T00:00:00%2B01:00"
        "&$toTimestamp=2026-11-03&$workItemIds=1,2&$expand=user.displayName"
        "&$includeEditable=true&$count=7&$skip=0"
    )


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (403, "LicenseReadOnly", "licence is read-only"),
        (403, "ApiDisabled", "API is switched off"),
        (404, "ActivityTypeDisabled", "activity types are switched off"),
        (400, "ApiVersionError", "--api-version"),
    ],
)
async def test_documented_codes_that_are_no_role_problem_get_their_own_hint(
    scripted: ScriptedFactory, status: int, code: str, words: str
) -> None:
    """§2.2/§2.3: a 403 may also be LicenseReadOnly or ApiDisabled (the sandbox never answers
    them): the hint must not send the user to their role."""
    server = await scripted(js({"error": {"statusCode": status, "errorCode": code}}, status))
    async with server.client() as client:
        with pytest.raises(ApiError) as info:
            await client.create_worklog({"length": 60, "comment": "x"})
    assert info.value.error_code == code
    assert info.value.hint is not None and words in info.value.hint
    assert "role" not in info.value.hint


SENT = [
    {"timeStamp": "2024-03-04T09:00:00Z", "length": 60, "workItemId": 1},
    {"timeStamp": "2024-03-04T10:00:00Z", "length": 120, "workItemId": 1},
    {"timeStamp": "2024-03-04T11:00:00Z", "length": 60, "comment": "no work item"},
]


def created(ids: str, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"w{n}",
            "editedTimestamp": "2024-03-05T00:00:00",
            "length": i["length"],
            "workItemId": i.get("workItemId"),
            "comment": i.get("comment"),
        }
        for n, i in zip(ids, sent, strict=True)
    ]


@pytest.mark.parametrize("fields", [None, ("id", "editedTimestamp")], ids=["full", "fields"])
async def test_batch_answer_in_another_order_is_put_back_in_request_order(
    scripted: ScriptedFactory, fields: tuple[str, ...] | None
) -> None:
    """§13/§17.2: the answer's order is undocumented. Answered as a permutation of the
    request (told apart by length and work item), each row still gets its own worklog."""
    answer = list(reversed(created("abc", SENT)))  # wc, wb, wa
    server = await scripted(js({"data": answer}))
    async with server.client() as client:
        items = await client.post_batch(SENT, fields=fields)
    assert [i["id"] for i in items] == ["wa", "wb", "wc"]
    if fields is not None:
        assert all(set(i) == set(fields) for i in items)


async def test_batch_answer_reordered_among_look_alikes_is_ambiguous(
    scripted: ScriptedFactory,
) -> None:
    """Two rows with the same length and work item answered out of order cannot be told
    apart: the outcome is ambiguous (the caller reads the window back), never a guess."""
    sent = [*SENT, {"timeStamp": "2024-03-04T12:00:00Z", "length": 60, "workItemId": 1}]
    answer = created("abcd", sent)
    answer[0], answer[1] = answer[1], answer[0]
    server = await scripted(js({"data": answer}))
    async with server.client() as client:
        with pytest.raises(AmbiguousWrite):
            await client.post_batch(sent, fields=("id",))


async def test_batch_answer_in_request_order_is_taken_as_it_is(
    scripted: ScriptedFactory,
) -> None:
    """Look-alike rows in request order, and an answer that does not echo the values (a
    server that normalises them): taken by position, as before."""
    sent = [*SENT, {"timeStamp": "2024-03-04T12:00:00Z", "length": 60, "workItemId": 1}]
    bare = [{"id": f"w{n}"} for n in range(4)]
    server = await scripted(js({"data": created("abcd", sent)}), js(bare))
    async with server.client() as client:
        assert [i["id"] for i in await client.post_batch(sent)] == ["wa", "wb", "wc", "wd"]
        assert [i["id"] for i in await client.post_batch(sent)] == ["w0", "w1", "w2", "w3"]
