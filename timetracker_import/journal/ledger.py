"""The sync ledger: per scope, source key -> the worklog sync created or adopted.

One SQLite file (mode 0600, rollback journal so that it is a single file a CI cache can keep,
every change in one transaction). Default ``<state dir>/ledger.sqlite``; ``--ledger PATH``
elsewhere. A *scope* is (server + collection, *source*, key columns): a source owns the
worklogs it wrote or adopted, and no other source's sync updates or deletes them
(``foreign``). Ledgers of earlier versions named the mapping instead of a source; such a
scope reads as the source ``mapping NAME`` / ``preset NAME``. The token is never stored:
the server is kept as ``safe_base_url``.

Besides the content last written and the ``editedTimestamp`` after that write, an entry may
carry ``pending`` (the fields of a PATCH sent, outcome not yet recorded) or the state
``deleting`` (a DELETE sent): a crash between request and answer is resolved on the next run
by comparing the server with what was sent (``core.sync_plan``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from timetracker_import.core.sync_plan import LedgerEntry
from timetracker_import.errors import UsageError
from timetracker_import.journal.db import immediate_transaction
from timetracker_import.journal.private_files import ensure_private_file
from timetracker_import.journal.runs import runs_root, safe_base_url

LEDGER_NAME = "ledger.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    worklog_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    content_json TEXT NOT NULL,
    edited_ts TEXT,
    pending_json TEXT,
    state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'deleting')),
    run_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS entry_worklog ON entry (worklog_id);
"""


class LedgerError(UsageError):
    """The ledger file cannot be used (not a ledger, unreadable): a one-line error, exit 2."""


def _check_is_ledger(path: Path, hint: str) -> None:
    """LedgerError unless ``path`` is an SQLite file with the ledger's table (opened read
    only, so nothing about a wrong file changes)."""
    # A run killed inside a transaction leaves a hot journal beside the file; only a
    # writable connection can roll it back (a read-only one fails with "attempt to write a
    # readonly database"). A file with an SQLite journal beside it is an SQLite database.
    hot = Path(f"{path}-journal").exists()
    mode = "rw" if hot else "ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=5)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entry'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path} is not a sync ledger ({exc})", hint=hint) from None
    if found is None and path.stat().st_size:
        raise LedgerError(f"{path} is not a sync ledger (no ledger table)", hint=hint)


def default_ledger_path() -> Path:
    """``ledger.sqlite`` in the state directory (beside ``runs/``)."""
    return runs_root().parent / LEDGER_NAME


def scope_of(server: str | None, source: str, key: str) -> str:
    """The scope text of (server, source name, key spec), e.g.
    ``{"key":"slot","server":"https://x/api/rest","source":"hr-hours.csv"}``."""
    return json.dumps(
        {"server": _server(server), "source": source, "key": key},
        sort_keys=True,
        separators=(",", ":"),
    )


def _server(server: str | None) -> str:
    return (safe_base_url(server) or "").rstrip("/").lower()


def scope_parts(scope: str) -> dict[str, str]:
    """(server, source, key) of a scope text; a scope of an earlier version (a mapping name,
    no source) reads as the source named after its mapping."""
    data = {str(k): str(v) for k, v in json.loads(scope).items()}
    if "source" not in data:
        data["source"] = data.pop("mapping", "")
    return data


