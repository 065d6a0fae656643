"""One writer per target: advisory locks in the state directory.

Every command that writes to 7pace (``import``, ``sync``, ``runs undo``, ``worklogs
update/delete``) holds the lock of its target - the server and collection - while it
writes (``target_lock``), and ``sync`` also the lock of its ledger file; so a second writer
(two cron jobs overlapping, an import and a sync of the same file, an undo of a run still
running) waits up to ``--wait`` seconds and then stops with exit 75 instead of writing
everything twice.

The exclusion is the operating system's: ``flock`` on an open lock file (``msvcrt.locking``
on Windows). The kernel drops the lock when its process dies, however it dies (SIGKILL,
power cut aside), so a lock left by a dead run is simply free and the next run takes it over;
a reused pid cannot make a dead run's lock look alive, because liveness is never judged from
the pid. The file holds the holder's pid, the process's own start time (pid + start time
name one process even after pid reuse) and when the lock was taken, only to say who holds it:
"another run (pid N, started T) is importing this file". Lock files stay in place (a few bytes
per target, emptied on release): deleting one while another process waits on it would let
two holders lock two different files of the same name.

Layout: ``$TIMETRACKER_STATE_DIR/locks/<kind>-<sha256 of the target>.lock`` (0700 / 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from timetracker_import.errors import RunLocked, UsageError

LOCKS_DIR = "locks"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
#: seconds between two attempts while waiting
POLL_SECONDS = 0.1
#: the byte locked on Windows (beyond the holder text, which stays readable there)
_WIN_LOCK_OFFSET = 1 << 20


def locks_root() -> Path:
    """``locks/`` beside ``runs/`` in the state directory."""
    from timetracker_import.journal.store import runs_root

    return runs_root().parent / LOCKS_DIR


def target_key(*parts: str) -> str:
    """A stable file-name-safe digest of a target's parts (server root, collection, input
    digest, ledger path, run id); case of a URL's host matters not."""
    text = "\0".join(p.strip() for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def process_start_time(pid: int) -> str | None:
    """An opaque token of when process ``pid`` started (Linux: clock ticks since boot from
    ``/proc/PID/stat``), None when unknown or the process does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # comm (field 2) is in parentheses and may contain spaces: split after the last ')'
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as written in its file."""

    pid: int | None
    process_start: str | None
    started_at: str | None  # ISO 8601 UTC, when the lock was taken
    what: str

    @classmethod
    def parse(cls, text: str, what: str) -> Holder:
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(None, None, None, what)
        pid = data.get("pid")
        return cls(
            pid if isinstance(pid, int) else None,
            data.get("process_start") if isinstance(data.get("process_start"), str) else None,
            data.get("started_at") if isinstance(data.get("started_at"), str) else None,
            str(data.get("what") or what),
        )

    def alive(self) -> bool:
        """Whether the process named here still runs (same pid *and* same start time where
        the start time is known; a reused pid is another process)."""
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, another user's
        if self.process_start is not None:
            return process_start_time(self.pid) == self.process_start
        return True

    def describe(self) -> str:
        """``pid N, started T`` (T in UTC, to the second)."""
        if self.pid is None:
            return "pid unknown"
        when = self.started_at
        with contextlib.suppress(TypeError, ValueError):
            when = datetime.fromisoformat(str(when)).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid}, started {when}" if when else f"pid {self.pid}"


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


class TargetLock:
    """An exclusive advisory lock on one target (a context manager).

    ``kind`` names the command family (``import``, ``sync``, ``worklogs``, ``undo``),
    ``parts`` the target, ``what`` the end of the message a second run gets ("is importing
    this file"). ``wait``: seconds to wait for the holder before giving up with
    ``RunLocked`` (exit 75)."""

    def __init__(self, kind: str, *parts: str, what: str, wait: float = 0.0) -> None:
        if wait < 0:
            raise UsageError("--wait must be 0 or more seconds")
        self.path = locks_root() / f"{kind}-{target_key(kind, *parts)}.lock"
        self.what = what
        self.wait = wait
        self._fd: int | None = None
        #: the holder a stale-looking lock file named when we took the lock (for tests/logs)
        self.took_over: Holder | None = None

    def holder(self) -> Holder:
        """What the lock file says now."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        return Holder.parse(text, self.what)

    def acquire(self) -> TargetLock:
        root = locks_root()
        root.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
        with contextlib.suppress(OSError):
            os.chmod(root, _DIR_MODE)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        deadline = time.monotonic() + self.wait
        try:
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    holder = self._current_holder()
                    raise RunLocked(
                        f"another run ({holder.describe()}) is {holder.what}",
                        hint=(
                            "let it finish, then run the same command again; or add "
                            "--wait SECONDS to wait for it"
                        ),
                    )
                time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            previous = self.holder()
            if previous.pid is not None:
                # the file names a run whose lock the kernel dropped: it died without
                # releasing (SIGKILL, crash); its journal resumes as usual
                self.took_over = previous
            self._write_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _current_holder(self) -> Holder:
        # The holder writes its line right after it got the lock; give it a moment when the
        # file is still empty or names a dead process (the previous holder's leftover).
        holder = self.holder()
        for _ in range(5):
            if holder.alive():
                break
            time.sleep(0.02)
            holder = self.holder()
        return holder if holder.alive() else Holder(None, None, None, self.what)

    def _write_holder(self, fd: int) -> None:
        pid = os.getpid()
        text = json.dumps(
            {
                "pid": pid,
                "process_start": process_start_time(pid),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "what": self.what,
            }
        )
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # nobody reads a finished holder's line
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> TargetLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def target_lock(rest_root: str, *, what: str, wait: float = 0.0) -> Iterator[TargetLock]:
    """The lock of writing to one server and collection (``rest_root``), whatever the
    command: ``import``, ``sync``, ``runs undo``, ``worklogs update/delete`` and the
    round-trip update each hold it while they write, so two of them never write to one
    target at once (``what``: what the holder is doing, as a second run is told)."""
    with TargetLock("target", rest_root.rstrip("/").lower(), what=what, wait=wait) as lock:
        yield lock


@contextlib.contextmanager
def ledger_lock(ledger: str | os.PathLike[str], *, wait: float = 0.0) -> Iterator[TargetLock]:
    """The lock of one sync ledger (a file path; resolved, so two spellings of one ledger
    share it)."""
    with TargetLock(
        "sync", str(Path(ledger).resolve()), what="syncing this ledger", wait=wait
    ) as lock:
        yield lock
