"""Injected faults and latency (D15), rate limiting (D14, D24), control endpoints, thread runner."""

from __future__ import annotations

import asyncio
import email.utils
import json
import sqlite3
import time
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.sandbox.conftest import Api, ApiFactory, auth
from timetracker_import.sandbox import FaultSpecError, parse_fault, run_sandbox_in_thread


def one(comment: str = "x") -> list[dict[str, Any]]:
    return [{"timeStamp": "2024-03-04T09:00:00", "length": 60, "comment": comment}]


async def stats(api: Api) -> dict[str, Any]:
    async with api.client.get("/_sandbox/stats") as resp:
        return dict(await resp.json())


# -- grammar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("batch#3:500", ("batch", 3, 3, "status", False, 500)),
        ("batch#3:500-after-commit", ("batch", 3, 3, "status", True, 500)),
        ("batch#2:delay-after-commit=5s", ("batch", 2, 2, "delay", True, 0)),
        ("batch#4:drop", ("batch", 4, 4, "drop", False, 0)),
        ("batch#4:drop-after-commit", ("batch", 4, 4, "drop", True, 0)),
        ("batch#5:partial-commit-drop", ("batch", 5, 5, "partial-commit-drop", True, 0)),
        ("any#10..:401", ("any", 10, None, "status", False, 401)),
        ("batch#2:429=3", ("batch", 2, 2, "status", False, 429)),
        ("batch#2..4:503", ("batch", 2, 4, "status", False, 503)),
        ("workLogs/all#1:500", ("worklogs-all", 1, 1, "status", False, 500)),
        ("*:latency=50ms", ("any", 1, None, "latency", False, 0)),
        ("ME:403", ("me", 1, None, "status", False, 403)),
        ("batch#2:302", ("batch", 2, 2, "status", False, 302)),
        ("worklogs:307-after-commit", ("worklogs", 1, None, "status", True, 307)),
        ("batch#1:html", ("batch", 1, 1, "html", False, 0)),
        ("batch#1:html-after-commit", ("batch", 1, 1, "html", True, 0)),
        ("batch#1..:truncated", ("batch", 1, None, "truncated", False, 0)),
        ("me:truncated-after-commit", ("me", 1, None, "truncated", True, 0)),
        ("batch#3:wrong-shape", ("batch", 3, 3, "wrong-shape", False, 0)),
        ("batch#3:Wrong-Shape-After-Commit", ("batch", 3, 3, "wrong-shape", True, 0)),
    ],
)
def test_fault_grammar(spec: str, expected: tuple[Any, ...]) -> None:
    f = parse_fault(spec)
    assert (f.selector, f.first, f.last, f.kind, f.after_commit, f.status) == expected


async def test_echo_repeats_the_authorization_header(make_api: ApiFactory) -> None:
    """``-echo``: an error body with the request's Authorization header, as a misconfigured
    server prints it (the secrets tests need one)."""
    assert parse_fault("batch#2:500-after-commit-echo").echo
    assert not parse_fault("batch#2:500").echo
    api = await make_api(faults=["me:400-echo"])
    status, body, _ = await api.get("me")
    assert status == 400
    assert f"Authorization: {auth('bob')['Authorization']}" in body["error"]["message"]


def test_fault_grammar_durations_and_retry() -> None:
    assert parse_fault("*:latency=50ms").seconds == pytest.approx(0.05)
    assert parse_fault("batch#2:delay-after-commit=5s").seconds == 5
    f = parse_fault("batch#2:429-date=3")
    assert (f.seconds, f.retry_as_date) == (3, True)