@dataclass(frozen=True)
class Foreign:
    """Other sources' entries on the same server: the worklogs they own whatever their key
    spec (id -> source), and their keys under the same key spec (key -> [(user id, source)])."""

    worklogs: dict[str, str]
    keys: dict[str, list[tuple[str, str]]]

    @property
    def sources(self) -> list[str]:
        return sorted(set(self.worklogs.values()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ScopeInfo:
    """One scope of a ledger file and how many keys it holds."""

    scope: str
    entries: int
    updated_at: str

    def parts(self) -> dict[str, str]:
        return scope_parts(self.scope)


class Ledger:
    """An open ledger file (a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        #: scope -> its source's scopes under other key specs (``settle`` reads them once)
        self._siblings_of: dict[str, list[str]] = {}
        hint = "give --ledger the path of a sync ledger, or of a new file to create"
        if self.path.exists():
            # look before touching: a file that is no ledger keeps its mode and content
            _check_is_ledger(self.path, hint)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ensure_private_file(self.path)
        except OSError as exc:
            raise LedgerError(
                f"cannot use {self.path} as the sync ledger: {exc.strerror or exc}", hint=hint
            ) from None
        try:
            # check_same_thread=False: sync commits its outcomes from a worker thread (one
            # at a time), so that an fsync never stalls the requests in flight
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._lock = threading.RLock()
            self._conn.execute("PRAGMA journal_mode=DELETE")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a sync ledger ({exc})", hint=hint) from None

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change (all of it or nothing), one at a time: a sync records the
        creates' entries and the updates' and deletes' outcomes from worker threads at once,
        on this one connection."""
        with self._lock, immediate_transaction(self._conn) as conn:
            yield conn

    # -- reading -------------------------------------------------------------------------

    def entries(self, scope: str) -> dict[str, LedgerEntry]:
        """Every entry of ``scope`` by key, with those of an earlier version's scope text of
        the same source (see ``continue_scope``; an entry under ``scope`` itself wins)."""
        same = [
            s.scope for s in self.scopes() if s.scope != scope and s.parts() == scope_parts(scope)
        ] + [scope]
        cur = self._conn.execute(
            "SELECT key, worklog_id, user_id, timestamp, content_json, edited_ts, pending_json,"
            f" state, run_id FROM entry WHERE scope IN ({','.join('?' * len(same))})"
            " ORDER BY scope = ?",
            (*same, scope),
        )
        return {
            r[0]: LedgerEntry(
                key=r[0],
                worklog_id=r[1],
                user_id=r[2],
                timestamp=r[3],
                content=json.loads(r[4]),
                edited_ts=r[5],
                pending=None if r[6] is None else json.loads(r[6]),
                state=r[7],
                run_id=r[8],
            )
            for r in cur
        }

    def foreign(self, scope: str) -> Foreign:
        """The entries of the other sources on ``scope``'s server: the worklogs they own
        whatever their key spec (a feed keyed by an id column owns its worklogs for a feed
        keyed by the slot too), and their keys where the key spec is ``scope``'s."""
        mine = scope_parts(scope)
        worklogs: dict[str, str] = {}
        keys: dict[str, list[tuple[str, str]]] = {}
        for other in self.scopes():
            parts = other.parts()
            if parts.get("server") != mine["server"] or parts.get("source") == mine["source"]:
                continue  # another server, this source (any key spec, an earlier version's text)
            same_keys = parts.get("key") == mine["key"]
            cur = self._conn.execute(
                "SELECT key, worklog_id, user_id FROM entry WHERE scope = ?", (other.scope,)
            )
            for key, worklog_id, user_id in cur:
                worklogs[worklog_id] = parts["source"]
                if same_keys:
                    keys.setdefault(key, []).append((str(user_id).lower(), parts["source"]))
        return Foreign(worklogs, keys)

    def elsewhere(self, scope: str) -> dict[str, str]:
        """``scope``'s source and key spec on other servers (the other organizations of a
        feed routed by its organization column): server -> that scope."""
        mine = scope_parts(scope)
        found: dict[str, str] = {}
        for other in self.scopes():
            parts = other.parts()
            if parts.get("server") == mine["server"]:
                continue
            if (parts.get("source"), parts.get("key")) == (mine["source"], mine["key"]):
                found[parts.get("server", "")] = other.scope
        return found

    def scopes(self) -> list[ScopeInfo]:
        """The scopes in this file, with their entry counts."""
        cur = self._conn.execute(
            "SELECT scope, COUNT(*), MAX(updated_at) FROM entry GROUP BY scope ORDER BY scope"
        )
        return [ScopeInfo(r[0], int(r[1]), r[2]) for r in cur]

    def rows(self, scope: str | None = None) -> list[dict[str, Any]]:
        """Every entry as a flat dict (for ``ledger export``), ordered by scope and key."""
        sql = (
            "SELECT scope, key, worklog_id, user_id, timestamp, content_json, edited_ts,"
            " pending_json, state, run_id, updated_at FROM entry"
        )
        params: tuple[Any, ...] = ()
        if scope is not None:
            sql += " WHERE scope = ?"
            params = (scope,)
        out = []
        for r in self._conn.execute(sql + " ORDER BY scope, key", params):
            out.append(
                {
                    "scope": r[0],
                    "key": r[1],
                    "worklog_id": r[2],
                    "user_id": r[3],
                    "timestamp": r[4],
                    "content": json.loads(r[5]),
                    "edited_ts": r[6],
                    "pending": None if r[7] is None else json.loads(r[7]),
                    "state": r[8],
                    "run_id": r[9],
                    "updated_at": r[10],
                }
            )
        return out

    # -- writing -------------------------------------------------------------------------

    def continue_scope(self, scope: str) -> int:
        """Carry the entries of an earlier version's scope text that names the same server,
        source and key spec (0.1 wrote ``mapping`` where ``source`` is now) over to
        ``scope``, so ``--source <that name>`` continues the feed; returns how many moved.
        An entry already under ``scope`` wins over the old one of the same key."""
        self._siblings_of.clear()  # scope texts change
        mine = scope_parts(scope)
        moved = 0
        for other in self.scopes():
            if other.scope == scope or other.parts() != mine:
                continue
            with self.transaction() as conn:
                moved += conn.execute(
                    "UPDATE OR IGNORE entry SET scope = ? WHERE scope = ?", (scope, other.scope)
                ).rowcount
                conn.execute("DELETE FROM entry WHERE scope = ?", (other.scope,))
        return moved

    def upsert(self, scope: str, entries: Iterable[LedgerEntry], run_id: str | None) -> None:
        """Record (or replace) entries, in one transaction."""
        with self.transaction() as conn:
            self._upsert(conn, scope, entries, run_id)

    def intend(
        self,
        scope: str,
        *,
        entries: Iterable[LedgerEntry] = (),
        pending: Mapping[str, Mapping[str, Any]] | None = None,
        deleting: Iterable[str] = (),
        run_id: str | None = None,
    ) -> None:
        """Before the writes, in one transaction: the entries adopted for an update, the
        fields each PATCH will send (``pending`` by key) and the keys about to be deleted."""
        now = _now()
        with self.transaction() as conn:
            self._upsert(conn, scope, entries, run_id)
            conn.executemany(
                "UPDATE entry SET pending_json = ?, run_id = ?, updated_at = ?"
                " WHERE scope = ? AND key = ?",
                [
                    (json.dumps(dict(f), default=str), run_id, now, scope, k)
                    for k, f in (pending or {}).items()
                ],
            )
            conn.executemany(
                "UPDATE entry SET state = 'deleting', run_id = ?, updated_at = ?"
                " WHERE scope = ? AND key = ?",
                [(run_id, now, scope, k) for k in deleting],
            )

    def settle(
        self,
        scope: str,
        *,
        entries: Iterable[LedgerEntry] = (),
        removed: Iterable[str] = (),
        not_sent: Iterable[str] = (),
        run_id: str | None = None,
    ) -> None:
        """After the writes, in one transaction: entries as written (``pending`` cleared),
        keys whose worklog is deleted, and keys whose write was refused (pending cleared,
        state back to ``ok``)."""
        now = _now()
        entries, removed = list(entries), list(removed)
        siblings = self._sibling_scopes(scope)
        with self.transaction() as conn:
            self._upsert(conn, scope, entries, run_id)
            if siblings:
                gone = [
                    row[0]
                    for k in removed
                    for row in conn.execute(
                        "SELECT worklog_id FROM entry WHERE scope = ? AND key = ?", (scope, k)
                    )
                ]
                self._follow(conn, siblings, entries, gone)
            conn.executemany(
                "DELETE FROM entry WHERE scope = ? AND key = ?", [(scope, k) for k in removed]
            )
            conn.executemany(
                "UPDATE entry SET pending_json = NULL, state = 'ok', updated_at = ?"
                " WHERE scope = ? AND key = ?",
                [(now, scope, k) for k in not_sent],
            )

    def _sibling_scopes(self, scope: str) -> list[str]:
        """``_siblings`` of ``scope``, read once: a run (a sync, an undo) holds the ledger's
        lock, so no other writer adds a scope meanwhile."""
        if scope not in self._siblings_of:
            self._siblings_of[scope] = self._siblings(scope)
        return self._siblings_of[scope]

    def _siblings(self, scope: str) -> list[str]:
        """The scopes of ``scope``'s source and server under other key columns (the same
        feed exported with an id column one week and without it the next)."""

        def parts(text: str) -> tuple[str | None, ...] | None:
            try:
                found = scope_parts(text)
            except ValueError:  # not a scope text sync writes
                return None
            return found.get("server"), found.get("source"), found.get("key")

        mine = parts(scope)
        if mine is None:
            return []
        found = []
        for (other,) in self._conn.execute("SELECT DISTINCT scope FROM entry"):
            theirs = parts(other)
            if theirs is not None and theirs[:2] == mine[:2] and theirs[2] != mine[2]:
                found.append(other)
        return found

    @staticmethod
    def _follow(
        conn: sqlite3.Connection,
        siblings: list[str],
        written: list[LedgerEntry],
        gone: list[str],
    ) -> None:
        """What this source wrote under one scope, also in its ``siblings``' entries of the
        same worklogs: the values and ``editedTimestamp`` written, and a deleted worklog
        (``gone``: worklog ids) forgotten - else the sibling's next run calls this source's
        own write an edit (or a delete) made in 7pace."""
        marks = ",".join("?" * len(siblings))
        conn.executemany(
            f"DELETE FROM entry WHERE scope IN ({marks}) AND worklog_id = ?",
            [(*siblings, w) for w in gone],
        )
        conn.executemany(
            "UPDATE entry SET user_id = ?, timestamp = ?, content_json = ?, edited_ts = ?"
            f" WHERE scope IN ({marks}) AND worklog_id = ? AND pending_json IS NULL",
            [
                (
                    e.user_id.lower(),
                    e.timestamp,
                    json.dumps(dict(e.content), sort_keys=True, default=str),
                    e.edited_ts,
                    *siblings,
                    e.worklog_id,
                )
                for e in written
                if e.pending is None
            ],
        )

    @staticmethod
    def _upsert(
        conn: sqlite3.Connection, scope: str, entries: Iterable[LedgerEntry], run_id: str | None
    ) -> None:
        now = _now()
        conn.executemany(
            "INSERT OR REPLACE INTO entry (scope, key, worklog_id, user_id, timestamp,"
            " content_json, edited_ts, pending_json, state, run_id, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    scope,
                    e.key,
                    e.worklog_id,
                    e.user_id.lower(),
                    e.timestamp,
                    json.dumps(dict(e.content), sort_keys=True, default=str),
                    e.edited_ts,
                    None if e.pending is None else json.dumps(dict(e.pending), default=str),
                    e.state,
                    run_id,
                    now,
                )
                for e in entries
            ],
        )

    def remove(self, scope: str, keys: Iterable[str]) -> None:
        """Forget keys (their worklogs are deleted)."""
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM entry WHERE scope = ? AND key = ?", [(scope, k) for k in keys]
            )

    def remove_worklogs(self, scope: str, worklog_ids: Iterable[str]) -> None:
        """Forget the entries that name these worklogs (undo deleted them), in the source's
        scopes under other key columns too, as ``settle`` does for a delete."""
        gone = list(worklog_ids)
        siblings = self._sibling_scopes(scope)
        with self.transaction() as conn:
            if siblings:
                self._follow(conn, siblings, [], gone)
            conn.executemany(
                "DELETE FROM entry WHERE scope = ? AND worklog_id = ?",
                [(scope, w) for w in gone],
            )
