"""One API call from socket to answer: routing (D1), fault injection (D15), rate limit (D14),
capacity (a place among the calls served at once, docs/sandbox.md), ``api-version``,
authentication (D2, NTLM), the handler and its row cost, after-commit faults.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import time

from aiohttp import web

from timetracker_import.sandbox.capacity import rows_of
from timetracker_import.sandbox.context import (
    API_VERSIONS,
    STATE,
    ApiFail,
    Ctx,
    Handler,
    SandboxState,
    data_response,
    error_response,
    parse_query,
)
from timetracker_import.sandbox.control import control
from timetracker_import.sandbox.faults import UNREADABLE, Fault
from timetracker_import.sandbox.routes import ROUTES
from timetracker_import.sandbox.store import UserRow


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want == "{id}":
            params["id"] = got
        elif want != got.lower():
            return None
    return params


def resolve(method: str, segments: list[str]) -> tuple[str, Handler, dict[str, str]] | int:
    """The route for a request, or 404/405."""
    hits = [(r, p) for r in ROUTES if (p := _match(r[1], segments)) is not None]
    literal = [(r, p) for r, p in hits if "{id}" not in r[1]]
    hits = literal or hits
    if not hits:
        return 404
    for (m, _, endpoint, handler), params in hits:
        if m == method:
            return endpoint, handler, params
    return 405


def _api_segments(path: str) -> list[str] | None:
    """Segments after ``/api/rest/`` or ``/api/{collection}/rest/`` (D1), else None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "api":
        if parts[1].lower() == "rest":
            return parts[2:]
        if len(parts) >= 3 and parts[2].lower() == "rest":
            return parts[3:]
    return None


def _authenticate(request: web.Request, state: SandboxState) -> UserRow | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    token: str | None = None
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if sep and user == "":
            token = password
    user_id = state.tokens.get(token) if token else None
    return state.store.users.get(user_id) if user_id else None


#: what a proxy or a single sign-on gateway answers instead of the API
_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    "<form method='post' action='/login'><input name='user'><input name='password' "
    "type='password'></form></body></html>"
)
#: the start of a batch answer, cut short (a fault before commit has no answer to cut)
_CUT_ANSWER = '{"data":[{"id":"'


