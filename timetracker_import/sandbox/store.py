"""SQLite state of the sandbox: users, activity types, worklogs, approval weeks.

One connection, used only from the event loop's thread. Tokens never reach the database
(they live in memory, from the seed), so a sandbox db file holds no secret.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from timetracker_import.sandbox.seed import Seed, SeedActivityType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, vsts_id TEXT NOT NULL, email TEXT NOT NULL, unique_name TEXT NOT NULL,
    name TEXT NOT NULL, role TEXT NOT NULL, approval_manager INTEGER NOT NULL,
    time_zone INTEGER NOT NULL, default_activity_type_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_types (id TEXT PRIMARY KEY, name TEXT NOT NULL, color TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS worklogs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, added_by TEXT NOT NULL, edited_by TEXT NOT NULL,
    ts_text TEXT NOT NULL, ts_key INTEGER NOT NULL, length INTEGER NOT NULL, billable INTEGER,
    work_item_id INTEGER, comment TEXT, activity_type_id TEXT NOT NULL,
    created_key INTEGER NOT NULL, edited_key INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS worklogs_order ON worklogs (ts_key, id);
CREATE INDEX IF NOT EXISTS worklogs_user_order ON worklogs (user_id, ts_key, id);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, week_start TEXT NOT NULL, state INTEGER NOT NULL,
    manager_id TEXT, approved_by TEXT, modified TEXT NOT NULL, submitted TEXT, approved TEXT,
    UNIQUE (user_id, week_start)
);
"""

WORKLOG_COLUMNS = (
    "id, user_id, added_by, edited_by, ts_text, ts_key, length, billable, work_item_id, "
    "comment, activity_type_id, created_key, edited_key"
)

_INSERT_WORKLOG = f"INSERT INTO worklogs ({WORKLOG_COLUMNS}) VALUES ({', '.join('?' * 13)})"


@dataclass(frozen=True)
class UserRow:
    id: str
    vsts_id: str
    email: str
    unique_name: str
    name: str
    role: str
    approval_manager: bool
    time_zone: int
    default_activity_type_id: str


@dataclass(frozen=True)
class WorklogRow:
    id: str
    user_id: str
    added_by: str
    edited_by: str
    ts_text: str
    ts_key: int
    length: int
    billable: int | None
    work_item_id: int | None
    comment: str | None
    activity_type_id: str
    created_key: int
    edited_key: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.user_id,
            self.added_by,
            self.edited_by,
            self.ts_text,
            self.ts_key,
            self.length,
            self.billable,
            self.work_item_id,
            self.comment,
            self.activity_type_id,
            self.created_key,
            self.edited_key,
        )


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    user_id: str
    week_start: date
    state: int
    manager_id: str | None
    approved_by: str | None
    modified: str
    submitted: str | None
    approved: str | None


@dataclass(frozen=True)
class WorklogFilter:
    """Strict bounds in microseconds since the epoch (None: unbounded)."""

    user_id: str | None = None
    from_key: int | None = None
    to_key: int | None = None
    from_created: int | None = None
    to_created: int | None = None
    work_item_ids: Sequence[int] | None = None


def _seed_stamp(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour)).strftime("%Y-%m-%dT%H:%M:%S")


