"""The data of a ``sync`` run: what was asked (``SyncSettings``), what a confirmation shows
(``SyncConfirm``), the outcome (``SyncResult``), and the state one run carries from stage to
stage (``SyncRunState``, the base of the stage mixins of ``app.sync``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from datetime import date as _date  # SyncSettings.date is a field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.limiter import Concurrency, Limiter
from timetracker_import.app.stages.sequence import Sequencer
from timetracker_import.core.outcomes import Counts, Halt, RowOutcome, RunKind
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.core.sync_plan import (
    GuardVerdict,
    LedgerEntry,
    Period,
    parse_delete_limit,
)
from timetracker_import.core.zone import ZoneChoice

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.poster import Poster
    from timetracker_import.app.stages.edits import EditExecutor
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.journal.store import Journal


KIND_SYNC = RunKind.SYNC.value
#: the stage name of a row outside the declared period
STAGE_PERIOD = "period"


@dataclass(frozen=True)
class SyncSettings:
    """What ``sync`` was asked to do."""

    path: Path
    connection: ConnectionSettings
    mapping_path: Path | None = None
    preset: str | None = None
    keys: tuple[str, ...] = ()
    prune: bool = False
    #: the declared period: ``FROM..TO``, ``last:14d``, ``month:previous``, ... (or a pair of
    #: dates); None: the mapping's ``window:``, else none (then nothing is deleted)
    window: str | tuple[date, date] | None = None
    #: the source this file is (``--source``); None: the mapping's ``source:``, else the
    #: input file's name
    source: str | None = None
    #: ``--max-delete``: N, P% or all (None: the default guard)
    max_delete: str | None = None
    ledger_path: Path | None = None
    overwrite_edited: bool = False
    on_duplicate_key: str | None = None
    #: a row identical to an earlier one: skip | allow | fail (import's rule)
    on_duplicate: str | None = None  # None: the mapping's ``on_duplicate``, else skip
    dry_run: bool = False
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date: str | None = None  # --date: the date of every row
    batch_size: int = 500
    #: requests in flight: "auto" (app.limiter, at most max_concurrency) or a fixed number;
    #: one limiter for the run's creates, updates and deletes
    concurrency: int | str = "auto"
    max_concurrency: int | None = None
    rejected_path: Path | None = None
    report_path: Path | None = None
    #: ``ledger rebuild``: record adoptable worklogs in the ledger, write nothing to 7pace
    rebuild: bool = False
    #: the mapping given as data (library API) instead of ``mapping_path``/``preset``
    loaded: LoadedMapping | None = None
    #: seconds to wait for another writer of the same server or ledger (then exit 75)
    wait: float = 0.0
    #: the day relative periods are read against (None: today in the declared zone)
    today: _date | None = None
    date_order: str | None = None  # --date-order: the day/month order (beats the mapping's)
    lookup_dir: Path | None = None  # --lookup-dir: where relative lookup files are read
    #: a file routed by organization whose plan for another organization stopped before
    #: its first write (the deletion guard, a renamed feed): why this one writes nothing
    held_by: str | None = None
    #: what an unknown user's rejection tells to do when the mapping read is a route's
    #: temporary copy (import's ``unknown_user_fix``); default: the mapping's own
    unknown_user_fix: str | None = None


@dataclass(frozen=True)
class SyncConfirm:
    """What the confirmation prompt shows before anything is written."""

    creates: int
    updates: int
    deletes: int
    target: str


@dataclass
class SyncResult:
    """The outcome of one ``sync``."""

    run_id: str
    run_dir: Path
    dry_run: bool
    exit_code: int
    counts: Counts
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: the rows created (a dry run: that would be created): row, key, user, UTC start,
    #: length, work item, comment (the web app's plan lists them; not in ``--json``)
    creates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger_path: Path | None = None
    scope: str = ""
    source: str = ""
    period: Period | None = None
    timezone: dict[str, Any] = field(default_factory=dict)
    guard: GuardVerdict | None = None
    halt_reason: str | None = None
    halt_message: str | None = None
    writes: int = 0
    rejected_path: Path | None = None
    report_path: Path | None = None
    hours: dict[str, dict[str, float]] = field(default_factory=dict)
    #: a file routed by its organization column: one entry per organization's run
    organizations: list[dict[str, Any]] = field(default_factory=list)
    #: the other source this file's rows mostly lie on, when that stopped its first sync
    renamed_from: str | None = None
    #: what the run's limiter chose for its writes (``Limiter.summary``; empty: none sent)
    concurrency: dict[str, Any] = field(default_factory=dict)

    def rows_frame(self) -> pd.DataFrame:
        """Every input row once, indexed by ``source_row``, from the run's journal (each
        organization's run for a routed file): ``outcome``, ``worklog_id``, ``stage`` and
        ``reason`` (a rejected row's)."""
        from timetracker_import.app.frames import run_rows_frame

        runs = [str(o["run_id"]) for o in self.organizations] or [self.run_id]
        return run_rows_frame(runs, rejected=self.rejections)

    def rejections_frame(self) -> pd.DataFrame:
        """The rejected rows, indexed by ``source_row``, with their original cells."""
        from timetracker_import.app.frames import rejected_files_of, rejections_frame

        runs = [str(o["run_id"]) for o in self.organizations]
        return rejections_frame(self.rejections, [self.rejected_path, *rejected_files_of(runs)])

    def summary_dict(self) -> dict[str, Any]:
        """The ``--json`` document (also ``summary.json``)."""
        return {
            "run_id": self.run_id,
            "kind": KIND_SYNC,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "counts": self.counts.to_dict(),
            "balanced": self.counts.is_balanced(),
            "source": self.source,
            "period": None
            if self.period is None
            else {
                "first": self.period.first.isoformat(),
                "last": self.period.last.isoformat(),
                "declared": self.period.spec,
                "origin": self.period.origin,
            },
            "timezone": self.timezone,
            "guard": None
            if self.guard is None
            else {
                "allowed": self.guard.allowed,
                "deletes": self.guard.deletes,
                "ledgered_in_period": self.guard.ledgered,
                "limit": self.guard.limit,
                "reason": self.guard.reason,
                # true: only --max-delete all lets this stop go (the file says nothing
                # about what to delete: no row could be used, or an empty export)
                "needs_all": self.guard.needs_all,
            },
            "changes": self.changes,
            "deletes": self.deletes,
            "conflicts": self.conflicts,
            "kept_absent": self.kept,
            "held": self.held,
            "rejections": [r.to_dict() for r in self.rejections],
            "notes": self.notes,
            "ledger": None if self.ledger_path is None else str(self.ledger_path),
            "scope": json.loads(self.scope) if self.scope else None,
            "halt_reason": self.halt_reason,
            "halt_message": self.halt_message,
            "run_dir": str(self.run_dir),
            "rejected_path": None if self.rejected_path is None else str(self.rejected_path),
            "report_path": None if self.report_path is None else str(self.report_path),
            "organizations": self.organizations,
            "stopped_as_renamed_feed_of": self.renamed_from,
            "timings": {"concurrency": self.concurrency} if self.concurrency else {},
        }


# --------------------------------------------------------------------------- entry


def source_name(settings: SyncSettings, mapping_source: str | None) -> str:
    """The source this file is: ``--source``, else the mapping's ``source:``, else the input
    file's name (stable for a feed exported under one name; a feed whose file name changes
    every time needs ``--source``)."""
    if settings.source:
        return settings.source.strip()
    if mapping_source:
        return mapping_source.strip()
    return Path(str(settings.path)).name


# --------------------------------------------------------------------------- the run


class SyncRunState:
    """What one sync run knows while its stages run (``app.sync._SyncRun`` is this state and
    one mixin per stage: rows, reads, writes, account)."""

    def __init__(
        self,
        settings: SyncSettings,
        prepared: PreparedFile,
        *,
        confirm: Callable[[SyncConfirm], bool] | None,
        cancel: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.s = settings
        #: ``progress(changes done, changes to make)`` while the writes run
        self.progress = progress
        self.progress_done = self.progress_total = 0
        self.p = prepared
        self.confirm = confirm
        #: the one sequencer (app.stages.sequence): the client, the setup reads, resolve and
        #: how a stop stops the run (the writers while they write, else the step awaited)
        self.seq = Sequencer(settings.connection, what="sync", cancel=cancel, retried=self._retried)
        self.notes: list[str] = list(prepared.notes)
        self.zone = ZoneChoice.of(prepared.timezone, prepared.timezone_source)
        self.period: Period | None = None
        self.limit = parse_delete_limit(settings.max_delete)
        self.poster: Poster | None = None
        self.edits: EditExecutor | None = None
        #: the run's one adaptive limiter: the creates' poster and the edits' executor share it
        self.limiter = Limiter(Concurrency.parse(settings.concurrency, settings.max_concurrency))
        #: the server reads (export's windows, worklogs by id): a fixed level, or 8 when auto
        self.read_concurrency = self.limiter.state.setting.fixed or 8
        #: the source was named (--source, the mapping's source:), not taken from the file name
        self.source_declared = False
        #: this source has no ledger entry yet (set once the ledger is read)
        self.first_of_source = False
        #: set when the first sync of this source stopped as another source's feed renamed
        self.renamed_from: str | None = None
        self.rejections: list[Rejection] = []
        self.skipped: dict[int, str] = prepared.skip_reasons()
        self.outcome: dict[int, tuple[RowOutcome, str | None]] = {}
        self.halt: Halt | None = None
        self.halt_error: Exception | None = None
        self.ambiguous = False
        self.deleted: list[dict[str, Any]] = []
        self.delete_problems: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.me_offset: int | None = None
        self.writes = 0
        #: this source's ledger entries as the run found them
        self._entries_before: Mapping[str, LedgerEntry] = {}

    def reject(self, rejections: Sequence[Rejection]) -> None:
        done = {r.source_row for r in self.rejections}
        for rej in merge_rejections(list(rejections)):
            if rej.source_row not in done and rej.source_row not in self.skipped:
                self.rejections.append(rej)
                self.outcome[rej.source_row] = (RowOutcome.REJECTED, None)

    def _progressed(self, count: int) -> None:
        """``count`` more writes have their outcome (the poster's rows, the edit executor's
        updates and deletes)."""
        self.progress_done += count
        if self.progress is not None:
            self.progress(self.progress_done, self.progress_total)

    def _closed(self) -> set[int]:
        return {r.source_row for r in self.rejections} | set(self.skipped)

    @property
    def stop_signal(self) -> int | None:
        """The first SIGINT/SIGTERM/SIGHUP received during the run (exit 128 + it)."""
        return self.seq.stop_signal

    def _retried(self, reason: str) -> None:
        """The client retried a request by itself: a 429 or a 5xx/timeout halves the run's
        writes in flight (one limiter for the creates, updates and deletes)."""
        if self.poster is not None:
            self.poster.retried(reason)  # also counts a 429 in the run's timings
        else:
            self.limiter.retried(reason)

    def _stop_writers(self) -> None:
        """A stop while the writes run: the poster and the edit executor stop dispatching
        (requests in flight get their outcome); a poster not built yet never starts."""
        if self.poster is not None:
            self.poster.interrupt()
        if self.edits is not None:
            self.edits.interrupt()
        self.halt = self.halt or Halt.INTERRUPTED


def _slot_cells(frame: pd.DataFrame, row: int) -> tuple[str | None, int | None]:
    """The UTC start stamp and work item of ``row`` (None where the cell did not read)."""
    import pandas as pd

    ts: Any = frame.at[row, "timestamp"]
    wi: Any = frame.at[row, "work_item_id"]
    stamp = (
        None if _missing(ts) else pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return stamp, None if _missing(wi) else int(wi)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


def source_from(journal: Journal) -> str:
    return str(journal.options.get("source") or "")
