"""Stage ``preflight`` of ``sync``: what the server holds - the worklogs of the period and of
the rows' days (read in concurrent windows), each ledgered worklog the plan may touch, the
approval states - and the creates a killed earlier run left on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from timetracker_import.core.outcomes import Halt, RunKind
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.sync_plan import (
    DesiredRow,
    LedgerEntry,
    Planned,
    ServerWorklog,
    SyncPlan,
    local_day,
)
from timetracker_import.errors import (
    AuthError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.journal.ledger import Foreign, Ledger

from timetracker_import.app.stages.sync_model import (
    SyncRunState,
)


class SyncReadsMixin(SyncRunState):
    """Stage ``preflight`` of ``sync``: what the server holds - the worklogs of the period and of"""

    async def _reconcile_killed(
        self,
        client: TimetrackerClient,
        ledger: Ledger,
        scope: str,
        entries: Mapping[str, LedgerEntry],
        foreign: Foreign,
        self_only: bool,
        offset: int,
    ) -> None:
        """Earlier syncs of this source that were killed while a batch of creates was on the
        wire: claim what the server holds for those batches in their own journals (never
        sending anything), so that ``runs undo`` of that run deletes them. This run adopts
        the same worklogs as any unledgered ones."""
        from timetracker_import.app.poster import Poster
        from timetracker_import.app.stages.execute import read_back_for
        from timetracker_import.journal.runs import list_runs
        from timetracker_import.journal.store import Journal

        ours = {e.worklog_id for e in entries.values()} | set(foreign.worklogs)
        for info in list_runs():
            if info.kind != RunKind.SYNC or info.status == "complete" or info.dry_run:
                continue
            with Journal.open(info.run_id) as earlier:
                options = earlier.options
                if options.get("scope") != scope or options.get("ledger") != str(ledger.path):
                    continue
                batches = earlier.in_flight_batches()
                if not batches:
                    continue
                keys = earlier.row_keys()
                poster = Poster(
                    client=client,
                    journal=earlier,
                    bodies=_NoBodies(),
                    keys=keys,
                    timestamps={},
                    read_back=read_back_for(client, self_only=self_only),
                    pending=[r for b in batches for r in b.source_rows if r in keys],
                    known_ids=ours,
                    claim_after=datetime.fromisoformat(info.started_at),
                    naive_offset_minutes=offset,
                    created_offset_minutes=offset,
                    resend=False,
                )
                for batch in batches:
                    await poster.reconcile(batch)
                if poster.stats.created:
                    self.notes.append(
                        f"run {info.run_id} was stopped while creating; {len(poster.stats.created)} "
                        "worklog(s) it created are now in its journal (its undo deletes them)"
                    )
                if info.status == "open":
                    earlier.finish("halted", halt_reason=Halt.INTERRUPTED.value)

    def _file_days(self, desired: list[DesiredRow]) -> tuple[date, date] | None:
        days = [local_day(d.timestamp, self.zone.name) for d in desired]
        return (min(days), max(days)) if days else None

    def _ledgered_in_period(
        self, entries: Mapping[str, LedgerEntry], server: Mapping[str, ServerWorklog]
    ) -> int:
        period = self.period
        if period is None:
            return 0
        count = 0
        for e in entries.values():
            current = server.get(e.worklog_id)
            stamp = current.timestamp if current is not None else e.timestamp
            if current is not None and period.contains(local_day(stamp, self.zone.name)):
                count += 1
        return count

    def _note_foreign(
        self,
        plan: SyncPlan,
        entries: Mapping[str, LedgerEntry],
        server: Mapping[str, ServerWorklog],
        foreign: Foreign,
    ) -> None:
        assert self.period is not None
        ours = {e.worklog_id for e in entries.values()} | {
            r.worklog_id for r in plan.rows if r.worklog_id
        }
        inside = [
            w
            for w in server.values()
            if w.id not in ours and self.period.contains(local_day(w.timestamp, self.zone.name))
        ]
        theirs = [w for w in inside if w.id in foreign.worklogs]
        alone = len(inside) - len(theirs)
        if theirs:
            self.notes.append(
                f"{len(theirs)} worklog(s) in the period belong to other sources "
                "and were left alone"
            )
        if alone:
            self.notes.append(
                f"{alone} worklog(s) in the period were neither written nor "
                "adopted by this source; --prune leaves them alone"
            )

    async def _read_server(
        self,
        client: TimetrackerClient,
        desired: list[DesiredRow],
        entries: Mapping[str, LedgerEntry],
        wanted: set[str],
        keyed: bool,
        self_only: bool,
        offset: int,
    ) -> tuple[dict[str, ServerWorklog], list[Any]]:
        """Stage preflight over sync's days: the approval states and every worklog of the
        period and of the rows' days, read in concurrent windows; then each ledgered worklog
        the plan may touch that was not among them, by id."""
        from timetracker_import.app.stages.edits import gather_limited, worklog_or_none
        from timetracker_import.app.stages.preflight import APPROVALS_UNREADABLE
        from timetracker_import.core.export import day_range

        tz = self.zone.name
        days = [local_day(d.timestamp, tz) for d in desired]
        if self.period is not None:
            days += [self.period.first, self.period.last]
        server: dict[str, ServerWorklog] = {}
        approvals: list[Any] = []
        if days:
            span = day_range(min(days), max(days), tz, today=max(days))
            lo, hi = span.start, span.end
            approvals_read = asyncio.ensure_future(
                client.approvals(
                    from_ts=lo.date() - timedelta(days=8), to_ts=hi.date() + timedelta(days=8)
                )
            )
            try:
                worklogs = await self._read_window(client, span, self_only)
                try:
                    approvals = list(await approvals_read)
                except AuthError as exc:
                    if exc.status != 403:
                        raise
                    self.notes.append(APPROVALS_UNREADABLE)
            finally:
                if not approvals_read.done():
                    approvals_read.cancel()
                await asyncio.gather(approvals_read, return_exceptions=True)
            for w in worklogs:
                if w.get("id") and str(w["id"]) not in server:
                    item = ServerWorklog.from_api(w, naive_offset_minutes=offset)
                    server[item.id] = item
        slots = {d.key for d in desired} if not keyed else set()

        def relevant(key: str, e: LedgerEntry) -> bool:
            if e.pending or e.state == "deleting":
                return True
            if keyed:
                return key in wanted
            return key.rpartition("#")[0] in slots or (
                self.period is not None and self.period.contains(local_day(e.timestamp, tz))
            )

        missing = [
            e.worklog_id
            for k, e in entries.items()
            if e.worklog_id not in server and relevant(k, e)
        ]
        if self.period is not None:
            missing += [
                e.worklog_id
                for e in entries.values()
                if e.worklog_id not in server
                and e.worklog_id not in missing
                and self.period.contains(local_day(e.timestamp, tz))
            ]
        found = await gather_limited(
            [worklog_or_none(client, w) for w in missing], self.read_concurrency
        )
        for worklog in found:
            if worklog is not None:
                item = ServerWorklog.from_api(worklog, naive_offset_minutes=offset)
                server[item.id] = item
        return server, approvals

    async def _read_window(
        self, client: TimetrackerClient, span: Any, self_only: bool
    ) -> list[dict[str, Any]]:
        """Every worklog of ``span``, read in concurrent windows (export's reader); a token
        that may not read everyone's reads its own when every row is its own."""
        from timetracker_import.app.export import ExportSettings, fetch_worklogs
        from timetracker_import.app.stages.preflight import BASELINE_ROLE_HINT

        settings = ExportSettings(timezone=self.zone.name, concurrency=self.read_concurrency)
        try:
            found, _ = await fetch_worklogs(client, settings, span)
            return found
        except AuthError as exc:
            if exc.status != 403:
                raise
            if not self_only:
                raise AuthError(
                    "this token may not read other users' worklogs, which sync compares with",
                    status=403,
                    hint=BASELINE_ROLE_HINT,
                ) from None
        found, _ = await fetch_worklogs(client, replace(settings, mine=True), span)
        return found

    def _lock_check(
        self,
        plan: SyncPlan,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        approvals: list[Any],
        labels: dict[str, str],
        *,
        users: list[dict[str, Any]],
        self_id: str,
        self_offset: int,
    ) -> None:
        """Stage preflight's lock check, import's (``locked_rejections``, by each user's local
        week where 7pace tells it: the token user's ``me.timeZone``): creates and updates
        into locked weeks are rejected (week and state named); an update also writes into
        the week its worklog is in now; deletes there are not sent."""
        from timetracker_import.app.stages.preflight import locked_rejections
        from timetracker_import.core.approval import locked_weeks, user_offsets, week_start
        from timetracker_import.core.worklog import stamp_instant

        locked = locked_weeks(approvals, on_problem=self.notes.append)
        if not locked:
            return
        offsets = user_offsets(users, self_id, self_offset)
        writing = [r.source_row for r in plan.rows if r.outcome in (Planned.CREATE, Planned.UPDATE)]
        rejected = locked_rejections(
            frame.loc[writing],
            user_ids,
            approvals,
            labels=labels,
            date_header=self.p.date_header,
            users=users,
            self_id=self_id,
            self_offset=self_offset,
            notes=self.notes,
            prepared=self.p,
        )
        done = {r.source_row for r in rejected}
        for row in plan.rows:
            if row.outcome != Planned.UPDATE or row.source_row in done or row.action is None:
                continue
            before = row.action.before.get("timeStamp")
            if before:
                user = str(row.action.before.get("userId") or user_ids.get(row.source_row) or "")
                user = user.lower()
                monday = week_start(stamp_instant(str(before)), offsets.get(user, 0))
                state = locked.get((user, monday))
                if state:
                    rejected.append(
                        Rejection(
                            row.source_row,
                            "preflight",
                            self.p.date_header,
                            None,
                            f"the worklog is in the week of {monday}, which is {state}; it cannot "
                            "be moved out of it",
                        )
                    )
        self.reject(rejected)
        refused = {r.source_row for r in rejected}
        plan.rows = [r for r in plan.rows if r.source_row not in refused]
        kept = []
        for d in plan.deletes:
            w = ServerWorklog.from_api(d.before)
            monday = week_start(stamp_instant(w.timestamp), offsets.get(w.user_id.lower(), 0))
            state = locked.get((w.user_id.lower(), monday))
            if state:
                self.delete_problems.append(
                    {
                        "worklog_id": d.worklog_id,
                        "key": d.key,
                        "reason": f"its week ({monday}) is {state}; not deleted",
                    }
                )
            else:
                kept.append(d)
        plan.deletes = kept


class _NoBodies(dict):  # type: ignore[type-arg]
    """The request bodies of a killed run's batch are not known to a later run: claimed
    creates are journaled without their body (undo needs only the worklog id)."""

    def __missing__(self, key: Any) -> None:
        return None
