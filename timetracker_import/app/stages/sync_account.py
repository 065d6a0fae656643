"""Stage ``account`` of ``sync``: every row in exactly one bucket, the exit code, the result,
the journal's record, the rejected-rows file and the report with its changes section."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.core.outcomes import Counts, RowOutcome
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.core.sync_plan import (
    DesiredRow,
    GuardVerdict,
    Planned,
    ServerWorklog,
    SyncPlan,
)
from timetracker_import.errors import (
    EXIT_REJECTED,
)

if TYPE_CHECKING:
    from timetracker_import.journal.store import Journal

from timetracker_import.app.stages.sync_model import (
    SyncResult,
    SyncRunState,
    source_from,
)


class SyncAccountMixin(SyncRunState):
    """Stage ``account`` of ``sync``: every row in exactly one bucket, the exit code, the result,"""

    def _finish(
        self,
        journal: Journal,
        plan: SyncPlan,
        server: Mapping[str, ServerWorklog],
        desired: list[DesiredRow],
        verdict: GuardVerdict,
        stopped_by_guard: bool,
    ) -> SyncResult:
        from timetracker_import.app.stages.account import (
            exit_code_for,
            rejected_in,
            write_rejected,
        )

        s = self.s
        all_rows = [int(r) for r in self.p.raw.index]
        for row in self.skipped:
            self.outcome[row] = (RowOutcome.SKIPPED, None)
        counts = Counts(rows=len(all_rows))
        for row in all_rows:
            counts.add(self.outcome.get(row, (RowOutcome.UNPROCESSED, None))[0])
        counts.deleted = len(self.deleted)
        counts.in_file_duplicates = len(self.p.repeats)
        leftover = [
            r
            for r in journal.pending_rows()
            if self.outcome.get(r, (RowOutcome.UNPROCESSED,))[0].is_open
        ]
        if leftover and not s.dry_run:
            journal.mark_unprocessed(leftover)
        rejections = sorted(
            merge_rejections(
                self.rejections
                + [
                    Rejection(r.source_row, "conflict", None, r.worklog_id, r.reason or "conflict")
                    for r in plan.by_outcome(Planned.CONFLICT)
                ]
            ),
            key=lambda r: r.source_row,
        )
        # the import's rule; a conflict, a kept edited worklog, a refused delete or a stop
        # by the deletion guard counts as a rejection; rows a ledger rebuild leaves for the
        # next sync and rows held by a frozen slot are not a temporary failure
        refusals = (
            counts.rejected
            + counts.conflicts
            + len(self.delete_problems)
            + len(plan.delete_conflicts)
            + int(stopped_by_guard)
        )
        held = len(plan.by_outcome(Planned.HOLD))
        code = exit_code_for(
            Counts(
                rows=counts.rows,
                rejected=refusals,
                unprocessed=0
                if (s.rebuild or stopped_by_guard)
                else max(0, counts.unprocessed - held),
            ),
            halt=self.halt,
            halt_error=self.halt_error,
            ambiguous=self.ambiguous,
            stop_signal=self.stop_signal,
        )
        if held and code == 0:
            code = EXIT_REJECTED  # held rows wait for a rejected row: never "all done"
        changes = [
            {
                "source_row": r.source_row,
                "key": r.key,
                "worklog_id": r.worklog_id,
                "adopted": r.adopted,
                "fields": {k: {"old": o, "new": n} for k, (o, n) in r.changes.items()},
            }
            for r in plan.rows
            if r.outcome == Planned.UPDATE
            and self.outcome.get(r.source_row, (RowOutcome.PENDING,))[0]
            in (RowOutcome.UPDATED, RowOutcome.UNCHANGED)
        ]
        by_row = {d.source_row: d for d in desired}
        creates = [
            {
                "source_row": r.source_row,
                "key": r.key,
                "worklog_id": outcome[1],
                "user": self.labels.get(d.user_id, d.user_id),
                "timestamp": d.timestamp,
                "length": d.content.get("length"),
                "work_item": d.work_item_id,
                "comment": d.content.get("comment"),
            }
            for r in plan.by_outcome(Planned.CREATE)
            if (d := by_row.get(r.source_row)) is not None
            and (outcome := self.outcome.get(r.source_row, (RowOutcome.PENDING, None)))[0]
            == RowOutcome.CREATED
        ]
        conflicts = [
            {
                "source_row": r.source_row,
                "key": r.key,
                "worklog_id": r.worklog_id,
                "reason": r.reason,
                "ours": r.ours,
                "theirs": r.theirs,
                "wanted": {k: n for k, (_, n) in r.changes.items()},
            }
            for r in plan.by_outcome(Planned.CONFLICT)
        ] + [
            {"source_row": None, "key": c.key, "worklog_id": c.worklog_id, "reason": c.reason}
            for c in plan.delete_conflicts
        ]
        for problem in self.delete_problems:
            self.notes.append(
                f"worklog {problem['worklog_id']} (key {problem['key']}) was not "
                f"deleted: {problem['reason']}"
            )
        absent = [k for k in plan.kept if k.why.startswith("no longer")]
        if absent:
            where = "inside the period" if self.period else "on the file's days"
            how = "--prune deletes them" if self.period else "declare a period with --window "
            how += "" if self.period else "and add --prune to delete them"
            self.notes.append(
                f"{len(absent)} worklog(s) this source wrote are no longer in "
                f"the file {where}; kept ({how})"
            )
        if held:
            self.notes.append(f"{held} row(s) held: a rejected row may be their entry")
        halt_message = None
        if self.halt_error is not None:
            halt_message = str(self.halt_error)
        elif self.stop_signal is not None:
            from timetracker_import.app.stages.execute import stop_signal_message

            halt_message = stop_signal_message(self.stop_signal)
        result = SyncResult(
            run_id=journal.run_id,
            run_dir=journal.directory,
            dry_run=s.dry_run,
            exit_code=code,
            counts=counts,
            changes=changes,
            creates=creates,
            deletes=self.deleted,
            conflicts=conflicts,
            kept=[
                {
                    "key": k.entry.key,
                    "worklog_id": k.entry.worklog_id,
                    "timestamp": k.entry.timestamp,
                    "why": k.why,
                }
                for k in plan.kept
            ],
            held=[
                {"source_row": r.source_row, "why": r.reason} for r in plan.by_outcome(Planned.HOLD)
            ],
            rejections=rejections,
            notes=self.notes,
            source=source_from(journal),
            period=self.period,
            timezone=self.zone.to_dict(self.me_offset),
            guard=verdict,
            halt_reason=None if self.halt is None else self.halt.value,
            halt_message=halt_message,
            writes=self.writes,
            concurrency=self.limiter.summary() if self.writes else {},
            renamed_from=self.renamed_from,
        )
        result.hours = _hours_before_after(
            plan, server, desired, self.outcome, self.labels, self.deleted, self.zone.name
        )
        if rejections and not s.rebuild:
            result.rejected_path = rejected_in(journal.directory, s.path, self.p, rejections)
            if s.rejected_path is not None:
                write_rejected(s.rejected_path, self.p, rejections)
        if s.report_path is not None:
            result.report_path = self._write_report(result)
        status = "halted" if (self.halt is not None or self.ambiguous) else "complete"
        journal.finish(
            status,
            counts if s.dry_run else None,
            halt_reason=None if self.halt is None else self.halt.value,
        )
        journal.write_summary({k: v for k, v in result.summary_dict().items() if k != "run_id"})
        return result

    def _write_report(self, result: SyncResult) -> Path | None:
        from timetracker_import.core.report import ReportBuilder, ReportSettings, source_cells
        from timetracker_import.files.report_json import write_report

        assert self.s.report_path is not None
        builder = ReportBuilder(ReportSettings(timezone=self.zone.name))
        rows = [r.source_row for r in result.rejections]
        canonical = self.p.canonical
        builder.add_rows(canonical.drop(index=canonical.index.intersection(rows)))
        builder.add_rejections(
            result.rejections, source_cells(self.p.raw, self.p.table.headers, rows)
        )
        builder.add_changes(
            changes=result.changes,
            deletes=result.deletes,
            conflicts=result.conflicts,
            hours=result.hours,
        )
        meta: dict[str, Any] = {
            "command": "sync --dry-run" if result.dry_run else "sync",
            "input": str(self.s.path),
            "mapping": self.p.loaded.source,
            "run_id": result.run_id,
            "timezone": self.zone.describe(),
            "period": None if self.period is None else self.period.label,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if result.concurrency:  # requests in flight while writing (app.limiter)
            from timetracker_import.app.limiter import describe

            meta["concurrency"] = describe(result.concurrency)
        counts = {k: int(v) for k, v in result.counts.to_dict().items()}
        return write_report(builder.build(counts, meta), self.s.report_path)


def _hours_before_after(
    plan: SyncPlan,
    server: Mapping[str, ServerWorklog],
    desired: list[DesiredRow],
    outcome: Mapping[int, tuple[RowOutcome, str | None]],
    labels: Mapping[str, str],
    deleted: list[dict[str, Any]],
    timezone: str,
) -> dict[str, dict[str, float]]:
    """User x week hours before -> after this sync, for the worklogs sync manages:
    ``{"user|week": {"before": h, "after": h}}``; weeks of the declared zone, as the
    period's days."""
    from timetracker_import.core.sync_plan import local_week

    grid: dict[str, dict[str, float]] = {}

    def add(user: str, stamp: str, which: str, seconds: float) -> None:
        user = labels.get(user, user)
        week = local_week(stamp, timezone).isoformat()  # local_day is cached per stamp
        cell = grid.setdefault(f"{user}|{week}", {"before": 0.0, "after": 0.0})
        cell[which] += seconds / 3600

    by_row = {d.source_row: d for d in desired}
    for r in plan.rows:
        d = by_row.get(r.source_row)
        state = outcome.get(r.source_row, (RowOutcome.PENDING,))[0]
        if d is None:
            continue
        old = server.get(r.worklog_id or "")
        if old is not None:
            add(old.user_id, old.timestamp, "before", old.content.get("length") or 0)
        if state in (RowOutcome.CREATED, RowOutcome.UPDATED, RowOutcome.UNCHANGED):
            add(d.user_id, d.content.get("timeStamp", d.timestamp), "after", d.content["length"])
        elif old is not None:
            add(old.user_id, old.timestamp, "after", old.content.get("length") or 0)
    # every planned delete counts before; after, only those that were not done (a run
    # cancelled or halted before sending them leaves them in 7pace)
    done = {doc["worklog_id"] for doc in deleted}
    for action in plan.deletes:
        gone = ServerWorklog.from_api(action.before)
        length = gone.content.get("length") or 0
        add(gone.user_id, gone.timestamp, "before", length)
        if action.worklog_id not in done:
            add(gone.user_id, gone.timestamp, "after", length)
    return {
        k: {"before": round(v["before"], 2), "after": round(v["after"], 2)}
        for k, v in sorted(grid.items())
    }