def _unreadable_response(fault: Fault, answer: web.Response | None) -> web.Response:
    """A 200 the client cannot read, in place of ``answer`` (None: nothing was run)."""
    if fault.kind == "html":
        return web.Response(status=200, text=_LOGIN_PAGE, content_type="text/html")
    if fault.kind == "wrong-shape":
        return web.json_response({"data": 5})
    body = answer.body if answer is not None else None
    if isinstance(body, bytes | bytearray) and len(body) > 1:
        cut = bytes(body[: len(body) // 2])  # the real answer, cut in the middle
    else:
        cut = _CUT_ANSWER.encode()
    return web.Response(status=200, body=cut, content_type="application/json")


def _fault_response(
    fault: Fault, answer: web.Response | None = None, request: web.Request | None = None
) -> web.Response:
    if fault.kind in UNREADABLE:
        return _unreadable_response(fault, answer)
    status = fault.status
    if 300 <= status <= 399:
        # a redirect to a sign-in page, as a proxy in front of the server would answer
        return web.Response(
            status=status,
            text=_LOGIN_PAGE,
            content_type="text/html",
            headers={"Location": "/login?returnUrl=%2Fapi"},
        )
    if status == 429:
        seconds = int(fault.seconds)
        retry = (
            email.utils.formatdate(time.time() + seconds, usegmt=True)
            if fault.retry_as_date
            else str(seconds)
        )
        return error_response(
            429,
            "QuoteExceededError",
            "The request has been canceled because your API usage was exceeded.",
            {"retryAfter": str(seconds)},
            headers={"Retry-After": retry},
        )
    code = {401: "UnauthorizedError", 403: "AccessDenied", 404: "EntityNotFound"}.get(
        status, "UnexpectedError" if status >= 500 else "DbValidationError"
    )
    message = f"injected fault ({fault.spec})"
    if fault.echo and request is not None:
        # what a misconfigured server or proxy does: the request's headers in the error
        message += f"; request: {request.method} {request.path_qs}; Authorization: " + (
            request.headers.get("Authorization", "(none)")
        )
    return error_response(status, code, message)


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; aiohttp then discards the returned response."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Single entry point: control endpoints, then the API pipeline."""
    state = request.app[STATE]
    segments = _api_segments(request.path)
    parts = [p for p in request.path.split("/") if p]
    if parts and parts[0].lower() == "_sandbox":
        return await control(request, state, [p.lower() for p in parts[1:]])
    if segments is None:
        return web.json_response({"Message": f"No resource at {request.path}."}, status=404)
    ntlm_user_id: str | None = None
    ntlm_reason = ""
    if state.ntlm is not None:
        # The negotiate leg is answered before routing and is not counted (nor faulted).
        outcome = state.ntlm.accept(request)
        if outcome.challenge is not None:
            await request.read()  # drain any body so the connection stays usable
            return error_response(
                401,
                "UnauthorizedError",
                "NTLM challenge",
                headers={"WWW-Authenticate": f"{outcome.scheme} {outcome.challenge}"},
            )
        ntlm_user_id, ntlm_reason = outcome.user_id, outcome.reason
    route = resolve(request.method, segments)
    if isinstance(route, int):
        message = (
            "No HTTP resource was found that matches the request URI."
            if route == 404
            else f"The requested resource does not support http method '{request.method}'."
        )
        return web.json_response({"Message": message}, status=route)
    endpoint, handler, params = route
    state.calls[endpoint] += 1
    state.calls["any"] += 1
    hits = state.faults.record_call(endpoint)
    pre_delay = state.latency + sum(
        h.seconds for h in hits if h.kind in ("latency", "delay") and not h.after_commit
    )
    action = next((h for h in hits if h.kind not in ("latency", "delay") or h.after_commit), None)
    if pre_delay > 0:
        await asyncio.sleep(pre_delay)
    if action is not None and not action.after_commit:
        if action.kind == "drop":
            return _drop(request)
        return _fault_response(action, None, request)
    if state.limiter is not None:
        wait = state.limiter.acquire()
        if wait is not None:
            state.rate_limited += 1
            return error_response(
                429,
                "QuoteExceededError",
                "The request has been canceled because your API usage was exceeded.",
                {"retryAfter": str(wait)},
                headers={"Retry-After": str(wait)},
            )
    async with state.capacity.serve() as place:
        if place is None:
            return error_response(
                503,
                "UnexpectedError",
                "The server is busy: too many requests are waiting.",
                headers={"Retry-After": "1"},
            )
        response, place.rows = await _answer(
            request, state, params, handler, action, ntlm_user_id, ntlm_reason
        )
    if action is not None:  # after-commit faults: the work above is already stored
        if action.kind == "delay":
            await asyncio.sleep(action.seconds)
            return response
        if action.kind in ("drop", "partial-commit-drop"):
            return _drop(request)
        return _fault_response(action, response, request)
    return response


async def _answer(
    request: web.Request,
    state: SandboxState,
    params: dict[str, str],
    handler: Handler,
    action: Fault | None,
    ntlm_user_id: str | None,
    ntlm_reason: str,
) -> tuple[web.Response, int]:
    """``api-version``, authentication and the handler: the answer and the rows it processed
    (its row cost)."""
    rows = 1
    query = parse_query(request.query_string)
    version = query.get("api-version")
    if version not in API_VERSIONS:
        wrong = "is missing" if version is None else f"{version!r} is not supported"
        response = error_response(
            400,
            "ApiVersionError",
            f"the query parameter api-version {wrong}; use one of "
            + ", ".join(sorted(API_VERSIONS)),
        )
    else:
        if state.ntlm is None:
            user = _authenticate(request, state)
        else:
            user = state.store.users.get(ntlm_user_id) if ntlm_user_id else None
        if user is None and state.ntlm is not None:
            response = error_response(
                401,
                "UnauthorizedError",
                ntlm_reason,
                headers={"WWW-Authenticate": "NTLM"},
            )
        elif user is None:
            response = error_response(
                401, "UnauthorizedError", "missing or invalid credentials (Bearer token or Basic)"
            )
        else:
            ctx = Ctx(request, state, user, query, params)
            ctx.partial_commit = action is not None and action.kind == "partial-commit-drop"
            try:
                payload = await handler(ctx)
                rows = rows_of(payload)
                response = data_response(payload)
            except ApiFail as fail:
                response = error_response(fail.status, fail.code, fail.message, fail.fields)
    return response, rows
