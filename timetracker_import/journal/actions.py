"""Actions: every write of a run (create, update, delete) in the journal's ``action`` table.

Write-ahead: an update or delete is inserted as ``sending`` (with the values before the
change, enough to restore or re-create it) in one transaction before any of its requests
leaves, and settled after the answer (``done``, ``failed``: refused or found not applied,
``gone``: the worklog did not exist). A create's intent is its batch's ``sending`` state
(``journal.batches``); the create action is inserted with its worklog id once the batch is
answered (or claimed after an unknown outcome). A run killed in between leaves ``sending``
actions: the next run that meets the same worklogs resolves them against the server and
settles them here, in the journal of the run that sent them (``settle_elsewhere``), so that
``runs undo`` of either run is exact.

Columns: ``body_json`` is what was sent (a create's body, an update's changed fields);
``before_json`` the values before (an update: the changed fields' old values in body terms;
a delete: the worklog as the API returned it); ``edited_after`` the ``editedTimestamp``
after our write; ``undo`` what ``runs undo`` did with the action.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timetracker_import.errors import JournalError
from timetracker_import.journal.db import (
    ACTION_STATES,
    JOURNAL_NAME,
    JournalBase,
    connect,
    immediate_transaction,
    migrate,
    now,
)


@dataclass(frozen=True)
class PlannedWrite:
    """An update or delete to journal before its request (``ActionsMixin.intend``)."""

    kind: str  # update | delete
    worklog_id: str
    before: Mapping[str, Any]
    fields: Mapping[str, Any] | None = None
    source_row: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class ActionRecord:
    """One journaled write."""

    id: int
    kind: str
    source_row: int | None
    key: str | None
    worklog_id: str | None
    batch_no: int | None
    body: dict[str, Any]
    before: dict[str, Any]
    state: str
    edited_after: str | None
    detail: str | None
    undo: str | None


@dataclass(frozen=True)
class Settled:
    """The outcome of one action (``ActionsMixin.settle``)."""

    action_id: int
    state: str
    edited_after: str | None = None
    detail: str | None = None


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _record(r: Any) -> ActionRecord:
    return ActionRecord(
        id=int(r["id"]),
        kind=r["kind"],
        source_row=r["source_row"],
        key=r["key"],
        worklog_id=r["worklog_id"],
        batch_no=r["batch_no"],
        body=_loads(r["body_json"]),
        before=_loads(r["before_json"]),
        state=r["state"],
        edited_after=r["edited_after"],
        detail=r["detail"],
        undo=r["undo"],
    )


def _check_states(outcomes: Sequence[Settled]) -> None:
    for o in outcomes:
        if o.state not in ACTION_STATES:
            raise JournalError(f"unknown action state {o.state!r}")


class ActionsMixin(JournalBase):
    """The ``action`` table of one run."""

    def intend(self, writes: Iterable[PlannedWrite]) -> list[int]:
        """Commit updates and deletes as ``sending`` in one transaction, before any of their
        requests is sent; their action ids in order."""
        ids: list[int] = []
        at = now()
        with self._transaction() as conn:
            for w in writes:
                if w.kind not in ("update", "delete"):
                    raise JournalError(f"intend() takes updates and deletes, not {w.kind!r}")
                cur = conn.execute(
                    "INSERT INTO action (kind, source_row, key, worklog_id, body_json,"
                    " before_json, state, at) VALUES (?,?,?,?,?,?, 'sending', ?)",
                    (
                        w.kind,
                        w.source_row,
                        w.key,
                        w.worklog_id,
                        None if w.fields is None else json.dumps(dict(w.fields), default=str),
                        json.dumps(dict(w.before), default=str),
                        at,
                    ),
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    def settle(self, outcomes: Iterable[Settled]) -> None:
        """Record outcomes of actions of this run in one transaction."""
        rows = list(outcomes)
        _check_states(rows)
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE action SET state = ?, edited_after = ?, detail = ? WHERE id = ?",
                [(o.state, o.edited_after, o.detail, o.action_id) for o in rows],
            )

    def mark_action_undo(self, action_id: int, outcome: str | None) -> None:
        """Record what ``runs undo`` did with an action (``None``: nothing, it may retry)."""
        with self._transaction() as conn:
            conn.execute("UPDATE action SET undo = ? WHERE id = ?", (outcome, action_id))

    def actions(self, *kinds: str) -> list[ActionRecord]:
        """The run's actions (of ``kinds``, all when none given) in the order journaled."""
        sql = "SELECT * FROM action"
        params: tuple[str, ...] = ()
        if kinds:
            sql += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            params = kinds
        cur = self._conn.execute(sql + " ORDER BY id", params)
        return [_record(r) for r in cur]

    def action_counts(self) -> dict[tuple[str, str], int]:
        """``{(kind, state): n}`` over the run's actions."""
        cur = self._conn.execute("SELECT kind, state, COUNT(*) FROM action GROUP BY kind, state")
        return {(r[0], r[1]): int(r[2]) for r in cur}


@dataclass(frozen=True)
class Resolution:
    """What a later run learnt from the server about an open action of an earlier run: the
    ``kind`` (update, delete) on ``worklog_id`` was applied (``done``) or not (``failed``)."""

    kind: str
    worklog_id: str
    state: str
    edited_after: str | None = None
    detail: str | None = None


def settle_elsewhere(directory: Path, resolutions: Sequence[Resolution], resolved_by: str) -> int:
    """Settle the open (``sending``) actions of another run - its journal in ``directory`` -
    that this run resolved against the server: an earlier run killed between a request and
    its answer. Returns how many actions changed (0 when that journal is gone)."""
    for r in resolutions:
        if r.state not in ("done", "failed"):
            raise JournalError(f"a resolution is done or failed, not {r.state!r}")
    path = directory / JOURNAL_NAME
    if not path.is_file() or not resolutions:
        return 0
    conn = connect(path)
    try:
        migrate(conn, directory)
        changed = 0
        with immediate_transaction(conn):
            for r in resolutions:
                cur = conn.execute(
                    "UPDATE action SET state = ?, edited_after = COALESCE(?, edited_after),"
                    " detail = ? WHERE kind = ? AND worklog_id = ? AND state = 'sending'",
                    (
                        r.state,
                        r.edited_after,
                        f"{r.detail or r.state} (resolved by run {resolved_by})",
                        r.kind,
                        r.worklog_id,
                    ),
                )
                changed += cur.rowcount
    finally:
        conn.close()
    return changed
