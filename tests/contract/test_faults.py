"""Contract: sandbox-injected faults (D14, D15) as the client sees them (§18.4).

Every wait goes through an injected sleep that records the delay and returns at once, so the
retries cost no wall time. The sandbox's own call counters (``/_sandbox/stats``) prove what
was re-sent and what was not.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.contract.conftest import Sandbox, SandboxFactory, SleepRecorder, uid
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.redact import Secret
from timetracker_import.api.retry import RetryPolicy
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.errors import (
    EXIT_AMBIGUOUS,
    EXIT_PROTOCOL,
    AmbiguousOutcome,
    ApiError,
    AuthError,
    MalformedAnswer,
    TransientApiError,
)
from timetracker_import.sandbox import make_app

ITEMS = [
    {"timeStamp": "2026-11-03T09:00:00", "length": 3600, "comment": "a"},
    {"timeStamp": "2026-11-03T10:00:00", "length": 1800, "workItemId": 42},
]


async def stored_comments(sb: Sandbox) -> list[Any]:
    """What bob has on the server, read back through the client (as a resume would)."""
    async with sb.client("bob") as client:
        return [w["comment"] for w in await client.worklogs()]


# -- 429 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["batch#1:429=3", "batch#1:429-date=3"])
async def test_429_waits_retry_after_then_succeeds_without_duplicates(
    make_sandbox: SandboxFactory, spec: str
) -> None:
    sb = await make_sandbox(faults=[spec])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        created = await client.post_batch(ITEMS)
    assert len(created) == 2
    assert len(sleep.delays) == 1
    if "date" in spec:  # an HTTP-date has one-second resolution
        assert 1.0 <= sleep.delays[0] <= 3.0
    else:
        assert sleep.delays == [3.0]
    assert sleep.events[0].reason == "429"
    stats = await sb.stats()
    assert stats["calls"]["batch"] == 2
    assert stats["worklogs"] == 2


async def test_retry_after_above_the_cap_gives_up_at_once(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["batch#1:429=120", "me#1:429=31"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        with pytest.raises(TransientApiError) as post:
            await client.post_batch(ITEMS)
        with pytest.raises(TransientApiError) as get:
            await client.me()
    assert post.value.retry_after == 120
    assert post.value.status == 429
    assert post.value.error_code == "QuoteExceededError"
    assert get.value.retry_after == 31  # the default cap is 30 s
    assert not isinstance(post.value, AmbiguousOutcome)  # a 429 has no side effects
    assert sleep.delays == []
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["calls"]["me"], stats["worklogs"]) == (1, 1, 0)


# -- transient failures on reads --------------------------------------------------------------


async def test_503_on_get_is_retried_then_succeeds(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["users#1..2:503"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        users = await client.users()
    assert len(users) == 5
    assert sleep.delays == [1.0, 1.0]  # floor of the backoff (rand() = 0)
    assert [e.reason for e in sleep.events] == ["503", "503"]
    assert (await sb.stats())["calls"]["users"] == 3


async def test_503_on_a_later_page_resumes_that_page(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["users#2:503"])
    async with sb.client("bob") as client:
        users = await client.users(page_size=2)
    assert [u["name"] for u in users] == [
        "Alice Admin",
        "Bob Builder",
        "Carol Coder",
        "Dave Product",
        "Erin Nobody",
    ]
    skips = [line.split("$skip=")[1] for line in sb.raw_requests if "/users?" in line]
    assert skips == ["0", "2", "2", "4"]  # the failed page is asked for again


async def test_get_retry_budget_exhausted(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["me:503"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep, retry_policy=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(TransientApiError) as info:
            await client.me()
    assert info.value.status == 503
    assert info.value.error_code == "UnexpectedError"
    assert len(sleep.delays) == 2
    assert (await sb.stats())["calls"]["me"] == 3


async def test_dropped_get_is_retried(make_sandbox: SandboxFactory) -> None:
    # aiohttp itself re-sends an idempotent request once after a disconnect (RFC 9112
    # 9.3.1), so two drops are needed before the client's own retry (with a wait) shows.
    sb = await make_sandbox(faults=["activitytypes#1..2:drop"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        data = await client.activity_types()
    assert len(data["activityTypes"]) == 5
    assert sleep.delays == [1.0]
    assert (await sb.stats())["calls"]["activitytypes"] == 3


async def test_dropped_post_is_never_resent_by_the_transport(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["worklogs#1:drop-after-commit"])
    async with sb.client("bob") as client:
        with pytest.raises(AmbiguousOutcome):
            await client.create_worklog(ITEMS[0])
    stats = await sb.stats()
    assert (stats["calls"]["worklogs"], stats["worklogs"]) == (1, 1)


async def test_expired_token_is_not_retried(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["any#2..:401"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        await client.me()
        with pytest.raises(AuthError) as info:
            await client.me()
    assert info.value.status == 401
    assert sleep.delays == []
    assert (await sb.stats())["calls"]["me"] == 2


# -- ambiguous writes --------------------------------------------------------------------------


async def test_500_on_batch_is_ambiguous_and_not_resent(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["batch#1:500"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        with pytest.raises(AmbiguousOutcome) as info:
            await client.post_batch(ITEMS)
    assert info.value.status == 500
    assert info.value.error_code == "UnexpectedError"
    assert info.value.exit_code == EXIT_AMBIGUOUS
    assert sleep.delays == []
    stats = await sb.stats()
    assert stats["calls"]["batch"] == 1  # nothing re-sent
    assert stats["worklogs"] == 0  # (this fault fires before the commit)
    assert await stored_comments(sb) == []


async def test_500_after_commit_is_ambiguous_and_the_worklogs_exist(
    make_sandbox: SandboxFactory,
) -> None:
    sb = await make_sandbox(faults=["batch#1:500-after-commit"])
    async with sb.client("bob") as client:
        with pytest.raises(AmbiguousOutcome) as info:
            await client.post_batch(ITEMS)
    assert info.value.status == 500
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["worklogs"]) == (1, 2)
    assert await stored_comments(sb) == ["a", None]  # reading back finds them


@pytest.mark.parametrize(("spec", "stored"), [("drop", 0), ("drop-after-commit", 2)])
async def test_dropped_batch_is_ambiguous(
    make_sandbox: SandboxFactory, spec: str, stored: int
) -> None:
    sb = await make_sandbox(faults=[f"batch#1:{spec}"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        with pytest.raises(AmbiguousOutcome) as info:
            await client.post_batch(ITEMS)
    assert info.value.status is None  # no answer at all
    assert sleep.delays == []
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["worklogs"]) == (1, stored)


async def test_partial_commit_drop_is_ambiguous(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["batch#1:partial-commit-drop"])
    async with sb.client("bob") as client:
        with pytest.raises(AmbiguousOutcome):
            await client.post_batch(ITEMS)
    assert await stored_comments(sb) == ["a"]  # the first half made it


async def test_delay_after_commit_past_the_client_timeout(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["batch#1:delay-after-commit=1s"])
    short = aiohttp.ClientTimeout(total=0.3)
    async with sb.client("bob", timeout=short) as client:
        with pytest.raises(AmbiguousOutcome):
            await client.post_batch(ITEMS)
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["worklogs"]) == (1, 2)


async def test_single_create_and_patch_are_ambiguous_too(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["worklogs#2..3:503-after-commit"])
    async with sb.client("bob") as client:
        wid = (await client.create_worklog(ITEMS[0]))["id"]  # call 1: fine
        with pytest.raises(AmbiguousOutcome):
            await client.create_worklog(ITEMS[1])  # call 2: stored, answered 503
        with pytest.raises(AmbiguousOutcome):
            await client.patch_worklog(wid, {"comment": "patched"})  # call 3: applied
    assert sorted(map(str, await stored_comments(sb))) == ["None", "patched"]


async def test_delete_answered_500_after_commit_counts_as_deleted(
    make_sandbox: SandboxFactory,
) -> None:
    sb = await make_sandbox()
    async with sb.client("bob") as client:
        wid = (await client.create_worklog(ITEMS[0]))["id"]
        await sb.set_faults(["worklogs#1:500-after-commit"])
        await client.delete_worklog(wid)  # retried; the 404 proves the first attempt worked
    stats = await sb.stats()
    assert stats["worklogs"] == 0
    assert stats["faultCalls"]["worklogs"] == 2


async def test_validate_only_batch_is_retried_like_a_read(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["batch#1:500"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        checked = await client.post_batch(ITEMS, validate_only=True)
    assert [w["id"] for w in checked] == [None, None]
    assert len(sleep.delays) == 1
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["worklogs"]) == (2, 0)


# -- answers that cannot be read (issue 25 item 2) -------------------------------------------

UNREADABLE = ["html", "truncated", "wrong-shape", "302"]


@pytest.mark.parametrize("kind", UNREADABLE)
@pytest.mark.parametrize("after_commit", [False, True])
async def test_unreadable_batch_answer_is_ambiguous_not_a_failure(
    make_sandbox: SandboxFactory, kind: str, after_commit: bool
) -> None:
    """A batch answered by a login page, JSON cut in the middle, ``{"data": 5}`` or a
    redirect may have been stored: ambiguous (read back), never "not sent", never re-sent."""
    spec = f"batch#1:{kind}" + ("-after-commit" if after_commit else "")
    sb = await make_sandbox(faults=[spec])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as client:
        with pytest.raises(AmbiguousOutcome) as info:
            await client.post_batch(ITEMS)
    assert info.value.exit_code == EXIT_AMBIGUOUS
    assert sleep.delays == []
    stats = await sb.stats()
    assert (stats["calls"]["batch"], stats["fired"]) == (1, {spec: 1})  # never re-sent
    assert await stored_comments(sb) == (["a", None] if after_commit else [])


@pytest.mark.parametrize("kind", UNREADABLE)
async def test_unreadable_answers_to_single_writes_are_ambiguous(
    make_sandbox: SandboxFactory, kind: str
) -> None:
    """POST workLogs, PATCH and DELETE workLogs/{id}: stored/applied, answer unreadable."""
    sb = await make_sandbox()
    async with sb.client("bob") as client:
        keep = (await client.create_worklog(ITEMS[0]))["id"]
        gone = (await client.create_worklog(ITEMS[1]))["id"]
        await sb.set_faults([f"worklogs#1..3:{kind}-after-commit"])
        with pytest.raises(AmbiguousOutcome):
            await client.create_worklog(ITEMS[0] | {"comment": "new"})
        with pytest.raises(AmbiguousOutcome):
            await client.patch_worklog(keep, {"comment": "patched"})
        if kind == "wrong-shape":
            # DELETE answers {"data": null} (D10), and its payload says nothing more: any
            # JSON answer is a done DELETE (here it was)
            await client.delete_worklog(gone)
        else:
            with pytest.raises(AmbiguousOutcome):
                await client.delete_worklog(gone)
    stats = await sb.stats()
    assert stats["faultCalls"]["worklogs"] == 3  # none of them re-sent
    assert sorted(map(str, await stored_comments(sb))) == ["new", "patched"]


@pytest.mark.parametrize("kind", ["html", "truncated", "wrong-shape"])
async def test_unreadable_answer_to_a_read_is_its_own_exit_code(
    make_sandbox: SandboxFactory, kind: str
) -> None:
    """A read answered with something unreadable is not the user's input (exit 2): 76."""
    sb = await make_sandbox(faults=[f"me#1:{kind}", f"users#1:{kind}", f"batch#1:{kind}"])
    async with sb.client("bob") as client:
        for call in (client.me(), client.users(), client.post_batch(ITEMS, validate_only=True)):
            with pytest.raises(MalformedAnswer) as info:
                await call
            assert info.value.exit_code == EXIT_PROTOCOL
            assert not isinstance(info.value, AmbiguousOutcome)


