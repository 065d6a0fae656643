"""NTLM (Windows authentication) for on-premises Azure DevOps Server, over aiohttp.

NTLM authenticates a TCP connection, not a request: the negotiate leg, the server's 401
challenge and the authenticate leg must travel on one keep-alive connection. aiohttp picks
connections from a shared pool, so each request here borrows a *lane*: its own
``ClientSession`` whose connector holds at most one connection. On that lane the request
does the whole handshake (pyspnego computes the messages):

1. the request without its body and with ``Authorization: NTLM <negotiate>``;
2. a 401 with ``WWW-Authenticate: NTLM <challenge>`` (anything else ends here);
3. the request with its body and ``Authorization: NTLM <authenticate>``, whose answer is
   returned to the client's retry logic like any other response.

Nothing before leg 3 can change data (no body, no credentials yet), so a failure there is
reported as :class:`HandshakeFailure` and the client treats it as "not sent". Several lanes
allow concurrent requests; the password is only given to pyspnego.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import yarl

from timetracker_import.errors import ApiError, AuthError

from .protocol import error_from_response
from .redact import Secret

log = logging.getLogger(__name__)

DEFAULT_LANES = 8
_SCHEMES = ("ntlm", "negotiate")
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class HandshakeFailure(Exception):
    """The handshake broke before the authenticated leg: nothing can have been applied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def challenge_token(headers: Any) -> bytes | None:
    """The NTLM challenge in the ``WWW-Authenticate`` headers of a 401 (``NTLM <b64>`` or
    ``Negotiate <b64>``), or None."""
    values = headers.getall("WWW-Authenticate", []) if hasattr(headers, "getall") else []
    for value in values:
        scheme, _, data = str(value).strip().partition(" ")
        if scheme.lower() in _SCHEMES and data.strip():
            try:
                return base64.b64decode(data.strip(), validate=True)
            except (binascii.Error, ValueError):
                return None
    return None


def offers_ntlm(headers: Any) -> bool:
    """Whether a 401's ``WWW-Authenticate`` headers offer NTLM or Negotiate at all."""
    values = headers.getall("WWW-Authenticate", []) if hasattr(headers, "getall") else []
    return any(str(v).strip().partition(" ")[0].lower() in _SCHEMES for v in values)


class NtlmTransport:
    """Sends requests with a per-request NTLM handshake, each on a connection of its own."""

    def __init__(
        self,
        username: str,
        password: Secret,
        *,
        timeout: aiohttp.ClientTimeout,
        lanes: int = DEFAULT_LANES,
    ) -> None:
        self.username = username
        self._password = password
        self._timeout = timeout
        self._slots = asyncio.Semaphore(lanes)
        self._idle: list[aiohttp.ClientSession] = []
        self._all: list[aiohttp.ClientSession] = []

    async def close(self) -> None:
        """Close every lane."""
        sessions, self._all, self._idle = self._all, [], []
        for session in sessions:
            await session.close()

    def _lane(self) -> aiohttp.ClientSession:
        if self._idle:
            return self._idle.pop()
        # limit=1: legs 1 and 3 must reuse the one keep-alive connection of this lane.
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=self._timeout
        )
        self._all.append(session)
        return session

    def _context(self, url: yarl.URL) -> Any:
        import spnego

        return spnego.client(
            self.username,
            self._password.reveal(),
            hostname=url.host or "unspecified",
            service="HTTP",
            protocol="ntlm",
        )

    async def send(
        self,
        method: str,
        url: yarl.URL,
        *,
        headers: Mapping[str, str],
        json: Any = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Do the handshake and the request; return the final ``(status, headers, body)``.

        Raises ``HandshakeFailure`` before the final leg, ``AuthError`` when the server does
        not offer NTLM, and lets aiohttp's errors of the final leg through to the caller.
        """
        async with self._slots:
            lane = self._lane()
            try:
                return await self._handshake(lane, method, url, headers, json)
            finally:
                if not lane.closed:
                    self._idle.append(lane)

    async def _handshake(
        self,
        lane: aiohttp.ClientSession,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str],
        json: Any,
    ) -> tuple[int, Mapping[str, str], bytes]:
        import spnego.exceptions

        where = f"{method} {url.path}"
        try:
            context = self._context(url)
            negotiate = context.step()
        except spnego.exceptions.SpnegoError as exc:
            raise AuthError(f"cannot start NTLM for {self.username}: {exc}") from None
        first = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        first["Authorization"] = "NTLM " + base64.b64encode(negotiate).decode("ascii")
        try:
            async with lane.request(
                method, url, headers=first, allow_redirects=False, timeout=self._timeout
            ) as response:
                await response.read()  # drain: the connection must go back to the lane
                status, reply = response.status, response.headers
                token = challenge_token(reply)
                offered = offers_ntlm(reply)
        except (aiohttp.ClientSSLError, aiohttp.InvalidURL):
            raise  # the client reports these itself
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise HandshakeFailure(f"NTLM negotiate: {type(exc).__name__}") from None
        log.debug("%s NTLM negotiate -> %d", where, status)
        if status in _TRANSIENT:
            raise HandshakeFailure(f"NTLM negotiate: HTTP {status}")
        if status != 401:
            raise ApiError(
                f"{where}: the server answered {status} to the NTLM negotiation instead of "
                "401 with a challenge",
                status=status,
                hint="this server may not use Windows authentication; try --auth bearer",
            )
        if token is None:
            raise AuthError(
                f"{where}: the server does not offer NTLM"
                + (" (its challenge is malformed)" if offered else ""),
                status=401,
                hint="use --auth bearer or --auth basic with a token for this server",
            )
        try:
            authenticate = context.step(token)
        except spnego.exceptions.SpnegoError as exc:
            raise AuthError(f"{where}: cannot answer the NTLM challenge: {exc}") from None
        final = dict(headers)
        final["Authorization"] = "NTLM " + base64.b64encode(authenticate or b"").decode("ascii")
        async with lane.request(
            method,
            url,
            headers=final,
            json=json,
            allow_redirects=False,
            timeout=self._timeout,
        ) as response:
            body = await response.read()
            status, reply_headers = response.status, dict(response.headers)
        if status == 401:  # never retried anyway; say what to check for NTLM
            error = error_from_response(status, reply_headers, body)
            raise AuthError(
                error.message,
                status=401,
                error_code=error.error_code,
                description=error.description,
                hint=f"the server refused NTLM user {self.username}: check the user name "
                "(DOMAIN\\user or user@domain) and the password (TIMETRACKER_PASSWORD or "
                "--password-file)",
            )
        return status, reply_headers, body
