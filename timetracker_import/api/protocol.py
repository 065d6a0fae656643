"""Sans-I/O layer of the 7pace REST client: building requests, interpreting responses.

Nothing here does I/O, so every rule is testable with plain values:

* ``build_url`` assembles the query string by hand so parameter names keep a literal ``$``
  (``$count``, not ``%24count``; contract §1.5) and values are percent-encoded safely
  (``+`` in a UTC offset becomes ``%2B``; commas in ``$workItemIds`` stay literal).
* ``parse_response`` unwraps ``{"data": ...}`` (and accepts a bare JSON value, as
  ``workLogs/batch`` may return one) or raises a typed error from ``timetracker_import.errors``
  following the tolerant recipe of contract §2.1: ``{"error": {...}}``, a bare error object,
  ASP.NET's ``{"Message": "..."}``, or raw text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from timetracker_import.errors import AmbiguousOutcome, ApiError, AuthError, MalformedAnswer

from .redact import redact_text, safe_url
from .retry import READ_METHODS, is_transient_status, parse_retry_after

QueryValue = str | int | float | bool | date | datetime | Sequence[int] | Sequence[str]

# Characters left literal in query values: unreserved plus ':' (timestamps) and ',' (id lists).
# Both are legal in a query per RFC 3986; '+' must NOT be literal (servers read it as a space).
_VALUE_SAFE = ":,"
# Parameter names keep '$' literal (the whole point, contract §1.5).
_NAME_SAFE = "$"


def format_query_value(value: QueryValue) -> str:
    """Render one query value the way the API expects (booleans lower-case, lists comma-joined,
    dates and datetimes in ISO 8601)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ",".join(str(v) for v in value)


def build_query(query: Iterable[tuple[str, QueryValue]]) -> str:
    """``name=value&...`` in the given order, names with a literal ``$``."""
    parts = []
    for name, value in query:
        parts.append(
            f"{quote(name, safe=_NAME_SAFE)}={quote(format_query_value(value), safe=_VALUE_SAFE)}"
        )
    return "&".join(parts)


def build_url(
    base: str, api_version: str, path: str, query: Iterable[tuple[str, QueryValue]] = ()
) -> str:
    """The full request URL: ``{base}/{path}?api-version={v}&{query}``.

    ``base`` is the REST root (``https://org.timehub.7pace.com/api/rest`` or
    ``http://server:8090/api/Collection/rest``). Path segments are percent-encoded (ids are
    GUIDs, but a stray character must not change the path).
    """
    clean_path = "/".join(quote(segment, safe="") for segment in path.strip("/").split("/"))
    pairs: list[tuple[str, QueryValue]] = [("api-version", api_version), *query]
    return f"{base.rstrip('/')}/{clean_path}?{build_query(pairs)}"


@dataclass(frozen=True)
class Request:
    """One API call: method, path below the REST root, query pairs in order, JSON body."""

    method: str
    path: str
    query: tuple[tuple[str, QueryValue], ...] = ()
    body: Any = field(default=None, compare=False)
    # True for a POST that cannot change anything (a validateOnly batch): retried like a GET.
    retry_safe: bool = False

    @property
    def policy_method(self) -> str:
        """The method the retry rules should assume (GET for a retry-safe POST)."""
        return "GET" if self.retry_safe else self.method

    @property
    def is_write(self) -> bool:
        """Whether the request may change something on the server (everything but GET, HEAD,
        OPTIONS and a retry-safe POST): an answer to it that cannot be read is ambiguous."""
        return self.policy_method not in READ_METHODS

    @property
    def has_body(self) -> bool:
        """Whether a JSON body is sent (``None`` means none)."""
        return self.body is not None

    def url(self, base: str, api_version: str) -> str:
        """The full URL for this request (see ``build_url``)."""
        return build_url(base, api_version, self.path, self.query)

    def describe(self) -> str:
        """``METHOD path`` for messages (never contains credentials)."""
        return f"{self.method} {self.path}"


class AmbiguousWrite(AmbiguousOutcome):
    """A POST/PATCH whose outcome is unknown; ``request`` is what was sent, so the caller
    can read back (e.g. list worklogs of the range) before deciding to re-send."""

    def __init__(
        self,
        message: str,
        *,
        request: Request,
        status: int | None = None,
        error_code: str | None = None,
        description: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            error_code=error_code,
            description=description,
            transient=True,
            hint=hint,
        )
        self.request = request


@dataclass(frozen=True)
class ErrorBody:
    """The fields of an error body, whichever of the known shapes it had."""

    error_code: str | None = None
    description: str | None = None
    message: str | None = None
    status_code: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def _decode_json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8-sig"))


