"""The request context every handler gets, the shared state, and the D3/D4 helpers:
error bodies, the ``{"data": ...}`` envelope, lenient query/body parsing, role checks.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from timetracker_import.sandbox.capacity import Capacity
from timetracker_import.sandbox.faults import FaultPlan, RateLimiter
from timetracker_import.sandbox.ntlm import NtlmAcceptor
from timetracker_import.sandbox.seed import Seed
from timetracker_import.sandbox.store import Store, UserRow
from timetracker_import.sandbox.timeparse import parse_timestamp

#: S18: the largest request body taken, IIS's default ``maxAllowedContentLength`` (7pace
#: runs on IIS on premises); larger gives 413 ``RequestTooLarge``
MAX_BODY_BYTES = 30_000_000
API_VERSIONS = frozenset({"3.0-preview", "3.0", "3.1", "3.2-beta", "3.2", "3.3-beta"})
MAX_PAGE = 500
#: S22: numbers of the API are .NET ``int`` (32 bits); beyond is a value of the wrong type
INT32_MAX = 2**31 - 1


@dataclass
class SandboxState:
    """Everything the handlers share; stored on the app under :data:`STATE`."""

    seed: Seed
    store: Store
    faults: FaultPlan
    limiter: RateLimiter | None
    latency: float  # seconds added to every API call
    rate_limit_spec: str | float | RateLimiter | None = None
    calls: Counter[str] = field(default_factory=Counter)  # since start or /_sandbox/reset
    rate_limited: int = 0
    ntlm: NtlmAcceptor | None = None  # set in NTLM mode: tokens are then not accepted
    capacity: Capacity = field(default_factory=Capacity)  # calls served at once, row cost

    @property
    def tokens(self) -> dict[str, str]:
        """token -> user id (in memory only; never written to the db)."""
        return {u.token: u.id for u in self.seed.users if u.token}


STATE = web.AppKey("sandbox_state", SandboxState)


class ApiFail(Exception):
    """An error answer in the D3 shape."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """``{"error": {statusCode, errorCode, errorDescription, message, fields?}}`` (D3)."""
    body: dict[str, Any] = {
        "statusCode": status,
        "errorCode": code,
        "errorDescription": message,
        "message": message,
    }
    if fields:
        body["fields"] = fields
    return web.json_response({"error": body}, status=status, headers=headers)


def bad_param(name: str, why: str) -> ApiFail:
    return ApiFail(400, "ApiVersionError", f"parameter {name}: {why}", {name: why})


def data_response(payload: Any) -> web.Response:
    if isinstance(payload, RawJson):  # a list page rendered by render_worklogs
        return web.json_response(text='{"data":' + payload + "}")
    # compact separators: batches answer ~1 kB per worklog, so this is most of the encoding
    return web.json_response({"data": payload}, dumps=compact_dumps)


def compact_dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


# -- request context ----------------------------------------------------------------------


@dataclass
class Ctx:
    request: web.Request
    state: SandboxState
    user: UserRow
    query: dict[str, str]  # lower-cased names, %24 already decoded to $
    params: dict[str, str]
    partial_commit: bool = False

    @property
    def store(self) -> Store:
        return self.state.store

    def q(self, *names: str) -> str | None:
        for name in names:
            value = self.query.get(name.lower())
            if value is not None:
                return value
        return None

    def int_param(self, name: str, default: int, lo: int, hi: int = INT32_MAX) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise bad_param(name, f"{raw!r} is not an integer") from None
        if not lo <= value <= hi:
            raise bad_param(name, f"must be between {lo} and {hi}")
        return value

    def bool_param(self, *names: str) -> bool:
        raw = self.q(*names)
        if raw is None or raw == "":
            return False
        return parse_bool(raw, names[0])

    def time_param(self, name: str) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return None
        parsed = parse_timestamp(raw)
        if parsed is None:
            raise bad_param(name, f"{raw!r} is not a date/time")
        return parsed.key

    @functools.cached_property
    def expand_display_name(self) -> bool:
        # cached: asked once per worklog when rendering a page or a batch
        raw = self.q("$expand") or ""
        return "user.displayname" in [p.strip().lower() for p in raw.split(",")]

    async def json(self) -> Any:
        try:
            raw = await self.request.read()
        except web.HTTPRequestEntityTooLarge:  # S18: past the app's client_max_size
            raise ApiFail(
                413,
                "RequestTooLarge",
                f"the request body is larger than {MAX_BODY_BYTES} bytes",
            ) from None
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise ApiFail(400, "ApiVersionError", "the request body is not valid JSON") from None
        except RecursionError:
            raise ApiFail(400, "ApiVersionError", "the request body is nested too deeply") from None


def parse_query(query_string: str) -> dict[str, str]:
    """Query names lower-cased with ``%24`` decoded to ``$`` (D4); the last value wins."""
    from urllib.parse import parse_qsl

    return {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}


def lower_keys(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiFail(400, "ApiVersionError", f"{what} must be a JSON object")
    return {str(k).lower(): v for k, v in body.items()}


def parse_guid(value: Any, name: str) -> str:
    """A canonical GUID string, or 400 ApiVersionError (D19)."""
    if not isinstance(value, str):
        raise bad_param(name, "expected a GUID string")
    canonical = canonical_guid(value)
    if canonical is None:
        raise bad_param(name, f"{value!r} is not a GUID")
    return canonical


@functools.lru_cache(maxsize=4096)
def canonical_guid(text: str) -> str | None:
    # cached: a batch repeats the same few user and activity type ids hundreds of times
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def parse_bool(value: Any, name: str, default: bool = False) -> bool:
    """A boolean from a query value or a body field (D4, docs/sandbox.md):

    ``true``/``false``, the integers 1/0, and the strings ``true``/``false``/``1``/``0``/
    ``yes``/``no`` in any case; None (absent, or JSON ``null``) is ``default``. Anything else
    (``"maybe"``, ``2``, a list) is 400 ``ApiVersionError``, never silently true."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise bad_param(name, f"{value!r} is not a boolean")


