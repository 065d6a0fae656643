"""Scripted faults, latency and the rate limiter of the sandbox (contract D14, D15).

Grammar (full description in docs/sandbox.md)::

    SPEC     := SELECTOR ['#' CALLS] ':' ACTION
    SELECTOR := batch | worklogs | worklogs-all | me | users | roles | activitytypes
              | approvals | any | *            (also workLogs/batch, workLogs/all, ...)
    CALLS    := N | N..M | N..                 (1-based, counted per selector)
    ACTION   := STATUS['-after-commit' (not 429)]['-echo'] | 429=SECS | 429-date=SECS
              | drop | drop-after-commit | partial-commit-drop
              | latency=DUR | delay=DUR | delay-after-commit=DUR      (DUR: 50ms, 2s, 1.5s)
              | UNREADABLE | UNREADABLE-after-commit
    STATUS   := 3xx (a redirect to a login page) | 4xx | 5xx
    UNREADABLE := html | truncated | wrong-shape     (a 200 the client cannot read)

``-echo``: the error body repeats the request's Authorization header, as a misconfigured
server or proxy does (for the tests that no credential is ever printed or stored).

Without ``#CALLS`` a rule applies to every call of its selector.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

ENDPOINTS = (
    "me",
    "users",
    "roles",
    "activitytypes",
    "worklogs",
    "worklogs-all",
    "batch",
    "approvals",
)
_ALIASES = {
    "*": "any",
    "any": "any",
    "workitems": "worklogs",
    "worklogs/batch": "batch",
    "worklogs/all": "worklogs-all",
    "users/roles": "roles",
    "timeapproval": "approvals",
    "activity-types": "activitytypes",
}


#: 200 answers a client cannot read: an HTML page (a proxy's or a login page), the JSON
#: answer cut in the middle, and JSON of the wrong shape (``{"data": 5}``)
UNREADABLE = ("html", "truncated", "wrong-shape")


class FaultSpecError(ValueError):
    """A fault or rate-limit spec does not follow the grammar."""


@dataclass(frozen=True)
class Fault:
    """One rule: which calls of which endpoint, and what happens to them."""

    spec: str
    selector: str  # an ENDPOINTS name or "any"
    first: int  # 1-based call number
    last: int | None  # inclusive; None = open-ended
    kind: str  # status | drop | partial-commit-drop | latency | delay | UNREADABLE
    after_commit: bool = False
    status: int = 0
    seconds: float = 0.0  # delay/latency, or Retry-After for 429
    retry_as_date: bool = False
    echo: bool = False  # the error body repeats the request's Authorization header

    def matches(self, selector_count: int) -> bool:
        return selector_count >= self.first and (self.last is None or selector_count <= self.last)


_SPEC = re.compile(r"^\s*(?P<sel>[^#:]+?)\s*(?:#\s*(?P<calls>[0-9.]+))?\s*:\s*(?P<action>\S+)\s*$")
_DURATION = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>ms|s)$")


def parse_duration(text: str) -> float:
    """``50ms`` -> 0.05, ``2s`` -> 2.0 (a unit is required)."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise FaultSpecError(f"bad duration {text!r}: use e.g. 50ms or 2s")
    value = float(match["num"])
    return value / 1000 if match["unit"] == "ms" else value


def _selector(raw: str) -> str:
    name = raw.strip()
    sel = _ALIASES.get(name, _ALIASES.get(name.lower(), name.lower()))
    if sel != "any" and sel not in ENDPOINTS:
        raise FaultSpecError(
            f"unknown endpoint selector {raw!r}: use one of {', '.join((*ENDPOINTS, 'any'))}"
        )
    return sel


def _calls(raw: str | None) -> tuple[int, int | None]:
    if raw is None:
        return 1, None
    match = re.fullmatch(r"(\d+)(\.\.(\d*))?", raw)
    if not match:
        raise FaultSpecError(f"bad call range {raw!r}: use N, N..M or N..")
    first = int(match[1])
    last: int | None = first if match[2] is None else (int(match[3]) if match[3] else None)
    if first < 1 or (last is not None and last < first):
        raise FaultSpecError(f"bad call range {raw!r}: calls are counted from 1")
    return first, last


