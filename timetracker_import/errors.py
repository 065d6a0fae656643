"""One exception tree for the whole tool.

Every error a user can cause or meet carries a message in the user's terms (what, where, the
fix) and structured attributes. The CLI maps them to exit codes in one place
(``timetracker_import.cli.main``); nothing else prints tracebacks for these.

Exit codes (see README):
    0  success
    1  finished, but some rows were rejected
    2  usage, mapping or input error (nothing sent)
    3  authentication or permission failure
    4  an ambiguous outcome could not be resolved (resume later)
    75 temporary failure, e.g. an exhausted retry budget, or another run holds the target's
       lock (resumable / try again)
    76 the server answered a read with something that cannot be read (not JSON, a wrong
       shape): a proxy, a login page or a server fault, not the user's input
    130 interrupted by Ctrl-C (SIGINT); 143 by SIGTERM, 129 by SIGHUP (resumable)
"""

from __future__ import annotations

import errno
import os
from typing import Any

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_AMBIGUOUS = 4
EXIT_TEMPFAIL = 75
#: sysexits' EX_PROTOCOL: the remote side answered something that is not the protocol
EXIT_PROTOCOL = 76
EXIT_INTERRUPTED = 130
#: 128 + the signal's number, as shells report a process a signal ended
EXIT_SIGHUP = 129
EXIT_SIGTERM = 143


def stop_exit_code(signo: int | None) -> int:
    """The exit code of a run a stop ended: 128 + the signal, as shells report it; 130
    (Ctrl-C) when it was stopped without one (a ``cancel`` event)."""
    return EXIT_INTERRUPTED if signo is None else 128 + signo


_EXIT_MEANING = {
    EXIT_OK: "ok",
    EXIT_REJECTED: "rows rejected",
    EXIT_USAGE: "usage, mapping or input error",
    EXIT_AUTH: "authentication or permission failure",
    EXIT_AMBIGUOUS: "ambiguous outcome unresolved",
    EXIT_TEMPFAIL: "temporary failure or locked (resumable)",
    EXIT_PROTOCOL: "the server answered something that cannot be read (check --url)",
    EXIT_SIGHUP: "stopped by SIGHUP (resumable)",
    EXIT_INTERRUPTED: "interrupted (resumable)",
    EXIT_SIGTERM: "stopped by SIGTERM (resumable)",
}


def exit_meaning(code: int) -> str:
    """A few words on what exit ``code`` means (the evidence documents and notifications)."""
    return _EXIT_MEANING.get(code, "failed")


class TimetrackerError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(TimetrackerError):
    """Bad options or combination of options."""

    exit_code = EXIT_USAGE


class InputError(TimetrackerError):
    """An input file cannot be read (missing, undecodable, wrong format)."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.row = row
        self.column = column


class MappingError(TimetrackerError):
    """A mapping file is invalid; ``key_path`` says where (e.g. ``fields.length.format``)."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        key_path: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.key_path = key_path
        self.path = path


class ConfigError(TimetrackerError):
    """Connection settings, profiles or credentials are missing or unsafe."""

    exit_code = EXIT_USAGE


class ApiError(TimetrackerError):
    """The 7pace API answered with an error.

    ``transient`` is True for failures worth retrying later (429, 5xx, timeouts): exit 75. A
    definite refusal (400, 404, 409, 422: the same request would fail again) exits 2, like
    any other request the user has to change. Subclasses fix their own codes.
    """

    exit_code = EXIT_TEMPFAIL

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        description: str | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error_code = error_code
        self.description = description
        self.transient = transient
        self.retry_after = retry_after
        if type(self) is ApiError and not transient:
            self.exit_code = EXIT_USAGE


def delete_target_gone(error: ApiError) -> bool:
    """Whether a DELETE's error says its worklog does not exist: 404, or 422
    ``EntityNotFound`` (the status for an unknown id is undocumented: contract §2.3). Not for
    a PATCH, whose 422 ``EntityNotFound`` may name a user or work item of its body."""
    return error.status == 404 or (error.status == 422 and error.error_code == "EntityNotFound")


class AuthError(ApiError):
    """401 (bad or expired token) or 403 (not enough rights)."""

    exit_code = EXIT_AUTH


class TransientApiError(ApiError):
    """Retry budget exhausted on 429/5xx/connection errors; safe to resume later."""

    exit_code = EXIT_TEMPFAIL


class AmbiguousOutcome(ApiError):
    """A write may or may not have been applied (timeout, 5xx or dropped connection after
    sending). The caller must read back before re-sending."""

    exit_code = EXIT_AMBIGUOUS


class MalformedAnswer(ApiError):
    """A 2xx answer that cannot be read: not JSON, a truncated body, or JSON of the wrong
    shape (``{"data": 5}`` where a list was due). For a read it is its own exit code (76);
    for a write the client raises ``AmbiguousOutcome`` instead: the server may have applied
    it, so the caller reads back."""

    exit_code = EXIT_PROTOCOL


class StorageError(TimetrackerError):
    """The state directory, a journal or an output file cannot be written: the disk is full
    or failing (exit 75: free space, run again, it resumes) or the place cannot be written
    at all (exit 2: another directory or other permissions)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: str, retryable: bool, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.exit_code = EXIT_TEMPFAIL if retryable else EXIT_USAGE


#: errno values where freeing space (or a passing fault) makes the same write work
_RETRYABLE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EAGAIN")
    if hasattr(errno, name)
)
_FULL_HINT = (
    "free some space (or point TIMETRACKER_STATE_DIR at another disk) and run the same "
    "command again; it resumes where it stopped"
)
_PLACE_HINT = (
    "choose a place you can write: TIMETRACKER_STATE_DIR for the journals and locks, "
    "another path for an output file"
)


def storage_error(exc: BaseException, path: str | os.PathLike[str] | None = None) -> StorageError:
    """The one-line ``StorageError`` for an ``OSError`` or an ``sqlite3`` error met while
    writing ``path`` (an OSError's own file name when not given)."""
    where = os.fspath(path) if path is not None else str(getattr(exc, "filename", "") or "?")
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    if name:  # sqlite3.Error (no import here: errors.py depends on nothing)
        full = name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED"))
        why = "the disk is full" if name.startswith("SQLITE_FULL") else str(exc)
    else:
        number = getattr(exc, "errno", None)
        full = number in _RETRYABLE_ERRNOS
        why = (
            "the disk is full"
            if number in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
            else (getattr(exc, "strerror", None) or str(exc)).lower()
        )
    return StorageError(
        f"cannot write {where}: {why}",
        path=where,
        retryable=full,
        hint=_FULL_HINT if full else _PLACE_HINT,
    )


class Interrupted(TimetrackerError):
    """The user interrupted the run (Ctrl-C); the journal allows resuming."""

    exit_code = EXIT_INTERRUPTED


class RunLocked(TimetrackerError):
    """Another run holds the lock of the same target (file and server, ledger, run); try
    again when it has finished (exit 75)."""

    exit_code = EXIT_TEMPFAIL


class JournalError(TimetrackerError):
    """A run journal cannot be used as asked (an unknown run or batch, a row given two
    worklog ids): a bug or a journal from elsewhere, never the user's input."""

    exit_code = EXIT_USAGE


class ApprovalDataError(MalformedAnswer):
    """``timeApproval/all`` answered an item that cannot be read (a ``weekStartDate`` that is
    not an ISO date, an unknown ``approvalState``, no user)."""
