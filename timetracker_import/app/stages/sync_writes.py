"""Stages ``confirm`` and ``execute`` of ``sync``: the journal run, the guard's verdict, what
earlier runs left open, then the creates (the poster) and the updates and deletes (the edit
executor) with the ledger beside the journal."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.stages.edits import EditHooks
from timetracker_import.core.outcomes import Halt, RowOutcome
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.sync_plan import (
    DesiredRow,
    GuardVerdict,
    LedgerEntry,
    Planned,
    RowPlan,
    ServerWorklog,
    SyncPlan,
)
from timetracker_import.errors import (
    AuthError,
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.app.poster import Poster
    from timetracker_import.app.stages.edits import EditOutcome, EditStats
    from timetracker_import.journal.ledger import Ledger
    from timetracker_import.journal.store import Journal

from timetracker_import.app.stages.sync_account import SyncAccountMixin
from timetracker_import.app.stages.sync_model import (
    KIND_SYNC,
    SyncConfirm,
    SyncResult,
)


class SyncWritesMixin(SyncAccountMixin):
    """Stages ``confirm`` and ``execute`` of ``sync``: the journal run, the guard's verdict, what"""

    async def _execute(
        self,
        client: TimetrackerClient,
        ledger: Ledger,
        scope: str,
        source: str,
        plan: SyncPlan,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        bodies: dict[int, dict[str, Any]],
        desired: list[DesiredRow],
        server: Mapping[str, ServerWorklog],
        offset: int,
        self_only: bool,
        verdict: GuardVerdict,
        known_ids: set[str],
    ) -> SyncResult:
        from timetracker_import.journal.store import Journal, new_run_id

        s = self.s
        run_id = new_run_id()
        journal = Journal.create(
            fingerprint=f"{KIND_SYNC}:{run_id}",
            input_path=Path(s.path).resolve(),
            mapping_name=self.p.loaded.source,
            mapping_path=s.mapping_path,
            options={
                "kind": KIND_SYNC,
                "ledger": str(ledger.path),
                "scope": scope,
                "source": source,
                "dry_run": s.dry_run,
                "prune": s.prune,
                "timezone": self.zone.name,
                "period": None if self.period is None else self.period.label,
            },
            base_url=s.connection.rest_root,
            run_id=run_id,
        )
        by_row = {d.source_row: d for d in desired}
        try:
            journal.record_rows(int(r) for r in self.p.raw.index)
            for reason in set(self.skipped.values()):
                journal.mark_skipped(
                    [r for r, why in self.skipped.items() if why == reason], reason
                )
            conflicts = plan.by_outcome(Planned.CONFLICT)
            if self.rejections:
                journal.mark_rejections(self.rejections)
            for r in conflicts:
                self.outcome[r.source_row] = (RowOutcome.CONFLICT, r.worklog_id)
            if conflicts:
                journal.mark_settled(
                    RowOutcome.CONFLICT, {r.source_row: r.worklog_id for r in conflicts}
                )
            creates = [r for r in plan.by_outcome(Planned.CREATE)]
            updates = [r for r in plan.by_outcome(Planned.UPDATE) if r.action is not None]
            stopped_by_guard = not verdict.allowed and bool(plan.deletes) and not s.rebuild
            if stopped_by_guard:
                self.notes.append(self._guard_message(verdict, plan))
            # a first sync whose rows lie mostly on one other source's worklogs is that feed
            # under a new name (a dated file name, a --source added later): writing would
            # put its corrected rows beside the old ones
            renamed = (
                self.first_of_source
                and not s.rebuild
                and plan.beside_foreign
                and 2 * max(plan.beside_foreign.values()) >= len(desired)
            )
            if renamed:  # says more than the "first sync of source" note: replaces it
                self.notes[:] = [n for n in self.notes if not n.startswith("first sync of")]
                self.notes.append(self._renamed_message(source, plan))
            stopped_by_guard = stopped_by_guard or bool(renamed)
            if s.held_by and not s.dry_run and not stopped_by_guard:
                # one file, one verdict: another organization's plan stopped (docs/sync.md)
                stopped_by_guard = True
                self.notes.append(
                    f"nothing was written: {s.held_by}; the file's organizations are synced "
                    "together or not at all"
                )
            info = SyncConfirm(
                len(creates), len(updates), len(plan.deletes), s.connection.rest_root
            )
            writes_planned = bool(creates or updates or plan.deletes)
            real = not (s.dry_run or s.rebuild or stopped_by_guard)
            if writes_planned and real and self.confirm is not None and not self.confirm(info):
                raise UsageError("sync cancelled; nothing was sent", hint="add --yes")
            # settle what earlier runs left open, now that the server was read
            if not s.dry_run:
                self._settle_earlier(plan, run_id, self._entries_before)
            # what is in step already: record adoptions and refreshed entries, drop gone keys
            refreshed = [r.ledger for r in plan.rows if r.outcome == Planned.UNCHANGED and r.ledger]
            if s.rebuild:
                refreshed += [r.ledger for r in updates if r.ledger and r.adopted]
            if not s.dry_run:
                if refreshed:
                    ledger.upsert(scope, refreshed, run_id)
                if plan.forget:
                    ledger.remove(scope, plan.forget)
            unchanged = plan.by_outcome(Planned.UNCHANGED)
            for r in unchanged:
                self.outcome[r.source_row] = (RowOutcome.UNCHANGED, r.worklog_id)
            if unchanged:
                journal.mark_settled(
                    RowOutcome.UNCHANGED, {r.source_row: r.worklog_id for r in unchanged}
                )
            for r in plan.by_outcome(Planned.HOLD):
                self.outcome[r.source_row] = (RowOutcome.UNPROCESSED, None)
            if real:
                await self._run_writes(
                    client,
                    ledger,
                    scope,
                    journal,
                    plan,
                    frame,
                    user_ids,
                    bodies,
                    by_row,
                    self_only,
                    offset,
                    known_ids,
                )
            elif s.dry_run or s.rebuild:
                # the plan as a whole, with the guard's verdict beside it
                await self._dry_writes(
                    client, journal, plan, frame, user_ids, bodies, self_only, offset, known_ids
                )
            else:
                for r in creates + updates:
                    self.outcome[r.source_row] = (RowOutcome.UNPROCESSED, r.worklog_id)
            return self._finish(journal, plan, server, desired, verdict, stopped_by_guard)
        finally:
            journal.close()

    def _guard_message(self, verdict: GuardVerdict, plan: SyncPlan) -> str:
        from timetracker_import.core.sync_plan import local_week

        per: dict[tuple[str, str], int] = {}
        for d in plan.deletes:
            w = ServerWorklog.from_api(d.before)
            who = self.labels.get(w.user_id, w.user_id)
            week = local_week(w.timestamp, self.zone.name).isoformat()  # the period's weeks
            per[(who, week)] = per.get((who, week), 0) + 1
        lines = ", ".join(f"{who} week of {week}: {n}" for (who, week), n in sorted(per.items()))
        stopped = (
            "the deletion guard would stop the real sync before its first write"
            if self.s.dry_run
            else "the deletion guard stopped this sync before its first write"
        )
        return (
            f"{stopped}: it would delete "
            f"{verdict.deletes} worklog(s) ({lines}); {verdict.reason}. If that is what you "
            f"want, run again with {verdict.allowance()}; if not, check "
            "the file (truncated export? wrong period?)"
        )

    def _renamed_message(self, source: str, plan: SyncPlan) -> str:
        stopped = (
            "the real sync would stop before its first write"
            if self.s.dry_run
            else "this sync stopped before its first write"
        )
        theirs = ", ".join(
            f"{n} of its rows lie on worklogs of source {name!r}"
            for name, n in sorted(plan.beside_foreign.items())
        )
        first = self.renamed_from = max(
            plan.beside_foreign, key=lambda name: plan.beside_foreign[name]
        )
        named = "" if self.source_declared else " (the input file's name)"
        return (
            f"{stopped}: this is the first sync of source {source!r}{named}, and {theirs}: "
            "that looks like the same feed under a new name, whose corrected rows would be "
            f"written a second time beside the old ones. To continue that feed, give "
            f"--source {first!r} (keep it in the command or as `source:` in the mapping); if "
            "this file really is another feed over the same entries, give its rows an id "
            "column as key (--key COLUMN)"
        )

    def _settle_earlier(
        self, plan: SyncPlan, run_id: str, entries: Mapping[str, LedgerEntry]
    ) -> None:
        """Ledger entries an earlier run left mid-write (``pending`` PATCH, ``deleting``):
        what the server shows now settles that run's open actions in its own journal."""
        from timetracker_import.journal.actions import Resolution, settle_elsewhere
        from timetracker_import.journal.runs import runs_root

        by_run: dict[str, list[Resolution]] = {}
        for key, (planned, current) in plan.resolved.items():
            before = entries.get(key)
            if before is None or before.run_id in (None, run_id):
                continue
            if before.state == "deleting":
                state = "done" if current is None else "failed"
                by_run.setdefault(before.run_id, []).append(
                    Resolution(
                        "delete",
                        before.worklog_id,
                        state,
                        detail="the worklog was gone"
                        if current is None
                        else "the worklog was still there",
                    )
                )
            elif before.pending:
                took = (
                    planned.edited_ts != before.edited_ts
                    and current is not None
                    and (planned.content != before.content)
                )
                by_run.setdefault(before.run_id, []).append(
                    Resolution(
                        "update",
                        before.worklog_id,
                        "done" if took else "failed",
                        edited_after=planned.edited_ts if took else None,
                        detail="the worklog held the new values"
                        if took
                        else "the worklog did not hold the new values",
                    )
                )
        for earlier, resolutions in by_run.items():
            settle_elsewhere(runs_root() / earlier, resolutions, run_id)

    async def _dry_writes(
        self,
        client: TimetrackerClient,
        journal: Journal,
        plan: SyncPlan,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        bodies: dict[int, Any],
        self_only: bool,
        offset: int,
        known_ids: set[str],
    ) -> None:
        creates = [r.source_row for r in plan.by_outcome(Planned.CREATE)]
        if creates and not self.s.rebuild:
            poster = await self._post(
                client,
                journal,
                frame,
                user_ids,
                bodies,
                creates,
                self_only,
                offset,
                known_ids,
                dry_run=True,
            )
            for row in creates:
                if row in poster.stats.would_create:
                    self.outcome[row] = (RowOutcome.CREATED, None)
            for rej in poster.stats.rejections:
                self.reject([rej])
        elif creates:
            for row in creates:
                self.outcome[row] = (RowOutcome.UNPROCESSED, None)
            self.notes.append(
                f"{len(creates)} row(s) have no worklog to adopt; the next sync creates them"
            )
        for r in plan.by_outcome(Planned.UPDATE):
            self.outcome[r.source_row] = (
                RowOutcome.UNCHANGED if self.s.rebuild else RowOutcome.UPDATED,
                r.worklog_id,
            )
        if not self.s.rebuild:
            self.deleted = [self._delete_doc(d) for d in plan.deletes]

    async def _post(
        self,
        client: TimetrackerClient,
        journal: Journal,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        bodies: dict[int, Any],
        rows: list[int],
        self_only: bool,
        offset: int,
        known_ids: set[str],
        *,
        dry_run: bool,
    ) -> Poster:
        """Create ``rows`` through the import's stages: ``plan_creates`` (batches by user and
        time) and the poster with its batch journal and read-back (stage execute)."""
        from timetracker_import.app.poster import Poster
        from timetracker_import.app.stages.execute import read_back_for
        from timetracker_import.app.stages.plan import plan_creates
        from timetracker_import.core.worklog_key import keys_from_frame

        part = frame.loc[rows]
        ids = user_ids.reindex(part.index)
        keys = keys_from_frame(part, ids)
        if not dry_run:
            # the natural keys of the rows to create: a later run that finds this one killed
            # mid-batch claims what it created by them (exact undo)
            journal.record_rows(rows, keys)
        planned = plan_creates(
            part,
            ids,
            stored=[],
            pending=set(rows),
            batch_size=self.s.batch_size,
            first_batch_no=journal.next_batch_no(),
        )
        if not dry_run:
            journal.record_plan(planned.new)
        poster = self.poster = Poster(
            client=client,
            journal=journal,
            bodies=bodies,
            keys=keys,
            timestamps=part["timestamp"],
            read_back=read_back_for(client, self_only=self_only),
            pending=part.index,
            known_ids=known_ids,
            claim_after=datetime.fromisoformat(journal.info().started_at),
            dry_run=dry_run,
            concurrency=self.limiter,
            naive_offset_minutes=offset,
            created_offset_minutes=offset,
            on_rows_done=None if dry_run else self._progressed,
        )
        if self.halt is None:
            await poster.run(planned.batches)
        self.writes += poster.stats.requests
        if poster.stats.halt:
            halt = Halt(poster.stats.halt)
            if halt != Halt.INTERRUPTED or self.halt is None:
                self.halt = self.halt or halt
            self.halt_error = self.halt_error or poster.stats.halt_error
        if poster.stats.ambiguous_batches:
            self.ambiguous = True
        return poster

    async def _run_writes(
        self,
        client: TimetrackerClient,
        ledger: Ledger,
        scope: str,
        journal: Journal,
        plan: SyncPlan,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        bodies: dict[int, Any],
        by_row: dict[int, DesiredRow],
        self_only: bool,
        offset: int,
        known_ids: set[str],
    ) -> None:
        from timetracker_import.app.stages.edits import EditExecutor, EditWrite

        updates = [r for r in plan.by_outcome(Planned.UPDATE) if r.action is not None]
        creates = [r.source_row for r in plan.by_outcome(Planned.CREATE)]
        writes = [EditWrite(r.action, r.source_row, r.key) for r in updates if r.action is not None]
        writes += [EditWrite(d, None, d.key) for d in plan.deletes]
        hooks = _LedgerHooks(ledger, scope, updates, by_row)
        self.edits = EditExecutor(
            client, journal, concurrency=self.limiter, hooks=hooks, on_done=self._progressed
        )
        self.progress_total = len(creates) + len(writes)
        self._progressed(0)

        async def create() -> None:
            if not creates:
                return
            poster = await self._post(
                client,
                journal,
                frame,
                user_ids,
                bodies,
                creates,
                self_only,
                offset,
                known_ids,
                dry_run=False,
            )
            records = {c.source_row: c for c in journal.created_records()}
            key_of = {r.source_row: r.key for r in plan.rows}
            entries = []
            for row in creates:
                rec = records.get(row)
                if rec is None:
                    continue
                d = by_row[row]
                self.outcome[row] = (RowOutcome.CREATED, rec.worklog_id)
                entries.append(
                    LedgerEntry(
                        key_of[row],
                        rec.worklog_id,
                        d.user_id,
                        d.timestamp,
                        dict(d.content),
                        rec.edited_ts,
                    )
                )
            if entries:
                await asyncio.to_thread(ledger.upsert, scope, entries, journal.run_id)
            for rej in poster.stats.rejections:
                self.reject([rej])

        with self.seq.writing(self._stop_writers):
            results = await asyncio.gather(create(), self.edits.run(writes), return_exceptions=True)
        for failure in results:
            if isinstance(failure, AuthError):
                self.halt, self.halt_error = Halt.AUTH, failure
            elif isinstance(failure, BaseException):
                raise failure
        stats = self.edits.stats
        self.writes += stats.requests
        self._account_edits(stats, journal)
        if stats.halt is not None:
            if stats.halt != Halt.INTERRUPTED or self.halt is None:
                self.halt = self.halt or stats.halt
            self.halt_error = self.halt_error or stats.halt_error
        if stats.unknown:
            self.ambiguous = True

    def _account_edits(self, stats: EditStats, journal: Journal) -> None:
        from timetracker_import.app.stages.edits import EditState

        updated: dict[int, str | None] = {}
        for o in stats.outcomes:
            row = o.write.source_row
            if o.write.kind == "delete":
                if o.state in (EditState.DONE, EditState.GONE):
                    self.deleted.append(self._delete_doc(o.write.action))
                elif o.state == EditState.FAILED:
                    self.delete_problems.append(
                        {
                            "worklog_id": o.write.worklog_id,
                            "key": o.write.key,
                            "reason": o.detail or "refused",
                        }
                    )
                continue
            assert row is not None
            if o.state == EditState.DONE:
                self.outcome[row] = (RowOutcome.UPDATED, o.write.worklog_id)
                updated[row] = o.write.worklog_id
            elif o.state == EditState.GONE:
                self.outcome[row] = (RowOutcome.CONFLICT, o.write.worklog_id)
                journal.mark_settled(
                    RowOutcome.CONFLICT,
                    {row: o.write.worklog_id},
                    f"worklog {o.write.worklog_id} was deleted in 7pace while "
                    "sync ran; not re-created",
                )
            elif o.state == EditState.FAILED:
                rej = Rejection(
                    row,
                    "server",
                    None,
                    None,
                    f"the server refused the update of worklog {o.write.worklog_id}: {o.detail}",
                    o.error.error_code if o.error else None,
                )
                self.reject([rej])
                journal.mark_rejections([rej])
            else:
                self.outcome[row] = (RowOutcome.UNPROCESSED, o.write.worklog_id)
        if updated:
            journal.mark_settled(RowOutcome.UPDATED, updated)

    def _delete_doc(self, action: Any) -> dict[str, Any]:
        w = ServerWorklog.from_api(action.before)
        return {
            "worklog_id": action.worklog_id,
            "key": action.key,
            "user_id": w.user_id,
            "user": self.labels.get(w.user_id, w.user_id),
            "timestamp": w.timestamp,
            "length": w.content.get("length"),
            "comment": w.content.get("comment"),
        }


