"""The data the import stages pass along: what was asked (``ImportSettings``), what a
confirmation shows (``ConfirmInfo``) and the outcome (``ImportResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.core.outcomes import Counts
from timetracker_import.core.rejections import Rejection

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.core.report import Report
    from timetracker_import.files.mapping_loader import LoadedMapping

ON_EXISTING = ("skip", "allow", "fail")
DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = "auto"


@dataclass(frozen=True)
class ImportSettings:
    """What ``import`` was asked to do."""

    path: Path
    connection: ConnectionSettings
    mapping_path: Path | None = None
    preset: str | None = None
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    dry_run: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    #: requests in flight: "auto" (app.limiter, at most max_concurrency) or a fixed number
    concurrency: int | str = DEFAULT_CONCURRENCY
    max_concurrency: int | None = None
    on_existing: str = "skip"
    rejected_path: Path | None = None
    report_path: Path | None = None
    new_run: bool = False
    chunk_rows: int = 100_000
    #: a mapping given as data (library callers): used instead of mapping_path/preset
    loaded: LoadedMapping | None = None
    #: a row identical to an earlier row: skip | allow | fail (None: the mapping's, else skip)
    on_duplicate: str | None = None
    date: str | None = None  # --date: the date of every row
    date_order: str | None = None  # --date-order: the day/month order (beats the mapping's)
    lookup_dir: Path | None = None  # --lookup-dir: where relative lookup files are read
    #: seconds to wait for another writer of the same server
    wait: float = 0.0
    #: the source's entry id columns (``sync --key``; default: the mapping's ``key:``)
    keys: tuple[str, ...] = ()
    #: rows sharing an entry id: reject | last (default: the mapping's)
    on_duplicate_key: str | None = None
    #: sync: every row needs its entry id, and rows sharing one are rejected by default
    require_keys: bool = False
    #: what an unknown user's rejection tells to do, when the mapping read is not the one
    #: the user wrote (a route's temporary copy, the old importer's layout); default: the
    #: mapping's own (``LoadedMapping.unknown_user_fix``)
    unknown_user_fix: str | None = None
    #: an unattended run (``import --yes``, a schedule): times without an offset need a
    #: declared zone (--timezone or the mapping's), never this machine's
    unattended: bool = False


@dataclass(frozen=True)
class ConfirmInfo:
    """What a confirmation prompt shows before anything is created."""

    rows: int
    seconds: int
    users: tuple[str, ...]
    batches: int
    target: str


@dataclass
class ImportResult:
    """The outcome of one ``import`` (or one resumed part of it)."""

    run_id: str
    run_dir: Path
    dry_run: bool
    resumed: bool
    accounting: Counts
    exit_code: int
    rejections: list[Rejection]
    existing: dict[int, str]
    in_file_duplicates: dict[int, int]
    halt_reason: str | None
    halt_message: str | None
    ambiguous_batches: list[int]
    rejected_path: Path | None
    user_rejected_path: Path | None
    created_csv: Path | None
    summary_path: Path
    report_path: Path | None
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    round_trips: list[float] = field(default_factory=list)
    #: what the limiter chose (``app.limiter.AdaptiveLimit.summary``), empty if nothing was sent
    concurrency: dict[str, Any] = field(default_factory=dict)
    #: wall-clock seconds per stage: read_validate, resolve, preflight, post, finish
    phases: dict[str, float] = field(default_factory=dict)
    on_duplicate: str = "skip"  # what was done with in_file_duplicates
    #: the zone naive times were read in, where it came from, its offset today and the
    #: token user's (``core.zone.ZoneChoice.to_dict``)
    zone: dict[str, Any] = field(default_factory=dict)
    #: the report written with it (``report_path``): grid, flags, totals (the web app)
    report: Report | None = None

    @property
    def counts(self) -> Counts:
        """Where the rows ended up (``created``, ``already_existing``, ``rejected``, ...)."""
        return self.accounting

    def rows_frame(self) -> pd.DataFrame:
        """Every input row once, indexed by ``source_row``, from the run's journal:
        ``outcome``, ``worklog_id``, and ``stage``/``reason`` of a rejected row."""
        from timetracker_import.app.frames import run_rows_frame

        return run_rows_frame([self.run_id])

    def rejections_frame(self) -> pd.DataFrame:
        """The rejected rows, indexed by ``source_row``, with their original cells."""
        from timetracker_import.app.frames import rejections_frame

        return rejections_frame(self.rejections, [self.rejected_path])

    def summary_dict(self) -> dict[str, Any]:
        """The JSON summary (also written as ``summary.json``)."""
        counts = self.accounting.to_dict()
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "exit_code": self.exit_code,
            "counts": counts,
            "halt_reason": self.halt_reason,
            "halt_message": self.halt_message,
            "ambiguous_batches": self.ambiguous_batches,
            "in_file_duplicates": [
                {"source_row": r, "same_as_row": f}
                for r, f in sorted(self.in_file_duplicates.items())
            ],
            "on_duplicate": self.on_duplicate,
            "already_existing": [
                {"source_row": r, "worklog_id": w} for r, w in sorted(self.existing.items())
            ],
            "rejected_path": str(self.rejected_path) if self.rejected_path else None,
            "created_csv": str(self.created_csv) if self.created_csv else None,
            "report_path": str(self.report_path) if self.report_path else None,
            "notes": self.notes,
            "timezone": self.zone,
            # wall-clock seconds per stage (read_validate, resolve, preflight, post, finish)
            # and the requests in flight while posting
            "timings": {k: round(v, 4) for k, v in self.phases.items()}
            | ({"concurrency": self.concurrency} if self.concurrency else {}),
            "rejections": [r.to_dict() for r in self.rejections],
        }