def parse_error_body(body: bytes) -> ErrorBody:
    """Read an error body tolerantly (contract §2.1): ``body["error"]`` if present, else the
    body itself; ``errorCode``, ``errorDescription``, ``message``, ``statusCode``, ``fields``
    are all optional; then ``Message``; then the raw text."""
    try:
        payload = _decode_json(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        # redacted before it is cut: a credential across the cut would survive in part
        text = redact_text(body.decode("utf-8", errors="replace").strip())
        return ErrorBody(message=text[:500] or None)
    if isinstance(payload, dict):
        inner = payload.get("error")
        obj = inner if isinstance(inner, dict) else payload
        fields = obj.get("fields")
        code = obj.get("errorCode")
        status_code = obj.get("statusCode")
        message = obj.get("message")
        if not isinstance(message, str):
            message = obj.get("Message") if isinstance(obj.get("Message"), str) else None
        if message is None and isinstance(payload.get("Message"), str):
            message = payload["Message"]
        description = obj.get("errorDescription")
        return ErrorBody(
            error_code=str(code) if code is not None else None,
            description=description if isinstance(description, str) else None,
            message=message,
            status_code=status_code if isinstance(status_code, int) else None,
            fields=fields if isinstance(fields, dict) else {},
        )
    if isinstance(payload, str):
        return ErrorBody(message=payload)
    return ErrorBody()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def retry_after_from(headers: Mapping[str, str], error: ErrorBody) -> float | None:
    """Seconds to wait: the ``Retry-After`` header first, then ``fields.retryAfter``."""
    header = parse_retry_after(_header(headers, "Retry-After"))
    if header is not None:
        return header
    for key, value in error.fields.items():
        if key.lower() == "retryafter":
            return parse_retry_after(value)
    return None


UNREADABLE_HINT = (
    "check --url: it should point at the 7pace Timetracker server, not a login page or "
    "proxy; if it does, the server answered something it should not (run with --debug)"
)

#: the longest comment validate lets pass without a warning: 7pace documents no limit; the
#: sandbox takes this many characters (docs/sandbox.md S18)
MAX_COMMENT_CHARS = 4000

_HINTS = {
    401: "the token is missing, wrong or expired (tokens last one year); "
    "check it with `timetracker-import auth status`",
    403: "your 7pace role does not allow this call: reading everyone's worklogs needs "
    "Administrator, Budget or Product; users/roles needs Administrator; timeApproval/all an "
    "approval manager; writing another user's worklogs needs Administrator",
    404: "the id does not exist, or the URL/collection is wrong",
    413: "the request is too large for the server (at most 500 worklogs a batch, and a "
    "size limit of its own); an import splits such a batch and rejects a row too large alone",
    429: "the 7pace rate limit was hit; wait and run again (it resumes)",
}

#: hints for documented error codes that say more than their status (contract §2.2): a 403
#: that is no matter of role, the version error
_CODE_HINTS = {
    "LicenseReadOnly": "the 7pace licence is read-only (on premises): the server refuses "
    "changes until the licence is renewed; reading still works",
    "ApiDisabled": "the 7pace API is switched off for this account (for example during an "
    "account migration); run again later or ask your 7pace administrator",
    "ActivityTypeDisabled": "activity types are switched off in this 7pace account; leave "
    "the activity type out",
    "ApiVersionError": "the server refused the api-version, or a value of the wrong type "
    "(a GUID, a date, a number); check --api-version (3.2 is the current version) or the "
    "value the message names",
}


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> ApiError:
    """The typed error for a non-2xx response (not raised, so callers can decide)."""
    err = parse_error_body(body)
    description = err.description or err.message
    if description is not None:
        # a server (or proxy) echoing the Authorization header must not leak it
        description = redact_text(description)
    code = redact_text(err.error_code) if err.error_code is not None else None
    text = f"7pace API answered {status}"
    if code:
        text += f" {code}"
    if description:
        text += f": {description}"
    hint = _CODE_HINTS.get(code or "") or _HINTS.get(status)
    if 300 <= status < 400:
        location = _header(headers, "Location")
        # a sign-in redirect's query may carry a code or a token: never shown
        location = safe_url(location) if location else None
        text = f"7pace API answered with a redirect ({status})"
        hint = (
            f"redirects are not followed (the token must not leak); use the final URL "
            f"({location}) with --url"
            if location
            else "redirects are not followed; check --url"
        )
    elif 500 <= status <= 599 and hint is None:
        hint = "a server-side failure; running again later usually works"
    retry_after = retry_after_from(headers, err)
    cls = AuthError if status in (401, 403) else ApiError
    return cls(
        text,
        status=status,
        error_code=code,
        description=description,
        transient=is_transient_status(status),
        retry_after=retry_after,
        hint=hint,
    )


def parse_response(status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """The payload of a response: ``data`` of ``{"data": ...}``, or a bare JSON value as is
    (``None`` for an empty body). Raises the typed error for any non-2xx status."""
    if not 200 <= status <= 299:
        raise error_from_response(status, headers, body)
    if not body.strip():
        return None
    try:
        payload = _decode_json(body)
    except (ValueError, UnicodeDecodeError):
        kind = _header(headers, "Content-Type")
        raise MalformedAnswer(
            f"7pace API answered {status} with a body that is not JSON (or was cut short)"
            + (f", Content-Type {redact_text(kind.split(';')[0].strip())[:60]}" if kind else ""),
            status=status,
            hint=UNREADABLE_HINT,
        ) from None
    if isinstance(payload, dict) and "data" in payload:
        return payload["data"]
    return payload


def unwrap_list(payload: Any, what: str) -> list[Any]:
    """A list payload; ``None`` counts as empty (validateOnly may return it). Also accepts a
    still-wrapped ``{"data": [...]}`` defensively."""
    if payload is None:
        return []
    if isinstance(payload, dict) and "data" in payload:
        payload = payload["data"]
        if payload is None:
            return []
    if isinstance(payload, list):
        return payload
    raise MalformedAnswer(
        f"7pace API returned {type(payload).__name__} for {what}, expected a list",
        hint=UNREADABLE_HINT,
    )


def expect_object(payload: Any, what: str) -> dict[str, Any]:
    """An object payload, else ``MalformedAnswer``."""
    if isinstance(payload, dict):
        return payload
    raise MalformedAnswer(
        f"7pace API returned {type(payload).__name__} for {what}, expected an object",
        hint=UNREADABLE_HINT,
    )
