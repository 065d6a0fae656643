"""The journal's SQLite file: its one schema, how it is opened, and one transaction at a time.

``JournalBase`` holds the connection of one run; the per-concern mixins (``runs``, ``rows``,
``batches``, ``actions``, ``undo_log``) build on it and ``store.Journal`` combines them.

One schema for every kind of run (import, sync, ``worklogs update/delete``): the run record,
one outcome per input row, the planned batches of creates, and one ``action`` table of every
write (create, update, delete) with the values before it, its outcome and what undo did with
it. Journals of earlier versions (a ``created`` table, sync's ``sync_action`` table, the
``changes.sqlite`` of ``worklogs`` runs) are moved into it when opened (``migrate``).
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

from timetracker_import.core.outcomes import RowOutcome
from timetracker_import.errors import JournalError as JournalError  # re-exported
from timetracker_import.errors import storage_error
from timetracker_import.journal.private_files import FILE_MODE

JOURNAL_NAME = "journal.sqlite"
RUN_STATUSES = ("open", "complete", "halted")
ROW_OUTCOMES = tuple(o.value for o in RowOutcome)
BATCH_STATES = ("planned", "sending", "done", "failed", "ambiguous", "split")
ACTION_KINDS = ("create", "update", "delete")
#: sending: the intent is committed, the outcome is not known yet; done: applied; failed:
#: refused or found not applied; gone: the worklog did not exist (404)
ACTION_STATES = ("sending", "done", "failed", "gone")

_ACTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS action (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    source_row INTEGER,
    key TEXT,
    worklog_id TEXT,
    batch_no INTEGER,
    body_json TEXT,
    before_json TEXT,
    state TEXT NOT NULL CHECK (state IN ('sending', 'done', 'failed', 'gone')),
    edited_after TEXT,
    detail TEXT,
    undo TEXT,
    at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS action_created ON action (worklog_id) WHERE kind = 'create';
"""

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
        ('pending', 'created', 'updated', 'unchanged', 'existing', 'conflict', 'rejected',
         'unprocessed', 'skipped')),
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
"""
SCHEMA += (
    _ACTION_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS undo (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    worklog_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN
        ('deleted', 'skipped_edited', 'already_gone', 'failed')),
    detail TEXT,
    at TEXT NOT NULL
);
"""
)


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


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def migrate(conn: sqlite3.Connection, directory: Path) -> None:
    """Move an earlier version's write records into the ``action`` table, once: the
    ``created`` table of imports, sync's ``sync_action`` and the ``changes.sqlite`` of
    ``worklogs update/delete`` runs (kept beside as ``changes.sqlite.migrated``)."""
    if not _has_table(conn, "action"):
        conn.executescript(_ACTION_SCHEMA)
    old_created = _has_table(conn, "created")
    old_sync = _has_table(conn, "sync_action")
    changes = directory / "changes.sqlite"
    if not (old_created or old_sync or changes.is_file()):
        return
    with immediate_transaction(conn):
        if old_created:
            conn.execute(
                "INSERT OR IGNORE INTO action (kind, source_row, worklog_id, batch_no, body_json,"
                " state, edited_after, at) SELECT 'create', source_row, worklog_id, batch_no,"
                " body_json, 'done', edited_ts, created_at FROM created ORDER BY rowid"
            )
            if _has_table(conn, "undo"):
                conn.execute(
                    "UPDATE action SET undo = (SELECT u.action FROM undo u WHERE u.worklog_id ="
                    " action.worklog_id ORDER BY u.id DESC LIMIT 1) WHERE kind = 'create'"
                )
            conn.execute("DROP TABLE created")
        if old_sync:
            conn.execute(
                "INSERT INTO action (kind, source_row, key, worklog_id, body_json, before_json,"
                " state, edited_after, detail, undo, at) SELECT kind, source_row, key,"
                " worklog_id, fields_json, before_json, state, edited_after, detail, undo, at"
                " FROM sync_action ORDER BY id"
            )
            conn.execute("DROP TABLE sync_action")
            conn.execute("DROP TABLE IF EXISTS sync_row")
        if changes.is_file():
            _migrate_changes(conn, changes)
    if changes.is_file():
        changes.rename(changes.with_name("changes.sqlite.migrated"))


def _migrate_changes(conn: sqlite3.Connection, path: Path) -> None:
    import json

    old = sqlite3.connect(path)
    try:
        entries = old.execute(
            "SELECT worklog_id, action, old_json, changes_json, state, detail, undo FROM change"
            " ORDER BY rowid"
        ).fetchall()
    except sqlite3.Error:
        entries = []
    finally:
        old.close()
    for worklog_id, kind, old_json, changes_json, state, detail, undo in entries:
        changes = json.loads(changes_json or "null") or []
        if kind == "update":
            body = {c[0]: c[2] for c in changes}
            before = {c[0]: c[1] for c in changes}
        else:
            body, before = {}, json.loads(old_json)
        conn.execute(
            "INSERT INTO action (kind, worklog_id, body_json, before_json, state, detail, undo,"
            " at) VALUES (?,?,?,?,?,?,?,?)",
            (
                kind,
                worklog_id,
                json.dumps(body),
                json.dumps(before),
                state if state in ACTION_STATES else "sending",
                detail,
                undo,
                now(),
            ),
        )


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
