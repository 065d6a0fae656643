"""Stage ``account``: where every row ended up, the exit code, and the run's outputs.

``RowBook`` follows each row of the run (pending, or settled as created, existing, rejected,
skipped, unprocessed) while the stages settle them; at the end the journal's counts must
balance: ``rows = created + already_existing + rejected + unprocessed + skipped``.
``exit_code_for`` is the one rule from outcome to exit code; ``write_rejected`` and
``write_report`` produce the rejected-rows file and the HTML/JSON report. Input: the
journal's counts and rejections, the prepared file; output: files and the exit code.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.errors import (
    EXIT_AMBIGUOUS,
    EXIT_AUTH,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TEMPFAIL,
    stop_exit_code,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.app.stages.model import ImportResult
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.core.outcomes import Counts
    from timetracker_import.journal.store import Journal

#: the outcomes of rows still to be done (everything else is final)
OPEN_OUTCOMES = ("pending", "unprocessed")


class RowBook:
    """Each row's outcome and worklog id during a run. Only settled rows are held (a row
    not in ``outcomes`` is pending): memory follows what was decided, not the rows of the
    file. "Still pending" is one set lookup (or one ``isin``) per row, so the stages can
    narrow frames cheaply."""

    def __init__(self, outcomes: dict[int, tuple[str, str | None]]) -> None:
        self.outcomes = {r: o for r, o in outcomes.items() if o[0] not in OPEN_OUTCOMES}

    @property
    def closed(self) -> Set[int]:
        """The settled rows."""
        return self.outcomes.keys()

    @classmethod
    def fresh(
        cls, rows: list[int], skipped: list[int], rejections: list[Rejection]
    ) -> tuple[RowBook, list[Rejection]]:
        """A new run's book: every row of ``rows`` pending but the skipped and rejected ones
        (pending rows are not held); and the rejections it settled (merged: one per row)."""
        del rows  # every row not settled here is pending
        outcomes: dict[int, tuple[str, str | None]] = dict.fromkeys(skipped, ("skipped", None))
        merged = merge_rejections(rejections)
        fresh = [r for r in merged if r.source_row not in outcomes]
        for r in fresh:
            outcomes[r.source_row] = ("rejected", None)
        return cls(outcomes), fresh

    def settle(self, row: int, outcome: str, worklog_id: str | None) -> None:
        self.outcomes[row] = (outcome, worklog_id)

    def still_pending(self, rows: Any) -> list[int]:
        """The rows of ``rows`` (an Index or an iterable of ints) not settled yet."""
        import pandas as pd

        if isinstance(rows, pd.Index):  # plain ints, not numpy scalars
            if self.closed:
                rows = rows[~rows.isin(list(self.closed))]
            return [int(r) for r in rows.tolist()]
        return [int(r) for r in rows if int(r) not in self.closed]

    def pending_part(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` not settled yet (``frame`` itself when that is all)."""
        if not len(frame) or not self.closed:
            return frame
        done = frame.index.isin(list(self.closed))
        return frame[~done] if done.any() else frame

    def known_ids(self) -> set[str]:
        """The worklog ids the book holds (created or found by this run)."""
        return {wid for _, wid in self.outcomes.values() if wid}

    def reject(self, journal: Journal, rejections: list[Rejection]) -> list[Rejection]:
        """Journal and settle the rejections of rows still pending (one per row)."""
        merged = merge_rejections(rejections)
        open_rows = set(self.still_pending(r.source_row for r in merged))
        fresh = [r for r in merged if r.source_row in open_rows]
        if fresh:
            journal.mark_rejections(fresh)
            for r in fresh:
                self.settle(r.source_row, "rejected", None)
        return fresh


def exit_code_for(
    counts: Counts,
    *,
    halt: str | None,
    halt_error: Exception | None,
    ambiguous: bool,
    stop_signal: int | None = None,
) -> int:
    """The one rule from a run's outcome to its exit code (the table in the README);
    ``stop_signal``: the signal that interrupted the run (exit 128 + it)."""
    if halt == "auth":
        return EXIT_AUTH
    if halt == "interrupted":
        return stop_exit_code(stop_signal)
    if halt == "transient":
        return int(getattr(halt_error, "exit_code", EXIT_TEMPFAIL))
    if halt == "error":
        # a refusal that stopped the run: the rows not sent stay unprocessed and resumable
        return EXIT_TEMPFAIL
    if ambiguous:
        return EXIT_AMBIGUOUS
    if counts.rejected:
        return EXIT_REJECTED
    if counts.unprocessed:
        return EXIT_TEMPFAIL
    return EXIT_OK


def write_rejected(path: Path, prepared: PreparedFile, rejections: list[Rejection]) -> Path:
    """The rejected rows with all their original columns plus source_row, stage, reason."""
    from timetracker_import.files.rejected import write_rejected as write

    raw = prepared.raw_rows(r.source_row for r in rejections)
    written = write(path, prepared.table, raw, rejections)
    assert written is not None  # callers only come here with rejections
    return written


def rejected_in(
    directory: Path, input_path: Path, prepared: PreparedFile, rejections: list[Rejection]
) -> Path | None:
    """The run directory's copy of the rejected rows (same format as the input)."""
    if not rejections:
        return None
    from timetracker_import.files.rejected import rejected_suffix

    ext = rejected_suffix(input_path).lower()
    return write_rejected(directory / f"rejected{ext}", prepared, rejections)


def write_report(
    path: Path,
    result: ImportResult,
    prepared: PreparedFile,
    *,
    input_path: Path,
) -> Path | None:
    """The HTML or JSON report (by ``path``'s extension) of an import or dry run."""
    from timetracker_import.core.report import ReportBuilder, ReportSettings, source_cells
    from timetracker_import.files.report_json import write_report as write

    builder = ReportBuilder(ReportSettings(timezone=prepared.timezone))
    rows = [r.source_row for r in result.rejections]
    # The grid shows the hours this import brings (created, already there, or pending),
    # not the hours of rows that were turned away.
    canonical = prepared.canonical
    builder.add_rows(canonical.drop(index=canonical.index.intersection(rows)))
    builder.add_rejections(
        result.rejections, source_cells(prepared.raw_rows(rows), prepared.table.headers, rows)
    )
    builder.add_flags(
        locked_week_rows=[
            (r.source_row, r.reason.split(";")[0])
            for r in result.rejections
            if r.stage == "preflight"
        ],
        duplicate_rows=sorted(set(result.existing) | set(result.in_file_duplicates)),
    )
    counts = {k: int(v) for k, v in result.accounting.to_dict().items()}
    meta: dict[str, Any] = {
        "command": "import --dry-run" if result.dry_run else "import",
        "input": str(input_path),
        "mapping": prepared.loaded.source,
        "timezone": f"{prepared.timezone} ({prepared.timezone_source})",
        "run_id": result.run_id,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if result.concurrency:  # requests in flight while posting (app.limiter)
        from timetracker_import.app.limiter import describe

        meta["concurrency"] = describe(result.concurrency)
    result.report = builder.build(counts, meta, notes=result.notes)
    return write(result.report, path)