def parse_int(value: Any, name: str) -> int | None:
    """Integers, integral floats and numeric strings (D4) within 32 bits (S22); None stays
    None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise bad_param(name, "expected a number")
    number = _whole_number(value)
    if number is None:
        raise bad_param(name, f"{value!r} is not a whole number")
    if not -INT32_MAX - 1 <= number <= INT32_MAX:
        raise bad_param(name, f"{value!r} is outside the 32-bit integer range")
    return number


def _whole_number(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            if number.is_integer():
                return int(number)
    return None


class RawJson(str):
    """JSON text already encoded exactly as :func:`compact_dumps` would encode the value;
    :func:`data_response` splices it into the envelope instead of encoding it again.
    ``items_count``: the elements of the array (a call's rows, for its row cost)."""

    items_count: int = 1


def fail422(code: str, message: str, fields: dict[str, Any] | None = None) -> ApiFail:
    return ApiFail(422, code, message, fields)


def paginate(ctx: Ctx, items: Sequence[Any]) -> list[Any]:
    count = ctx.int_param("$count", MAX_PAGE, 1, MAX_PAGE)
    skip = ctx.int_param("$skip", 0, 0)
    return list(items[skip : skip + count])


def require(ctx: Ctx, allowed: bool, what: str) -> None:
    if not allowed:
        raise ApiFail(403, "AccessDenied", f"access denied: {what}")


def require_a_role(ctx: Ctx, what: str) -> None:
    """403 ``AccessDenied`` for the None role, which "has no access" (contract §6.3, D11):
    every worklog endpoint and ``timeApproval/week`` (docs/sandbox.md)."""
    require(ctx, ctx.user.role != "None", f"{what} needs a role other than None")


Handler = Callable[[Ctx], Awaitable[Any]]