class Store:
    """All sandbox state behind a small API; one transaction per write call."""

    def __init__(self, db: str | Path, seed: Seed) -> None:
        self.path = str(db)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            # checkpoint every ~40 MB of WAL instead of ~4 MB: a 20k-worklog import paid
            # ~35 ms of checkpoints inside batch commits (11 ms stalls of a whole wave)
            self.conn.execute("PRAGMA wal_autocheckpoint=10000")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.users: dict[str, UserRow] = {}
        self.activity_types: dict[str, SeedActivityType] = {}
        self.apply_seed(seed)

    def close(self) -> None:
        self.conn.close()

    # -- seeding ----------------------------------------------------------------------------
    def apply_seed(self, seed: Seed, *, wipe: bool = False) -> None:
        """Write the seed's users, activity types and approval weeks (seed wins on conflicts).

        Worklogs in an existing db file are kept unless ``wipe``.
        """
        c = self.conn
        c.execute("BEGIN")
        if wipe:
            for table in ("worklogs", "approvals", "users", "activity_types"):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        c.executemany(
            "INSERT OR REPLACE INTO activity_types (id, name, color) VALUES (?, ?, ?)",
            [(a.id, a.name, a.color) for a in seed.activity_types],
        )
        c.executemany(
            "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    u.id,
                    u.vsts_id,
                    u.email,
                    u.unique_name,
                    u.name,
                    u.role,
                    int(u.approval_manager),
                    u.time_zone,
                    seed.activity_type_id(u.default_activity_type),
                )
                for u in seed.users
            ],
        )
        by_email = {u.email.lower(): u for u in seed.users}
        manager = next((u.id for u in seed.users if u.approval_manager), None)
        for week in seed.approval_weeks:
            user = by_email[week.user_email.lower()]
            # Stable, plausible timestamps: submitted the Monday after, decided a day later.
            submitted = _seed_stamp(week.week_start + timedelta(days=7), 9)
            decided = _seed_stamp(week.week_start + timedelta(days=8), 10)
            approved_by = manager if week.state in (3, 99) else None
            c.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    week.id,
                    user.id,
                    week.week_start.isoformat(),
                    week.state,
                    manager,
                    approved_by,
                    decided if approved_by else submitted,
                    None if week.state == 99 else submitted,
                    decided if approved_by else None,
                ),
            )
        c.execute("COMMIT")
        self._load_cache()

    def _load_cache(self) -> None:
        self.users = {
            row[0]: UserRow(
                row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8]
            )
            for row in self.conn.execute("SELECT * FROM users")
        }
        self.activity_types = {
            row[0]: SeedActivityType(*row)
            for row in self.conn.execute("SELECT id, name, color FROM activity_types")
        }

    # -- users --------------------------------------------------------------------------------
    def set_roles(self, changes: Iterable[tuple[str, str]]) -> None:
        """Apply (user_id, role) pairs in one transaction."""
        c = self.conn
        c.execute("BEGIN")
        for user_id, role in changes:
            c.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
            self.users[user_id] = replace(self.users[user_id], role=role)
        c.execute("COMMIT")

    # -- worklogs -----------------------------------------------------------------------------
    def insert_worklogs(self, rows: Sequence[WorklogRow]) -> None:
        """Insert all rows in one transaction (all or nothing)."""
        self.insert_worklog_tuples([r.as_tuple() for r in rows])

    def insert_worklog_tuples(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """:meth:`insert_worklogs` for rows already in ``WORKLOG_COLUMNS`` order."""
        c = self.conn
        c.execute("BEGIN")
        try:
            c.executemany(_INSERT_WORKLOG, rows)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def get_worklog(self, worklog_id: str) -> WorklogRow | None:
        row = self.conn.execute(
            f"SELECT {WORKLOG_COLUMNS} FROM worklogs WHERE id = ?", (worklog_id,)
        ).fetchone()
        return WorklogRow(*row) if row else None

    def replace_worklog(self, row: WorklogRow) -> None:
        self.conn.execute(
            "UPDATE worklogs SET user_id=?, added_by=?, edited_by=?, ts_text=?, ts_key=?, length=?,"
            " billable=?, work_item_id=?, comment=?, activity_type_id=?, created_key=?,"
            " edited_key=? WHERE id=?",
            (*row.as_tuple()[1:], row.id),
        )

    def delete_worklog(self, worklog_id: str) -> None:
        self.conn.execute("DELETE FROM worklogs WHERE id = ?", (worklog_id,))

    def list_worklogs(self, flt: WorklogFilter, *, skip: int, count: int) -> list[WorklogRow]:
        """One page, ordered by timestamp then id (D5), paged in SQL."""
        return [WorklogRow(*r) for r in self.page_tuples(flt, skip=skip, count=count)]

    def page_tuples(self, flt: WorklogFilter, *, skip: int, count: int) -> list[tuple[Any, ...]]:
        """Like :meth:`list_worklogs` but plain tuples in ``WORKLOG_COLUMNS`` order: the list
        endpoints render straight from them (a dataclass per row costs more than its JSON)."""
        where: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("user_id = ?", flt.user_id),
            ("ts_key > ?", flt.from_key),
            ("ts_key < ?", flt.to_key),
            ("created_key > ?", flt.from_created),
            ("created_key < ?", flt.to_created),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        if flt.work_item_ids is not None:
            where.append(f"work_item_id IN ({', '.join('?' * len(flt.work_item_ids))})")
            args.extend(flt.work_item_ids)
        sql = f"SELECT {WORKLOG_COLUMNS} FROM worklogs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts_key, id LIMIT ? OFFSET ?"
        return self.conn.execute(sql, (*args, count, skip)).fetchall()

    def count_worklogs(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM worklogs").fetchone()[0])

    # -- approvals ----------------------------------------------------------------------------
    def approvals(self) -> list[ApprovalRow]:
        rows = self.conn.execute(
            "SELECT id, user_id, week_start, state, manager_id, approved_by, modified, submitted,"
            " approved FROM approvals"
        )
        return [ApprovalRow(r[0], r[1], date.fromisoformat(r[2]), *r[3:]) for r in rows]

    def approval_states(self) -> dict[tuple[str, date], int]:
        """(user_id, Monday) -> approval state, for lock checks."""
        return {(a.user_id, a.week_start): a.state for a in self.approvals()}

    def submit_week(self, row: ApprovalRow) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.user_id,
                row.week_start.isoformat(),
                row.state,
                row.manager_id,
                row.approved_by,
                row.modified,
                row.submitted,
                row.approved,
            ),
        )

    def delete_week(self, user_id: str, week_start: date) -> None:
        self.conn.execute(
            "DELETE FROM approvals WHERE user_id = ? AND week_start = ?",
            (user_id, week_start.isoformat()),
        )


def now_utc() -> datetime:
    return datetime.now(UTC)
