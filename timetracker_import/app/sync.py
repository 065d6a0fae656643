"""Use case: ``sync`` - make 7pace equal to a recurring source inside a declared period, and
never delete or double an hour by mistake.

The run is the import's stages with another planner; this module sequences them, and
one mixin per stage holds its steps (``app.stages.sync_rows``, ``sync_reads``,
``sync_writes``, ``sync_account``, over the run state of ``app.stages.sync_model``):

    prepare -> zone -> setup reads -> resolve -> keys, period, freeze -> server reads
            -> plan (core.sync_plan) -> preflight (locked weeks) -> guard -> journal
            -> confirm -> execute (creates: the Poster; updates/deletes: the edit executor)
            -> account

- ``prepare``, ``resolve``, the locked-week check, the creation bodies, the poster, the
  edit executor, the exit-code rule, the rejected-rows file and the report are the stages
  ``import`` uses (``app.stages``); repeated lines follow import's ``--on-duplicate`` rule.
- What sync adds: a key per row (an id column, or the slot), the ledger of this *source*
  (``journal.ledger``), a declared *period* that bounds every delete, what rejected rows
  freeze, and the deletion guard. The plan itself is pure (``core.sync_plan``).
- Every write is an action in the run's journal (intent before the request, outcome after)
  and the ledger carries the same intents, so a run killed at any point converges on the
  next run - which also settles the killed run's open actions in its journal, so that
  ``runs undo`` of either run is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.limiter import Concurrency
from timetracker_import.core.outcomes import Counts
from timetracker_import.core.sync_plan import (
    ON_DUPLICATE_KEY,
    SLOT_KEY,
    guard_deletes,
    parse_delete_limit,
    parse_period,
    plan_sync,
)
from timetracker_import.errors import EXIT_REJECTED, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from timetracker_import.api.client import RetryingClientFactory, TimetrackerClient
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.core.rejections import Rejection
    from timetracker_import.core.sync_plan import (
        DesiredRow,
        Freeze,
        LedgerEntry,
        SyncPlan,
    )
    from timetracker_import.core.worklog import ServerWorklog
    from timetracker_import.journal.ledger import Foreign, Ledger

from timetracker_import.app.stages.sync_model import (
    KIND_SYNC,
    STAGE_PERIOD,
    SyncConfirm,
    SyncResult,
    SyncSettings,
    source_name,
)
from timetracker_import.app.stages.sync_reads import SyncReadsMixin
from timetracker_import.app.stages.sync_rows import SyncRowsMixin
from timetracker_import.app.stages.sync_writes import SyncWritesMixin

__all__ = [
    "KIND_SYNC",
    "STAGE_PERIOD",
    "SyncConfirm",
    "SyncResult",
    "SyncSettings",
    "check_sync_settings",
    "source_name",
    "sync_file",
]


def sync_file(
    settings: SyncSettings,
    *,
    confirm: Callable[[SyncConfirm], bool] | None = None,
    client_factory: RetryingClientFactory | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """Sync a file into 7pace (library API). ``confirm`` is asked before anything is written
    (None: no question); setting ``cancel`` stops like Ctrl-C; ``progress(done, total)`` is
    called as the writes get their outcomes. Raises ``UsageError`` and friends for problems
    found before anything is sent."""
    from timetracker_import.app.multi_org import plan_routes
    from timetracker_import.app.stages.prepare import prepare

    check_sync_settings(settings)
    base = _import_settings(settings)
    prepared = prepare(base)
    # an organization column naming other organizations: the import's routing rule (one
    # run per organization's profile; a name without a profile is rejected)
    routes = plan_routes(base, prepared=prepared)
    if routes is not None:
        result = _sync_routes(
            settings,
            routes,
            prepared,
            confirm=confirm,
            client_factory=client_factory,
            cancel=cancel,
            progress=progress,
        )
    else:
        result = _sync_prepared(
            settings,
            prepared,
            confirm=confirm,
            client_factory=client_factory,
            cancel=cancel,
            progress=progress,
        )
    if settings.prune and prepared.loaded.mapping.fields.organization is not None:
        _note_organizations_left_out(result)
    return result


def _sync_prepared(
    settings: SyncSettings,
    prepared: PreparedFile,
    *,
    confirm: Callable[[SyncConfirm], bool] | None,
    client_factory: RetryingClientFactory | None,
    cancel: threading.Event | None,
    progress: Callable[[int, int], None] | None,
) -> SyncResult:
    """One sync against one connection, of a file ``prepare`` has read."""
    from timetracker_import.api.client import retrying_client

    run = _SyncRun(settings, prepared, confirm=confirm, cancel=cancel, progress=progress)
    return asyncio.run(run.run(client_factory or retrying_client))


def _note_organizations_left_out(result: SyncResult) -> None:
    """A feed routed by its organization column whose file has no row left for one of its
    organizations (none, or only rejected ones: a rejected row is routed nowhere): that
    organization is not synced at all (no route, no connection), so its worklogs in the
    period are kept - said in a note, never silently."""
    from timetracker_import.core.sync_plan import local_day
    from timetracker_import.journal.ledger import Ledger, scope_parts

    period, zone = result.period, result.timezone.get("name")
    if period is None or result.ledger_path is None or not result.scope or not zone:
        return
    scopes = [str(o.get("scope") or "") for o in result.organizations] or [result.scope]
    synced = {scope_parts(s).get("server") for s in scopes if s}
    with Ledger(result.ledger_path) as book:
        for server, scope in sorted(book.elsewhere(result.scope).items()):
            if server in synced:
                continue
            held = sum(
                1
                for e in book.entries(scope).values()
                if period.contains(local_day(e.timestamp, str(zone)))
            )
            if held:
                result.notes.append(
                    f"source {result.source!r} also holds {held} worklog(s) in the period on "
                    f"{server}, an organization none of this file's rows go to (apart from "
                    "rows it rejected, if any): that organization was not synced, nothing of "
                    "it was deleted"
                )


def _sync_routes(
    settings: SyncSettings,
    plan: Any,
    prepared: PreparedFile,
    *,
    confirm: Callable[[SyncConfirm], bool] | None,
    client_factory: RetryingClientFactory | None,
    cancel: threading.Event | None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncResult:
    """One sync per organization of the file (``app.multi_org``'s routes: each run reads the
    whole file with the other organizations' rows left out, so row numbers stay the file's),
    combined into one result: the counts of every row once, the worst exit code."""
    from timetracker_import.app.multi_org import (
        _report_path,
        _write_rejected,
        mapping_file,
        routed_mapping,
        worst_exit_code,
    )
    from timetracker_import.app.stages.prepare import prepare

    source = source_name(settings, prepared.loaded.mapping.source)

    def run_route(route: Any, **changes: Any) -> SyncResult:
        data = routed_mapping(plan.base_mapping, plan.column, route, occurrence=plan.occurrence)
        with mapping_file(data, plan.lookups) as path:
            sub = replace(
                settings,
                **{
                    "connection": route.connection,
                    "mapping_path": path,
                    "preset": None,
                    "loaded": None,
                    "source": source,
                    # one combined file below, not one per run overwriting it
                    "rejected_path": None,
                    "report_path": _report_path(settings.report_path, route.name),
                    # the reason names the user's own mapping, not the copy
                    "unknown_user_fix": settings.unknown_user_fix or plan.user_fix or None,
                    **changes,
                },
            )
            return _sync_prepared(
                sub,
                prepare(_import_settings(sub)),
                confirm=confirm if not changes.get("dry_run") else None,
                client_factory=client_factory,
                cancel=cancel,
                progress=None if changes.get("dry_run") else progress,
            )

    # One file, one verdict: a truncated export or a renamed feed stops every organization
    # before the first write, not only the one whose plan showed it (each organization's
    # plan is made first, as a dry run, when there are several).
    held_by = None
    if not settings.dry_run and len(plan.routes) > 1:
        for route in plan.routes:
            planned = run_route(route, dry_run=True, report_path=None)
            _forget_run(planned.run_id)  # the plan is no run the user made (`runs list`)
            held_by = _stopped_plan(route.name, planned)
            if held_by:
                break
    results: list[tuple[str | None, SyncResult]] = []
    for route in plan.routes:
        results.append((route.name, run_route(route, held_by=held_by)))
    if settings.dry_run and len(plan.routes) > 1:
        held_by = next((h for n, r in results if (h := _stopped_plan(n, r))), None)
    first = results[0][1]
    total = Counts(rows=plan.rows, skipped=plan.skipped, rejected=len(plan.unknown))
    organizations = []
    for (name, result), route in zip(results, plan.routes, strict=True):
        c = result.counts
        for field_name in (
            "created",
            "updated",
            "unchanged",
            "already_existing",
            "conflicts",
            "rejected",
            "unprocessed",
            "deleted",
        ):
            setattr(total, field_name, getattr(total, field_name) + getattr(c, field_name))
        organizations.append(
            {
                "name": name,
                "url": route.connection.rest_root,
                "run_id": result.run_id,
                "scope": result.scope,
                "rows": len(route.rows),
                "exit_code": result.exit_code,
                "counts": c.to_dict(),
            }
        )
    codes = [r.exit_code for _, r in results] + ([EXIT_REJECTED] if plan.unknown else [])
    combined = replace(
        first,
        exit_code=worst_exit_code(codes),
        counts=total,
        changes=[c for _, r in results for c in r.changes],
        creates=[c for _, r in results for c in r.creates],
        deletes=[d for _, r in results for d in r.deletes],
        conflicts=[c for _, r in results for c in r.conflicts],
        kept=[k for _, r in results for k in r.kept],
        held=[h for _, r in results for h in r.held],
        rejections=sorted(
            list(plan.unknown)
            + [j for _, r in results for j in r.rejections if j.stage != "conflict"],
            key=lambda j: j.source_row,
        ),
        notes=[f"{name or 'default connection'}: {n}" for name, r in results for n in r.notes],
        organizations=organizations,
    )
    if settings.dry_run and held_by:
        combined.notes.append(
            f"the real run would write nothing in any organization: {held_by} (the file's "
            "organizations are synced together or not at all)"
        )
    reports = [str(r.report_path) for _, r in results if r.report_path is not None]
    if len(reports) > 1:
        combined.notes.append("one report per organization: " + ", ".join(reports))
    every = sorted(
        list(plan.unknown) + [j for _, r in results for j in r.rejections],
        key=lambda j: j.source_row,
    )
    combined.rejected_path = (
        _write_rejected(settings.rejected_path, plan, every)
        if settings.rejected_path is not None and every
        else None
    )
    return combined


def _forget_run(run_id: str) -> None:
    """Remove the journal directory of a run made for the tool's own use (a routed sync's
    plan of one organization, a dry run)."""
    import shutil

    from timetracker_import.journal.runs import runs_root

    if run_id:
        shutil.rmtree(runs_root() / run_id, ignore_errors=True)


def _stopped_plan(organization: str | None, result: SyncResult) -> str | None:
    """Why one organization's plan stops before its first write (the deletion guard, a
    renamed feed), or None."""
    name = organization or "the default connection"
    if result.guard is not None and not result.guard.allowed and result.deletes:
        return f"the deletion guard stopped the plan for {name}"
    if result.renamed_from:
        return f"the plan for {name} continues source {result.renamed_from!r}"
    return None


def check_sync_settings(s: SyncSettings) -> None:
    """Refuse option values that cannot work, before anything is read."""
    if s.on_duplicate_key is not None and s.on_duplicate_key not in ON_DUPLICATE_KEY:
        raise UsageError(f"--on-duplicate-key must be one of {', '.join(ON_DUPLICATE_KEY)}")
    try:
        Concurrency.parse(s.concurrency, s.max_concurrency)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    parse_delete_limit(s.max_delete)
    if isinstance(s.window, str):
        parse_period(s.window, today=date.today())  # the form; the zone's today comes later
    if s.source is not None and not s.source.strip():
        raise UsageError(
            "--source must not be empty", hint="name the feed, e.g. --source hr-payroll"
        )


def _import_settings(s: SyncSettings) -> Any:
    from timetracker_import.app.stages.model import ImportSettings

    return ImportSettings(
        path=s.path,
        connection=s.connection,
        mapping_path=s.mapping_path,
        preset=s.preset,
        sheet=s.sheet,
        timezone=s.timezone,
        encoding=s.encoding,
        delimiter=s.delimiter,
        date=s.date,
        dry_run=s.dry_run,
        batch_size=s.batch_size,
        concurrency=s.concurrency,
        max_concurrency=s.max_concurrency,
        rejected_path=s.rejected_path,
        report_path=s.report_path,
        new_run=True,
        loaded=s.loaded,
        on_duplicate=s.on_duplicate,
        keys=tuple(s.keys),
        on_duplicate_key=s.on_duplicate_key,
        require_keys=True,
        date_order=s.date_order,
        lookup_dir=s.lookup_dir,
    )


@dataclass(frozen=True)
class SyncRows:
    """What the sync planner plans from: the resolved rows in the period (``frame``, their
    ``user_ids``), the desired worklog per row and its creation body, the keys the file
    holds (``present``: rejected rows' too), what rejected rows freeze, this source's ledger
    entries and other sources' worklogs; ``self_only``/``offset``: every row is the token's
    own user, whose naive times the server gives in ``offset`` minutes."""

    frame: pd.DataFrame
    user_ids: pd.Series
    desired: list[DesiredRow]
    bodies: dict[int, Any]
    present: set[str]
    keys: dict[int, str]
    keyed: bool
    freeze: Freeze
    entries: Mapping[str, LedgerEntry]
    foreign: Foreign
    self_only: bool
    offset: int


@dataclass(frozen=True)
class SyncReads:
    """The server as the plan sees it: every worklog of the period and of the rows' days,
    and the ledgered ones it may touch (by id); the approval states of those weeks."""

    server: dict[str, ServerWorklog]
    approvals: list[Any]


@dataclass(frozen=True)
class SyncPlanned:
    """The plan (``core.sync_plan``), the keyed rows it rejects because their worklog lies
    outside the period (``fenced``), the rows it planned and the reads it planned from."""

    plan: SyncPlan
    fenced: list[Rejection]
    rows: SyncRows
    reads: SyncReads
    #: every worklog id the run knows of (the server's and the ledger's): not to be claimed
    #: as this run's own on a read-back
    known_ids: set[str]


class _SyncRun(SyncRowsMixin, SyncReadsMixin, SyncWritesMixin):
    """The networked part of one sync (one event loop): the one ``Sequencer``'s stages
    (``app.stages.sequence``) with this run as the sync ``Planner``."""

    async def run(self, client_factory: RetryingClientFactory) -> SyncResult:
        from timetracker_import.journal.ledger import Ledger, default_ledger_path, scope_of

        s = self.s
        self._check_zone_and_period()
        ledger_path = Path(s.ledger_path) if s.ledger_path else default_ledger_path()
        columns = self._key_columns()
        key_spec = "key:" + json.dumps(columns) if columns else SLOT_KEY
        source = source_name(s, getattr(self.p.loaded.mapping, "source", None))
        scope = scope_of(s.connection.rest_root, source, key_spec)
        self.reject(self.p.rejections)
        with _writers(ledger_path, s), Ledger(ledger_path) as ledger:

            async def body(client: TimetrackerClient) -> SyncResult:
                return await self._run(client, ledger, scope, source)

            result = await self.seq.run(
                client_factory,
                body,
                nothing_sent="nothing was written; run the same command again",
            )
        result.ledger_path = ledger_path
        result.scope = scope
        return result

    # -- the sync planner ----------------------------------------------------------------

    async def read_server(self, client: TimetrackerClient, rows: SyncRows) -> SyncReads:
        server, approvals = await self._read_server(
            client,
            rows.desired,
            rows.entries,
            set(rows.keys.values()) | rows.present,
            rows.keyed,
            rows.self_only,
            rows.offset,
        )
        return SyncReads(server, approvals)

    def plan(self, rows: SyncRows, reads: SyncReads) -> SyncPlanned:
        from timetracker_import.core.worklog import same_edited_timestamp

        s = self.s
        desired, frame, present = rows.desired, rows.frame, rows.present
        fenced = self._moved_from_outside(desired, rows.entries, reads.server) if rows.keyed else []
        if fenced:  # rejected with their key: it keeps its worklog where it is
            out = {r.source_row for r in fenced}
            present = present | {d.key for d in desired if d.source_row in out}
            desired = [d for d in desired if d.source_row not in out]
            frame = frame.loc[[d.source_row for d in desired]]
        plan = plan_sync(
            desired,
            rows.entries,
            reads.server,
            same_edited=same_edited_timestamp,
            keyless=not rows.keyed,
            timezone=self.zone.name,
            period=self.period,
            prune=s.prune and not s.rebuild,
            overwrite_edited=s.overwrite_edited,
            present_keys=present,
            freeze=rows.freeze,
            foreign=rows.foreign.worklogs,
            foreign_keys=rows.foreign.keys,
            report_days=self._file_days(desired),
        )
        known_ids = set(reads.server) | {e.worklog_id for e in rows.entries.values()}
        planned_rows = replace(
            rows,
            desired=desired,
            frame=frame,
            present=present,
            user_ids=rows.user_ids.reindex(frame.index),
        )
        return SyncPlanned(plan, fenced, planned_rows, reads, known_ids)

    # -- the stages ----------------------------------------------------------------------

    async def _run(
        self, client: TimetrackerClient, ledger: Ledger, scope: str, source: str
    ) -> SyncResult:
        s, p, seq = self.s, self.p, self.seq
        setup = await seq.setup(client, zone=self.zone, naive_times=p.naive_times, notes=self.notes)
        self.me_offset = setup.me_offset
        frame = p.canonical
        if len(frame):
            frame = frame[~frame.index.isin(list(self._closed()))]
        # stage resolve: the import's, on the rows the file stages left
        resolved = seq.resolve(frame, p, setup, user_fix=s.unknown_user_fix)
        self.labels = {k.lower(): v for k, v in resolved.labels.items()}
        self.reject(resolved.rejections)
        self.reject(self._outside_period(frame))
        frame = frame[~frame.index.isin(list(self._closed()))]
        user_ids = resolved.user_ids.reindex(frame.index)
        desired, bodies, present, keys = self.desired_rows(
            frame, user_ids, resolved.activity_type_ids
        )
        frame = frame.loc[[d.source_row for d in desired]]
        keyed = bool(self._key_columns())
        freeze, freeze_notes = self._freeze(keyed, keys, resolved, setup.users)
        self.notes.extend(freeze_notes)
        if not s.dry_run:
            # an earlier version's scope text of this same source becomes this one (a dry run,
            # which takes no lock and writes nothing, reads it as this one: Ledger.entries)
            ledger.continue_scope(scope)
        entries = ledger.entries(scope)
        self._entries_before = entries
        self.first_of_source = not entries
        self.source_declared = bool(
            (s.source or "").strip() or getattr(p.loaded.mapping, "source", None)
        )
        foreign = ledger.foreign(scope)
        if not entries and foreign.sources and not s.source:
            self.notes.append(
                f"first sync of source {source!r}; this ledger also holds source(s) "
                + ", ".join(repr(x) for x in foreign.sources)
                + " on this server: if this file continues one of them, give --source NAME"
            )
        users_involved = {d.user_id for d in desired} | {e.user_id for e in entries.values()}
        self_only = bool(users_involved) and users_involved <= {resolved.self_id.lower()}
        offset = resolved.naive_offset if self_only else 0
        if not s.dry_run:
            await self._reconcile_killed(client, ledger, scope, entries, foreign, self_only, offset)
        rows = SyncRows(
            frame=frame,
            user_ids=resolved.user_ids.reindex(frame.index),
            desired=desired,
            bodies=bodies,
            present=present,
            keys=keys,
            keyed=keyed,
            freeze=freeze,
            entries=entries,
            foreign=foreign,
            self_only=self_only,
            offset=offset,
        )
        planned = await seq.plan(self, client, rows)
        self.reject(planned.fenced)
        plan, rows, server = planned.plan, planned.rows, planned.reads.server
        self.notes.extend(plan.notes)
        if self.period is not None and s.prune:
            self._note_foreign(plan, entries, server, foreign)
        self._lock_check(
            plan,
            rows.frame,
            rows.user_ids,
            planned.reads.approvals,
            resolved.labels,
            users=setup.users,
            self_id=resolved.self_id,
            self_offset=resolved.naive_offset,
        )
        ledgered = self._ledgered_in_period(entries, server)
        verdict = guard_deletes(
            len(plan.deletes),
            ledgered,
            self.limit,
            source_empty=not len(p.raw),
            unusable_rows=0 if rows.desired else len(p.raw),
        )
        return await self._execute(
            client,
            ledger,
            scope,
            source,
            plan,
            rows.frame,
            rows.user_ids,
            rows.bodies,
            rows.desired,
            server,
            offset,
            self_only,
            verdict,
            planned.known_ids,
        )


@contextlib.contextmanager
def _writers(ledger: Path, settings: SyncSettings) -> Any:
    """One writer per target (the server) and per ledger file; a dry run writes nothing to
    7pace and takes none."""
    if settings.dry_run:
        yield
        return
    from timetracker_import.journal.lock import ledger_lock, target_lock

    with (
        target_lock(
            settings.connection.rest_root, what="writing to this server (sync)", wait=settings.wait
        ),
        ledger_lock(ledger, wait=settings.wait),
    ):
        yield
