"""NTLM (Windows authentication) for the sandbox, as on-premises Azure DevOps Server does it.

The handshake is verified for real with pyspnego's pure-Python NTLM acceptor:

1. the client sends ``Authorization: NTLM <negotiate>``; the sandbox answers 401 with
   ``WWW-Authenticate: NTLM <challenge>`` (``Negotiate`` when the client used that word);
2. the client sends the same request with ``Authorization: NTLM <authenticate>`` on the
   *same* connection; pyspnego checks the response against the password in the user file.

NTLM authenticates a TCP connection, so the state lives per connection (keyed on the
transport). Like IIS, a connection that completed the handshake stays authenticated for later
requests that carry no Authorization header.

pyspnego's acceptor reads passwords only from the file named by the ``NTLM_USER_FILE``
environment variable (version 0.12). To keep that process-wide setting from racing between
sandboxes (or tests) in one process, it is set, used and restored under one lock around each
pyspnego call.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

ENV_USER_FILE = "NTLM_USER_FILE"
_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE = 1
_AUTHENTICATE = 3
_ENV_LOCK = threading.Lock()


class NtlmUsersError(ValueError):
    """The ``--ntlm-users`` file is unreadable or a line is invalid; the message names it."""


@dataclass(frozen=True)
class NtlmAccount:
    """One line of the users file, mapped to a seeded user."""

    domain: str  # "" for the user@domain (UPN) form
    user: str
    password: str = field(repr=False)
    user_id: str  # the seeded user's 7pace id
    email: str  # the seeded user's email

    @property
    def principal(self) -> str:
        """``DOMAIN\\user`` or ``user@domain`` as a client would give it."""
        return f"{self.domain}\\{self.user}" if self.domain else self.user

    def store_line(self) -> str:
        """The line in pyspnego's ``DOMAIN:USER:PASSWORD`` store format."""
        return f"{self.domain}:{self.user}:{self.password}"


def _parse_line(text: str, where: str) -> tuple[str, str, str]:
    head, sep, rest = text.partition(":")
    if not sep:
        raise NtlmUsersError(f"{where}: expected DOMAIN\\user:password or DOMAIN:USER:PASSWORD")
    if "\\" in head or "@" in head:
        domain, _, user = head.rpartition("\\") if "\\" in head else ("", "", head)
        password = rest
    else:
        parts = text.split(":")
        if len(parts) != 3:
            raise NtlmUsersError(
                f"{where}: expected DOMAIN\\user:password or DOMAIN:USER:PASSWORD "
                "(a password cannot contain ':' because pyspnego's store splits on it)"
            )
        domain, user, password = parts
    if ":" in password:
        raise NtlmUsersError(
            f"{where}: the password contains ':', which pyspnego's user store cannot hold"
        )
    if not user.strip() or not password:
        raise NtlmUsersError(f"{where}: user name and password are required")
    return domain.strip(), user.strip(), password


def _match_user(domain: str, user: str, emails: dict[str, str], where: str) -> tuple[str, str]:
    """The seeded (email, id) for an NTLM user: the full email for ``user@domain`` if it is
    seeded, else the seeded user whose email starts with ``user@``."""
    lowered = {e.lower(): (e, uid) for e, uid in emails.items()}
    if not domain and user.lower() in lowered:
        return lowered[user.lower()]
    local = user.split("@", 1)[0].lower()
    hits = [v for e, v in lowered.items() if e.split("@", 1)[0] == local]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NtlmUsersError(
            f"{where}: no seeded user has an email starting with {local}@ "
            "(the NTLM user name is matched to the part of the email before '@')"
        )
    raise NtlmUsersError(f"{where}: several seeded users have emails starting with {local}@")


def parse_ntlm_users(
    text: str, emails: dict[str, str], *, source: str = "ntlm users"
) -> list[NtlmAccount]:
    """Parse a users file (``DOMAIN\\user:password``, ``user@domain:password`` or pyspnego's
    ``DOMAIN:USER:PASSWORD``; blank lines and ``#`` comments skipped) and map each line to a
    seeded user. ``emails`` maps seeded email -> user id."""
    accounts: list[NtlmAccount] = []
    seen: set[tuple[str, str]] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source} line {number}"
        domain, user, password = _parse_line(line, where)
        key = (domain.upper(), user.upper())
        if key in seen:
            raise NtlmUsersError(f"{where}: {domain}\\{user} appears twice")
        seen.add(key)
        email, user_id = _match_user(domain, user, emails, where)
        accounts.append(NtlmAccount(domain, user, password, user_id, email))
    if not accounts:
        raise NtlmUsersError(f"{source}: no users")
    return accounts


