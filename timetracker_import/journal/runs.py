"""Runs: where run directories live, starting and opening a run, its record, finishing it,
its summary, and finding runs (``list_runs``, ``find_resumable``).

The token is never stored: the target URL is kept without user info or query, and option
keys that look like secrets are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from timetracker_import.core.outcomes import Counts, RunKind
from timetracker_import.errors import JournalError, storage_error
from timetracker_import.journal.db import (
    JOURNAL_NAME,
    SCHEMA,
    JournalBase,
    connect,
    migrate,
    now,
)
from timetracker_import.journal.private_files import (
    DIR_MODE,
    ensure_private_file,
    private_dir,
    write_private_text,
)
from timetracker_import.journal.rows import count_outcomes

STATE_DIR_ENV = "TIMETRACKER_STATE_DIR"
SUMMARY_JSON = "summary.json"
_SECRET_WORDS = ("token", "password", "secret", "authorization", "credential")


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
    kind: RunKind = RunKind.IMPORT
    dry_run: bool = False


def _kind_of(options: Mapping[str, Any]) -> RunKind:
    try:
        return RunKind(str(options.get("kind") or RunKind.IMPORT))
    except ValueError:
        return RunKind.IMPORT


def _run_info(conn: sqlite3.Connection, directory: Path) -> RunInfo:
    rec = conn.execute("SELECT * FROM run").fetchone()
    options = json.loads(rec["options_json"] or "{}")
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
        directory=directory,
        kind=_kind_of(options),
        dry_run=bool(options.get("dry_run")),
    )


class RunsMixin(JournalBase):
    """Starting, opening, describing and finishing the run."""

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
    ) -> Self:
        """Start a new run: its directory (0700) and journal file (0600)."""
        try:
            return cls._create(
                fingerprint, input_path, mapping_name, mapping_path, options, base_url, run_id
            )
        except (OSError, sqlite3.OperationalError) as exc:  # no state directory, disk full
            raise storage_error(exc, getattr(exc, "filename", None) or runs_root()) from None

    @classmethod
    def _create(
        cls,
        fingerprint: str,
        input_path: str | os.PathLike[str] | None,
        mapping_name: str | None,
        mapping_path: str | os.PathLike[str] | None,
        options: Mapping[str, Any] | None,
        base_url: str | None,
        run_id: str | None,
    ) -> Self:
        root = private_dir(runs_root())
        for _ in range(20):
            candidate = run_id or new_run_id()
            directory = root / candidate
            try:
                directory.mkdir(mode=DIR_MODE)
            except FileExistsError:
                if run_id:
                    raise JournalError(f"run {run_id} already exists") from None
                continue
            break
        else:  # pragma: no cover - 20 collisions of a 16-bit suffix in one second
            raise JournalError("could not pick a free run id")
        os.chmod(directory, DIR_MODE)
        db_path = ensure_private_file(directory / JOURNAL_NAME)
        conn = connect(db_path)
        journal = cls(candidate, directory, conn)
        conn.executescript(SCHEMA)
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
                    now(),
                ),
            )
        journal._secure_files()
        return journal

    @classmethod
    def open(cls, run_id: str) -> Self:
        """Open an existing run's journal."""
        directory = runs_root() / run_id
        db_path = directory / JOURNAL_NAME
        if not db_path.is_file():
            raise JournalError(f"no run {run_id} in {runs_root()}")
        conn = connect(db_path)
        migrate(conn, directory)
        journal = cls(run_id, directory, conn)
        journal._secure_files()
        return journal

    def info(self) -> RunInfo:
        """The run's record."""
        return _run_info(self._conn, self.directory)

    @property
    def options(self) -> dict[str, Any]:
        """The options the run was started with."""
        rec = self._conn.execute("SELECT options_json FROM run").fetchone()
        return dict(json.loads(rec["options_json"]))

    def reopen(self) -> None:
        """Mark a halted run as open again (when resuming it)."""
        with self._transaction() as conn:
            conn.execute("UPDATE run SET status = 'open', finished_at = NULL")

    @property
    def kind(self) -> RunKind:
        """What the run did (import, sync, ``worklogs update/delete``)."""
        return _kind_of(self.options)

    def finish(
        self, status: str, counts: Counts | None = None, *, halt_reason: str | None = None
    ) -> Counts:
        """Close the run as ``complete`` or ``halted`` (``halt_reason``: why) and store its
        counts: those of the journal's rows and actions, or ``counts`` for a dry run (whose
        would-be writes leave no outcome in the journal)."""
        if status not in ("complete", "halted"):
            raise JournalError(f"a run finishes as complete or halted, not {status!r}")
        if counts is None:
            counts = count_outcomes(self._conn)
        stored: dict[str, Any] = dict(counts.to_dict())
        if halt_reason is not None:
            stored["halt_reason"] = halt_reason
        with self._transaction() as conn:
            conn.execute(
                "UPDATE run SET status = ?, finished_at = ?, counts_json = ?",
                (status, now(), json.dumps(stored, sort_keys=True)),
            )
        return counts

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
            "counts": count_outcomes(self._conn).to_dict(),
        }
        summary.update(extra or {})
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        try:
            return write_private_text(self.directory / SUMMARY_JSON, text)
        except OSError as exc:
            raise storage_error(exc, self.directory / SUMMARY_JSON) from None


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
        if conn.execute("SELECT 1 FROM run").fetchone() is None:
            # killed between the schema and the run record (one commit apart): this run
            # never started; it is no run to list or resume
            return None
        return _run_info(conn, directory)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def list_runs() -> list[RunInfo]:
    """Every run under ``runs_root()``, oldest first: by the moment it started (to the
    microsecond), as two runs started within one second have ids that sort by their random
    suffix."""
    root = runs_root()
    if not root.is_dir():
        return []
    runs = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        info = _read_info(directory)
        if info is not None:
            runs.append(info)
    return sorted(runs, key=lambda r: (_instant(r.started_at), r.run_id))


