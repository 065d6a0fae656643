"""Who may talk to the local web app: a one-time launch token, a session cookie, CSRF tokens
on every form and a Host header check against DNS rebinding.

The app serves one person on this machine. Starting it prints a URL holding a random launch
token; the first request with that token sets the session cookie and the token is spent, so
a URL copied from shell history or a screenshot is useless afterwards. Every other request
without the session cookie gets 403. Forms (and the page's ``fetch`` calls) carry the
session's CSRF token; another site cannot read it, so it cannot post on the user's behalf.
A page on an attacker's domain that resolves to 127.0.0.1 (DNS rebinding) sends its own
Host header, which is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SESSION_COOKIE = "tti_session"  # + "_PORT": two apps on two ports keep their own sessions
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
LAUNCH_PATH = "/launch"
NEW_LINK_PATH = "/launch/new"  # a second `ui` on the same port asks for a fresh link here
CONTROL_HEADER = "X-Control-Secret"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: where the middleware leaves a multipart upload's reader after reading its CSRF part
MULTIPART_READER: Any = (
    web.RequestKey("multipart_reader", object) if hasattr(web, "RequestKey") else "multipart_reader"
)

#: Sent with every answer: nothing from elsewhere is loaded, the page cannot be framed, and
#: no Referer leaves this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def machine_names() -> set[str]:
    """This machine's host names and addresses (for ``--host 0.0.0.0 --allow-remote``)."""
    import contextlib
    import socket

    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    with contextlib.suppress(OSError):
        names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    return names


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values a browser sends for this server (lower case). Serving on
    every interface (0.0.0.0, ::) allows this machine's names and addresses."""
    names = {host.lower()}
    if host in ("0.0.0.0", "::"):
        names = machine_names() | {"127.0.0.1", "localhost", "[::1]"}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    out: set[str] = set()
    for name in names:
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"  # a bare IPv6 address
        out.add(f"{name}:{port}")
        if port == 80:
            out.add(name)
    return frozenset(out)


@dataclass
class Guard:
    """The launch token, the session and its CSRF token of one running app."""

    hosts: frozenset[str]
    launch_token: str | None = field(default_factory=lambda: secrets.token_urlsafe(24))
    session_id: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    port: int = 0
    #: what a second ``timetracker-import ui`` on this port shows to get a fresh link
    control_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def bind(self, host: str, port: int) -> None:
        """The address the app serves on: the Host headers it answers, its cookie's name."""
        self.port = port
        self.hosts = allowed_hosts(host, port)

    @property
    def cookie_name(self) -> str:
        """The session cookie's name, one per port: browsers share cookies across the ports
        of a host, so a second app must not overwrite the first one's session."""
        return f"{SESSION_COOKIE}_{self.port}"

    def new_launch_token(self) -> str:
        """A fresh one-time launch token (replacing any unspent one); the session stays."""
        self.launch_token = secrets.token_urlsafe(24)
        return self.launch_token

    def launch_url(self, base: str) -> str:
        """The URL to open once (``base`` is ``http://HOST:PORT``)."""
        if self.launch_token is None:
            raise RuntimeError("the launch token has been used")
        return f"{base}{LAUNCH_PATH}?token={self.launch_token}"

    def host_ok(self, request: web.Request) -> bool:
        return request.headers.get("Host", "").lower() in self.hosts

    def origin_ok(self, request: web.Request) -> bool:
        """A cross-site POST carries its Origin and is refused; ours passes, and so do none
        and ``null`` (sent by privacy settings): the CSRF token is the check that counts."""
        origin = request.headers.get("Origin")
        if origin is None or origin == "null":
            return True
        scheme, _, rest = origin.partition("://")
        return scheme == "http" and rest.lower() in self.hosts

    def has_session(self, request: web.Request) -> bool:
        cookie = request.cookies.get(self.cookie_name, "")
        return hmac.compare_digest(cookie.encode(), self.session_id.encode())

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token.encode())

    def spend(self, token: str | None) -> bool:
        """Accept the launch token once."""
        if self.launch_token is None or token is None:
            return False
        if not hmac.compare_digest(token.encode(), self.launch_token.encode()):
            return False
        self.launch_token = None
        return True


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def forbidden(text: str) -> web.Response:
    """A plain 403 page with the way in."""
    return web.Response(status=403, text=text, content_type="text/plain", headers=SECURITY_HEADERS)


def guard_middleware(
    guard: Guard, public: Iterable[str] = ()
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Host check, launch, session and CSRF checks, and the security headers."""
    open_paths = frozenset(public)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not guard.host_ok(request):
            return forbidden(
                "403: this server answers only requests for "
                + ", ".join(sorted(guard.hosts))
                + " (Host header refused)"
            )
        if request.path == LAUNCH_PATH:
            if not guard.spend(request.query.get("token")):
                if guard.has_session(request):
                    raise web.HTTPSeeOther("/")
                return forbidden(
                    "403: this launch link has been used or is wrong. Run "
                    "`timetracker-import ui` again with the same --port: it prints a fresh "
                    "link to the running app."
                )
            redirect = web.HTTPSeeOther("/")
            redirect.set_cookie(
                guard.cookie_name, guard.session_id, httponly=True, samesite="Strict", path="/"
            )
            redirect.headers.update(SECURITY_HEADERS)
            raise redirect
        if request.path == NEW_LINK_PATH:
            return await _new_link(request, guard)
        if request.path not in open_paths and not guard.has_session(request):
            return forbidden(
                "403: no session. Open the link `timetracker-import ui` printed when it "
                "started (it works once); run it again with the same --port for a fresh link."
            )
        if request.method not in _SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER)
            if given is None and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                given = await _form_csrf(request)
            if not guard.origin_ok(request) or not guard.csrf_ok(given):
                return forbidden(
                    "403: the form's security token is missing or stale. Go back, reload "
                    "the page and submit it again."
                )
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects and 404s get the headers too
            for name, value in SECURITY_HEADERS.items():
                exc.headers.setdefault(name, value)
            raise
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return middleware


async def _new_link(request: web.Request, guard: Guard) -> web.Response:
    """A fresh launch token for whoever shows the control secret (written to a private file
    only the user who started the app can read)."""
    given = request.headers.get(CONTROL_HEADER, "")
    if request.method != "POST" or not hmac.compare_digest(
        given.encode(), guard.control_secret.encode()
    ):
        return forbidden("403: a fresh link is given only to `timetracker-import ui` itself")
    return web.Response(
        text=guard.new_launch_token(), content_type="text/plain", headers=SECURITY_HEADERS
    )


async def _form_csrf(request: web.Request) -> str | None:
    """The CSRF field of a form post; the parsed form stays cached on the request."""
    if request.content_type == "multipart/form-data":
        # An upload must not be read twice: the field is the form's first part (see html.form).
        reader = await request.multipart()
        part = await reader.next()
        if part is None or getattr(part, "name", None) != CSRF_FIELD:
            return None
        value = (await part.read(decode=True)).decode("utf-8", "replace")  # type: ignore[union-attr]
        request[MULTIPART_READER] = reader
        return value
    form = await request.post()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


GUARD = web.AppKey("guard", Guard)