def load_ntlm_users(path: str | Path, emails: dict[str, str]) -> list[NtlmAccount]:
    """Read and parse the ``--ntlm-users`` file (see :func:`parse_ntlm_users`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NtlmUsersError(f"cannot read NTLM users file {path}: {exc}") from None
    return parse_ntlm_users(text, emails, source=str(path))


@contextmanager
def _user_file(path: str) -> Iterator[None]:
    """Point pyspnego at ``path`` for the duration of one call (see the module docstring)."""
    with _ENV_LOCK:
        old = os.environ.get(ENV_USER_FILE)
        os.environ[ENV_USER_FILE] = path
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(ENV_USER_FILE, None)
            else:
                os.environ[ENV_USER_FILE] = old


@dataclass(frozen=True)
class NtlmOutcome:
    """What the acceptor made of a request's Authorization header.

    ``challenge`` set: answer 401 with ``WWW-Authenticate: {scheme} {challenge}`` at once.
    ``user_id`` set: the request is authenticated as that seeded user. Neither: not
    authenticated (``reason`` says why, for the 401 message).
    """

    challenge: str | None = None
    scheme: str = "NTLM"
    user_id: str | None = None
    reason: str = "NTLM authentication required"


@dataclass
class _Conn:
    pending: Any = None  # a pyspnego server context waiting for the authenticate message
    scheme: str = "NTLM"
    user_id: str | None = None


def _message_type(token: bytes) -> int | None:
    if len(token) >= 12 and token.startswith(_SIGNATURE):
        return int.from_bytes(token[8:12], "little")
    return None


class NtlmAcceptor:
    """Server side of the handshake, one pyspnego context per connection."""

    def __init__(self, accounts: Iterable[NtlmAccount]) -> None:
        self.accounts = list(accounts)
        self._by_principal = {(a.domain.upper(), a.user.upper()): a for a in self.accounts}
        # pyspnego needs a file in its own format; a private temporary copy, removed by close().
        self._dir = tempfile.TemporaryDirectory(prefix="sandbox-ntlm-")
        store = Path(self._dir.name) / "ntlm_users"
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(a.store_line() + "\n" for a in self.accounts))
        self._store = str(store)
        self._conns: weakref.WeakKeyDictionary[Any, _Conn] = weakref.WeakKeyDictionary()

    def close(self) -> None:
        """Remove the temporary user store."""
        self._dir.cleanup()

    def accept(self, request: web.Request) -> NtlmOutcome:
        """Advance the handshake of ``request``'s connection (see :class:`NtlmOutcome`)."""
        import spnego
        import spnego.exceptions

        transport = request.transport
        conn = self._conns.get(transport) if transport is not None else None
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() not in ("ntlm", "negotiate") or not value.strip():
            if not scheme and conn is not None and conn.user_id is not None:
                return NtlmOutcome(user_id=conn.user_id)  # connection already authenticated
            return NtlmOutcome()
        try:
            token = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return NtlmOutcome(reason="malformed NTLM token")
        kind = _message_type(token)
        shown = "Negotiate" if scheme.lower() == "negotiate" else "NTLM"
        if kind == _NEGOTIATE:
            try:
                with _user_file(self._store):
                    context = spnego.server(protocol="ntlm", service="HTTP")
                    challenge = context.step(token)
            except spnego.exceptions.SpnegoError:
                return NtlmOutcome(reason="invalid NTLM negotiate message")
            if transport is not None:
                self._conns[transport] = _Conn(pending=context, scheme=shown)
            return NtlmOutcome(
                challenge=base64.b64encode(challenge or b"").decode("ascii"), scheme=shown
            )
        if kind == _AUTHENTICATE:
            if conn is None or conn.pending is None:
                return NtlmOutcome(
                    reason="NTLM authenticate message without a challenge on this connection"
                )
            context, conn.pending = conn.pending, None
            try:
                with _user_file(self._store):
                    context.step(token)
            except spnego.exceptions.SpnegoError:
                return NtlmOutcome(reason="NTLM logon denied (unknown user or wrong password)")
            domain, _, user = str(context.client_principal or "").rpartition("\\")
            account = self._by_principal.get((domain.upper(), user.upper()))
            if account is None:
                return NtlmOutcome(reason="NTLM user is not mapped to a sandbox user")
            conn.user_id = account.user_id
            return NtlmOutcome(user_id=account.user_id)
        return NtlmOutcome(reason="not an NTLM negotiate or authenticate message")
