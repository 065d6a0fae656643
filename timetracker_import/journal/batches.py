"""Batches: the stored plan, the write-ahead intent to send a batch (``mark_sending``,
committed before the request leaves) and each batch's outcome, with the worklogs it created
(``mark_created``, committed before the ids are reported anywhere)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from timetracker_import.core.planning import PlannedBatch
from timetracker_import.errors import JournalError
from timetracker_import.journal.db import JournalBase, now
from timetracker_import.journal.rows import outcomes_of

# one encoder for every stored body (keys sorted; anything unusual as its str()): msgspec
# writes the ~500 bodies of a batch in ~0.1 ms where json took ~0.9 ms, inside the commit
_BODY_JSON = msgspec.json.Encoder(order="sorted", enc_hook=str)


class BatchesMixin(JournalBase):
    """The planned batches and what became of each."""

    def record_plan(self, batches: Iterable[PlannedBatch]) -> None:
        """Store planned batches (state ``planned``); batches already stored are kept."""
        with self._transaction() as conn:
            for batch in batches:
                self._insert_batch(conn, batch)

    @staticmethod
    def _insert_batch(conn: sqlite3.Connection, batch: PlannedBatch) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO batch (batch_no, source_rows_json, user_id, window_from,"
            " window_to, state, parent) VALUES (?,?,?,?,?, 'planned', ?)",
            (
                batch.batch_no,
                json.dumps(list(batch.source_rows)),
                batch.user_id,
                batch.window_from.isoformat(),
                batch.window_to.isoformat(),
                batch.parent,
            ),
        )

    def _batch_row(self, batch_no: int) -> sqlite3.Row:
        rec: sqlite3.Row | None = self._conn.execute(
            "SELECT * FROM batch WHERE batch_no = ?", (batch_no,)
        ).fetchone()
        if rec is None:
            raise JournalError(f"batch {batch_no} is not part of run {self.run_id}")
        return rec

    @staticmethod
    def _to_batch(rec: sqlite3.Row) -> PlannedBatch:
        return PlannedBatch(
            batch_no=int(rec["batch_no"]),
            source_rows=tuple(int(r) for r in json.loads(rec["source_rows_json"])),
            user_id=rec["user_id"],
            window_from=datetime.fromisoformat(rec["window_from"]),
            window_to=datetime.fromisoformat(rec["window_to"]),
            parent=rec["parent"],
        )

    def batch(self, batch_no: int) -> PlannedBatch:
        """One stored batch."""
        return self._to_batch(self._batch_row(batch_no))

    def batch_state(self, batch_no: int) -> tuple[str, int]:
        """``(state, attempts)`` of a batch."""
        rec = self._batch_row(batch_no)
        return str(rec["state"]), int(rec["attempts"])

    def batches(self, *states: str) -> list[PlannedBatch]:
        """Stored batches in ``states`` (all when none given), by number."""
        if states:
            marks = ",".join("?" * len(states))
            cur = self._conn.execute(
                f"SELECT * FROM batch WHERE state IN ({marks}) ORDER BY batch_no", states
            )
        else:
            cur = self._conn.execute("SELECT * FROM batch ORDER BY batch_no")
        return [self._to_batch(rec) for rec in cur]

    def next_batch_no(self) -> int:
        """A free batch number (for the halves of a split batch)."""
        rec = self._conn.execute("SELECT COALESCE(MAX(batch_no), 0) FROM batch").fetchone()
        return int(rec[0]) + 1

    def _set_batch(self, conn: sqlite3.Connection, batch_no: int, sql: str, *params: Any) -> None:
        self._batch_row(batch_no)
        conn.execute(sql, (*params, batch_no))

    def mark_sending(self, batch_no: int) -> None:
        """Commit the intent to send a batch. Call BEFORE the request leaves."""
        with self._transaction() as conn:
            self._set_batch(
                conn,
                batch_no,
                "UPDATE batch SET state = 'sending', attempts = attempts + 1, sent_at = ?"
                " WHERE batch_no = ?",
                now(),
            )

    def mark_created(
        self,
        batch_no: int | None,
        created: Sequence[tuple[int, str, str | None]],
        bodies: Mapping[int, Mapping[str, Any]] | None = None,
        *,
        result: str = "created",
    ) -> None:
        """Commit created worklogs ``(source_row, worklog_id, editedTimestamp)`` and, with a
        ``batch_no``, the batch as done; all in one transaction. ``bodies`` are the request
        bodies sent per row (kept for undo). Call BEFORE reporting the ids anywhere."""
        bodies = bodies or {}
        created_at = now()
        ids: dict[int, str] = {}
        for row, wid, _ in created:
            if ids.setdefault(int(row), str(wid)) != str(wid):
                raise JournalError(f"row {row} was given two worklog ids")
        with self._transaction() as conn:
            if batch_no is not None:
                self._set_batch(
                    conn,
                    batch_no,
                    "UPDATE batch SET state = 'done', result = ? WHERE batch_no = ?",
                    result,
                )
            # one lookup for the whole batch instead of one SELECT per row
            known = outcomes_of(conn, ids)
            for source_row, worklog_id in ids.items():
                if source_row not in known:
                    raise JournalError(f"row {source_row} is not part of run {self.run_id}")
                outcome, current_id = known[source_row]
                if outcome == "created" and current_id != worklog_id:
                    raise JournalError(f"row {source_row} was already created as {current_id}")
            conn.executemany(
                "UPDATE row SET outcome = 'created', worklog_id = ?, reason = NULL,"
                " stage = NULL, error_code = NULL WHERE source_row = ?",
                [(wid, row) for row, wid in ids.items()],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO action (kind, state, worklog_id, source_row, batch_no,"
                " at, edited_after, body_json) VALUES ('create', 'done', ?,?,?,?,?,?)",
                [
                    (
                        str(worklog_id),
                        int(source_row),
                        batch_no,
                        created_at,
                        edited_ts,
                        None
                        if (body := bodies.get(source_row)) is None
                        else _BODY_JSON.encode(body).decode(),
                    )
                    for source_row, worklog_id, edited_ts in created
                ],
            )

    def created_worklog_ids(self, worklog_ids: Iterable[str]) -> set[str]:
        """Those of ``worklog_ids`` this run created (its ``create`` actions)."""
        listed = json.dumps([str(w) for w in worklog_ids if w])
        with self._lock:
            cur = self._conn.execute(
                "SELECT worklog_id FROM action WHERE kind = 'create' AND worklog_id IN"
                " (SELECT value FROM json_each(?))",
                (listed,),
            )
            return {str(r[0]) for r in cur}

    def mark_ambiguous(self, batch_no: int, result: str | None = None) -> None:
        """The batch may or may not have been applied: read back before re-sending."""
        with self._transaction() as conn:
            self._set_batch(
                conn,
                batch_no,
                "UPDATE batch SET state = 'ambiguous', result = ? WHERE batch_no = ?",
                result,
            )

    def mark_failed(self, batch_no: int, result: str | None = None) -> None:
        """The server refused the batch as a whole (nothing created)."""
        with self._transaction() as conn:
            self._set_batch(
                conn,
                batch_no,
                "UPDATE batch SET state = 'failed', result = ? WHERE batch_no = ?",
                result,
            )

    def mark_planned(self, batch_no: int) -> None:
        """Back to ``planned`` (e.g. a reconciled in-flight batch with nothing created)."""
        with self._transaction() as conn:
            self._set_batch(conn, batch_no, "UPDATE batch SET state = 'planned' WHERE batch_no = ?")

    def mark_split(self, batch_no: int, halves: Iterable[PlannedBatch]) -> None:
        """Replace a refused batch by its halves (stored as ``planned`` with ``parent``)."""
        with self._transaction() as conn:
            self._set_batch(conn, batch_no, "UPDATE batch SET state = 'split' WHERE batch_no = ?")
            for half in halves:
                if half.parent != batch_no:
                    raise JournalError(f"batch {half.batch_no} is not a half of {batch_no}")
                self._insert_batch(conn, half)

    def in_flight_batches(self) -> list[PlannedBatch]:
        """Batches whose outcome is unknown (``sending`` or ``ambiguous``): reconcile these by
        reading back before anything else is sent."""
        return self.batches("sending", "ambiguous")
