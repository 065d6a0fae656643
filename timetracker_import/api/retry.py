"""Retry policy: which failures are retried, how long to wait, and ``Retry-After`` parsing.

Pure functions and data only (no sleeping, no I/O); ``api/client.py`` applies them.

Rules (see docs/connection.md):

* GET and DELETE (idempotent) are retried on connection errors, timeouts, 408, 429 and 5xx.
* POST and PATCH are retried only when the request provably was not applied: the connection
  could not be established (nothing was sent), or the server answered 429 (a rate-limited
  request has no side effects). A POST/PATCH failing after it was sent (read timeout, dropped
  connection, 408, 5xx) is *ambiguous*: it is handed back to the caller, never re-sent here.
* A redirect (3xx, never followed) is a definite failure for a read and *ambiguous* for any
  write (DELETE included): something between us and 7pace answered, and whether the write
  reached 7pace first is unknown; re-sending would only be redirected again.
"""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT_METHODS = READ_METHODS | {"DELETE"}


class Decision(enum.Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    AMBIGUOUS = "ambiguous"
    FAIL = "fail"


def is_transient_status(status: int) -> bool:
    """408, 429 and every 5xx are worth retrying later."""
    return status in (408, 429) or 500 <= status <= 599


def decide(method: str, *, status: int | None = None, sent: bool = True) -> Decision:
    """Classify a failed attempt.

    ``status`` is the HTTP status, or None for a transport failure; ``sent`` is False only when
    the request provably never reached the server (connection refused, connect timeout, DNS).
    """
    idempotent = method.upper() in IDEMPOTENT_METHODS
    if status is None:
        if not sent or idempotent:
            return Decision.RETRY
        return Decision.AMBIGUOUS
    if status == 429:
        return Decision.RETRY
    if 300 <= status <= 399:
        return Decision.FAIL if method.upper() in READ_METHODS else Decision.AMBIGUOUS
    if is_transient_status(status):
        return Decision.RETRY if idempotent else Decision.AMBIGUOUS
    return Decision.FAIL


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff with a floor and a cap.

    The wait before retry number ``n`` (1 for the first retry) is drawn uniformly from
    ``[floor, min(cap, floor * 2**n)]``: "floor 1 s" means no wait is ever shorter than one
    second (so a struggling server is not hammered), while the jitter still spreads clients
    apart. With the defaults the ranges are 1-2 s, 1-4 s, 1-8 s, 1-16 s.

    ``max_attempts`` counts every attempt, the first one included (5 = 1 try + 4 retries).
    A ``Retry-After`` from the server replaces the drawn wait (but never goes below the
    floor); a ``Retry-After`` above ``cap`` is not waited at all: the client gives up at once
    with a ``TransientApiError`` carrying ``retry_after`` so the caller can stop gracefully.
    """

    max_attempts: int = 5
    floor: float = 1.0
    cap: float = 30.0

    def backoff(self, retry_number: int, rand: Callable[[], float] = _random.random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) without a Retry-After."""
        upper = min(self.cap, self.floor * 2.0**retry_number)
        upper = max(upper, self.floor)
        return self.floor + rand() * (upper - self.floor)

    def delay(
        self,
        retry_number: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = _random.random,
    ) -> float | None:
        """The wait before retry ``retry_number``, or None when the server asks for longer
        than ``cap`` (the caller should give up and report ``retry_after``)."""
        if retry_after is not None:
            if retry_after > self.cap:
                return None
            return max(self.floor, retry_after)
        return self.backoff(retry_number, rand)


def parse_retry_after(value: object, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds (``"37"``, also a number
    from a JSON body) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``). A date in the
    past gives 0. Anything unparseable gives None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
