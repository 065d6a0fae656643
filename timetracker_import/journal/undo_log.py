"""Undo bookkeeping: the worklogs this run created (its ``create`` actions, what undo
deletes) and the undo steps taken so far. The undo decision and its HTTP calls are in
``journal.undo`` and ``app.undo``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from timetracker_import.journal.db import JournalBase, now


@dataclass(frozen=True)
class CreatedRecord:
    """A worklog this run created (what undo needs)."""

    worklog_id: str
    source_row: int
    batch_no: int | None
    created_at: str
    edited_ts: str | None
    body: dict[str, Any] | None


class UndoLogMixin(JournalBase):
    """What undo reads (created worklogs) and writes (its steps)."""

    def created_records(self) -> list[CreatedRecord]:
        """The worklogs this run created, by row."""
        cur = self._conn.execute(
            "SELECT worklog_id, source_row, batch_no, at, edited_after, body_json FROM action"
            " WHERE kind = 'create' AND state = 'done' ORDER BY source_row, worklog_id"
        )
        return [
            CreatedRecord(
                worklog_id=r["worklog_id"],
                source_row=int(r["source_row"]),
                batch_no=r["batch_no"],
                created_at=r["at"],
                edited_ts=r["edited_after"],
                body=None if r["body_json"] is None else json.loads(r["body_json"]),
            )
            for r in cur
        ]

    def record_undo(self, worklog_id: str, action: str, detail: str | None = None) -> None:
        """Record one undo step (``deleted``, ``skipped_edited``, ``already_gone``, ``failed``)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO undo (worklog_id, action, detail, at) VALUES (?,?,?,?)",
                (worklog_id, action, detail, now()),
            )

    def undo_log(self) -> list[tuple[str, str, str | None]]:
        """Every undo step so far: ``(worklog_id, action, detail)`` in order."""
        cur = self._conn.execute("SELECT worklog_id, action, detail FROM undo ORDER BY id")
        return [(r[0], r[1], r[2]) for r in cur]
