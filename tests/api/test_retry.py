"""Retry decisions, backoff bounds and Retry-After parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from timetracker_import.api.retry import Decision, RetryPolicy, decide, parse_retry_after


@pytest.mark.parametrize(
    ("method", "status", "sent", "expected"),
    [
        ("GET", None, True, Decision.RETRY),
        ("DELETE", None, True, Decision.RETRY),
        ("POST", None, False, Decision.RETRY),  # connection refused: nothing sent
        ("POST", None, True, Decision.AMBIGUOUS),  # read timeout / dropped after sending
        ("PATCH", None, True, Decision.AMBIGUOUS),
        ("GET", 408, True, Decision.RETRY),
        ("GET", 429, True, Decision.RETRY),
        ("GET", 500, True, Decision.RETRY),
        ("GET", 503, True, Decision.RETRY),
        ("POST", 429, True, Decision.RETRY),  # rate-limited requests have no effect
        ("POST", 500, True, Decision.AMBIGUOUS),
        ("POST", 502, True, Decision.AMBIGUOUS),
        ("PATCH", 408, True, Decision.AMBIGUOUS),
        ("GET", 400, True, Decision.FAIL),
        ("GET", 401, True, Decision.FAIL),
        ("POST", 422, True, Decision.FAIL),
        ("DELETE", 404, True, Decision.FAIL),
        # a redirect (never followed): a read fails, a write may have been applied
        ("GET", 302, True, Decision.FAIL),
        ("POST", 302, True, Decision.AMBIGUOUS),
        ("PATCH", 307, True, Decision.AMBIGUOUS),
        ("DELETE", 301, True, Decision.AMBIGUOUS),
    ],
)
def test_decide(method: str, status: int | None, sent: bool, expected: Decision) -> None:
    assert decide(method, status=status, sent=sent) is expected


def test_backoff_is_bounded_by_floor_and_growing_cap() -> None:
    policy = RetryPolicy()
    assert policy.backoff(1, lambda: 0.0) == 1.0
    assert policy.backoff(1, lambda: 1.0) == 2.0
    assert policy.backoff(3, lambda: 1.0) == 8.0
    assert policy.backoff(10, lambda: 1.0) == 30.0  # capped
    assert policy.backoff(10, lambda: 0.0) == 1.0  # never below the floor
    assert policy.backoff(2, lambda: 0.5) == 2.5


def test_delay_honours_retry_after_within_cap() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, 12.0) == 12.0
    assert policy.delay(1, 0.0) == 1.0  # floor still applies
    assert policy.delay(1, 30.0) == 30.0
    assert policy.delay(1, 31.0) is None  # too long: give up gracefully
    assert policy.delay(2, None, lambda: 0.0) == 1.0


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after("37") == 37.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(12) == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert parse_retry_after("-5") == 0.0
    for junk in (None, "", "soon", True, [1]):
        assert parse_retry_after(junk) is None
