"""Runs: where run directories live, starting and opening a run, its record, finishing it,
its summary, and finding runs (``list_runs``, ``find_resumable``).

The token is never stored: the target URL is kept without user info or query, and option
keys that look like secrets are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from timetracker_import.core.accounting import Accounting
from timetracker_import.errors import storage_error
from timetracker_import.journal.db import (
    JOURNAL_NAME,
    SCHEMA,
    JournalBase,
    JournalError,
    connect,
    now,
)
from timetracker_import.journal.private_files import (
    DIR_MODE,
    ensure_private_file,
    private_dir,
    write_private_text,
)
from timetracker_import.journal.rows import count_outcomes

STATE_DIR_ENV = "TIMETRACKER_STATE_DIR"
SUMMARY_JSON = "summary.json"
_SECRET_WORDS = ("token", "password", "secret", "authorization", "credential")


def runs_root() -> Path:
    """Where run directories live: ``$TIMETRACKER_STATE_DIR/runs`` when the variable is set,
    else ``platformdirs.user_state_dir("timetracker-import")/runs``."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        state = Path(override)
    else:
        import platformdirs

        state = Path(platformdirs.user_state_dir("timetracker-import"))
    return state / "runs"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: UTC time and a random suffix, e.g. ``20261127T171500Z-3f2a``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"


