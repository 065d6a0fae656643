"""The aiohttp client for the 7pace REST CRUD API v3: thin I/O around ``protocol``/``retry``.

``TimetrackerClient`` is an async context manager. It owns an ``aiohttp.ClientSession`` or
uses one the caller passes; ``sleep`` and the jitter source are injectable so tests never wait.
TLS is always verified, redirects are never followed (the Authorization header must not go to
another host), and every URL is handed to aiohttp pre-encoded so the literal ``$`` survives.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any

import aiohttp
import yarl

from timetracker_import import __version__
from timetracker_import.errors import (
    ApiError,
    ConfigError,
    MalformedAnswer,
    TransientApiError,
    delete_target_gone,
)

from .ntlm import HandshakeFailure, NtlmTransport
from .protocol import (
    AmbiguousWrite,
    QueryValue,
    Request,
    error_from_response,
    expect_object,
    parse_response,
    unwrap_list,
)
from .redact import redact_text
from .retry import Decision, RetryPolicy, decide
from .settings import ConnectionSettings

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
MAX_BATCH = 500
MAX_WORK_ITEM_IDS = 100
EXPAND_DISPLAY_NAME = ("$expand", "user.displayName")
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=15)

Timestamp = str | datetime | date
Sleep = Callable[[float], Awaitable[Any]]

_AMBIGUOUS_HINT = (
    "the write may or may not have been saved; read the affected range back before "
    "sending it again (an import run resumes this way)"
)


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before each wait."""

    request: Request
    attempt: int  # the attempt that failed (1-based)
    delay: float  # seconds about to be slept
    reason: str  # "429", "503", "ServerDisconnectedError", ...