async def test_redirect_on_a_read_is_a_url_problem(make_sandbox: SandboxFactory) -> None:
    sb = await make_sandbox(faults=["me#1:302"])
    async with sb.client("bob") as client:
        with pytest.raises(ApiError) as info:
            await client.me()
    assert info.value.exit_code == 2 and info.value.status == 302
    assert info.value.hint is not None and "/login" in info.value.hint


# -- connection refused ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_connection_refused_post_is_retried_without_duplicate() -> None:
    """Nothing listens at first; the injected sleep starts the sandbox, so the retried POST
    (provably never sent) lands exactly once."""
    port = free_port()
    app = make_app()
    server = TestServer(app, host="127.0.0.1", port=port)
    started = False

    async def start(_: float) -> None:
        nonlocal started
        if not started:
            started = True
            await server.start_server()

    sleep = SleepRecorder(on_sleep=start)
    settings = ConnectionSettings(
        url=f"http://127.0.0.1:{port}", token=Secret("demo-bob-token-0002")
    )
    try:
        async with TimetrackerClient(settings, sleep=sleep, rand=lambda: 0.0) as client:
            created = await client.post_batch(ITEMS)
            listed = await client.worklogs()
    finally:
        await server.close()
    assert sleep.delays == [1.0]
    assert [w["id"] for w in listed] == [w["id"] for w in created]
    assert len(listed) == 2