def safe_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without keys that look like secrets (token, password, ...)."""
    return {k: v for k, v in options.items() if not any(w in str(k).lower() for w in _SECRET_WORDS)}


def safe_base_url(url: str | None) -> str | None:
    """The target URL without user info, query or fragment (a token must never be stored)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def fingerprint(file_bytes_sha256: str, mapping_text: str, options: Mapping[str, Any]) -> str:
    """Identify "the same import": input file content, mapping text and the options that
    change what is sent. Independent of option order; secret-looking options are ignored."""
    payload = json.dumps(
        {
            "file_sha256": file_bytes_sha256.lower(),
            "mapping_sha256": hashlib.sha256(mapping_text.encode("utf-8")).hexdigest(),
            "options": safe_options(options),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """One run as listed by ``runs list``."""

    run_id: str
    status: str
    fingerprint: str
    input_path: str | None
    mapping_name: str | None
    base_url: str | None
    started_at: str
    finished_at: str | None
    counts: dict[str, Any] | None
    directory: Path


def _run_info(conn: sqlite3.Connection, directory: Path) -> RunInfo:
    rec = conn.execute("SELECT * FROM run").fetchone()
    return RunInfo(
        run_id=rec["id"],
        status=rec["status"],
        fingerprint=rec["fingerprint"],
        input_path=rec["input_path"],
        mapping_name=rec["mapping_name"],
        base_url=rec["base_url"],
        started_at=rec["started_at"],
        finished_at=rec["finished_at"],
        counts=None if rec["counts_json"] is None else json.loads(rec["counts_json"]),
        directory=directory,
    )


class RunsMixin(JournalBase):
    """Starting, opening, describing and finishing the run."""

    @classmethod
    def create(
        cls,
        *,
        fingerprint: str,
        input_path: str | os.PathLike[str] | None = None,
        mapping_name: str | None = None,
        mapping_path: str | os.PathLike[str] | None = None,
        options: Mapping[str, Any] | None = None,
        base_url: str | None = None,
        run_id: str | None = None,
    ) -> Self:
        """Start a new run: its directory (0700) and journal file (0600)."""
        try:
            return cls._create(fingerprint, input_path, mapping_name, mapping_path, options,
                               base_url, run_id)  # fmt: skip
        except (OSError, sqlite3.OperationalError) as exc:  # no state directory, disk full
            raise storage_error(exc, getattr(exc, "filename", None) or runs_root()) from None

    @classmethod
    def _create(
        cls,
        fingerprint: str,
        input_path: str | os.PathLike[str] | None,
        mapping_name: str | None,
        mapping_path: str | os.PathLike[str] | None,
        options: Mapping[str, Any] | None,
        base_url: str | None,
        run_id: str | None,
    ) -> Self:
        root = private_dir(runs_root())
        for _ in range(20):
            candidate = run_id or new_run_id()
            directory = root / candidate
            try:
                directory.mkdir(mode=DIR_MODE)
            except FileExistsError:
                if run_id:
                    raise JournalError(f"run {run_id} already exists") from None
                continue
            break
        else:  # pragma: no cover - 20 collisions of a 16-bit suffix in one second
            raise JournalError("could not pick a free run id")
        os.chmod(directory, DIR_MODE)
        db_path = ensure_private_file(directory / JOURNAL_NAME)
        conn = connect(db_path)
        journal = cls(candidate, directory, conn)
        conn.executescript(SCHEMA)
        with journal._transaction():
            conn.execute(
                "INSERT INTO run (id, fingerprint, input_path, mapping_name, mapping_path,"
                " options_json, base_url, started_at, status) VALUES (?,?,?,?,?,?,?,?, 'open')",
                (
                    candidate,
                    fingerprint,
                    None if input_path is None else str(input_path),
                    mapping_name,
                    None if mapping_path is None else str(mapping_path),
                    json.dumps(safe_options(options or {}), sort_keys=True, default=str),
                    safe_base_url(base_url),
                    now(),
                ),
            )
        journal._secure_files()
        return journal

    @classmethod
    def open(cls, run_id: str) -> Self:
        """Open an existing run's journal."""
        directory = runs_root() / run_id
        db_path = directory / JOURNAL_NAME
        if not db_path.is_file():
            raise JournalError(f"no run {run_id} in {runs_root()}")
        journal = cls(run_id, directory, connect(db_path))
        journal._secure_files()
        return journal

    def info(self) -> RunInfo:
        """The run's record."""
        return _run_info(self._conn, self.directory)

    @property
    def options(self) -> dict[str, Any]:
        """The options the run was started with."""
        rec = self._conn.execute("SELECT options_json FROM run").fetchone()
        return dict(json.loads(rec["options_json"]))

    def reopen(self) -> None:
        """Mark a halted run as open again (when resuming it)."""
        with self._transaction() as conn:
            conn.execute("UPDATE run SET status = 'open', finished_at = NULL")

    def finish(self, status: str) -> Accounting:
        """Close the run as ``complete`` or ``halted`` and store its counts."""
        if status not in ("complete", "halted"):
            raise JournalError(f"a run finishes as complete or halted, not {status!r}")
        counts = count_outcomes(self._conn)
        with self._transaction() as conn:
            conn.execute(
                "UPDATE run SET status = ?, finished_at = ?, counts_json = ?",
                (status, now(), json.dumps(counts.to_dict(), sort_keys=True)),
            )
        return counts

    def write_summary(self, extra: Mapping[str, Any] | None = None) -> Path:
        """Write ``summary.json`` (run id, status, counts, plus ``extra``) into the run
        directory (0600)."""
        info = self.info()
        summary: dict[str, Any] = {
            "run_id": info.run_id,
            "status": info.status,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "input_path": info.input_path,
            "mapping": info.mapping_name,
            "target": info.base_url,
            "counts": count_outcomes(self._conn).to_dict(),
        }
        summary.update(extra or {})
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        try:
            return write_private_text(self.directory / SUMMARY_JSON, text)
        except OSError as exc:
            raise storage_error(exc, self.directory / SUMMARY_JSON) from None


def _read_info(directory: Path) -> RunInfo | None:
    db_path = directory / JOURNAL_NAME
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        conn.row_factory = sqlite3.Row
        if conn.execute("SELECT 1 FROM run").fetchone() is None:
            # killed between the schema and the run record (one commit apart): this run
            # never started; it is no run to list or resume
            return None
        return _run_info(conn, directory)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def list_runs() -> list[RunInfo]:
    """Every run under ``runs_root()``, oldest first (run ids sort by time)."""
    root = runs_root()
    if not root.is_dir():
        return []
    runs = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        info = _read_info(directory)
        if info is not None:
            runs.append(info)
    return runs


def find_resumable(fingerprint: str) -> str | None:
    """The latest open or halted run with this fingerprint, or None."""
    for info in reversed(list_runs()):
        if info.fingerprint == fingerprint and info.status in ("open", "halted"):
            return info.run_id
    return None