class _TransportFailure(Exception):
    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class TimetrackerClient:
    """Async client for every endpoint of the contract (docs/connection.md, docs/sandbox.md)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        retry_policy: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        rand: Callable[[], float] = random.random,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self.retry_policy = retry_policy or RetryPolicy()
        self._timeout = timeout
        self._rand = rand
        self._on_retry = on_retry
        self._ntlm: NtlmTransport | None = None

    async def __aenter__(self) -> TimetrackerClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        if self.settings.auth_scheme == "ntlm" and self._ntlm is None:
            # NTLM needs connections of its own (api/ntlm.py); the session is not used for it.
            self._ntlm = NtlmTransport(
                self.settings.username or "", self.settings.token, timeout=self._timeout
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (and any NTLM connections)."""
        if self._ntlm is not None:
            await self._ntlm.close()
            self._ntlm = None
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- transport -------------------------------------------------------------------------

    def _headers(self, request: Request) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"timetracker-import/{__version__}",
        }
        if self.settings.auth_scheme != "ntlm":  # NTLM sets it per handshake leg
            headers["Authorization"] = self.settings.authorization()
        if request.has_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def _send(
        self, request: Request, url: str, sends: list[int] | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        if self._session is None:
            raise RuntimeError("use `async with TimetrackerClient(...)` before calling it")
        extra: dict[str, Any] = {}
        if sends is not None and self._owns_session:  # never override a caller's middlewares
            extra["middlewares"] = (_count_sends(sends),)
        try:
            if self._ntlm is not None:
                return await self._ntlm.send(
                    request.method,
                    yarl.URL(url, encoded=True),
                    headers=self._headers(request),
                    json=request.body if request.has_body else None,
                )
            async with self._session.request(
                request.method,
                yarl.URL(url, encoded=True),  # keep our own encoding (the literal '$')
                headers=self._headers(request),
                json=request.body if request.has_body else None,
                allow_redirects=False,
                timeout=self._timeout,
                **extra,
            ) as response:
                body = await response.read()
                return response.status, dict(response.headers), body
        except aiohttp.ClientSSLError as exc:
            raise ApiError(
                f"TLS verification failed for {request.describe()}: {redact_text(str(exc))}",
                hint="the server certificate is not trusted; install the CA certificate "
                "(e.g. SSL_CERT_FILE) rather than disabling verification",
            ) from None
        except aiohttp.InvalidURL as exc:
            raise ConfigError(f"invalid URL: {redact_text(str(exc))}") from None
        except HandshakeFailure as exc:
            # Before NTLM's authenticated leg: no credentials, no body, nothing applied.
            raise _TransportFailure(exc.reason, sent=False) from None
        except aiohttp.ClientConnectorError as exc:
            # Raised while connecting: nothing was sent. Say where, not the class name.
            err = exc.os_error
            if isinstance(exc, aiohttp.ClientConnectorDNSError):
                why = "host name not found"
            elif err.errno and err.errno > 0:
                why = os.strerror(err.errno)
            else:
                why = str(err) or type(err).__name__
            raise _TransportFailure(
                f"cannot connect to {exc.host}:{exc.port} ({why})", sent=False
            ) from None
        except aiohttp.ConnectionTimeoutError as exc:
            raise _TransportFailure(type(exc).__name__, sent=False) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _TransportFailure(type(exc).__name__, sent=True) from None

    async def request(
        self,
        request: Request,
        decode: Callable[[int, Mapping[str, str], bytes], Any] = parse_response,
    ) -> Any:
        """Send ``request`` with the retry rules; return the response payload (``decode`` of
        a 2xx answer: :func:`parse_response` unless the caller reads only part of it).

        Raises ``ApiError``/``AuthError`` for a definite failure, ``TransientApiError`` when the
        retry budget is spent (or the server asks to wait longer than the cap), and
        ``AmbiguousWrite`` (an ``AmbiguousOutcome``) for a write whose outcome is unknown:
        no answer after sending, a 5xx, a redirect, or a 2xx answer ``decode`` cannot read
        (``MalformedAnswer``: not JSON, cut short, the wrong shape), which for a read is
        raised as it is (exit 76).
        """
        url = request.url(self.settings.rest_root, self.settings.api_version)
        policy = self.retry_policy
        method = request.policy_method
        maybe_applied = False  # an earlier DELETE attempt may have gone through
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                sends: list[int] = []
                status, headers, body = await self._send(request, url, sends)
            except _TransportFailure as failure:
                log.debug("%s attempt %d failed: %s", request.describe(), attempt, failure.reason)
                reason = failure.reason
                decision = decide(method, status=None, sent=failure.sent)
                if decision is Decision.AMBIGUOUS:
                    raise AmbiguousWrite(
                        f"{request.describe()}: no answer ({reason}) after sending",
                        request=request,
                        hint=_AMBIGUOUS_HINT,
                    ) from None
                maybe_applied = maybe_applied or failure.sent
                last_error: ApiError = TransientApiError(
                    f"{request.describe()}: {reason}", transient=True
                )
            else:
                log.debug("%s attempt %d -> %d", request.describe(), attempt, status)
                # aiohttp itself re-sends a GET/DELETE once after a dropped connection; the
                # dropped copy may have been applied, like an unanswered attempt of ours.
                maybe_applied = maybe_applied or len(sends) > 1
                if 200 <= status <= 299:
                    try:
                        return decode(status, headers, body)
                    except MalformedAnswer as exc:
                        if not request.is_write:
                            raise
                        # the server (or something in front of it) took the request and
                        # answered what we cannot read: it may have been applied
                        raise AmbiguousWrite(
                            f"{request.describe()}: {exc.message}",
                            request=request,
                            status=status,
                            hint=_AMBIGUOUS_HINT,
                        ) from None
                error = error_from_response(status, headers, body)
                if request.method == "DELETE" and maybe_applied and delete_target_gone(error):
                    # An earlier attempt that got no answer did delete it.
                    return None
                decision = decide(method, status=status)
                if request.method == "DELETE" and status == 409 and maybe_applied:
                    # e.g. revoking a week: an earlier attempt may have revoked it already,
                    # so "not Submitted" proves nothing either way.
                    decision = Decision.AMBIGUOUS
                if decision is Decision.FAIL:
                    raise error
                if decision is Decision.AMBIGUOUS:
                    raise AmbiguousWrite(
                        f"{request.describe()}: {error.message}",
                        request=request,
                        status=status,
                        error_code=error.error_code,
                        description=error.description,
                        hint=_AMBIGUOUS_HINT,
                    )
                maybe_applied = maybe_applied or status >= 500
                reason = str(status)
                retry_after = error.retry_after
                last_error = error
            if attempt >= policy.max_attempts:
                raise self._exhausted(request, last_error, attempt)
            delay = policy.delay(attempt, retry_after, self._rand)
            if delay is None:
                raise TransientApiError(
                    f"{request.describe()}: the server asks to wait {retry_after:.0f} s "
                    f"(more than {policy.cap:.0f} s)",
                    status=last_error.status,
                    error_code=last_error.error_code,
                    description=last_error.description,
                    transient=True,
                    retry_after=retry_after,
                    hint="run the command again later; it resumes where it stopped",
                )
            if self._on_retry is not None:
                self._on_retry(RetryEvent(request, attempt, delay, reason))
            log.debug("retrying %s in %.1f s (%s)", request.describe(), delay, reason)
            await self._sleep(delay)

    @staticmethod
    def _exhausted(request: Request, last: ApiError, attempts: int) -> TransientApiError:
        return TransientApiError(
            f"{request.describe()} failed {attempts} times; last: {last.message}",
            status=last.status,
            error_code=last.error_code,
            description=last.description,
            transient=True,
            retry_after=last.retry_after,
            hint="check the URL and the network, or run again later "
            "(an import resumes where it stopped)",
        )

    async def iter_pages(
        self,
        path: str,
        query: Iterable[tuple[str, QueryValue]] = (),
        *,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[Any]]:
        """Yield pages of a list endpoint, walking ``$skip``/``$count`` until a short page
        (the API has no total and no next link)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        base = tuple(query)
        skip = 0
        previous_first: Any = None
        while True:
            payload = await self.request(
                Request("GET", path, (*base, ("$count", page_size), ("$skip", skip)))
            )
            page = unwrap_list(payload, path)
            first = _identity(page[0]) if page else None
            if skip and first is not None and first == previous_first:
                raise MalformedAnswer(
                    f"GET {path}: the server returned the same page for $skip={skip}",
                    hint="the server seems to ignore $skip; report this",
                )
            previous_first = first
            if page:
                yield page
            if len(page) < page_size:
                return
            skip += len(page)

    async def collect(
        self,
        path: str,
        query: Iterable[tuple[str, QueryValue]] = (),
        *,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Any]:
        """All items of a list endpoint; an item seen twice (an id that shifted across a page
        boundary while paging) is kept once."""
        items: list[Any] = []
        seen: set[Any] = set()
        async for page in self.iter_pages(path, query, page_size=page_size):
            for item in page:
                key = _identity(item)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                items.append(item)
        return items

    # -- endpoints -------------------------------------------------------------------------

    async def me(self, *, expand_display_name: bool = False) -> dict[str, Any]:
        """``GET me``: the token's user, account, default activity type and time zone."""
        request = Request("GET", "me", _expand(expand_display_name))
        me = expect_object(await self.request(request), "me")
        if "timeZone" not in me:
            # the specification spells it ``timezone``; real answers say ``timeZone`` (§3)
            spelled = next((k for k in me if k.lower() == "timezone"), None)
            if spelled is not None:
                me = {**me, "timeZone": me[spelled]}
        return me

    async def users(
        self, *, expand_display_name: bool = True, page_size: int = MAX_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """``GET users``, all pages."""
        return await self.collect("users", _expand(expand_display_name), page_size=page_size)

    async def user(self, user_id: str, *, expand_display_name: bool = False) -> dict[str, Any]:
        """``GET users/{id}``."""
        request = Request("GET", f"users/{user_id}", _expand(expand_display_name))
        return expect_object(await self.request(request), "user")

    async def roles(
        self,
        *,
        include_none: bool = False,
        expand_display_name: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """``GET users/roles``, all pages (Administrator only)."""
        query = (("includeNoneRoles", include_none), *_expand(expand_display_name))
        return await self.collect("users/roles", query, page_size=page_size)

    async def set_roles(
        self, entries: Sequence[Mapping[str, Any]], *, skip_errors: bool = False
    ) -> dict[str, Any]:
        """``POST users/roles``: entries ``{id|vstsId|email, role: {id|name}}``; returns
        ``{succeeded, failed, failedEntries}``. Setting a role is idempotent, so the caller
        may simply re-send on an ambiguous outcome."""
        body = {"skipErrors": skip_errors, "users": [dict(e) for e in entries]}
        request = Request("POST", "users/roles", (), body)
        return await self.request(request, _object_answer("users/roles"))  # type: ignore[no-any-return]

    async def activity_types(self) -> dict[str, Any]:
        """``GET activityTypes``: ``{enabled, systemDefaultActivityTypeId, activityTypes}``."""
        return expect_object(await self.request(Request("GET", "activityTypes")), "activityTypes")

    async def activity_type(self, activity_type_id: str) -> dict[str, Any]:
        """``GET activityTypes/{id}``."""
        payload = await self.request(Request("GET", f"activityTypes/{activity_type_id}"))
        return expect_object(payload, "activityType")

    def iter_worklogs(
        self, *, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """``GET workLogs`` (the token's user) page by page; filters as in ``worklogs_all``."""
        return self.iter_pages("workLogs", worklog_query(**filters), page_size=page_size)

    async def worklogs(self, *, page_size: int = MAX_PAGE_SIZE, **filters: Any) -> list[Any]:
        """``GET workLogs`` (the token's user), all pages."""
        return await self.collect("workLogs", worklog_query(**filters), page_size=page_size)

    def iter_worklogs_all(
        self, *, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """``GET workLogs/all`` page by page; filters as in ``worklogs_all``."""
        return self.iter_pages("workLogs/all", worklog_query(**filters), page_size=page_size)

    async def worklogs_all(
        self,
        *,
        from_ts: Timestamp | None = None,
        to_ts: Timestamp | None = None,
        from_created: Timestamp | None = None,
        to_created: Timestamp | None = None,
        work_item_ids: Sequence[int] | None = None,
        expand_display_name: bool = False,
        include_editable: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """``GET workLogs/all`` (whole organisation), all pages. The bounds are strict on
        the server (greater than / less than): widen them and filter locally if needed."""
        query = worklog_query(
            from_ts=from_ts,
            to_ts=to_ts,
            from_created=from_created,
            to_created=to_created,
            work_item_ids=work_item_ids,
            expand_display_name=expand_display_name,
            include_editable=include_editable,
        )
        return await self.collect("workLogs/all", query, page_size=page_size)

    async def worklog(
        self, worklog_id: str, *, expand_display_name: bool = False, include_editable: bool = False
    ) -> dict[str, Any]:
        """``GET workLogs/{id}``."""
        query = worklog_query(
            expand_display_name=expand_display_name, include_editable=include_editable
        )
        payload = await self.request(Request("GET", f"workLogs/{worklog_id}", query))
        return expect_object(payload, "workLog")

    async def create_worklog(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST workLogs``; an unknown outcome (an unreadable answer included) raises
        ``AmbiguousWrite``."""
        request = Request("POST", "workLogs", (), dict(body))
        return await self.request(request, _object_answer("workLog"))  # type: ignore[no-any-return]

    async def patch_worklog(self, worklog_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH workLogs/{id}`` (fields not in ``body`` are unchanged). An unknown outcome
        (no answer, 5xx, a redirect, an answer that is not a worklog object) raises
        ``AmbiguousWrite``."""
        request = Request("PATCH", f"workLogs/{worklog_id}", (), dict(body))
        return await self.request(request, _object_answer("workLog"))  # type: ignore[no-any-return]

    async def delete_worklog(self, worklog_id: str) -> None:
        """``DELETE workLogs/{id}`` (retried; a 404 after an unanswered attempt counts as
        deleted). A redirect or a 2xx answer that is not JSON raises ``AmbiguousWrite``."""
        await self.request(Request("DELETE", f"workLogs/{worklog_id}"))

    async def post_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        validate_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        """``POST workLogs/batch`` (all-or-nothing, at most 500 items).

        Accepts ``{"data": [...]}`` and a bare array, and ``null``/empty for validateOnly.
        Validation sends both ``validateOnly`` and ``$validateOnly`` so a server that knows
        only one spelling can never create anything; such a call is retried like a GET.
        ``fields``: return each worklog with only these keys (absent ones as None); the
        answer (~1.5 kB per worklog) is then read without building the rest.

        A created batch's answer must hold one worklog with an ``id`` per item, in order:
        any other answer (not JSON, cut short, ``{"data": 5}``, a count that does not match)
        cannot say which row became which worklog, so it raises ``AmbiguousWrite`` like a
        timeout; the caller reads the batch's window back.
        """
        if len(items) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} items, got {len(items)}")
        if not items:
            return []
        query: tuple[tuple[str, QueryValue], ...] = ()
        if validate_only:
            query = (("validateOnly", True), ("$validateOnly", True))
        request = Request(
            "POST", "workLogs/batch", query, [dict(i) for i in items], retry_safe=validate_only
        )
        # a real batch's answer is put in request order by these keys (_in_request_order)
        extra = (
            ()
            if fields is None or validate_only
            else tuple(k for k in _ORDER_KEYS if k not in fields)
        )
        decode = parse_response if fields is None else _partial_decoder(fields + extra)
        expected = None if validate_only else len(items)
        sent = request.body

        def answer(status: int, headers: Mapping[str, str], body: bytes) -> list[Any]:
            answered = _batch_answer(decode(status, headers, body), expected)
            if expected is None:
                return answered
            answered = _in_request_order(sent, answered)
            if extra and fields is not None:
                answered = [{k: i[k] for k in fields} for i in answered]
            return answered

        return await self.request(request, answer)  # type: ignore[no-any-return]

    async def approvals(
        self,
        *,
        from_ts: Timestamp | None = None,
        to_ts: Timestamp | None = None,
        expand_display_name: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """``GET timeApproval/all``, all pages (approval managers and administrators)."""
        query = worklog_query(from_ts=from_ts, to_ts=to_ts, expand_display_name=expand_display_name)
        return await self.collect("timeApproval/all", query, page_size=page_size)

    async def submit_week(self, week_start: date | str, manager_id: str) -> bool:
        """``POST timeApproval/week``: submit the week starting ``week_start`` for approval."""
        start = week_start.isoformat() if isinstance(week_start, date) else week_start
        body = {"weekStart": start, "assignedManagerId": manager_id}
        return bool(await self.request(Request("POST", "timeApproval/week", (), body)))

    async def revoke_week(self, week_start: date | str) -> bool:
        """``DELETE timeApproval/week?weekStart=...``: revoke a submitted week."""
        start = week_start.isoformat() if isinstance(week_start, date) else week_start
        return bool(
            await self.request(Request("DELETE", "timeApproval/week", (("weekStart", start),)))
        )


def worklog_query(
    *,
    from_ts: Timestamp | None = None,
    to_ts: Timestamp | None = None,
    from_created: Timestamp | None = None,
    to_created: Timestamp | None = None,
    work_item_ids: Sequence[int] | None = None,
    expand_display_name: bool = False,
    include_editable: bool = False,
) -> tuple[tuple[str, QueryValue], ...]:
    """Query pairs for ``workLogs``, ``workLogs/all`` and ``workLogs/{id}`` (without
    paging); ``timeApproval/all`` takes the same time bounds and ``$expand``."""
    query: list[tuple[str, QueryValue]] = []
    for name, value in (
        ("$fromTimestamp", from_ts),
        ("$toTimestamp", to_ts),
        ("$fromCreatedTimestamp", from_created),
        ("$toCreatedTimestamp", to_created),
    ):
        if value is not None:
            query.append((name, value))
    if work_item_ids:
        ids = [int(i) for i in work_item_ids]
        if len(ids) > MAX_WORK_ITEM_IDS:
            raise ValueError(f"at most {MAX_WORK_ITEM_IDS} work item ids per call, got {len(ids)}")
        query.append(("$workItemIds", ids))
    query.extend(_expand(expand_display_name))
    if include_editable:
        query.append(("$includeEditable", True))
    return tuple(query)


def _expand(display_name: bool) -> tuple[tuple[str, QueryValue], ...]:
    """``$expand=user.displayName`` when asked for."""
    return (EXPAND_DISPLAY_NAME,) if display_name else ()


def _count_sends(sends: list[int]) -> aiohttp.ClientMiddlewareType:
    """A per-request aiohttp middleware that records every time the request goes out."""

    async def middleware(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        sends.append(1)
        return await handler(req)

    return middleware


@functools.lru_cache(maxsize=8)
def _partial_decoder(fields: tuple[str, ...]) -> Callable[[int, Mapping[str, str], bytes], Any]:
    """:func:`parse_response` for a list of objects read down to ``fields``.

    msgspec skips everything else without building it (~0.3 ms instead of ~3 ms for a
    500-worklog answer). Any other shape (an envelope without ``data``, a non-object item,
    a BOM, invalid JSON) goes through :func:`parse_response`, with objects in a list cut
    down the same way and anything else left as it is."""
    import msgspec

    item = msgspec.defstruct("Item", [(name, Any, None) for name in fields])
    envelope = msgspec.defstruct("Envelope", [("data", list[item] | None, msgspec.UNSET)])  # type: ignore[valid-type]
    decoder = msgspec.json.Decoder(envelope | list[item] | None)  # type: ignore[valid-type]

    def full(status: int, headers: Mapping[str, str], body: bytes) -> Any:
        payload = parse_response(status, headers, body)
        if not isinstance(payload, list):
            return payload
        return [
            {name: i.get(name) for name in fields} if isinstance(i, dict) else i for i in payload
        ]

    def decode(status: int, headers: Mapping[str, str], body: bytes) -> Any:
        try:
            payload = decoder.decode(body) if body.strip() else None
        except msgspec.DecodeError:
            return full(status, headers, body)
        if isinstance(payload, list):
            items = payload
        elif payload is None:
            return None
        elif payload.data is msgspec.UNSET:
            return full(status, headers, body)
        elif payload.data is None:
            return None
        else:
            items = payload.data
        return [{name: getattr(i, name) for name in fields} for i in items]

    return decode


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str | int):
            return value
    return None


def _object_answer(what: str) -> Callable[[int, Mapping[str, str], bytes], dict[str, Any]]:
    """A decoder for an answer that must be one object (a write's: read inside the request,
    so that any other answer makes the write ambiguous)."""

    def decode(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        return expect_object(parse_response(status, headers, body), what)

    return decode


#: what tells a batch's rows apart in its answer (echoed as sent; timestamps are not)
_ORDER_KEYS = ("length", "workItemId")


def _order_key(item: Mapping[str, Any]) -> tuple[int, int | None] | None:
    try:
        work_item = item.get("workItemId")
        return int(item["length"]), None if work_item is None else int(work_item)
    except (KeyError, TypeError, ValueError):
        return None


def _in_request_order(sent: Sequence[Mapping[str, Any]], answered: list[Any]) -> list[Any]:
    """A batch answer in request order (contract §13, §17.2: the order is undocumented).

    Taken by position when its rows' length and work item match the request's position by
    position, or when they cannot be compared (not echoed, normalised). When the answer is a
    permutation of the request, each row gets the worklog with its values; if rows that look
    alike were moved, which is which cannot be known: ``MalformedAnswer`` (ambiguous)."""
    sent_keys = [_order_key(i) for i in sent]
    got_keys = [_order_key(i) for i in answered]
    if sent_keys == got_keys or None in sent_keys or None in got_keys:
        return answered
    if Counter(sent_keys) != Counter(got_keys):
        return answered  # not a permutation: the server changed values; keep the position
    if len(set(sent_keys)) != len(sent_keys):
        raise MalformedAnswer(
            "7pace API answered the batch in another order, and rows with the same length "
            "and work item cannot be told apart"
        )
    by_key = dict(zip(got_keys, answered, strict=True))
    return [by_key[k] for k in sent_keys]


def _batch_answer(payload: Any, expected: int | None) -> list[Any]:
    """The list a batch answered; with ``expected`` (a real batch), exactly that many
    worklog objects with an ``id``, else ``MalformedAnswer``."""
    items = unwrap_list(payload, "workLogs/batch")
    if expected is None:
        return items
    if len(items) != expected:
        raise MalformedAnswer(f"7pace API answered {len(items)} worklogs for a batch of {expected}")
    if not all(isinstance(i, dict) and i.get("id") for i in items):
        raise MalformedAnswer("7pace API answered a batch with a worklog that has no id")
    return items


#: Makes a client for connection settings; use cases take one so tests can inject theirs.
ClientFactory = Callable[[ConnectionSettings], TimetrackerClient]


def open_client(
    settings: ConnectionSettings, factory: ClientFactory | None = None
) -> TimetrackerClient:
    """The client for ``settings``: ``factory``'s when given (tests), else a plain one."""
    return (factory or TimetrackerClient)(settings)


#: Makes a client that reports each retry it makes by itself to ``on_retry`` (import and sync
#: hand a 429, 5xx or timeout to their concurrency limiter); tests inject theirs.
RetryingClientFactory = Callable[
    [ConnectionSettings, Callable[[RetryEvent], None]], TimetrackerClient
]


def retrying_client(
    settings: ConnectionSettings, on_retry: Callable[[RetryEvent], None]
) -> TimetrackerClient:
    """The plain ``RetryingClientFactory``."""
    return TimetrackerClient(settings, on_retry=on_retry)
