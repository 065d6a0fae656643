"""Keeping the API token out of output, logs and tracebacks.

``Secret`` wraps the token so that ``repr``/``str``/f-strings show only ``****`` plus its last
four characters. Every secret created is registered, and ``RedactingFilter`` (installed on the
log handlers by the CLI) replaces registered values in log records, arguments and exception
text. ``redact_text`` does the same for strings built from third-party exceptions.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

_lock = threading.Lock()
_registered: dict[str, str] = {}  # secret -> what replaces it

# Shorter values would redact innocent text (and a 1-3 character token is not a real token).
_MIN_SECRET_LEN = 4


def mask(value: str) -> str:
    """``'****' + last four characters`` (all stars for very short values)."""
    if len(value) <= _MIN_SECRET_LEN:
        return "****"
    return "****" + value[-4:]


def register_secret(value: str, *, show_last4: bool = True) -> None:
    """Make ``value`` redacted wherever ``redact_text`` or ``RedactingFilter`` look.

    Passwords use ``show_last4=False``: even four characters of a password are too many.
    """
    if len(value) >= _MIN_SECRET_LEN:
        with _lock:
            if _registered.get(value) != "****":
                _registered[value] = mask(value) if show_last4 else "****"


#: an echoed Authorization header (``Authorization: Basic ...``, ``"authorization":
#: "NTLM ..."``, ``authorization=Bearer ...``): its value, whatever the scheme (a value
#: already masked as a registered secret, ``****abcd``, is left as it is)
_AUTH_HEADER = re.compile(
    r"""(?i)(authorization["']?\s*[:=]\s*["']?)"""
    r"(?>(?:(bearer|basic|ntlm|negotiate|digest)\s+)?)(?!\*\*\*\*)([^\s\"',;}\]]+)"
)
#: an NTLM message (base64 of ``NTLMSSP\0``), echoed without its header name: the
#: authenticate message carries a response derived from the password
_NTLM_MESSAGE = re.compile(r"TlRMTVNTUAA[A-Za-z0-9+/]*={0,2}")


def redact_text(text: str) -> str:
    """Replace every registered secret in ``text`` by its mask, and the value of any echoed
    ``Authorization`` header and any NTLM message by ``****``."""
    with _lock:
        secrets = sorted(_registered.items(), key=lambda item: len(item[0]), reverse=True)
    for secret, masked in secrets:
        if secret in text:
            text = text.replace(secret, masked)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}****", text)
    if "TlRMTVNTUAA" in text:
        text = _NTLM_MESSAGE.sub("****", text)
    return text


def safe_url(url: str) -> str:
    """``url`` as it may be printed: user info, query and fragment (where a credential may
    hide) replaced by ``****``; the scheme, host, port and path are kept so the user sees which
    URL is meant."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
    except ValueError:  # an unclosed IPv6 "[": cut by hand
        head = re.split(r"[?#]", text, maxsplit=1)[0]
        return re.sub(r"//[^/]*@", "//****@", head) + (
            "?****" if "?" in text or "#" in text else ""
        )
    if "@" in netloc:
        netloc = "****@" + netloc.rsplit("@", 1)[1]
    shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme or netloc else parts.path
    if "@" in shown and not parts.netloc:  # no scheme: "user:pw@host/..." reads as a path
        shown = "****@" + shown.rsplit("@", 1)[1]
    if parts.query or "?" in text:
        shown += "?****"
    if parts.fragment or "#" in text:
        shown += "#****"
    return shown


class Secret:
    """A token that never shows itself: ``str``/``repr`` give ``****abcd``.

    ``reveal()`` is the only way to get the value, used when building the Authorization header.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real token (only for the Authorization header)."""
        return self._value

    @property
    def last4(self) -> str:
        """The last four characters, safe to show for identification."""
        return self._value[-4:] if len(self._value) > _MIN_SECRET_LEN else ""

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)!r})"

    def __str__(self) -> str:
        return mask(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        # Pickling would write the token somewhere; nothing in this tool needs it.
        raise TypeError("a Secret cannot be pickled")


class Password(Secret):
    """A password (NTLM): like ``Secret`` but shown as ``****`` only, never its last four
    characters."""

    __slots__ = ()

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value, show_last4=False)

    @property
    def last4(self) -> str:
        """Always empty: no part of a password is shown."""
        return ""

    def __repr__(self) -> str:
        return "Password('****')"

    def __str__(self) -> str:
        return "****"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is *now* (click's test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class RedactingFilter(logging.Filter):
    """Replace registered secrets in a record's message, arguments and exception text.

    Attach it to *handlers* (logger filters do not see records propagated from child loggers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: still redact what we have
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def configure_logging(debug: bool = False) -> None:
    """Send log records to stderr through a redacting handler; debug level when asked.

    Also puts the filter on every handler already on the root logger (e.g. pytest's), so no
    handler sees an unredacted record. Safe to call more than once.
    """
    root = logging.getLogger()
    if not any(getattr(h, "_timetracker_handler", False) for h in root.handlers):
        ours = _StderrHandler()
        ours.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        ours._timetracker_handler = True  # type: ignore[attr-defined]
        root.addHandler(ours)
    for existing in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in existing.filters):
            existing.addFilter(RedactingFilter())
    level = logging.DEBUG if debug else logging.WARNING
    root.setLevel(level)
    for existing in root.handlers:
        if getattr(existing, "_timetracker_handler", False):
            existing.setLevel(level)
