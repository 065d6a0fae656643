"""Rows: every input row registered as pending, then given exactly one outcome
(``core.outcomes.RowOutcome``: created, updated, unchanged, existing, conflict, rejected with
a reason, skipped, unprocessed); the counts and ``created.csv``."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from timetracker_import.core.outcomes import Counts, RowOutcome
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.worklog_key import WorklogKey
from timetracker_import.errors import JournalError
from timetracker_import.journal.db import JournalBase
from timetracker_import.journal.private_files import write_private_stream

CREATED_CSV = "created.csv"
_IN_CHUNK = 500  # host parameters per "IN (...)" query (well under SQLite's limit)


def outcomes_of(conn: sqlite3.Connection, rows: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """``{source_row: (outcome, worklog_id)}`` for the given rows that exist."""
    wanted = list(rows)
    found: dict[int, tuple[str, str | None]] = {}
    for i in range(0, len(wanted), _IN_CHUNK):
        part = wanted[i : i + _IN_CHUNK]
        marks = ",".join("?" * len(part))
        cur = conn.execute(
            f"SELECT source_row, outcome, worklog_id FROM row WHERE source_row IN ({marks})",
            part,
        )
        found.update((int(r[0]), (r[1], r[2])) for r in cur)
    return found


def count_outcomes(conn: sqlite3.Connection) -> Counts:
    """Counts of rows by outcome (pending rows count as unprocessed), of batches by state,
    and of the worklogs deleted (``delete`` actions done)."""
    counts = Counts()
    for outcome, n in conn.execute("SELECT outcome, COUNT(*) FROM row GROUP BY outcome"):
        counts.rows += n
        counts.add(RowOutcome(outcome), n)
    states = dict(conn.execute("SELECT state, COUNT(*) FROM batch GROUP BY state").fetchall())
    counts.planned_batches = sum(states.values()) - states.get("split", 0)
    counts.posted_batches = states.get("done", 0)
    counts.failed_batches = states.get("failed", 0)
    counts.split_batches = states.get("split", 0)
    deleted = conn.execute(
        "SELECT COUNT(*) FROM action WHERE kind = 'delete' AND state = 'done'"
    ).fetchone()
    counts.deleted = int(deleted[0])
    return counts


class RowsMixin(JournalBase):
    """The outcome of every input row."""

    def record_rows(
        self, source_rows: Iterable[int], keys: Mapping[int, WorklogKey] | None = None
    ) -> None:
        """Register input rows as pending (rows already known keep their outcome; a key given
        again is updated)."""
        keys = keys or {}
        if not keys:
            # rows only: one statement over a JSON array (~3x faster than executemany for
            # 20k rows); OR IGNORE keeps the outcome of rows already known, as below
            listed = json.dumps([int(r) for r in source_rows])
            with self._transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO row (source_row, outcome)"
                    " SELECT value, 'pending' FROM json_each(?)",
                    (listed,),
                )
            return
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO row (source_row, outcome, key_json) VALUES (?, 'pending', ?)"
                " ON CONFLICT (source_row) DO UPDATE SET"
                " key_json = COALESCE(excluded.key_json, row.key_json)",
                (
                    (int(r), None if r not in keys else json.dumps(keys[r].to_json()))
                    for r in source_rows
                ),
            )

    def _set_outcome(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]], sql: str
    ) -> None:
        params = list(rows)
        known = outcomes_of(conn, (int(p[-1]) for p in params))
        for p in params:
            row = int(p[-1])
            if row not in known:
                raise JournalError(f"row {row} is not part of run {self.run_id}")
            if known[row][0] == "created":
                raise JournalError(f"row {row} was already created; its outcome cannot change")
        conn.executemany(sql, params)

    def mark_rejections(self, rejections: Iterable[Rejection]) -> None:
        """Record rejected rows (one record per row; the last one given wins)."""
        with self._transaction() as conn:
            self._set_outcome(
                conn,
                (
                    (r.stage, r.column, r.value, r.reason, r.error_code, r.source_row)
                    for r in rejections
                ),
                "UPDATE row SET outcome = 'rejected', worklog_id = NULL, stage = ?,"
                " column_name = ?, value = ?, reason = ?, error_code = ? WHERE source_row = ?",
            )

    def mark_rejected(
        self, rows: Iterable[int], stage: str, reason: str, error_code: str | None = None
    ) -> None:
        """Record several rows rejected for one reason (e.g. a batch refused by the server)."""
        self.mark_rejections(Rejection(int(r), stage, None, None, reason, error_code) for r in rows)

    def mark_existing(self, rows_to_ids: Mapping[int, str]) -> None:
        """Record rows that already exist on the server, with the existing worklog id."""
        with self._transaction() as conn:
            self._set_outcome(
                conn,
                ((str(wid), int(row)) for row, wid in rows_to_ids.items()),
                "UPDATE row SET outcome = 'existing', worklog_id = ?, reason = NULL"
                " WHERE source_row = ?",
            )

    def mark_settled(
        self,
        outcome: RowOutcome,
        rows_to_ids: Mapping[int, str | None],
        reason: str | None = None,
    ) -> None:
        """Record rows a sync settled (``updated``, ``unchanged``, ``conflict``), each with
        the worklog it holds for the row (``reason``: why, for a conflict)."""
        if outcome not in (
            RowOutcome.UPDATED,
            RowOutcome.UNCHANGED,
            RowOutcome.CONFLICT,
            RowOutcome.EXISTING,
        ):
            raise JournalError(f"mark_settled() does not record {outcome!r} rows")
        with self._transaction() as conn:
            self._set_outcome(
                conn,
                ((outcome.value, wid, reason, int(row)) for row, wid in rows_to_ids.items()),
                "UPDATE row SET outcome = ?, worklog_id = ?, reason = ? WHERE source_row = ?",
            )

    def mark_skipped(self, rows: Iterable[int], reason: str | None = None) -> None:
        """Record rows left out on purpose (the mapping's filter)."""
        with self._transaction() as conn:
            self._set_outcome(
                conn,
                ((reason, int(r)) for r in rows),
                "UPDATE row SET outcome = 'skipped', reason = ? WHERE source_row = ?",
            )

    def mark_unprocessed(self, rows: Iterable[int]) -> None:
        """Record rows not attempted in this run (still resumable)."""
        with self._transaction() as conn:
            self._set_outcome(
                conn,
                ((int(r),) for r in rows),
                "UPDATE row SET outcome = 'unprocessed' WHERE source_row = ?",
            )

    def pending_rows(self) -> list[int]:
        """Rows without a final outcome (pending or unprocessed), in row order."""
        cur = self._conn.execute(
            "SELECT source_row FROM row WHERE outcome IN ('pending', 'unprocessed')"
            " ORDER BY source_row"
        )
        return [int(r[0]) for r in cur]

    def row_outcomes(self) -> dict[int, tuple[str, str | None]]:
        """``{source_row: (outcome, worklog_id)}`` for every row."""
        cur = self._conn.execute("SELECT source_row, outcome, worklog_id FROM row")
        return {int(r[0]): (r[1], r[2]) for r in cur}

    def row_keys(self) -> dict[int, WorklogKey]:
        """The natural keys recorded with ``record_rows``."""
        cur = self._conn.execute("SELECT source_row, key_json FROM row WHERE key_json IS NOT NULL")
        return {int(r[0]): WorklogKey.from_json(json.loads(r[1])) for r in cur}

    def rejections(self) -> list[Rejection]:
        """Every rejected row, in row order (for the rejected file)."""
        cur = self._conn.execute(
            "SELECT source_row, stage, column_name, value, reason, error_code FROM row"
            " WHERE outcome = 'rejected' ORDER BY source_row"
        )
        return [Rejection(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in cur]

    def accounting(self) -> Counts:
        """Counts from the journal (pending rows count as unprocessed)."""
        return count_outcomes(self._conn)

    def write_created_csv(self) -> Path:
        """Write ``created.csv`` (source_row, worklog_id) into the run directory (0600)."""

        def write(handle: TextIO) -> None:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["source_row", "worklog_id"])
            writer.writerows(
                self._conn.execute(
                    "SELECT source_row, worklog_id FROM row WHERE outcome = 'created'"
                    " ORDER BY source_row"
                )
            )

        return write_private_stream(self.directory / CREATED_CSV, write)