@pytest.mark.parametrize(
    "spec",
    [
        "batch:",
        "nowhere#1:500",
        "batch#0:500",
        "batch#3..2:500",
        "batch#1:200",
        "batch#1:teapot",
        "me#1:partial-commit-drop",
        "batch#1:500=3",
        "*:latency=50",
        "batch 500",
        "batch#1:299",
        "batch#1:600",
        "batch#1:html=3",
        "batch#1:html-before-commit",
        "batch#1:302=3",
    ],
)
def test_fault_grammar_errors(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault(spec)


# -- fault kinds over HTTP ---------------------------------------------------------------------


async def test_status_before_commit_on_the_nth_call(make_api: ApiFactory) -> None:
    api = await make_api(faults=["batch#3:500", "batch#5..6:503"])
    got = []
    for i in range(7):
        status, body, _ = await api.post("workLogs/batch", one(f"{i}"))
        got.append(status)
        if status >= 500:
            assert body["error"]["statusCode"] == status
            assert body["error"]["errorCode"] == "UnexpectedError"
    assert got == [200, 200, 500, 200, 503, 503, 200]
    s = await stats(api)
    assert s["worklogs"] == 4
    assert s["calls"]["batch"] == 7


async def test_status_after_commit_stores_the_batch(make_api: ApiFactory) -> None:
    api = await make_api(faults=["batch#1:500-after-commit"])
    status, _, _ = await api.post("workLogs/batch", one() * 3)
    assert status == 500
    assert (await stats(api))["worklogs"] == 3


async def test_delay_after_commit_outlasts_client_timeout(make_api: ApiFactory) -> None:
    api = await make_api(faults=["batch#1:delay-after-commit=600ms"])
    with pytest.raises(asyncio.TimeoutError):
        await api.client.post(
            "/api/rest/workLogs/batch?api-version=3.2",
            json=one(),
            headers=auth("bob"),
            timeout=aiohttp.ClientTimeout(total=0.2),
        )
    await asyncio.sleep(0.6)
    assert (await stats(api))["worklogs"] == 1


@pytest.mark.parametrize(
    "action,stored", [("drop", 0), ("drop-after-commit", 4), ("partial-commit-drop", 2)]
)
async def test_dropped_connections(make_api: ApiFactory, action: str, stored: int) -> None:
    api = await make_api(faults=[f"batch#1:{action}"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.post("workLogs/batch", one() * 4)
    assert (await stats(api))["worklogs"] == stored
    status, _, _ = await api.post("workLogs/batch", one())  # the next call is normal
    assert status == 200


async def test_unreadable_answers_before_and_after_commit(make_api: ApiFactory) -> None:
    """Answers a client cannot read (issue 25): each before the commit (nothing stored) and
    after it (stored, then answered so)."""
    api = await make_api()
    expected_stored = 0
    for after in (False, True):
        suffix = "-after-commit" if after else ""
        await api.client.post(
            "/_sandbox/faults",
            json=[
                f"batch#1:html{suffix}",
                f"batch#2:truncated{suffix}",
                f"batch#3:wrong-shape{suffix}",
                f"batch#4:302{suffix}",
            ],
        )
        answers = []
        for i in range(4):
            async with api.client.post(
                "/api/rest/workLogs/batch?api-version=3.2",
                json=one(f"{i}") * 2,
                headers=auth("bob"),
                allow_redirects=False,
            ) as resp:
                answers.append((resp.status, resp.content_type, await resp.read(), resp.headers))
        (html, cut, shape, redirect) = answers
        assert html[:2] == (200, "text/html") and b"<html>" in html[2]
        assert cut[:2] == (200, "application/json")
        with pytest.raises(ValueError):
            json.loads(cut[2])
        # before the commit there is no answer to cut: a fixed stub; after it, half the answer
        assert cut[2].startswith(b'{"data":[{"')
        assert (b'"comment":"1"' in cut[2]) == after
        assert shape[:2] == (200, "application/json") and json.loads(shape[2]) == {"data": 5}
        assert redirect[0] == 302 and redirect[3]["Location"].startswith("/login")
        expected_stored += 8 if after else 0
        assert (await stats(api))["worklogs"] == expected_stored


async def test_token_expires_after_n_calls(make_api: ApiFactory) -> None:
    api = await make_api(faults=["any#3..:401"])
    statuses = [(await api.get("me"))[0] for _ in range(2)]
    statuses += [(await api.post("workLogs/batch", one()))[0] for _ in range(2)]
    assert statuses == [200, 200, 401, 401]
    _, body, _ = await api.get("me")
    assert body["error"]["errorCode"] == "UnauthorizedError"
    assert (await stats(api))["worklogs"] == 0


async def test_injected_429_with_seconds_and_http_date(make_api: ApiFactory) -> None:
    api = await make_api(faults=["batch#1:429=3", "batch#2:429-date=4"])
    status, body, headers = await api.post("workLogs/batch", one())
    assert (status, headers["Retry-After"]) == (429, "3")
    assert body["error"]["errorCode"] == "QuoteExceededError"
    assert body["error"]["fields"]["retryAfter"] == "3"
    status, body, headers = await api.post("workLogs/batch", one())
    assert status == 429
    when = email.utils.parsedate_to_datetime(headers["Retry-After"])
    assert 2 <= when.timestamp() - time.time() <= 6
    assert (await stats(api))["worklogs"] == 0


async def test_worklogs_all_selector(make_api: ApiFactory) -> None:
    api = await make_api(faults=["workLogs/all#1:500"])
    assert (await api.get("workLogs/all", who="alice"))[0] == 500
    assert (await api.get("workLogs/all", who="alice"))[0] == 200
    assert (await api.get("workLogs"))[0] == 200  # a different selector


async def test_latency_rule_and_latency_option(make_api: ApiFactory) -> None:
    for kwargs in ({"faults": ["*:latency=80ms"]}, {"latency_ms": 80}):
        api = await make_api(**kwargs)
        started = time.perf_counter()
        status, _, _ = await api.get("me")
        assert status == 200
        assert time.perf_counter() - started >= 0.08


# -- rate limit ----------------------------------------------------------------------------------


async def test_d14_rate_limit_429_with_retry_after_and_no_side_effects(
    make_api: ApiFactory,
) -> None:
    api = await make_api(rate_limit="3/s")
    results = [await api.post("workLogs/batch", one()) for _ in range(5)]
    statuses = [r[0] for r in results]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3] == 429
    _, body, headers = results[3]
    assert int(headers["Retry-After"]) >= 1
    assert body["error"]["fields"]["retryAfter"] == headers["Retry-After"]
    assert body["error"]["errorCode"] == "QuoteExceededError"
    s = await stats(api)
    assert s["worklogs"] == statuses.count(200)
    assert s["rateLimited"] == statuses.count(429)
    await asyncio.sleep(0.4)  # one token back at 3/s
    assert (await api.get("me"))[0] == 200


def test_rate_limit_spec_errors() -> None:
    from timetracker_import.sandbox.faults import parse_rate_limit

    assert parse_rate_limit("100/min").rate == pytest.approx(100 / 60)
    for bad in ("fast", "0/s", "10/h"):
        with pytest.raises(FaultSpecError):
            parse_rate_limit(bad)


# -- control endpoints ------------------------------------------------------------------------


async def test_control_endpoints_set_faults_stats_and_reset(api: Api) -> None:
    async with api.client.post("/_sandbox/faults", json=["batch#2:500"]) as resp:
        assert resp.status == 200
    async with api.client.post("/_sandbox/faults", json={"faults": ["oops"]}) as resp:
        assert resp.status == 400
        assert "oops" in (await resp.json())["error"]
    assert [(await api.post("workLogs/batch", one()))[0] for _ in range(3)] == [200, 500, 200]
    s = await stats(api)
    assert s["calls"]["batch"] == 3 and s["worklogs"] == 2
    assert s["faults"] == ["batch#2:500"] and s["fired"] == {"batch#2:500": 1}
    async with api.client.post("/_sandbox/reset") as resp:
        assert resp.status == 200
    s = await stats(api)
    assert (s["worklogs"], s["faults"], s["calls"]) == (0, [], {})
    # Seeded approvals are back after the reset.
    _, body, _ = await api.get("timeApproval/all", who="alice")
    assert len(body["data"]) == 4


# -- thread runner ---------------------------------------------------------------------------


def test_run_sandbox_in_thread_serves_real_http() -> None:
    with run_sandbox_in_thread(faults=["me#2:503"]) as sb:
        assert sb.url.startswith("http://127.0.0.1:")
        assert set(sb.tokens) >= {"alice@example.com", "bob@example.com"}
        req = urllib.request.Request(
            f"{sb.api_url}/workLogs/batch?api-version=3.2",
            data=json.dumps(one()).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {sb.tokens['bob@example.com']}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 200
        assert sb.stats()["worklogs"] == 1
        assert sb.db is not None and sb.db.exists()
        with sqlite3.connect(sb.db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM worklogs").fetchone()[0] == 1
            # Tokens never reach the database file.
            dump = "\n".join(conn.iterdump())
            assert sb.tokens["bob@example.com"] not in dump
        sb.set_faults(["batch#1:500"])
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req)
        assert info.value.code == 500
        sb.reset()
        assert sb.stats()["worklogs"] == 0
        db = sb.db
    assert not db.exists()
