"""The run journal: one SQLite file per import run, so that a run can be resumed and undone.

Write-ahead rules the import relies on:

- the intent to send a batch (``mark_sending``) is committed before the request leaves, so a
  crash leaves the batch ``sending`` and a resume reconciles it by reading back;
- created ids (``mark_created``) are committed before they are reported anywhere.

Each run lives in ``runs_root()/RUN_ID/`` (directories 0700, files 0600). The token is never
stored: the target URL is kept without user info or query, and option keys that look like
secrets are dropped.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from timetracker_import.core.accounting import Accounting
from timetracker_import.core.planning import PlannedBatch
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.worklog_key import WorklogKey

STATE_DIR_ENV = "TIMETRACKER_STATE_DIR"
JOURNAL_NAME = "journal.sqlite"
CREATED_CSV = "created.csv"
SUMMARY_JSON = "summary.json"
RUN_STATUSES = ("open", "complete", "halted")
ROW_OUTCOMES = ("pending", "created", "existing", "rejected", "unprocessed", "skipped")
BATCH_STATES = ("planned", "sending", "done", "failed", "ambiguous", "split")
_SECRET_WORDS = ("token", "password", "secret", "authorization", "credential")
_DIR_MODE = 0o700
_FILE_MODE = 0o600
_IN_CHUNK = 500  # host parameters per "IN (...)" query (well under SQLite's limit)
# one encoder for every stored body (keys sorted; anything unusual as its str()): msgspec
# writes the ~500 bodies of a batch in ~0.1 ms where json took ~0.9 ms, inside the commit
_BODY_JSON = msgspec.json.Encoder(order="sorted", enc_hook=str)

_SCHEMA = """
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


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