class _LedgerHooks(EditHooks):
    """Sync's ledger beside the journal: the PATCH/DELETE intents before the requests, the
    outcomes after (see ``app.stages.edits.EditHooks``)."""

    def __init__(
        self,
        ledger: Ledger,
        scope: str,
        updates: Sequence[RowPlan],
        by_row: Mapping[int, DesiredRow],
    ) -> None:
        self.ledger, self.scope = ledger, scope
        self.updates = {r.source_row: r for r in updates}
        self.by_row = by_row

    def before(self, writes: Sequence[Any], run_id: str) -> None:
        adopted = [
            self.updates[w.source_row].ledger
            for w in writes
            if w.kind == "update" and self.updates[w.source_row].ledger is not None
        ]
        self.ledger.intend(
            self.scope,
            entries=[e for e in adopted if e is not None],
            pending={w.key: dict(w.action.fields) for w in writes if w.kind == "update"},
            deleting=[w.key for w in writes if w.kind == "delete" and w.key is not None],
            run_id=run_id,
        )

    def after(self, outcomes: Sequence[EditOutcome], run_id: str) -> None:
        from timetracker_import.app.stages.edits import EditState

        entries: list[LedgerEntry] = []
        removed: list[str] = []
        not_sent: list[str] = []
        for o in outcomes:
            key = o.write.key
            if key is None:
                continue
            if o.write.kind == "delete":
                if o.state in (EditState.DONE, EditState.GONE):
                    removed.append(key)
                elif o.state in (EditState.FAILED, EditState.UNSENT):
                    not_sent.append(key)
                continue  # unknown: stays "deleting", the next run sees whether it is gone
            if o.state == EditState.DONE:
                d = self.by_row[o.write.source_row]  # type: ignore[index]
                answer = o.answer or {}
                current = ServerWorklog.from_api(answer) if answer.get("timestamp") else None
                entries.append(
                    LedgerEntry(
                        key,
                        o.write.worklog_id,
                        current.user_id if current else d.user_id,
                        current.timestamp if current else d.timestamp,
                        dict(d.content),
                        o.edited_after,
                    )
                )
            elif o.state in (EditState.FAILED, EditState.GONE, EditState.UNSENT):
                not_sent.append(key)
        self.ledger.settle(
            self.scope, entries=entries, removed=removed, not_sent=not_sent, run_id=run_id
        )