async def test_connection_refused_until_the_budget_is_spent() -> None:
    settings = ConnectionSettings(
        url=f"http://127.0.0.1:{free_port()}", token=Secret("refused-token-0001")
    )
    sleep = SleepRecorder()
    async with TimetrackerClient(
        settings, sleep=sleep, rand=lambda: 0.0, retry_policy=RetryPolicy(max_attempts=3)
    ) as client:
        with pytest.raises(TransientApiError) as info:
            await client.create_worklog(ITEMS[0])
    assert not isinstance(info.value, AmbiguousOutcome)  # nothing was ever sent
    assert isinstance(info.value, ApiError)
    assert len(sleep.delays) == 2


async def test_delete_dropped_after_commit_counts_as_deleted(make_sandbox: SandboxFactory) -> None:
    """Finding: aiohttp silently re-sends a DELETE once after a dropped connection; the copy
    gets 404 because the dropped one was applied. The client must count that as deleted."""
    sb = await make_sandbox()
    async with sb.client("bob") as client:
        wid = (await client.create_worklog(ITEMS[0]))["id"]
        await sb.set_faults(["worklogs#1:drop-after-commit"])
        await client.delete_worklog(wid)
        with pytest.raises(ApiError) as really_missing:  # a plain 404 still fails
            await client.delete_worklog(wid)
    assert really_missing.value.status == 404
    stats = await sb.stats()
    assert stats["worklogs"] == 0
    assert stats["faultCalls"]["worklogs"] == 3  # drop, the transport's re-send, the last call