def _private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700, whatever the umask."""
    path.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    os.chmod(path, _DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` if needed and make it 0600 (before anything is written to it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, _FILE_MODE)
    os.close(fd)
    os.chmod(path, _FILE_MODE)
    return path


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically to ``path`` with mode 0600 (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


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


@dataclass(frozen=True)
class CreatedRecord:
    """A worklog this run created (what undo needs)."""

    worklog_id: str
    source_row: int
    batch_no: int | None
    created_at: str
    edited_ts: str | None
    body: dict[str, Any] | None


class Journal:
    """The journal of one run. Use ``Journal.create`` or ``Journal.open``; close when done
    (also a context manager)."""

    def __init__(self, run_id: str, directory: Path, conn: sqlite3.Connection) -> None:
        self.run_id = run_id
        self.directory = directory
        self._conn = conn
        # The poster commits from a worker thread (so an fsync never stalls the event loop);
        # one transaction at a time on the shared connection.
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # autocommit mode: every write goes through _transaction(), which commits explicitly
        # check_same_thread=False: writes may come from a worker thread, serialised by _lock
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed intent survives a power cut, not only a process crash
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

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
    ) -> Journal:
        """Start a new run: its directory (0700) and journal file (0600)."""
        root = _private_dir(runs_root())
        for _ in range(20):
            candidate = run_id or new_run_id()
            directory = root / candidate
            try:
                directory.mkdir(mode=_DIR_MODE)
            except FileExistsError:
                if run_id:
                    raise JournalError(f"run {run_id} already exists") from None
                continue
            break
        else:  # pragma: no cover - 20 collisions of a 16-bit suffix in one second
            raise JournalError("could not pick a free run id")
        os.chmod(directory, _DIR_MODE)
        db_path = ensure_private_file(directory / JOURNAL_NAME)
        conn = cls._connect(db_path)
        journal = cls(candidate, directory, conn)
        conn.executescript(_SCHEMA)
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
                    _now(),
                ),
            )
        journal._secure_files()
        return journal

    @classmethod
    def open(cls, run_id: str) -> Journal:
        """Open an existing run's journal."""
        directory = runs_root() / run_id
        db_path = directory / JOURNAL_NAME
        if not db_path.is_file():
            raise JournalError(f"no run {run_id} in {runs_root()}")
        journal = cls(run_id, directory, cls._connect(db_path))
        journal._secure_files()
        return journal

    def close(self) -> None:
        """Close the connection (uncommitted work is rolled back)."""
        with self._lock:  # never under a transaction still running in a worker thread
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _secure_files(self) -> None:
        # SQLite creates -wal/-shm with the database's mode; make sure anyway
        for path in self.directory.iterdir():
            if path.is_file():
                os.chmod(path, _FILE_MODE)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- run -----------------------------------------------------------------------------

    def info(self) -> RunInfo:
        """The run's record."""
        rec = self._conn.execute("SELECT * FROM run").fetchone()
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
            directory=self.directory,
        )

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
        counts = self.accounting()
        with self._transaction() as conn:
            conn.execute(
                "UPDATE run SET status = ?, finished_at = ?, counts_json = ?",
                (status, _now(), json.dumps(counts.to_dict(), sort_keys=True)),
            )
        return counts

    # -- rows ----------------------------------------------------------------------------

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
        known = self._outcomes_of(conn, (int(p[-1]) for p in params))
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

    # -- batches -------------------------------------------------------------------------

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
        rec = self._conn.execute("SELECT * FROM batch WHERE batch_no = ?", (batch_no,)).fetchone()
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
                _now(),
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
        now = _now()
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
            known = self._outcomes_of(conn, ids)
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
                "INSERT OR IGNORE INTO created (worklog_id, source_row, batch_no, created_at,"
                " edited_ts, body_json) VALUES (?,?,?,?,?,?)",
                [
                    (
                        str(worklog_id),
                        int(source_row),
                        batch_no,
                        now,
                        edited_ts,
                        None
                        if (body := bodies.get(source_row)) is None
                        else _BODY_JSON.encode(body).decode(),
                    )
                    for source_row, worklog_id, edited_ts in created
                ],
            )

    @staticmethod
    def _outcomes_of(
        conn: sqlite3.Connection, rows: Iterable[int]
    ) -> dict[int, tuple[str, str | None]]:
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

    # -- created, undo, outputs ----------------------------------------------------------

    def created_records(self) -> list[CreatedRecord]:
        """The worklogs this run created, by row."""
        cur = self._conn.execute("SELECT * FROM created ORDER BY source_row, worklog_id")
        return [
            CreatedRecord(
                worklog_id=r["worklog_id"],
                source_row=int(r["source_row"]),
                batch_no=r["batch_no"],
                created_at=r["created_at"],
                edited_ts=r["edited_ts"],
                body=None if r["body_json"] is None else json.loads(r["body_json"]),
            )
            for r in cur
        ]

    def record_undo(self, worklog_id: str, action: str, detail: str | None = None) -> None:
        """Record one undo step (``deleted``, ``skipped_edited``, ``already_gone``, ``failed``)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO undo (worklog_id, action, detail, at) VALUES (?,?,?,?)",
                (worklog_id, action, detail, _now()),
            )

    def undo_log(self) -> list[tuple[str, str, str | None]]:
        """Every undo step so far: ``(worklog_id, action, detail)`` in order."""
        cur = self._conn.execute("SELECT worklog_id, action, detail FROM undo ORDER BY id")
        return [(r[0], r[1], r[2]) for r in cur]

    def accounting(self) -> Accounting:
        """Counts from the journal (pending rows count as unprocessed)."""
        outcomes = dict(
            self._conn.execute("SELECT outcome, COUNT(*) FROM row GROUP BY outcome").fetchall()
        )
        states = dict(
            self._conn.execute("SELECT state, COUNT(*) FROM batch GROUP BY state").fetchall()
        )
        return Accounting(
            rows=sum(outcomes.values()),
            created=outcomes.get("created", 0),
            already_existing=outcomes.get("existing", 0),
            rejected=outcomes.get("rejected", 0),
            unprocessed=outcomes.get("pending", 0) + outcomes.get("unprocessed", 0),
            skipped=outcomes.get("skipped", 0),
            planned_batches=sum(states.values()) - states.get("split", 0),
            posted_batches=states.get("done", 0),
            failed_batches=states.get("failed", 0),
            split_batches=states.get("split", 0),
        )

    def write_created_csv(self) -> Path:
        """Write ``created.csv`` (source_row, worklog_id) into the run directory (0600)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["source_row", "worklog_id"])
        cur = self._conn.execute(
            "SELECT source_row, worklog_id FROM row WHERE outcome = 'created' ORDER BY source_row"
        )
        writer.writerows(cur)
        return write_private_text(self.directory / CREATED_CSV, buffer.getvalue())

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
            "counts": self.accounting().to_dict(),
        }
        summary.update(extra or {})
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        return write_private_text(self.directory / SUMMARY_JSON, text)


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
        journal = Journal(directory.name, directory, conn)
        return journal.info()
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