def parse_fault(spec: str) -> Fault:
    """Parse one fault spec such as ``batch#3:500-after-commit``."""
    match = _SPEC.match(spec)
    if not match:
        raise FaultSpecError(f"bad fault {spec!r}: expected SELECTOR[#CALLS]:ACTION")
    sel = _selector(match["sel"])
    first, last = _calls(match["calls"])
    action = match["action"].lower()
    base = Fault(spec=spec.strip(), selector=sel, first=first, last=last, kind="")
    if action in ("drop", "drop-after-commit"):
        return replace(base, kind="drop", after_commit=action.endswith("after-commit"))
    unreadable = action.removesuffix("-after-commit")
    if unreadable in UNREADABLE:
        return replace(base, kind=unreadable, after_commit=action != unreadable)
    if action == "partial-commit-drop":
        if sel != "batch":
            raise FaultSpecError(f"{spec!r}: partial-commit-drop only applies to batch")
        return replace(base, kind="partial-commit-drop", after_commit=True)
    for prefix, kind, after in (
        ("latency=", "latency", False),
        ("delay=", "delay", False),
        ("delay-after-commit=", "delay", True),
    ):
        if action.startswith(prefix):
            seconds = parse_duration(action[len(prefix) :])
            return replace(base, kind=kind, after_commit=after, seconds=seconds)
    status_match = re.fullmatch(r"(\d{3})(-after-commit)?(?:(-date)?=(\d+))?(-echo)?", action)
    if status_match:
        status = int(status_match[1])
        if not 300 <= status <= 599:
            raise FaultSpecError(f"{spec!r}: status must be 3xx, 4xx or 5xx")
        if status_match[4] is not None and status != 429:
            raise FaultSpecError(f"{spec!r}: =SECONDS (Retry-After) only applies to 429")
        if status == 429 and status_match[2]:
            raise FaultSpecError(
                f"{spec!r}: a 429 never has side effects (contract D14, D15), so it cannot come "
                "after a commit; use 429, 429=SECS or 429-date=SECS (nothing stored), or "
                "another status such as 503-after-commit"
            )
        return replace(
            base,
            kind="status",
            status=status,
            after_commit=bool(status_match[2]),
            seconds=float(status_match[4] or 1),
            retry_as_date=bool(status_match[3]),
            echo=bool(status_match[5]),
        )
    raise FaultSpecError(
        f"bad fault action {match['action']!r}: use a status (500, 500-after-commit, 302, "
        "429=3, 429-date=3, 400-echo), drop, drop-after-commit, partial-commit-drop, html, truncated, "
        "wrong-shape (each also -after-commit), latency=50ms, delay=2s or delay-after-commit=5s"
    )


class FaultPlan:
    """Fault rules plus the per-selector call counters they are matched against."""

    def __init__(self, faults: Iterable[str | Fault] = ()) -> None:
        self.faults: list[Fault] = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]
        self.calls: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def set(self, faults: Iterable[str | Fault]) -> None:
        """Replace the rules (counters keep running)."""
        self.faults = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]

    def reset(self) -> None:
        """Clear rules and counters."""
        self.faults = []
        self.calls.clear()
        self.fired.clear()

    def record_call(self, endpoint: str) -> list[Fault]:
        """Count one call of ``endpoint`` and return the rules that apply to it, in order."""
        self.calls[endpoint] += 1
        self.calls["any"] += 1
        hits = [f for f in self.faults if f.matches(self.calls[f.selector])]
        hits = [f for f in hits if f.selector in ("any", endpoint)]
        for f in hits:
            self.fired[f.spec] += 1
        return hits


def as_fault_plan(faults: FaultPlan | Iterable[str] | None) -> FaultPlan:
    if isinstance(faults, FaultPlan):
        return faults
    return FaultPlan(faults or ())


class RateLimiter:
    """A token bucket: ``rate`` requests per second with a burst of ``capacity``."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def acquire(self) -> int | None:
        """Take a token; when none is left, return the whole seconds to wait (>= 1)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


def parse_rate_limit(text: str) -> RateLimiter:
    """``10/s``, ``100/min`` or ``5/m`` -> a limiter allowing that many calls per period."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*", text.lower())
    if not match or float(match[1]) <= 0:
        raise FaultSpecError(f"bad rate limit {text!r}: use e.g. 10/s or 100/min")
    count = float(match[1])
    period = 1.0 if match[2].startswith("s") else 60.0
    return RateLimiter(count / period, max(1.0, count))


def make_limiter(spec: str | float | RateLimiter | None) -> RateLimiter | None:
    """The limiter for ``make_app(rate_limit=...)``: a spec, requests per second, or as given."""
    if spec is None or isinstance(spec, RateLimiter):
        return spec
    if isinstance(spec, int | float):
        return RateLimiter(float(spec), max(1.0, float(spec)))
    return parse_rate_limit(spec)