async def test_revoke_answered_500_after_commit_is_ambiguous(make_sandbox: SandboxFactory) -> None:
    """Finding: the retried DELETE timeApproval/week gets 409 (no longer Submitted) because
    the first attempt did revoke it; that must not be reported as a definite failure."""
    sb = await make_sandbox(faults=["approvals#2:500-after-commit"])
    sleep = SleepRecorder()
    async with sb.client("bob", sleep=sleep) as bob:
        assert await bob.submit_week("2026-11-02", uid("alice")) is True
        with pytest.raises(AmbiguousOutcome) as info:
            await bob.revoke_week("2026-11-02")
        with pytest.raises(ApiError) as plain:  # without an unanswered attempt: definite 409
            await bob.revoke_week("2026-11-02")
    assert info.value.status == 409
    assert info.value.error_code == "ApprovalStateFailed"
    assert not isinstance(plain.value, AmbiguousOutcome)
    assert (plain.value.status, plain.value.error_code) == (409, "ApprovalStateFailed")
    assert len(sleep.delays) == 1  # the 500 was retried once
    async with sb.client("alice") as alice:  # reading back shows it was revoked
        assert await alice.approvals(from_ts="2026-11-01") == []


async def test_rate_limiter_429s_are_waited_out(make_sandbox: SandboxFactory) -> None:
    """The sandbox's token bucket (D14): every call finally succeeds, each 429 is waited for
    (Retry-After is whole seconds, at least 1) and nothing is created twice."""
    sb = await make_sandbox(rate_limit="5/s")

    async def short_real_wait(_: float) -> None:
        await asyncio.sleep(0.25)  # enough to refill one token at 5/s

    sleep = SleepRecorder(on_sleep=short_real_wait)
    async with sb.client("bob", sleep=sleep) as client:
        for i in range(8):
            await client.create_worklog(ITEMS[0] | {"comment": f"r{i}"})
    stats = await sb.stats()
    assert stats["worklogs"] == 8
    assert stats["rateLimited"] == len(sleep.delays) >= 1
    assert all(d >= 1.0 for d in sleep.delays)


async def test_page_size_over_500_is_refused_before_sending(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        with pytest.raises(ValueError, match="500"):
            await client.users(page_size=501)
    assert sandbox.raw_requests == []
