"""Sync's PATCH and DELETE actions in the run's journal database (``journal.sqlite``).

Write-ahead like the import's batches: ``intend`` commits the action (with the values before
the change, enough to restore or re-create) before its request leaves; ``settle`` records the
outcome after. A run killed in between leaves the action ``sending``: the next sync reads the
worklog back (the ledger carries the same intent, see ``journal.ledger``), and ``runs undo``
treats it as possibly applied. Creates go through the import's batch journal
(``journal.store``); this module only adds its own tables (CREATE TABLE IF NOT EXISTS).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timetracker_import.journal.db import JOURNAL_NAME, immediate_transaction, now

ACTION_STATES = ("sending", "done", "failed", "gone")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_action (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('update', 'delete')),
    source_row INTEGER,
    key TEXT,
    worklog_id TEXT NOT NULL,
    fields_json TEXT,
    before_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'done', 'failed', 'gone')),
    edited_after TEXT,
    detail TEXT,
    undo TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_row (
    source_row INTEGER PRIMARY KEY,
    key TEXT,
    outcome TEXT NOT NULL,
    worklog_id TEXT,
    detail TEXT
);
"""


@dataclass(frozen=True)
class PlannedAction:
    """An action to journal before its request (``ActionLog.intend_many``)."""

    kind: str
    worklog_id: str
    before: Mapping[str, Any]
    fields: Mapping[str, Any] | None = None
    source_row: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class ActionRecord:
    """One journaled PATCH or DELETE."""

    id: int
    kind: str
    source_row: int | None
    key: str | None
    worklog_id: str
    fields: dict[str, Any]
    before: dict[str, Any]
    state: str
    edited_after: str | None
    detail: str | None
    undo: str | None


class ActionLog:
    """The sync tables of one run's journal database."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / JOURNAL_NAME
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ActionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._conn) as conn:
            yield conn

    def intend_many(self, actions: Iterable[PlannedAction]) -> list[int]:
        """Commit several actions in one transaction before any of their requests is sent;
        returns their ids in order."""
        ids = []
        with self._transaction() as conn:
            for a in actions:
                cur = conn.execute(
                    "INSERT INTO sync_action (kind, source_row, key, worklog_id, fields_json,"
                    " before_json, state, at) VALUES (?,?,?,?,?,?, 'sending', ?)",
                    (a.kind, a.source_row, a.key, a.worklog_id,
                     None if a.fields is None else json.dumps(dict(a.fields), default=str),
                     json.dumps(dict(a.before), default=str), now()),
                )  # fmt: skip
                ids.append(int(cur.lastrowid or 0))
        return ids

    def settle_many(self, outcomes: Iterable[tuple[int, str, str | None, str | None]]) -> None:
        """Record ``(action_id, state, edited_after, detail)`` outcomes in one transaction."""
        rows = list(outcomes)
        for _, state, _, _ in rows:
            if state not in ACTION_STATES:
                raise ValueError(f"unknown action state {state!r}")
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE sync_action SET state = ?, edited_after = ?, detail = ? WHERE id = ?",
                [(state, edited, detail, aid) for aid, state, edited, detail in rows],
            )

    def mark_undo(self, action_id: int, outcome: str | None) -> None:
        """Record what ``runs undo`` did with an action."""
        with self._transaction() as conn:
            conn.execute("UPDATE sync_action SET undo = ? WHERE id = ?", (outcome, action_id))

    def actions(self) -> list[ActionRecord]:
        """Every action in the order journaled."""
        cur = self._conn.execute(
            "SELECT id, kind, source_row, key, worklog_id, fields_json, before_json, state,"
            " edited_after, detail, undo FROM sync_action ORDER BY id"
        )
        return [
            ActionRecord(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                json.loads(r[5] or "{}"),
                json.loads(r[6]),
                r[7],
                r[8],
                r[9],
                r[10],
            )  # fmt: skip
            for r in cur
        ]

    def record_rows(
        self, rows: Iterable[tuple[int, str | None, str, str | None, str | None]]
    ) -> None:
        """``(source_row, key, outcome, worklog_id, detail)`` of every row, at the end."""
        with self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO sync_row VALUES (?,?,?,?,?)", list(rows))