def _instant(stamp: str) -> datetime:
    """``started_at`` as an aware datetime (a stamp that does not read sorts first)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunSummary:
    """One run as every surface shows it (``runs list/show``, the web app's Runs page),
    computed from its journal: what kind of run, where it stands, its counts, why it
    stopped, and whether ``runs undo`` has anything to reverse."""

    run_id: str
    kind: RunKind
    status: str
    dry_run: bool
    input_path: str | None
    mapping_name: str | None
    target: str | None
    started_at: str
    finished_at: str | None
    counts: Counts
    halt_reason: str | None
    directory: Path
    actions: int = 0
    #: the run's writes ``runs undo`` reversed (or found gone) so far
    undone: int = 0
    #: how many of its changes ``runs undo`` can still reverse (None: not counted)
    left: int | None = None

    @property
    def undoable(self) -> bool:
        """A real run with something left to reverse (when not counted: it wrote)."""
        if self.dry_run:
            return False
        return (self.actions if self.left is None else self.left) > 0

    @property
    def undo_state(self) -> str | None:
        """``undone`` (undo reversed everything), ``partly undone (N left)`` (an undo
        stopped, or a change it could not reverse yet), or None (never undone)."""
        if self.dry_run or not self.undone:
            return None
        if self.left:
            return f"partly undone ({self.left} change(s) left)"
        return "undone"

    def describe(self) -> str:
        """The counts in one line (``Counts.describe``), then what undo did, if anything."""
        text = self.counts.describe(self.kind, dry_run=self.dry_run)
        return f"{text}; {self.undo_state}" if self.undo_state else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind.value,
            "status": self.status,
            "dry_run": self.dry_run,
            "input": self.input_path,
            "mapping": self.mapping_name,
            "target": self.target,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": self.counts.to_dict(),
            "halt_reason": self.halt_reason,
            "undoable": self.undoable,
            "undone": self.undone,
            "undo_left": self.left,
        }


def run_summary(info: RunInfo) -> RunSummary:
    """The summary of a listed run: the counts stored when it finished, else (a run still
    open, or killed) counted from its journal now."""
    counts = Counts.from_dict(info.counts) if info.counts is not None else None
    halt = None if info.counts is None else info.counts.get("halt_reason")
    actions = undone = 0
    left: int | None = None
    try:
        conn = sqlite3.connect(
            f"{(info.directory / JOURNAL_NAME).as_uri()}?mode=ro", uri=True, timeout=5
        )
        try:
            if counts is None:
                counts = count_outcomes(conn)
            actions, undone = _count_actions(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        counts = counts or Counts()
    if actions and not info.dry_run:
        left = _undoable_changes(info.directory)
    return RunSummary(
        run_id=info.run_id,
        kind=info.kind,
        status=info.status,
        dry_run=info.dry_run,
        input_path=info.input_path,
        mapping_name=info.mapping_name,
        target=info.base_url,
        started_at=info.started_at,
        finished_at=info.finished_at,
        counts=counts,
        halt_reason=None if halt is None else str(halt),
        directory=info.directory,
        actions=actions,
        undone=undone,
        left=left,
    )


def _count_actions(conn: sqlite3.Connection) -> tuple[int, int]:
    """The run's writes (not failed), and how many of them ``runs undo`` has dealt with."""
    try:
        row = conn.execute(
            "SELECT COUNT(*), COUNT(undo) FROM action WHERE state != 'failed'"
        ).fetchone()
        return int(row[0]), int(row[1])
    except sqlite3.OperationalError:
        pass  # an older journal: no action table yet
    try:
        row = conn.execute("SELECT COUNT(*) FROM created").fetchone()
        return int(row[0]), 0
    except sqlite3.OperationalError:
        return 0, 0


def find_resumable(fingerprint: str) -> str | None:
    """The latest open or halted run with this fingerprint, or None."""
    for info in reversed(list_runs()):
        if info.fingerprint == fingerprint and info.status in ("open", "halted"):
            return info.run_id
    return None


# --------------------------------------------------------------------------- prune


@dataclass(frozen=True)
class PrunedRun:
    """One run ``prune_runs`` looked at: removed (or would be, in a dry run) or kept, and why."""

    run_id: str
    removed: bool
    reason: str
    size_bytes: int
    started_at: str


def _undoable_changes(directory: Path) -> int:
    """How many changes of the run ``runs undo`` could still reverse: created worklogs not
    yet deleted by an undo, sync updates/deletes and ``worklogs`` changes not yet undone
    (each counted while its outcome may have reached the server)."""
    queries = (
        # every write of a run of this version, whatever its kind (journal.actions)
        (
            JOURNAL_NAME,
            "SELECT count(*) FROM action WHERE state IN ('sending', 'done')"
            " AND (undo IS NULL OR undo = 'recreating')",
        ),
        # journals of earlier versions, not opened (so not migrated) since
        (
            JOURNAL_NAME,
            "SELECT count(*) FROM created WHERE worklog_id NOT IN (SELECT worklog_id"
            " FROM undo WHERE action IN ('deleted', 'already_gone'))",
        ),
        (
            JOURNAL_NAME,
            "SELECT count(*) FROM sync_action WHERE state IN ('sending', 'done') AND undo IS NULL",
        ),
        ("changes.sqlite", "SELECT count(*) FROM change WHERE state <> 'failed' AND undo IS NULL"),
    )
    total = 0
    for name, query in queries:
        path = directory / name
        if not path.is_file():
            continue
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return 1  # unreadable: keep it rather than guess
        try:
            total += int(conn.execute(query).fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                return 1
        except sqlite3.Error:
            return 1
        finally:
            conn.close()
    return total


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def prune_runs(
    older_than: float,
    *,
    include_undoable: bool = False,
    dry_run: bool = False,
    now_: datetime | None = None,
) -> list[PrunedRun]:
    """Remove the run directories that started more than ``older_than`` seconds ago and that
    nothing needs any more; return every old run with what became of it.

    Kept: unfinished runs (open or halted: running the same command again resumes them) and
    runs whose changes ``runs undo`` can still reverse (unless ``include_undoable``). Removed:
    dry runs, runs that changed nothing on the server and runs already undone. A directory
    without a readable run record (a run killed before it started) is removed too."""
    import shutil

    root = runs_root()
    if not root.is_dir():
        return []
    cutoff = (now_ or datetime.now(UTC)).timestamp() - older_than
    outcomes = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        info = _read_info(directory)
        if info is not None:
            started = datetime.fromisoformat(info.started_at).timestamp()
        else:
            started = directory.stat().st_mtime
        if started >= cutoff:
            continue
        started_at = info.started_at if info else datetime.fromtimestamp(started, UTC).isoformat()
        if info is not None and info.status in ("open", "halted"):
            reason, remove = f"{info.status}: running the same command again resumes it", False
        else:
            undoable = _undoable_changes(directory) if info is not None else 0
            if info is None:
                reason, remove = "never started (no run record)", True
            elif undoable and not include_undoable:
                reason, remove = f"`runs undo` can still reverse {undoable} change(s)", False
            elif undoable:
                reason, remove = f"{undoable} change(s) can no longer be undone", True
            else:
                reason, remove = "nothing left to undo", True
        size = _size(directory)
        if remove and not dry_run:
            shutil.rmtree(directory)
        outcomes.append(PrunedRun(directory.name, remove, reason, size, started_at))
    return outcomes
