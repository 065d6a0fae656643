"""Use case: ``sync`` - make 7pace equal to a recurring source inside a declared period, and
never delete or double an hour by mistake.

The run is the import's stages with another planner:

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import date as _date  # SyncSettings.date is a field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from timetracker_import.app.stages.edits import EditHooks
from timetracker_import.core.outcomes import Counts, Halt, RowOutcome, RunKind
from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.core.sync_plan import (
    ON_DUPLICATE_KEY,
    SLOT_KEY,
    DesiredRow,
    Freeze,
    GuardVerdict,
    LedgerEntry,
    Period,
    Planned,
    RejectedRow,
    RowPlan,
    ServerWorklog,
    SyncPlan,
    freeze_of,
    guard_deletes,
    local_day,
    parse_delete_limit,
    parse_period,
    plan_sync,
    slot_text,
)
from timetracker_import.core.zone import ZoneChoice, require_declared, zone_warnings
from timetracker_import.errors import (
    EXIT_REJECTED,
    AuthError,
    Interrupted,
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.poster import Poster
    from timetracker_import.app.stages.edits import EditExecutor, EditOutcome, EditStats
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.app.stages.resolve import ResolvedRows
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.journal.ledger import Foreign, Ledger
    from timetracker_import.journal.store import Journal

KIND_SYNC = RunKind.SYNC.value
ClientFactory = Callable[["ConnectionSettings", Callable[[Any], None]], "TimetrackerClient"]
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
    on_duplicate: str = "skip"
    dry_run: bool = False
    sheet: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date: str | None = None  # --date: the date of every row
    batch_size: int = 500
    concurrency: int = 8
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
            "period": None if self.period is None else {
                "first": self.period.first.isoformat(), "last": self.period.last.isoformat(),
                "declared": self.period.spec, "origin": self.period.origin},
            "timezone": self.timezone,
            "guard": None if self.guard is None else {
                "allowed": self.guard.allowed, "deletes": self.guard.deletes,
                "ledgered_in_period": self.guard.ledgered, "limit": self.guard.limit,
                "reason": self.guard.reason},
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
        }  # fmt: skip


# --------------------------------------------------------------------------- entry


def sync_file(
    settings: SyncSettings,
    *,
    confirm: Callable[[SyncConfirm], bool] | None = None,
    client_factory: ClientFactory | None = None,
    cancel: threading.Event | None = None,
) -> SyncResult:
    """Sync a file into 7pace (library API). ``confirm`` is asked before anything is written
    (None: no question); setting ``cancel`` stops like Ctrl-C. Raises ``UsageError`` and
    friends for problems found before anything is sent."""
    from timetracker_import.app.multi_org import plan_routes
    from timetracker_import.app.stages.prepare import prepare

    check_sync_settings(settings)
    base = _import_settings(settings)
    prepared = prepare(base)
    # an organization column naming other organizations: the import's routing rule (one
    # run per organization's profile; a name without a profile is rejected)
    routes = plan_routes(base, prepared=prepared)
    if routes is not None:
        return _sync_routes(settings, routes, prepared, confirm=confirm,
                            client_factory=client_factory, cancel=cancel)  # fmt: skip
    run = _SyncRun(settings, prepared, confirm=confirm, cancel=cancel)
    return asyncio.run(run.run(client_factory or _default_client_factory))


def _sync_routes(
    settings: SyncSettings,
    plan: Any,
    prepared: PreparedFile,
    *,
    confirm: Callable[[SyncConfirm], bool] | None,
    client_factory: ClientFactory | None,
    cancel: threading.Event | None,
) -> SyncResult:
    """One sync per organization of the file (``app.multi_org``'s routes: each run reads the
    whole file with the other organizations' rows left out, so row numbers stay the file's),
    combined into one result: the counts of every row once, the worst exit code."""
    from timetracker_import.app.multi_org import mapping_file, routed_mapping, worst_exit_code

    source = source_name(settings, prepared.loaded.mapping.source)
    results: list[tuple[str | None, SyncResult]] = []
    for route in plan.routes:
        data = routed_mapping(plan.base_mapping, plan.column, route, occurrence=plan.occurrence)
        with mapping_file(data, plan.lookups) as path:
            sub = replace(settings, connection=route.connection, mapping_path=path, preset=None,
                          loaded=None, source=source)  # fmt: skip
            results.append((route.name, sync_file(sub, confirm=confirm,
                                                  client_factory=client_factory,
                                                  cancel=cancel)))  # fmt: skip
    first = results[0][1]
    total = Counts(rows=plan.rows, skipped=plan.skipped, rejected=len(plan.unknown))
    organizations = []
    for (name, result), route in zip(results, plan.routes, strict=True):
        c = result.counts
        for field_name in ("created", "updated", "unchanged", "already_existing", "conflicts",
                           "rejected", "unprocessed", "deleted"):  # fmt: skip
            setattr(total, field_name, getattr(total, field_name) + getattr(c, field_name))
        organizations.append({"name": name, "url": route.connection.rest_root,
                              "run_id": result.run_id, "rows": len(route.rows),
                              "exit_code": result.exit_code,
                              "counts": c.to_dict()})  # fmt: skip
    codes = [r.exit_code for _, r in results] + ([EXIT_REJECTED] if plan.unknown else [])
    combined = replace(
        first, exit_code=worst_exit_code(codes), counts=total,
        changes=[c for _, r in results for c in r.changes],
        deletes=[d for _, r in results for d in r.deletes],
        conflicts=[c for _, r in results for c in r.conflicts],
        kept=[k for _, r in results for k in r.kept],
        held=[h for _, r in results for h in r.held],
        rejections=sorted(list(plan.unknown) + [j for _, r in results for j in r.rejections
                                               if j.stage != "conflict"],
                          key=lambda j: j.source_row),
        notes=[f"{name or 'default connection'}: {n}" for name, r in results for n in r.notes],
        organizations=organizations,
    )  # fmt: skip
    return combined


def check_sync_settings(s: SyncSettings) -> None:
    """Refuse option values that cannot work, before anything is read."""
    if s.on_duplicate_key is not None and s.on_duplicate_key not in ON_DUPLICATE_KEY:
        raise UsageError(f"--on-duplicate-key must be one of {', '.join(ON_DUPLICATE_KEY)}")
    if s.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    parse_delete_limit(s.max_delete)
    if isinstance(s.window, str):
        parse_period(s.window, today=date.today())  # the form; the zone's today comes later
    if s.source is not None and not s.source.strip():
        raise UsageError("--source must not be empty", hint="name the feed, e.g. --source hr-payroll")


def _import_settings(s: SyncSettings) -> Any:
    from timetracker_import.app.stages.model import ImportSettings

    return ImportSettings(
        path=s.path, connection=s.connection, mapping_path=s.mapping_path, preset=s.preset,
        sheet=s.sheet, timezone=s.timezone, encoding=s.encoding, delimiter=s.delimiter,
        date=s.date, dry_run=s.dry_run, batch_size=s.batch_size, concurrency=s.concurrency,
        rejected_path=s.rejected_path, report_path=s.report_path, new_run=True,
        loaded=s.loaded, on_duplicate=s.on_duplicate, keys=tuple(s.keys),
        on_duplicate_key=s.on_duplicate_key, require_keys=True,
    )  # fmt: skip


def _default_client_factory(
    connection: ConnectionSettings, on_retry: Callable[[Any], None]
) -> TimetrackerClient:
    from timetracker_import.api.client import TimetrackerClient

    return TimetrackerClient(connection, on_retry=on_retry)


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


class _SyncRun:
    """The networked part of one sync (one event loop)."""

    def __init__(
        self,
        settings: SyncSettings,
        prepared: PreparedFile,
        *,
        confirm: Callable[[SyncConfirm], bool] | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.s = settings
        self.p = prepared
        self.confirm = confirm
        self.cancel = cancel
        self.notes: list[str] = list(prepared.notes)
        self.zone = ZoneChoice.of(prepared.timezone, prepared.timezone_source)
        self.period: Period | None = None
        self.limit = parse_delete_limit(settings.max_delete)
        self.poster: Poster | None = None
        self.edits: EditExecutor | None = None
        self.rejections: list[Rejection] = []
        self.skipped: dict[int, str] = prepared.skip_reasons()
        self.outcome: dict[int, tuple[RowOutcome, str | None]] = {}
        self.halt: Halt | None = None
        self.halt_error: Exception | None = None
        self.ambiguous = False
        self.stop_signal: int | None = None
        self.deleted: list[dict[str, Any]] = []
        self.delete_problems: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.me_offset: int | None = None
        self.writes = 0
        self._task: asyncio.Future[SyncResult] | None = None
        self._writing = False
        #: this source's ledger entries as the run found them
        self._entries_before: Mapping[str, LedgerEntry] = {}

    # -- settings that need the zone -------------------------------------------------------

    def _declared_period(self) -> Period | None:
        s, mapping = self.s, self.p.loaded.mapping
        window: Any = s.window if s.window is not None else getattr(mapping, "window", None)
        origin = "--window" if s.window is not None else "window: in the mapping"
        if window is None:
            return None
        if isinstance(window, tuple):
            lo, hi = window
            spec = f"{lo.isoformat()}..{hi.isoformat()}"
            return parse_period(spec, today=lo, origin=origin)
        today = s.today or datetime.now(ZoneInfo(self.zone.name)).date()
        return parse_period(str(window), today=today, origin=origin)

    def _check_zone_and_period(self) -> None:
        s = self.s
        self.period = self._declared_period()
        if s.prune and self.period is None and not s.rebuild:
            raise UsageError(
                "--prune deletes only inside a declared period, and none is declared",
                hint="add --window FROM..TO (or last:14d, week:previous, month:previous), or "
                "window: in the mapping; sync never infers the period from the file's rows",
            )
        if self.p.naive_times:
            require_declared(self.zone, command="sync",
                             why=f"{self.p.naive_times} time(s) in the file have no offset")  # fmt: skip
        elif self.period is not None:
            require_declared(self.zone, command="sync", why="the period's days are local days")

    # -- keys, desired rows, freeze ------------------------------------------------------

    def _key_columns(self) -> list[str]:
        return [] if self.p.keys is None else list(self.p.keys.spec)

    def _given(self) -> set[str]:
        """The fields the file gives (mapped to a column, or a constant)."""
        from timetracker_import.core.mapping import resolve_columns

        mapping = self.p.loaded.mapping
        given = set(resolve_columns(mapping, self.p.table.headers, self.p.table.has_header))
        given |= {n for n, spec in mapping.field_specs().items() if spec.value is not None}
        return given

    def reject(self, rejections: Sequence[Rejection]) -> None:
        done = {r.source_row for r in self.rejections}
        for rej in merge_rejections(list(rejections)):
            if rej.source_row not in done and rej.source_row not in self.skipped:
                self.rejections.append(rej)
                self.outcome[rej.source_row] = (RowOutcome.REJECTED, None)

    def desired_rows(
        self, frame: pd.DataFrame, user_ids: pd.Series, at_ids: Mapping[Any, Any]
    ) -> tuple[list[DesiredRow], dict[int, dict[str, Any]], set[str], dict[int, str]]:
        """The rows' keys and content, their creation bodies, the keys of rows that did not
        make it (rejected, skipped: their worklogs are kept) and every row's id key."""
        from timetracker_import.app.stages.execute import LazyBodies

        bodies = LazyBodies(frame, user_ids, at_ids)
        rows = [int(r) for r in frame.index]
        built = dict(zip(rows, bodies.many(rows), strict=True))
        present: set[str] = set()
        keys: dict[int, str] = {}
        entry = self.p.keys
        if entry is not None:
            keys = dict(entry.keys)
            # a row sync would write must have its key (import does not need one)
            self.reject([
                Rejection(r, "validate", header, None,
                          f"the key column {header!r} is empty; sync needs a key to know "
                          "which worklog this row is")
                for r, header in sorted(entry.empty.items()) if r in built])  # fmt: skip
            present = {k for r, k in keys.items() if r in self._closed()}
            chosen = {r: keys[r] for r in rows if r in keys and r not in self._closed()}
        else:
            chosen = {
                r: slot_text(b["userId"], b["timeStamp"], b.get("workItemId"))
                for r, b in built.items()
                if r not in self._closed()
            }
        given = self._given()
        keyed = bool(self._key_columns())
        billable = frame["billable_seconds"].to_dict() if "billable_seconds" in frame else {}
        comments = frame["comment"].to_dict() if "comment" in frame.columns else {}
        desired = []
        for row, key in sorted(chosen.items()):
            body = built[row]
            content: dict[str, Any] = {"length": body["length"]}
            value = billable.get(row)
            if ({"billable_length", "billable"} & given) and value is not None and not _missing(value):
                content["billableLength"] = int(value)
            if "comment" in given:
                comment = comments.get(row)
                content["comment"] = comment if isinstance(comment, str) else None
            if "activity_type" in given:
                at = body.get("activityTypeId")
                content["activityTypeId"] = at.lower() if isinstance(at, str) else None
            if keyed:
                content["timeStamp"] = body["timeStamp"]
                content["userId"] = body["userId"].lower()
                if "work_item" in given:
                    content["workItemId"] = body.get("workItemId")
            desired.append(DesiredRow(row, key, body["userId"].lower(), body["timeStamp"],
                                      body.get("workItemId"), content))  # fmt: skip
        return desired, built, present, keys

    def _closed(self) -> set[int]:
        return {r.source_row for r in self.rejections} | set(self.skipped)

    def _outside_period(self, frame: pd.DataFrame) -> list[Rejection]:
        """Rows whose local day is outside the declared period: rejected, never a reason to
        widen it."""
        period = self.period
        if period is None or not len(frame):
            return []
        import pandas as pd

        days = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(self.zone.name).dt.date
        out = []
        for row, day in zip(frame.index.tolist(), days.tolist(), strict=True):
            if not period.contains(day):
                out.append(Rejection(
                    int(row), STAGE_PERIOD, self.p.date_header, day.isoformat(),
                    f"{day.isoformat()} is outside the period {period.label} this sync is "
                    f"about ({period.origin}); fix the date, or declare a period that "
                    "includes it"))  # fmt: skip
        return out

    def _freeze(
        self, keyed: bool, keys: Mapping[int, str], resolved: ResolvedRows, users: list[Any]
    ) -> tuple[Freeze, list[str]]:
        """What this run's rejected rows freeze (nothing there is updated or deleted), and a
        note per kind of freeze. A rejected row with an id key freezes nothing: its key keeps
        its worklog."""

        from timetracker_import.core.resolve import UserDirectory, resolve_users

        canonical = self.p.canonical
        partial = self.p.partial
        partial_users: dict[int, str] = {}
        if partial is not None and len(partial):
            wanted = partial[partial.index.isin([r.source_row for r in self.rejections])]
            if len(wanted):
                ids, _ = resolve_users(wanted, UserDirectory.from_users(users),
                                       self_user_id=resolved.self_id, column_header=None)  # fmt: skip
                partial_users = {int(r): str(u).lower()
                                 for r, u in zip(ids.index.tolist(), ids.tolist(), strict=True)
                                 if isinstance(u, str) and u}  # fmt: skip
        known: list[RejectedRow] = []
        for rej in self.rejections:
            row = rej.source_row
            if row in canonical.index:
                uid = resolved.user_ids.get(row)
                stamp, work_item = _slot_cells(canonical, row)
                known.append(RejectedRow(
                    row, keys.get(row), str(uid) if isinstance(uid, str) and uid else None,
                    stamp, work_item, slot_known=rej.stage != STAGE_PERIOD))  # fmt: skip
            elif partial is not None and row in partial.index:
                stamp, work_item = _slot_cells(partial, row)
                unknown_wi = work_item is None and self._maps_wi()
                known.append(RejectedRow(row, keys.get(row), partial_users.get(row), stamp,
                                         work_item, slot_known=not unknown_wi))  # fmt: skip
            else:
                known.append(RejectedRow(row, keys.get(row)))
        freeze, unknown_rows = freeze_of(known, keyed=keyed)
        everything, frozen_users, slots = freeze.everything, freeze.users, freeze.slots
        notes = []
        if everything:
            shown = ", ".join(str(r) for r in unknown_rows[:5])
            notes.append(
                f"rejected row(s) {shown} could be anyone's entry: nothing is deleted"
                + ("" if keyed else " and no existing worklog is matched by order")
                + " in this run; fix them and sync again"
            )
        if frozen_users:
            names = ", ".join(sorted(self.labels.get(u, u) for u in frozen_users))
            notes.append(
                f"rejected rows of {names} could be any of their entries in the period: "
                "nothing of theirs is deleted" + ("" if keyed else " or matched by order")
                + " in this run; fix them and sync again"
            )
        if slots:
            notes.append(
                f"{len(slots)} slot(s) with a rejected row are left as they are in this run "
                "(their other rows are held); fix the rejected rows and sync again"
            )
        return freeze, notes

    def _maps_wi(self) -> bool:
        return "work_item" in self._given()

    # -- running -------------------------------------------------------------------------

    def _on_stop_signal(self, signo: int) -> None:
        if self.stop_signal is None:
            self.stop_signal = signo
        self._stop()

    def _stop(self) -> None:
        if self._writing:
            if self.poster is not None:
                self.poster.interrupt()
            if self.edits is not None:
                self.edits.interrupt()
            self.halt = self.halt or Halt.INTERRUPTED
        elif self._task is not None:
            self._task.cancel()

    def _on_retry(self, event: Any) -> None:
        # a 429 halves the creates in flight, as in import
        if getattr(event, "reason", "") == "429" and self.poster is not None:
            self.poster.throttled()

    async def _watch_cancel(self) -> None:
        assert self.cancel is not None
        while not self.cancel.is_set():
            await asyncio.sleep(0.05)
        self._stop()

    async def run(self, client_factory: ClientFactory) -> SyncResult:
        from timetracker_import.app.stages.execute import stop_signal_message, stop_signals
        from timetracker_import.journal.ledger import Ledger, default_ledger_path, scope_of

        s = self.s
        self._check_zone_and_period()
        ledger_path = Path(s.ledger_path) if s.ledger_path else default_ledger_path()
        columns = self._key_columns()
        key_spec = "key:" + json.dumps(columns) if columns else SLOT_KEY
        source = source_name(s, getattr(self.p.loaded.mapping, "source", None))
        scope = scope_of(s.connection.rest_root, source, key_spec)
        self.reject(self.p.rejections)
        watcher = asyncio.ensure_future(self._watch_cancel()) if self.cancel else None
        try:
            with _writers(ledger_path, s), Ledger(ledger_path) as ledger:
                client = client_factory(s.connection, self._on_retry)
                async with client:
                    self._task = asyncio.ensure_future(self._run(client, ledger, scope, source))
                    with stop_signals(self._on_stop_signal):
                        try:
                            result = await self._task
                        except asyncio.CancelledError:
                            if self.stop_signal is None and not (
                                self.cancel is not None and self.cancel.is_set()
                            ):
                                raise
                            stopped = Interrupted(
                                stop_signal_message(self.stop_signal) or "sync interrupted",
                                hint="nothing was written; run the same command again",
                            )
                            if self.stop_signal is not None:
                                stopped.exit_code = 128 + self.stop_signal
                            raise stopped from None
                result.ledger_path = ledger_path
                result.scope = scope
                return result
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _run(
        self, client: TimetrackerClient, ledger: Ledger, scope: str, source: str
    ) -> SyncResult:
        from timetracker_import.app.importer import _all_or_cancel
        from timetracker_import.app.stages.resolve import resolve_rows
        from timetracker_import.core.worklog import same_edited_timestamp

        s, p = self.s, self.p
        me, users, activity = await _all_or_cancel(
            client.me(), client.users(), client.activity_types()
        )
        self.me_offset = int(me.get("timeZone") or 0)
        self.notes.extend(
            zone_warnings(self.zone, naive_times=p.naive_times, me_offset=self.me_offset)
        )
        frame = p.canonical
        if len(frame):
            frame = frame[~frame.index.isin(list(self._closed()))]
        # stage resolve: the import's, on the rows the file stages left
        resolved = resolve_rows(
            frame, me=me, users=users, activity_types=activity, user_header=p.user_header,
            activity_header=p.activity_header,
        )  # fmt: skip
        self.labels = {k.lower(): v for k, v in resolved.labels.items()}
        self.reject(resolved.rejections)
        self.reject(self._outside_period(frame))
        frame = frame[~frame.index.isin(list(self._closed()))]
        user_ids = resolved.user_ids.reindex(frame.index)
        desired, bodies, present, keys = self.desired_rows(frame, user_ids,
                                                           resolved.activity_type_ids)  # fmt: skip
        frame = frame.loc[[d.source_row for d in desired]]
        keyed = bool(self._key_columns())
        freeze, freeze_notes = self._freeze(keyed, keys, resolved, users)
        self.notes.extend(freeze_notes)
        entries = ledger.entries(scope)
        self._entries_before = entries
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
            await self._reconcile_killed(client, ledger, scope, entries, foreign, self_only,
                                         offset)  # fmt: skip
        server, approvals = await self._read_server(
            client, desired, entries, set(keys.values()) | present, keyed, self_only, offset
        )
        known_ids = set(server) | {e.worklog_id for e in entries.values()}
        plan = plan_sync(
            desired, entries, server, same_edited=same_edited_timestamp, keyless=not keyed,
            timezone=self.zone.name, period=self.period, prune=s.prune and not s.rebuild,
            overwrite_edited=s.overwrite_edited, present_keys=present, freeze=freeze,
            foreign=foreign.worklogs, foreign_keys=foreign.keys,
            report_days=self._file_days(desired),
        )  # fmt: skip
        self.notes.extend(plan.notes)
        if self.period is not None and s.prune:
            self._note_foreign(plan, entries, server, foreign)
        self._lock_check(plan, frame, user_ids, approvals, resolved.labels)
        ledgered = self._ledgered_in_period(entries, server)
        verdict = guard_deletes(len(plan.deletes), ledgered, self.limit,
                                source_empty=not len(p.raw))  # fmt: skip
        return await self._execute(client, ledger, scope, source, plan, frame, user_ids, bodies,
                                   desired, server, offset, self_only, verdict, known_ids)  # fmt: skip

    async def _reconcile_killed(
        self, client: TimetrackerClient, ledger: Ledger, scope: str,
        entries: Mapping[str, LedgerEntry], foreign: Foreign, self_only: bool, offset: int,
    ) -> None:  # fmt: skip
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
                    client=client, journal=earlier, bodies=_NoBodies(), keys=keys,
                    timestamps={}, read_back=read_back_for(client, self_only=self_only),
                    pending=[r for b in batches for r in b.source_rows if r in keys],
                    known_ids=ours, claim_after=datetime.fromisoformat(info.started_at),
                    naive_offset_minutes=offset, created_offset_minutes=offset,
                    resend=False,
                )  # fmt: skip
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
        self, plan: SyncPlan, entries: Mapping[str, LedgerEntry],
        server: Mapping[str, ServerWorklog], foreign: Foreign,
    ) -> None:  # fmt: skip
        assert self.period is not None
        ours = {e.worklog_id for e in entries.values()} | {
            r.worklog_id for r in plan.rows if r.worklog_id
        }
        inside = [w for w in server.values() if w.id not in ours
                  and self.period.contains(local_day(w.timestamp, self.zone.name))]  # fmt: skip
        theirs = [w for w in inside if w.id in foreign.worklogs]
        alone = len(inside) - len(theirs)
        if theirs:
            self.notes.append(f"{len(theirs)} worklog(s) in the period belong to other sources "
                              "and were left alone")  # fmt: skip
        if alone:
            self.notes.append(f"{alone} worklog(s) in the period were neither written nor "
                              "adopted by this source; --prune leaves them alone")  # fmt: skip

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
            approvals_read = asyncio.ensure_future(client.approvals(
                from_ts=lo.date() - timedelta(days=8), to_ts=hi.date() + timedelta(days=8)))  # fmt: skip
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
                self.period is not None
                and self.period.contains(local_day(e.timestamp, tz))
            )

        missing = [e.worklog_id for k, e in entries.items()
                   if e.worklog_id not in server and relevant(k, e)]  # fmt: skip
        if self.period is not None:
            missing += [e.worklog_id for e in entries.values() if e.worklog_id not in server
                        and e.worklog_id not in missing
                        and self.period.contains(local_day(e.timestamp, tz))]  # fmt: skip
        found = await gather_limited([worklog_or_none(client, w) for w in missing],
                                     self.s.concurrency)  # fmt: skip
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

        settings = ExportSettings(timezone=self.zone.name, concurrency=self.s.concurrency)
        try:
            found, _ = await fetch_worklogs(client, settings, span)
            return found
        except AuthError as exc:
            if exc.status != 403:
                raise
            if not self_only:
                raise AuthError(
                    "this token may not read other users' worklogs, which sync compares with",
                    status=403, hint=BASELINE_ROLE_HINT,
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
    ) -> None:
        """Stage preflight's lock check: creates and updates into locked weeks are rejected
        (week and state named); an update also writes into the week its worklog is in now;
        deletes there are not sent."""
        from timetracker_import.app.stages.preflight import locked_rejections
        from timetracker_import.core.approval import locked_weeks, week_start
        from timetracker_import.core.worklog import stamp_instant

        locked = locked_weeks(approvals, on_problem=self.notes.append)
        if not locked:
            return
        writing = [r.source_row for r in plan.rows
                   if r.outcome in (Planned.CREATE, Planned.UPDATE)]  # fmt: skip
        rejected = locked_rejections(
            frame.loc[writing], user_ids, approvals, labels=labels,
            date_header=self.p.date_header,
        )  # fmt: skip
        done = {r.source_row for r in rejected}
        for row in plan.rows:
            if row.outcome != Planned.UPDATE or row.source_row in done or row.action is None:
                continue
            before = row.action.before.get("timeStamp")
            if before:
                user = str(row.action.before.get("userId") or user_ids.get(row.source_row) or "")
                monday = week_start(stamp_instant(str(before)))
                state = locked.get((user.lower(), monday))
                if state:
                    rejected.append(Rejection(
                        row.source_row, "preflight", self.p.date_header, None,
                        f"the worklog is in the week of {monday}, which is {state}; it cannot "
                        "be moved out of it"))  # fmt: skip
        self.reject(rejected)
        refused = {r.source_row for r in rejected}
        plan.rows = [r for r in plan.rows if r.source_row not in refused]
        kept = []
        for d in plan.deletes:
            w = ServerWorklog.from_api(d.before)
            monday = week_start(stamp_instant(w.timestamp))
            state = locked.get((w.user_id, monday))
            if state:
                self.delete_problems.append({
                    "worklog_id": d.worklog_id, "key": d.key,
                    "reason": f"its week ({monday}) is {state}; not deleted"})  # fmt: skip
            else:
                kept.append(d)
        plan.deletes = kept

    # -- executing -----------------------------------------------------------------------

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
            fingerprint=f"{KIND_SYNC}:{run_id}", input_path=Path(s.path).resolve(),
            mapping_name=self.p.loaded.source, mapping_path=s.mapping_path,
            options={"kind": KIND_SYNC, "ledger": str(ledger.path), "scope": scope,
                     "source": source, "dry_run": s.dry_run, "prune": s.prune,
                     "timezone": self.zone.name,
                     "period": None if self.period is None else self.period.label},
            base_url=s.connection.rest_root, run_id=run_id,
        )  # fmt: skip
        by_row = {d.source_row: d for d in desired}
        try:
            journal.record_rows(int(r) for r in self.p.raw.index)
            for reason in set(self.skipped.values()):
                journal.mark_skipped([r for r, why in self.skipped.items() if why == reason],
                                     reason)  # fmt: skip
            conflicts = plan.by_outcome(Planned.CONFLICT)
            if self.rejections:
                journal.mark_rejections(self.rejections)
            for r in conflicts:
                self.outcome[r.source_row] = (RowOutcome.CONFLICT, r.worklog_id)
            if conflicts:
                journal.mark_settled(RowOutcome.CONFLICT,
                                     {r.source_row: r.worklog_id for r in conflicts})  # fmt: skip
            creates = [r for r in plan.by_outcome(Planned.CREATE)]
            updates = [r for r in plan.by_outcome(Planned.UPDATE) if r.action is not None]
            stopped_by_guard = not verdict.allowed and bool(plan.deletes) and not s.rebuild
            if stopped_by_guard:
                self.notes.append(self._guard_message(verdict, plan))
            info = SyncConfirm(len(creates), len(updates), len(plan.deletes),
                               s.connection.rest_root)  # fmt: skip
            writes_planned = bool(creates or updates or plan.deletes)
            real = not (s.dry_run or s.rebuild or stopped_by_guard)
            if (writes_planned and real and self.confirm is not None
                    and not self.confirm(info)):  # fmt: skip
                raise UsageError("sync cancelled; nothing was sent", hint="add --yes")
            # settle what earlier runs left open, now that the server was read
            if not s.dry_run:
                self._settle_earlier(plan, run_id, self._entries_before)
            # what is in step already: record adoptions and refreshed entries, drop gone keys
            refreshed = [r.ledger for r in plan.rows
                         if r.outcome == Planned.UNCHANGED and r.ledger]  # fmt: skip
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
                journal.mark_settled(RowOutcome.UNCHANGED,
                                     {r.source_row: r.worklog_id for r in unchanged})  # fmt: skip
            for r in plan.by_outcome(Planned.HOLD):
                self.outcome[r.source_row] = (RowOutcome.UNPROCESSED, None)
            if real:
                await self._run_writes(client, ledger, scope, journal, plan, frame, user_ids,
                                       bodies, by_row, self_only, offset, known_ids)  # fmt: skip
            elif s.dry_run or s.rebuild:
                # the plan as a whole, with the guard's verdict beside it
                await self._dry_writes(client, journal, plan, frame, user_ids, bodies,
                                       self_only, offset, known_ids)  # fmt: skip
            else:
                for r in creates + updates:
                    self.outcome[r.source_row] = (RowOutcome.UNPROCESSED, r.worklog_id)
            return self._finish(journal, plan, server, desired, verdict, stopped_by_guard)
        finally:
            journal.close()

    def _guard_message(self, verdict: GuardVerdict, plan: SyncPlan) -> str:
        from timetracker_import.core.approval import week_start
        from timetracker_import.core.worklog import stamp_instant

        per: dict[tuple[str, str], int] = {}
        for d in plan.deletes:
            w = ServerWorklog.from_api(d.before)
            who = self.labels.get(w.user_id, w.user_id)
            week = week_start(stamp_instant(w.timestamp)).isoformat()
            per[(who, week)] = per.get((who, week), 0) + 1
        lines = ", ".join(f"{who} week of {week}: {n}" for (who, week), n in sorted(per.items()))
        stopped = ("the deletion guard would stop the real sync before its first write"
                   if self.s.dry_run else
                   "the deletion guard stopped this sync before its first write")  # fmt: skip
        return (
            f"{stopped}: it would delete "
            f"{verdict.deletes} worklog(s) ({lines}); {verdict.reason}. If that is what you "
            f"want, run again with --max-delete {verdict.deletes} (or a share such as "
            "--max-delete 50%); if not, check the file (truncated export? wrong period?)"
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
                    Resolution("delete", before.worklog_id, state,
                               detail="the worklog was gone" if current is None
                               else "the worklog was still there"))  # fmt: skip
            elif before.pending:
                took = planned.edited_ts != before.edited_ts and current is not None and (
                    planned.content != before.content)  # fmt: skip
                by_run.setdefault(before.run_id, []).append(
                    Resolution("update", before.worklog_id, "done" if took else "failed",
                               edited_after=planned.edited_ts if took else None,
                               detail="the worklog held the new values" if took
                               else "the worklog did not hold the new values"))  # fmt: skip
        for earlier, resolutions in by_run.items():
            settle_elsewhere(runs_root() / earlier, resolutions, run_id)

    async def _dry_writes(
        self, client: TimetrackerClient, journal: Journal, plan: SyncPlan, frame: pd.DataFrame,
        user_ids: pd.Series, bodies: dict[int, Any], self_only: bool, offset: int,
        known_ids: set[str],
    ) -> None:  # fmt: skip
        creates = [r.source_row for r in plan.by_outcome(Planned.CREATE)]
        if creates and not self.s.rebuild:
            poster = await self._post(client, journal, frame, user_ids, bodies, creates,
                                      self_only, offset, known_ids, dry_run=True)  # fmt: skip
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
            self.outcome[r.source_row] = (RowOutcome.UNCHANGED if self.s.rebuild
                                          else RowOutcome.UPDATED, r.worklog_id)  # fmt: skip
        if not self.s.rebuild:
            self.deleted = [self._delete_doc(d) for d in plan.deletes]

    async def _post(
        self, client: TimetrackerClient, journal: Journal, frame: pd.DataFrame,
        user_ids: pd.Series, bodies: dict[int, Any], rows: list[int], self_only: bool,
        offset: int, known_ids: set[str], *, dry_run: bool,
    ) -> Poster:  # fmt: skip
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
            part, ids, stored=[], pending=set(rows), batch_size=self.s.batch_size,
            first_batch_no=journal.next_batch_no(),
        )  # fmt: skip
        if not dry_run:
            journal.record_plan(planned.new)
        poster = self.poster = Poster(
            client=client, journal=journal, bodies=bodies, keys=keys,
            timestamps=part["timestamp"], read_back=read_back_for(client, self_only=self_only),
            pending=part.index, known_ids=known_ids,
            claim_after=datetime.fromisoformat(journal.info().started_at),
            dry_run=dry_run, concurrency=self.s.concurrency, naive_offset_minutes=offset,
            created_offset_minutes=offset,
        )  # fmt: skip
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
        self, client: TimetrackerClient, ledger: Ledger, scope: str, journal: Journal,
        plan: SyncPlan, frame: pd.DataFrame, user_ids: pd.Series, bodies: dict[int, Any],
        by_row: dict[int, DesiredRow], self_only: bool, offset: int, known_ids: set[str],
    ) -> None:  # fmt: skip
        from timetracker_import.app.stages.edits import EditExecutor, EditWrite

        updates = [r for r in plan.by_outcome(Planned.UPDATE) if r.action is not None]
        creates = [r.source_row for r in plan.by_outcome(Planned.CREATE)]
        writes = [EditWrite(r.action, r.source_row, r.key) for r in updates
                  if r.action is not None]  # fmt: skip
        writes += [EditWrite(d, None, d.key) for d in plan.deletes]
        hooks = _LedgerHooks(ledger, scope, updates, by_row)
        self.edits = EditExecutor(client, journal, concurrency=self.s.concurrency, hooks=hooks)
        self._writing = True
        if self.stop_signal is not None or (self.cancel is not None and self.cancel.is_set()):
            self._stop()

        async def create() -> None:
            if not creates:
                return
            poster = await self._post(client, journal, frame, user_ids, bodies, creates,
                                      self_only, offset, known_ids, dry_run=False)  # fmt: skip
            records = {c.source_row: c for c in journal.created_records()}
            key_of = {r.source_row: r.key for r in plan.rows}
            entries = []
            for row in creates:
                rec = records.get(row)
                if rec is None:
                    continue
                d = by_row[row]
                self.outcome[row] = (RowOutcome.CREATED, rec.worklog_id)
                entries.append(LedgerEntry(key_of[row], rec.worklog_id, d.user_id, d.timestamp,
                                           dict(d.content), rec.edited_ts))  # fmt: skip
            if entries:
                await asyncio.to_thread(ledger.upsert, scope, entries, journal.run_id)
            for rej in poster.stats.rejections:
                self.reject([rej])

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
                    self.deleted.append(self._delete_doc(o.write.action))  # type: ignore[arg-type]
                elif o.state == EditState.FAILED:
                    self.delete_problems.append({
                        "worklog_id": o.write.worklog_id, "key": o.write.key,
                        "reason": o.detail or "refused"})  # fmt: skip
                continue
            assert row is not None
            if o.state == EditState.DONE:
                self.outcome[row] = (RowOutcome.UPDATED, o.write.worklog_id)
                updated[row] = o.write.worklog_id
            elif o.state == EditState.GONE:
                self.outcome[row] = (RowOutcome.CONFLICT, o.write.worklog_id)
                journal.mark_settled(RowOutcome.CONFLICT, {row: o.write.worklog_id},
                                     f"worklog {o.write.worklog_id} was deleted in 7pace while "
                                     "sync ran; not re-created")  # fmt: skip
            elif o.state == EditState.FAILED:
                rej = Rejection(row, "server", None, None,
                                f"the server refused the update of worklog "
                                f"{o.write.worklog_id}: {o.detail}",
                                o.error.error_code if o.error else None)  # fmt: skip
                self.reject([rej])
                journal.mark_rejections([rej])
            else:
                self.outcome[row] = (RowOutcome.UNPROCESSED, o.write.worklog_id)
        if updated:
            journal.mark_settled(RowOutcome.UPDATED, updated)

    def _delete_doc(self, action: Any) -> dict[str, Any]:
        w = ServerWorklog.from_api(action.before)
        return {"worklog_id": action.worklog_id, "key": action.key, "user_id": w.user_id,
                "user": self.labels.get(w.user_id, w.user_id),
                "timestamp": w.timestamp, "length": w.content.get("length"),
                "comment": w.content.get("comment")}  # fmt: skip

    # -- finishing -----------------------------------------------------------------------

    def _finish(
        self, journal: Journal, plan: SyncPlan, server: Mapping[str, ServerWorklog],
        desired: list[DesiredRow], verdict: GuardVerdict, stopped_by_guard: bool,
    ) -> SyncResult:  # fmt: skip
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
        leftover = [r for r in journal.pending_rows()
                    if self.outcome.get(r, (RowOutcome.UNPROCESSED,))[0].is_open]  # fmt: skip
        if leftover and not s.dry_run:
            journal.mark_unprocessed(leftover)
        rejections = sorted(merge_rejections(self.rejections + [
            Rejection(r.source_row, "conflict", None, r.worklog_id, r.reason or "conflict")
            for r in plan.by_outcome(Planned.CONFLICT)]), key=lambda r: r.source_row)  # fmt: skip
        # the import's rule; a conflict, a kept edited worklog, a refused delete or a stop
        # by the deletion guard counts as a rejection; rows a ledger rebuild leaves for the
        # next sync and rows held by a frozen slot are not a temporary failure
        refusals = (counts.rejected + counts.conflicts + len(self.delete_problems)
                    + len(plan.delete_conflicts) + int(stopped_by_guard))  # fmt: skip
        held = len(plan.by_outcome(Planned.HOLD))
        code = exit_code_for(
            Counts(rows=counts.rows, rejected=refusals,
                   unprocessed=0 if (s.rebuild or stopped_by_guard)
                   else max(0, counts.unprocessed - held)),
            halt=self.halt, halt_error=self.halt_error, ambiguous=self.ambiguous,
            stop_signal=self.stop_signal,
        )  # fmt: skip
        if held and code == 0:
            code = EXIT_REJECTED  # held rows wait for a rejected row: never "all done"
        changes = [
            {"source_row": r.source_row, "key": r.key, "worklog_id": r.worklog_id,
             "adopted": r.adopted,
             "fields": {k: {"old": o, "new": n} for k, (o, n) in r.changes.items()}}
            for r in plan.rows if r.outcome == Planned.UPDATE
            and self.outcome.get(r.source_row, (RowOutcome.PENDING,))[0] in (
                RowOutcome.UPDATED, RowOutcome.UNCHANGED)
        ]  # fmt: skip
        conflicts = [
            {"source_row": r.source_row, "key": r.key, "worklog_id": r.worklog_id,
             "reason": r.reason, "ours": r.ours, "theirs": r.theirs,
             "wanted": {k: n for k, (_, n) in r.changes.items()}}
            for r in plan.by_outcome(Planned.CONFLICT)
        ] + [{"source_row": None, "key": c.key, "worklog_id": c.worklog_id, "reason": c.reason}
             for c in plan.delete_conflicts]  # fmt: skip
        for problem in self.delete_problems:
            self.notes.append(f"worklog {problem['worklog_id']} (key {problem['key']}) was not "
                              f"deleted: {problem['reason']}")  # fmt: skip
        absent = [k for k in plan.kept if k.why.startswith("no longer")]
        if absent:
            where = "inside the period" if self.period else "on the file's days"
            how = "--prune deletes them" if self.period else "declare a period with --window "
            how += "" if self.period else "and add --prune to delete them"
            self.notes.append(f"{len(absent)} worklog(s) this source wrote are no longer in "
                              f"the file {where}; kept ({how})")  # fmt: skip
        if held:
            self.notes.append(f"{held} row(s) held: a rejected row shares their slot")
        halt_message = None
        if self.halt_error is not None:
            halt_message = str(self.halt_error)
        elif self.stop_signal is not None:
            from timetracker_import.app.stages.execute import stop_signal_message

            halt_message = stop_signal_message(self.stop_signal)
        result = SyncResult(
            run_id=journal.run_id, run_dir=journal.directory, dry_run=s.dry_run, exit_code=code,
            counts=counts, changes=changes, deletes=self.deleted, conflicts=conflicts,
            kept=[{"key": k.entry.key, "worklog_id": k.entry.worklog_id,
                   "timestamp": k.entry.timestamp, "why": k.why} for k in plan.kept],
            held=[{"source_row": r.source_row, "why": r.reason}
                  for r in plan.by_outcome(Planned.HOLD)],
            rejections=rejections, notes=self.notes, source=source_from(journal),
            period=self.period, timezone=self.zone.to_dict(self.me_offset), guard=verdict,
            halt_reason=None if self.halt is None else self.halt.value,
            halt_message=halt_message, writes=self.writes,
        )  # fmt: skip
        result.hours = _hours_before_after(plan, server, desired, self.outcome, self.labels,
                                           self.deleted)  # fmt: skip
        if rejections and not s.rebuild:
            result.rejected_path = rejected_in(journal.directory, s.path, self.p, rejections)
            if s.rejected_path is not None:
                write_rejected(s.rejected_path, self.p, rejections)
        if s.report_path is not None:
            result.report_path = self._write_report(result)
        status = "halted" if (self.halt is not None or self.ambiguous) else "complete"
        journal.finish(status, counts if s.dry_run else None,
                       halt_reason=None if self.halt is None else self.halt.value)  # fmt: skip
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
            changes=result.changes, deletes=result.deletes, conflicts=result.conflicts,
            hours=result.hours,
        )  # fmt: skip
        meta: dict[str, Any] = {
            "command": "sync --dry-run" if result.dry_run else "sync",
            "input": str(self.s.path),
            "mapping": self.p.loaded.source,
            "run_id": result.run_id,
            "timezone": self.zone.describe(),
            "period": None if self.period is None else self.period.label,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        counts = {k: int(v) for k, v in result.counts.to_dict().items()}
        return write_report(builder.build(counts, meta), self.s.report_path)


def _slot_cells(frame: pd.DataFrame, row: int) -> tuple[str | None, int | None]:
    """The UTC start stamp and work item of ``row`` (None where the cell did not read)."""
    import pandas as pd

    ts: Any = frame.at[row, "timestamp"]
    wi: Any = frame.at[row, "work_item_id"]
    stamp = None if _missing(ts) else pd.Timestamp(ts).tz_convert("UTC").strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # fmt: skip
    return stamp, None if _missing(wi) else int(wi)


class _NoBodies(dict):  # type: ignore[type-arg]
    """The request bodies of a killed run's batch are not known to a later run: claimed
    creates are journaled without their body (undo needs only the worklog id)."""

    def __missing__(self, key: Any) -> None:
        return None


def source_from(journal: Journal) -> str:
    return str(journal.options.get("source") or "")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


class _LedgerHooks(EditHooks):
    """Sync's ledger beside the journal: the PATCH/DELETE intents before the requests, the
    outcomes after (see ``app.stages.edits.EditHooks``)."""

    def __init__(self, ledger: Ledger, scope: str, updates: Sequence[RowPlan],
                 by_row: Mapping[int, DesiredRow]) -> None:  # fmt: skip
        self.ledger, self.scope = ledger, scope
        self.updates = {r.source_row: r for r in updates}
        self.by_row = by_row

    def before(self, writes: Sequence[Any], run_id: str) -> None:
        adopted = [self.updates[w.source_row].ledger for w in writes
                   if w.kind == "update" and self.updates[w.source_row].ledger is not None]  # fmt: skip
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
                entries.append(LedgerEntry(
                    key, o.write.worklog_id, current.user_id if current else d.user_id,
                    current.timestamp if current else d.timestamp, dict(d.content),
                    o.edited_after))  # fmt: skip
            elif o.state in (EditState.FAILED, EditState.GONE, EditState.UNSENT):
                not_sent.append(key)
        self.ledger.settle(self.scope, entries=entries, removed=removed, not_sent=not_sent,
                           run_id=run_id)  # fmt: skip


@contextlib.contextmanager
def _writers(ledger: Path, settings: SyncSettings) -> Any:
    """One writer per target (the server) and per ledger file; a dry run writes nothing to
    7pace and takes none."""
    if settings.dry_run:
        yield
        return
    from timetracker_import.journal.lock import ledger_lock, target_lock

    with target_lock(settings.connection.rest_root, what="writing to this server (sync)",
                     wait=settings.wait), ledger_lock(ledger, wait=settings.wait):  # fmt: skip
        yield


def _hours_before_after(
    plan: SyncPlan,
    server: Mapping[str, ServerWorklog],
    desired: list[DesiredRow],
    outcome: Mapping[int, tuple[RowOutcome, str | None]],
    labels: Mapping[str, str],
    deleted: list[dict[str, Any]],
) -> dict[str, dict[str, float]]:
    """User x week hours before -> after this sync, for the worklogs sync manages:
    ``{"user|week": {"before": h, "after": h}}``."""
    from timetracker_import.core.approval import week_start
    from timetracker_import.core.worklog import stamp_instant

    grid: dict[str, dict[str, float]] = {}

    weeks: dict[str, str] = {}  # UTC day -> its Monday (20,000 rows share a few weeks)

    def add(user: str, stamp: str, which: str, seconds: float) -> None:
        user = labels.get(user, user)
        week = weeks.get(stamp[:10])
        if week is None:
            week = weeks[stamp[:10]] = week_start(stamp_instant(stamp)).isoformat()
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
    for doc in deleted:
        add(doc["user_id"], doc["timestamp"], "before", doc.get("length") or 0)
    return {k: {"before": round(v["before"], 2), "after": round(v["after"], 2)}
            for k, v in sorted(grid.items())}  # fmt: skip
