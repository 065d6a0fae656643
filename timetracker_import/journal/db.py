"""The journal's SQLite file: its one schema, how it is opened, and one transaction at a time.

``JournalBase`` holds the connection of one run; the per-concern mixins (``runs``, ``rows``,
``batches``, ``undo_log``) build on it and ``store.Journal`` combines them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from timetracker_import.errors import storage_error
from timetracker_import.journal.private_files import FILE_MODE

JOURNAL_NAME = "journal.sqlite"
RUN_STATUSES = ("open", "complete", "halted")
ROW_OUTCOMES = ("pending", "created", "existing", "rejected", "unprocessed", "skipped")
BATCH_STATES = ("planned", "sending", "done", "failed", "ambiguous", "split")

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    input_path TEXT,
    mapping_name TEXT,
    mapping_path TEXT,
    options_json TEXT NOT NULL,
    base_url TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'complete', 'halted')),
    counts_json TEXT
);
CREATE TABLE IF NOT EXISTS row (
    source_row INTEGER PRIMARY KEY,
    outcome TEXT NOT NULL CHECK (outcome IN
        ('pending', 'created', 'existing', 'rejected', 'unprocessed', 'skipped')),
    worklog_id TEXT,
    stage TEXT,
    column_name TEXT,
    value TEXT,
    reason TEXT,
    error_code TEXT,
    key_json TEXT
);
CREATE TABLE IF NOT EXISTS batch (
    batch_no INTEGER PRIMARY KEY,
    source_rows_json TEXT NOT NULL,
    user_id TEXT,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('planned', 'sending', 'done', 'failed', 'ambiguous', 'split')),
    attempts INTEGER NOT NULL DEFAULT 0,
    parent INTEGER REFERENCES batch (batch_no),
    sent_at TEXT,
    result TEXT
);
CREATE TABLE IF NOT EXISTS created (
    worklog_id TEXT PRIMARY KEY,
    source_row INTEGER NOT NULL REFERENCES row (source_row),
    batch_no INTEGER,
    created_at TEXT NOT NULL,
    edited_ts TEXT,
    body_json TEXT
);
CREATE TABLE IF NOT EXISTS undo (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    worklog_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN
        ('deleted', 'skipped_edited', 'already_gone', 'failed')),
    detail TEXT,
    at TEXT NOT NULL
);
"""


class JournalError(Exception):
    """Misuse of the journal (unknown run or batch, overwriting a created row)."""


@contextlib.contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception: one atomic change
    (the journal, the sync actions and the ledger all write this way)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # a full disk may have ended it already
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:  # the disk is full, failing or read-only
        raise storage_error(exc, database_path(conn)) from None


def database_path(conn: sqlite3.Connection) -> str | None:
    """The file of a connection's main database (for messages)."""
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return None
    return str(row[2]) if row is not None and row[2] else None


def now() -> str:
    """The current UTC time as stored in the journal."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open a journal file for reading and writing (WAL, synchronous FULL, foreign keys)."""
    # autocommit mode: every write goes through _transaction(), which commits explicitly
    # check_same_thread=False: writes may come from a worker thread, serialised by _lock
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed intent survives a power cut, not only a process crash
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.OperationalError as exc:  # cannot open or create it, disk full
        raise storage_error(exc, path) from None
    return conn


class JournalBase:
    """The connection of one run's journal, its lock and its transactions."""

    def __init__(self, run_id: str, directory: Path, conn: sqlite3.Connection) -> None:
        self.run_id = run_id
        self.directory = directory
        self._conn = conn
        # The poster commits from a worker thread (so an fsync never stalls the event loop);
        # one transaction at a time on the shared connection.
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection (uncommitted work is rolled back)."""
        with self._lock:  # never under a transaction still running in a worker thread
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _secure_files(self) -> None:
        # SQLite creates -wal/-shm with the database's mode; make sure anyway
        for path in self.directory.iterdir():
            if path.is_file():
                os.chmod(path, FILE_MODE)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._conn) as conn:
            yield conn
