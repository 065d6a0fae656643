"""Use case: ``sync`` - make 7pace equal to a recurring source for the period it covers.

The offline stages (read, map, validate) are the import's (``app.importer.prepare``); users
and activity types are resolved and weeks locked by approval refused as there; creates go
through the import's ``Poster`` and batch journal. What sync adds:

- a key per row (``core.sync_plan``: an id column, or the slot) and the ledger
  (``journal.ledger``) of key -> worklog, content last written and ``editedTimestamp``;
- the pure plan (create / update / unchanged / conflict, deletes under ``--prune``);
- PATCH and DELETE, each journaled before its request and settled after
  (``journal.actions``) and mirrored in the ledger (``pending`` / ``deleting``), so a run
  killed at any point converges on the next run: a lost PATCH answer is recognised by
  comparing the server with what was sent, a lost create by adoption.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from timetracker_import.core.rejections import Rejection, merge_rejections
from timetracker_import.core.sync_plan import (
    ON_DUPLICATE_KEY,
    SLOT_KEY,
    DesiredRow,
    LedgerEntry,
    PruneWindow,
    RowPlan,
    ServerWorklog,
    SyncPlan,
    column_keys,
    default_window,
    duplicate_keys,
    plan_sync,
    server_worklog,
    slot_keys,
)
from timetracker_import.errors import (
    EXIT_AMBIGUOUS,
    EXIT_AUTH,
    EXIT_TEMPFAIL,
    AmbiguousOutcome,
    ApiError,
    AuthError,
    TimetrackerError,
    TransientApiError,
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.app.importer import PreparedFile
    from timetracker_import.app.poster import Poster
    from timetracker_import.core.actions import Delete, Update
    from timetracker_import.files.mapping_loader import LoadedMapping
    from timetracker_import.journal.actions import ActionLog
    from timetracker_import.journal.ledger import Ledger
    from timetracker_import.journal.store import Journal

KIND_SYNC = "sync"
ClientFactory = Callable[["ConnectionSettings", Callable[[Any], None]], "TimetrackerClient"]


@dataclass(frozen=True)
class SyncSettings:
    """What ``sync`` was asked to do."""

    path: Path
    connection: ConnectionSettings
    mapping_path: Path | None = None
    preset: str | None = None
    keys: tuple[str, ...] = ()
    prune: bool = False
    window: tuple[date, date] | None = None
    ledger_path: Path | None = None
    overwrite_edited: bool = False
    on_duplicate_key: str = "reject"
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
    #: seconds to wait for another sync holding the ledger's lock (then exit 75)
    wait: float = 0.0


@dataclass
class SyncCounts:
    """rows = created + updated + unchanged + conflicts + rejected + unprocessed + skipped;
    ``deleted`` counts worklogs, not rows."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    conflicts: int = 0
    rejected: int = 0
    unprocessed: int = 0
    skipped: int = 0

    def is_balanced(self) -> bool:
        return self.rows == (
            self.created + self.updated + self.unchanged + self.conflicts + self.rejected
            + self.unprocessed + self.skipped
        )  # fmt: skip

    def to_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "deleted": self.deleted, "conflicts": self.conflicts,
            "rejected": self.rejected, "unprocessed": self.unprocessed, "skipped": self.skipped,
        }  # fmt: skip


@dataclass
class SyncResult:
    """The outcome of one ``sync``."""

    run_id: str
    run_dir: Path
    dry_run: bool
    exit_code: int
    counts: SyncCounts
    changes: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger_path: Path | None = None
    scope: str = ""
    halt_reason: str | None = None
    halt_message: str | None = None
    writes: int = 0
    rejected_path: Path | None = None
    report_path: Path | None = None
    hours: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary_dict(self) -> dict[str, Any]:
        """The ``--json`` document (also ``summary.json``)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "counts": self.counts.to_dict(),
            "balanced": self.counts.is_balanced(),
            "changes": self.changes,
            "deletes": self.deletes,
            "conflicts": self.conflicts,
            "kept_absent": self.kept,
            "rejections": [r.to_dict() for r in self.rejections],
            "notes": self.notes,
            "ledger": None if self.ledger_path is None else str(self.ledger_path),
            "scope": json.loads(self.scope) if self.scope else None,
            "halt_reason": self.halt_reason,
            "halt_message": self.halt_message,
            "run_dir": str(self.run_dir),
            "rejected_path": None if self.rejected_path is None else str(self.rejected_path),
            "report_path": None if self.report_path is None else str(self.report_path),
        }


@dataclass(frozen=True)
class SyncConfirm:
    """What the confirmation prompt shows before anything is written."""

    creates: int
    updates: int
    deletes: int
    target: str


def parse_window(text: str) -> tuple[date, date]:
    """``FROM..TO`` (ISO dates, both included) -> (from, to); UsageError when malformed."""
    parts = text.split("..")
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = date.fromisoformat(parts[0].strip()), date.fromisoformat(parts[1].strip())
    except ValueError:
        raise UsageError(
            f"--window {text!r} is not FROM..TO", hint="e.g. --window 2026-11-01..2026-11-30"
        ) from None
    if lo > hi:
        raise UsageError(f"--window {text!r} ends before it starts")
    return lo, hi


def _import_settings(s: SyncSettings) -> Any:
    from timetracker_import.app.importer import ImportSettings

    return ImportSettings(
        path=s.path, connection=s.connection, mapping_path=s.mapping_path, preset=s.preset,
        sheet=s.sheet, timezone=s.timezone, encoding=s.encoding, delimiter=s.delimiter,
        date=s.date, dry_run=s.dry_run, batch_size=s.batch_size, concurrency=s.concurrency,
        rejected_path=s.rejected_path, report_path=s.report_path, new_run=True,
        loaded=s.loaded,
        # identical rows are two entries for sync (the slot's ordinal, or their ids tell
        # them apart); sync's own rule is about rows sharing a key (--on-duplicate-key)
        on_duplicate="allow",
    )  # fmt: skip


def _scope_mapping_name(s: SyncSettings) -> str:
    # the mapping file's name, not its path: a CI agent checks it out elsewhere every time
    if s.preset:
        return f"preset {s.preset}"
    if s.mapping_path is not None:
        return f"mapping {Path(str(s.mapping_path)).name}"
    assert s.loaded is not None
    return f"mapping {s.loaded.source}"


def sync_file(
    settings: SyncSettings,
    *,
    confirm: Callable[[SyncConfirm], bool] | None = None,
    client_factory: ClientFactory | None = None,
) -> SyncResult:
    """Sync a file into 7pace (library API). ``confirm`` is asked before anything is written
    (None: no question). Raises ``UsageError`` and friends for problems found before anything
    is sent."""
    from timetracker_import.app.importer import prepare

    if settings.on_duplicate_key not in ON_DUPLICATE_KEY:
        raise UsageError(f"--on-duplicate-key must be one of {', '.join(ON_DUPLICATE_KEY)}")
    if settings.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    prepared = prepare(_import_settings(settings))
    run = _SyncRun(settings, prepared, confirm=confirm)
    return asyncio.run(run.run(client_factory or _default_client_factory))


def _default_client_factory(
    connection: ConnectionSettings, on_retry: Callable[[Any], None]
) -> TimetrackerClient:
    from timetracker_import.api.client import TimetrackerClient

    return TimetrackerClient(connection, on_retry=on_retry)


def _day_bounds(lo: date, hi: date, timezone: str) -> tuple[datetime, datetime]:
    """UTC instants just outside local days ``lo``..``hi`` (the API's bounds are strict)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(lo, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(hi + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return start - timedelta(seconds=1), end


def _utc(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class _SyncRun:
    """The networked part of one sync (one event loop)."""

    def __init__(
        self,
        settings: SyncSettings,
        prepared: PreparedFile,
        *,
        confirm: Callable[[SyncConfirm], bool] | None,
    ) -> None:
        self.s = settings
        self.p = prepared
        self.confirm = confirm
        self.notes: list[str] = []
        self.poster: Poster | None = None
        self.rejections: list[Rejection] = []
        self.skipped: dict[int, str] = {int(r): "left out by the mapping" for r in prepared.skipped}
        self.outcome: dict[int, tuple[str, str | None]] = {}
        self.writes = 0
        self.halt: str | None = None
        self.halt_error: Exception | None = None
        self.ambiguous = False
        self.deleted: list[dict[str, Any]] = []
        self.delete_problems: list[dict[str, Any]] = []
        self.keyed_rows: set[int] = set()  # rows whose key is known (also when rejected)
        self.labels: dict[str, str] = {}  # user id (lowercased) -> email, for messages
        #: worklogs that were there before this run (in the window, or ledgered): a create's
        #: read-back after an ambiguous answer never claims one of them as its own
        self.known_ids: set[str] = set()

    # -- keys and desired rows -----------------------------------------------------------

    def _key_columns(self) -> list[str]:
        return list(self.s.keys) or list(self.p.loaded.mapping.key or [])

    def _managed(self) -> set[str]:
        """The content fields the file gives (a field it does not map is never changed)."""
        from timetracker_import.core.mapping import resolve_columns

        mapping = self.p.loaded.mapping
        given = set(resolve_columns(mapping, self.p.table.headers, self.p.table.has_header))
        given |= {n for n, spec in mapping.field_specs().items() if spec.value is not None}
        managed = {"length"}
        if "billable_length" in given:
            managed.add("billableLength")
        if "comment" in given:
            managed.add("comment")
        if "activity_type" in given:
            managed.add("activityTypeId")
        if self._key_columns():
            managed |= {"timeStamp", "userId"}
            if "work_item" in given:
                managed.add("workItemId")
        return managed

    def _column_keys(self) -> tuple[dict[int, str], list[Rejection]]:
        from timetracker_import.core.mapping import find_column

        columns = self._key_columns()
        table = self.p.table
        try:
            positions = [
                find_column(table.headers, c, 1, has_header=table.has_header, key_path="key")
                for c in columns
            ]
        except TimetrackerError as exc:
            raise UsageError(
                f"--key: {exc.message}", hint="name the column that holds the entry id"
            ) from None
        raw = self.p.raw
        cells = {
            int(r): [raw.at[r, pos] if pos in raw.columns else None for pos in positions]
            for r in raw.index
        }
        return column_keys(cells, [table.headers[p] for p in positions])

    def desired_rows(
        self, frame: pd.DataFrame, user_ids: pd.Series, at_ids: Mapping[Any, Any]
    ) -> tuple[list[DesiredRow], dict[int, dict[str, Any]], set[str]]:
        """Keys (with duplicate-key rejections) and content of the resolved rows; the
        creation bodies; and the keys of rows rejected before (they keep their worklogs)."""
        from timetracker_import.app.stages.execute import LazyBodies

        bodies = LazyBodies(frame, user_ids, at_ids)
        rows = [int(r) for r in frame.index]
        built = dict(zip(rows, bodies.many(rows), strict=True))
        present: set[str] = set()
        if self._key_columns():
            keys, key_rej = self._column_keys()
            self.keyed_rows = set(keys)
            done = {r.source_row for r in self.rejections} | set(self.skipped)
            self.reject([r for r in key_rej if r.source_row in built])
            present = {k for r, k in keys.items() if r in done}
            candidates = {r: keys[r] for r in rows if r in keys}
            kept, dup_rej, replaced = duplicate_keys(candidates, self.s.on_duplicate_key)
            self.reject(dup_rej)
            for row, by in replaced.items():
                self.skipped[row] = (
                    f"replaced by row {by} with the same key (--on-duplicate-key last)"
                )
            present |= {k for r, k in candidates.items() if r not in kept}
        else:
            kept = slot_keys(
                (r, (b["userId"].lower(), b["timeStamp"], b.get("workItemId")))
                for r, b in built.items()
            )
        managed = self._managed()
        desired = []
        comments = frame["comment"].to_dict() if "comment" in frame.columns else {}
        for row, key in sorted(kept.items()):
            body = built[row]
            content: dict[str, Any] = {"length": body["length"]}
            if "billableLength" in managed:
                content["billableLength"] = body.get("billableLength")
            if "comment" in managed:
                comment = comments.get(row)
                content["comment"] = comment if isinstance(comment, str) else None
            if "activityTypeId" in managed:
                at = body.get("activityTypeId")
                content["activityTypeId"] = at.lower() if isinstance(at, str) else None
            if "timeStamp" in managed:
                content["timeStamp"] = body["timeStamp"]
                content["userId"] = body["userId"].lower()
            if "workItemId" in managed:
                content["workItemId"] = body.get("workItemId")
            desired.append(
                DesiredRow(
                    row,
                    key,
                    body["userId"].lower(),
                    body["timeStamp"],
                    body.get("workItemId"),
                    content,
                )  # fmt: skip
            )
        return desired, built, present

    def reject(self, rejections: Sequence[Rejection]) -> None:
        done = {r.source_row for r in self.rejections}
        for rej in merge_rejections(list(rejections)):
            if rej.source_row not in done and rej.source_row not in self.skipped:
                self.rejections.append(rej)
                self.outcome[rej.source_row] = ("rejected", None)

    # -- the run -------------------------------------------------------------------------

    def _on_retry(self, event: Any) -> None:
        # a 429 halves the creates in flight, as in import (app.importer._ImportRun)
        if getattr(event, "reason", "") == "429" and self.poster is not None:
            self.poster.throttled()

    async def run(self, client_factory: ClientFactory) -> SyncResult:
        from timetracker_import.journal.ledger import Ledger, default_ledger_path, scope_of

        s = self.s
        ledger_path = Path(s.ledger_path) if s.ledger_path else default_ledger_path()
        key_spec = "key:" + json.dumps(self._key_columns()) if self._key_columns() else SLOT_KEY
        scope = scope_of(s.connection.rest_root, _scope_mapping_name(s), key_spec)
        self.reject(self.p.rejections)
        # one writer per ledger (journal.lock): an overlapping sync of the same ledger waits
        # up to --wait seconds, then exits 75; a dry run writes nothing and takes no lock
        with _ledger_writer(ledger_path, s), Ledger(ledger_path) as ledger:
            client = client_factory(s.connection, self._on_retry)
            async with client:
                result = await self._run(client, ledger, scope)
            result.ledger_path = ledger_path
            result.scope = scope
            return result

    async def _run(self, client: TimetrackerClient, ledger: Ledger, scope: str) -> SyncResult:
        from timetracker_import.app.importer import _all_or_cancel
        from timetracker_import.app.stages.resolve import resolve_rows
        from timetracker_import.journal.undo import same_edited_timestamp

        s, p = self.s, self.p
        me, users, activity = await _all_or_cancel(
            client.me(), client.users(), client.activity_types()
        )
        frame = p.canonical
        if len(frame):
            frame = frame[~frame.index.isin([r.source_row for r in self.rejections])]
        # stage resolve: the import's, on the rows the file stages left
        resolved = resolve_rows(
            frame, me=me, users=users, activity_types=activity, user_header=p.user_header,
            activity_header=p.activity_header,
        )  # fmt: skip
        self.labels = {k.lower(): v for k, v in resolved.labels.items()}
        self.reject(resolved.rejections)
        frame = frame[~frame.index.isin([r.source_row for r in self.rejections])]
        user_ids = resolved.user_ids.reindex(frame.index)
        desired, bodies, present = self.desired_rows(frame, user_ids, resolved.activity_type_ids)
        entries = ledger.entries(scope)
        window = self._window(desired)
        wanted_keys = {d.key for d in desired} | present
        users_involved = {d.user_id for d in desired} | {e.user_id for e in entries.values()}
        self_only = bool(users_involved) and users_involved <= {resolved.self_id.lower()}
        offset = resolved.naive_offset if self_only else 0
        server, approvals = await self._read_server(
            client, desired, entries, wanted_keys, window, self_only, offset
        )
        self.known_ids = set(server) | {e.worklog_id for e in entries.values()}
        blocked = None
        keyless = [r for r in self.rejections if r.source_row not in self.keyed_rows]
        if keyless:
            blocked = (
                f"{len(keyless)} rejected row(s) have no key, and a rejected row may be the "
                "one that keeps a worklog; fix them and sync again"
            )
        plan = plan_sync(
            desired, entries, server, same_edited=same_edited_timestamp, prune=s.prune,
            window=window, overwrite_edited=s.overwrite_edited, present_keys=present,
            prune_blocked=blocked,
        )  # fmt: skip
        self.notes.extend(plan.notes)
        if s.prune:
            ours = {e.worklog_id for e in entries.values()} | {
                r.worklog_id for r in plan.rows if r.worklog_id
            }
            foreign = [w for w in server.values()
                       if w.id not in ours and window.contains(w.user_id, w.timestamp)]  # fmt: skip
            if foreign:
                self.notes.append(
                    f"{len(foreign)} worklog(s) in the window were neither written nor adopted "
                    "by sync; --prune leaves them alone"
                )
        self._lock_check(plan, frame, user_ids, approvals, resolved.labels)
        return await self._execute(
            client, ledger, scope, plan, frame, user_ids, bodies, desired, server, offset,
            self_only,
        )  # fmt: skip

    def _window(self, desired: list[DesiredRow]) -> PruneWindow:
        if self.s.window is not None:
            return PruneWindow(overall=self.s.window, timezone=self.p.timezone)
        return default_window(desired, self.p.timezone)

    async def _read_server(
        self,
        client: TimetrackerClient,
        desired: list[DesiredRow],
        entries: Mapping[str, LedgerEntry],
        wanted: set[str],
        window: PruneWindow,
        self_only: bool,
        offset: int,
    ) -> tuple[dict[str, ServerWorklog], list[Any]]:
        """Stage preflight, over sync's window: the approval states and the worklogs in the
        window (the import's ``PreflightReads``, with its 403 fallbacks), then every ledgered
        worklog the plan may touch that is outside the window, by id."""
        from timetracker_import.app.stages.preflight import PreflightReads
        from timetracker_import.core.sync_plan import local_day

        tz = self.p.timezone
        days = [local_day(d.timestamp, tz) for d in desired]
        days += [local_day(e.timestamp, tz) for k, e in entries.items() if k in wanted]
        spans = list(window.per_user.values()) + ([window.overall] if window.overall else [])
        days += [d for span in spans for d in span]
        if not days:
            return {}, []
        lo, hi = _day_bounds(min(days), max(days), tz)
        reads = PreflightReads(
            approvals=asyncio.ensure_future(client.approvals(
                from_ts=lo.date() - timedelta(days=8), to_ts=hi.date() + timedelta(days=8))),
            baseline=asyncio.ensure_future(client.worklogs_all(from_ts=lo, to_ts=hi)),
            base_lo=lo, base_hi=hi,
        )  # fmt: skip
        try:
            approvals = await reads.read_approvals(self.notes)
            worklogs = await reads.read_baseline(client, self_only=self_only)
        finally:
            for future in reads.futures:
                if not future.done():
                    future.cancel()
            await asyncio.gather(*reads.futures, return_exceptions=True)
        server = {}
        for w in worklogs:
            if w.get("id"):
                item = server_worklog(w, naive_offset_minutes=offset)
                server[item.id] = item
        relevant = [
            e.worklog_id
            for k, e in entries.items()
            if e.worklog_id not in server
            and (k in wanted or window.contains(e.user_id, e.timestamp))
        ]
        slots = asyncio.Semaphore(self.s.concurrency)

        async def one(worklog_id: str) -> None:
            async with slots:
                found = await _get_or_none(client, worklog_id)
            if found is not None:
                server[worklog_id] = server_worklog(found, naive_offset_minutes=offset)

        await asyncio.gather(*(one(w) for w in relevant))
        return server, approvals

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

        # an unreadable approval item is noted and left to the server (as in import)
        locked = locked_weeks(approvals, on_problem=self.notes.append)
        if not locked:
            return
        writing = [r.source_row for r in plan.rows if r.outcome in ("create", "update")]
        rejected = locked_rejections(
            frame.loc[writing], user_ids, approvals, labels=labels,
            date_header=self.p.date_header,
        )  # fmt: skip
        done = {r.source_row for r in rejected}
        for row in plan.rows:
            if row.outcome != "update" or row.source_row in done or row.action is None:
                continue
            before = row.action.before.get("timeStamp")
            if before:
                user = str(row.action.before.get("userId") or user_ids.get(row.source_row) or "")
                monday = week_start(_utc(before))
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
            w = server_worklog(d.before)
            monday = week_start(_utc(w.timestamp))
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
        plan: SyncPlan,
        frame: pd.DataFrame,
        user_ids: pd.Series,
        bodies: dict[int, dict[str, Any]],
        desired: list[DesiredRow],
        server: Mapping[str, ServerWorklog],
        offset: int,
        self_only: bool,
    ) -> SyncResult:
        from timetracker_import.journal.actions import ActionLog
        from timetracker_import.journal.store import Journal, new_run_id

        s = self.s
        run_id = new_run_id()
        journal = Journal.create(
            fingerprint=f"{KIND_SYNC}:{run_id}", input_path=Path(s.path).resolve(),
            mapping_name=self.p.loaded.source, mapping_path=s.mapping_path,
            options={"kind": KIND_SYNC, "ledger": str(ledger.path), "scope": scope,
                     "dry_run": s.dry_run, "prune": s.prune, "timezone": self.p.timezone},
            base_url=s.connection.rest_root, run_id=run_id,
        )  # fmt: skip
        log = ActionLog(journal.directory)
        by_row = {d.source_row: d for d in desired}
        try:
            journal.record_rows(int(r) for r in self.p.raw.index)
            if self.skipped:
                for reason in set(self.skipped.values()):
                    journal.mark_skipped([r for r, why in self.skipped.items() if why == reason],
                                         reason)  # fmt: skip
            conflicts = plan.by_outcome("conflict")
            conflict_rej = [
                Rejection(r.source_row, "conflict", None, r.worklog_id, r.reason or "conflict")
                for r in conflicts
            ]
            if self.rejections or conflict_rej:
                journal.mark_rejections(self.rejections + conflict_rej)
            for r in conflicts:
                self.outcome[r.source_row] = ("conflict", r.worklog_id)
            creates = [r.source_row for r in plan.by_outcome("create")]
            updates = [r for r in plan.by_outcome("update") if r.action is not None]
            info = SyncConfirm(len(creates), len(updates), len(plan.deletes),
                               s.connection.rest_root)  # fmt: skip
            writes_planned = bool(creates or updates or plan.deletes)
            if (writes_planned and not s.dry_run and not s.rebuild and self.confirm is not None
                    and not self.confirm(info)):  # fmt: skip
                raise UsageError("sync cancelled; nothing was sent", hint="add --yes")
            real = not (s.dry_run or s.rebuild)
            # 1. what is in step already: record adoptions, drop forgotten keys
            adopted = [r.ledger for r in plan.rows if r.outcome == "unchanged" and r.ledger]
            if s.rebuild:
                adopted += [r.ledger for r in updates if r.ledger]
            if not s.dry_run:
                if adopted:
                    ledger.upsert(scope, adopted, run_id)
                if plan.forget:
                    ledger.remove(scope, plan.forget)
            for r in plan.by_outcome("unchanged"):
                self.outcome[r.source_row] = ("unchanged", r.worklog_id)
            if real:
                await self._run_writes(client, ledger, scope, log, journal, plan, frame,
                                       user_ids, bodies, by_row, self_only, offset)  # fmt: skip
            else:
                await self._dry_writes(client, journal, plan, frame, user_ids, bodies, by_row,
                                       self_only, offset)  # fmt: skip
            return self._finish(journal, log, plan, server, desired)
        finally:
            log.close()
            journal.close()

    async def _dry_writes(self, client: TimetrackerClient, journal: Journal, plan: SyncPlan,
                          frame: pd.DataFrame, user_ids: pd.Series, bodies: dict[int, Any],
                          by_row: dict[int, DesiredRow], self_only: bool,
                          offset: int) -> None:  # fmt: skip
        """A dry run (or ledger rebuild): creates validated by the server (validateOnly),
        updates and deletes only shown."""
        creates = [r.source_row for r in plan.by_outcome("create")]
        if creates and not self.s.rebuild:
            poster = await self._post(client, journal, frame, user_ids, bodies, creates,
                                      self_only, offset, dry_run=True)  # fmt: skip
            for row in poster.stats.would_create:
                self.outcome[row] = ("created", None)
            for rej in poster.stats.rejections:
                self.rejections.append(rej)
                self.outcome[rej.source_row] = ("rejected", None)
        elif creates:
            for row in creates:
                self.outcome[row] = ("unprocessed", None)
            self.notes.append(
                f"{len(creates)} row(s) have no worklog to adopt; the next sync creates them"
            )
        for r in plan.by_outcome("update"):
            self.outcome[r.source_row] = ("unchanged" if self.s.rebuild else "updated",
                                          r.worklog_id)  # fmt: skip
        if not self.s.rebuild:
            self.deleted = [self._delete_doc(d) for d in plan.deletes]

    async def _post(self, client: TimetrackerClient, journal: Journal, frame: pd.DataFrame,
                    user_ids: pd.Series, bodies: dict[int, Any], rows: list[int],
                    self_only: bool, offset: int, *, dry_run: bool) -> Any:  # fmt: skip
        """Create ``rows`` through the import's stages: ``plan_creates`` (batches by user and
        time), the poster with its batch journal and read-back (stage execute)."""
        from timetracker_import.app.poster import Poster
        from timetracker_import.app.stages.execute import read_back_for
        from timetracker_import.app.stages.plan import plan_creates
        from timetracker_import.core.worklog_key import keys_from_frame

        part = frame.loc[rows]
        ids = user_ids.reindex(part.index)
        poster = self.poster = Poster(
            client=client, journal=journal, bodies=bodies, keys=keys_from_frame(part, ids),
            timestamps=part["timestamp"], read_back=read_back_for(client, self_only=self_only),
            pending=part.index, known_ids=self.known_ids,
            claim_after=datetime.fromisoformat(journal.info().started_at),
            dry_run=dry_run, concurrency=self.s.concurrency, naive_offset_minutes=offset,
            created_offset_minutes=offset,
        )  # fmt: skip
        planned = plan_creates(
            part, ids, stored=[], pending=set(rows), batch_size=self.s.batch_size,
            first_batch_no=journal.next_batch_no(),
        )  # fmt: skip
        journal.record_plan(planned.new)
        poster._next_no = journal.next_batch_no()
        batches = planned.batches
        await poster.run(batches)
        self.writes += poster.stats.requests
        if poster.stats.halt:
            self.halt = self.halt or poster.stats.halt
            self.halt_error = self.halt_error or poster.stats.halt_error
        if poster.stats.ambiguous_batches:
            self.ambiguous = True
        return poster

    async def _run_writes(self, client: TimetrackerClient, ledger: Ledger, scope: str,
                          log: ActionLog, journal: Journal, plan: SyncPlan, frame: pd.DataFrame,
                          user_ids: pd.Series, bodies: dict[int, Any],
                          by_row: dict[int, DesiredRow], self_only: bool,
                          offset: int) -> None:  # fmt: skip
        from timetracker_import.journal.actions import PlannedAction

        slots = asyncio.Semaphore(self.s.concurrency)
        updates = [r for r in plan.by_outcome("update") if r.action is not None]
        creates = [r.source_row for r in plan.by_outcome("create")]
        # the intents of every PATCH and DELETE, committed before the first is sent: in the
        # ledger (adopted entries, pending fields, deleting keys) and in the run's journal
        if updates or plan.deletes:
            await asyncio.to_thread(
                ledger.intend, scope,
                entries=[r.ledger for r in updates if r.ledger is not None],
                pending={by_row[r.source_row].key: dict(r.action.fields) for r in updates
                         if r.action is not None},
                deleting=[d.key for d in plan.deletes if d.key is not None],
                run_id=journal.run_id,
            )  # fmt: skip
        ids = await asyncio.to_thread(log.intend_many, [
            *(PlannedAction("update", r.action.worklog_id, r.action.before, r.action.fields,
                            r.source_row, by_row[r.source_row].key)
              for r in updates if r.action is not None),
            *(PlannedAction("delete", d.worklog_id, d.before, key=d.key) for d in plan.deletes),
        ])  # fmt: skip
        settler = _Settler(ledger, scope, log, journal.run_id)

        async def update(row: RowPlan, action_id: int) -> None:
            async with slots:
                if self.halt:
                    self.outcome[row.source_row] = ("unprocessed", row.worklog_id)
                    return
                await self._update(client, settler, action_id, row, by_row[row.source_row])

        async def delete(action: Delete, action_id: int) -> None:
            async with slots:
                if self.halt:
                    return
                await self._delete(client, settler, action_id, action)

        async def create() -> None:
            if not creates:
                return
            poster = await self._post(client, journal, frame, user_ids, bodies, creates,
                                      self_only, offset, dry_run=False)  # fmt: skip
            records = {c.source_row: c for c in journal.created_records()}
            entries = []
            for row in creates:
                rec = records.get(row)
                if rec is None:
                    continue
                d = by_row[row]
                self.outcome[row] = ("created", rec.worklog_id)
                entries.append(LedgerEntry(d.key, rec.worklog_id, d.user_id, d.timestamp,
                                           dict(d.content), rec.edited_ts))  # fmt: skip
            if entries:
                await settler.add(entries=entries)
            for rej in poster.stats.rejections:
                self.rejections.append(rej)
                self.outcome[rej.source_row] = ("rejected", None)

        outcomes = await asyncio.gather(
            create(),
            *(update(r, i) for r, i in zip(updates, ids, strict=False)),
            *(delete(d, i) for d, i in zip(plan.deletes, ids[len(updates):], strict=True)),
            return_exceptions=True,
        )  # fmt: skip
        await settler.flush()
        for failure in outcomes:
            if isinstance(failure, AuthError):
                self.halt, self.halt_error = "auth", failure
            elif isinstance(failure, BaseException):
                raise failure
        for row in updates:
            self.outcome.setdefault(row.source_row, ("unprocessed", row.worklog_id))
        journal.mark_existing(
            {r: w for r, (o, w) in self.outcome.items() if o in ("updated", "unchanged") and w}
        )
        refused = [r for r in self.rejections if self.outcome.get(r.source_row, ("",))[0]
                   == "rejected" and r.stage == "server"]  # fmt: skip
        if refused:
            journal.mark_rejections(refused)

    async def _update(self, client: TimetrackerClient, settler: _Settler, action_id: int,
                      row: RowPlan, d: DesiredRow) -> None:  # fmt: skip
        assert row.action is not None and row.worklog_id is not None
        action: Update = row.action
        self.writes += 1
        try:
            answer = await client.patch_worklog(action.worklog_id, action.fields)
        except AmbiguousOutcome:
            found = await self._read_back_patch(client, action)
            if found is None:
                self.ambiguous = True
                self.outcome[row.source_row] = ("unprocessed", row.worklog_id)
                return  # stays "sending" and pending: the next sync compares and decides
            answer = found
        except AuthError:
            raise
        except TransientApiError as exc:
            self.halt, self.halt_error = "transient", exc
            await settler.add((action_id, "failed", None, exc.message), not_sent=[d.key])
            self.outcome[row.source_row] = ("unprocessed", row.worklog_id)
            return
        except ApiError as exc:
            state = "gone" if exc.status == 404 else "failed"
            await settler.add((action_id, state, None, exc.message), not_sent=[d.key])
            if exc.status == 404:
                self.outcome[row.source_row] = ("conflict", row.worklog_id)
                self._conflict_rejection(row, f"worklog {row.worklog_id} was deleted in 7pace "
                                         "while sync ran; not re-created")  # fmt: skip
            else:
                self.rejections.append(Rejection(
                    row.source_row, "server", None, None,
                    f"the server refused the update of worklog {row.worklog_id}: "
                    f"{exc.description or exc.message}", exc.error_code))  # fmt: skip
                self.outcome[row.source_row] = ("rejected", None)
            return
        edited = answer.get("editedTimestamp")
        edited_ts = None if edited is None else str(edited)
        current = server_worklog(answer) if answer.get("timestamp") else None
        entry = LedgerEntry(
            d.key, action.worklog_id, current.user_id if current else d.user_id,
            current.timestamp if current else d.timestamp, dict(d.content), edited_ts,
        )  # fmt: skip
        await settler.add((action_id, "done", edited_ts, None), entries=[entry])
        self.outcome[row.source_row] = ("updated", row.worklog_id)

    async def _read_back_patch(
        self, client: TimetrackerClient, action: Update
    ) -> dict[str, Any] | None:
        """After a PATCH without an answer: the worklog if it holds the new values (sent
        again once when it still holds the old ones), else None (undecided)."""
        from timetracker_import.core.sync_plan import diff_content

        for attempt in range(2):
            try:
                found = await _get_or_none(client, action.worklog_id)
            except TransientApiError as exc:
                # the server is down: stop sending more into the outage (exit 75, resumable)
                self.halt, self.halt_error = self.halt or "transient", self.halt_error or exc
                return None
            except TimetrackerError:
                return None
            if found is None:
                return None
            if not diff_content(dict(action.fields), server_worklog(found).content):
                return found
            if attempt:
                return None
            try:
                return await client.patch_worklog(action.worklog_id, action.fields)
            except TimetrackerError:
                continue
        return None

    def _conflict_rejection(self, row: RowPlan, reason: str) -> None:
        self.rejections.append(Rejection(row.source_row, "conflict", None, row.worklog_id, reason))

    async def _delete(self, client: TimetrackerClient, settler: _Settler, action_id: int,
                      action: Delete) -> None:  # fmt: skip
        assert action.key is not None
        self.writes += 1
        try:
            await client.delete_worklog(action.worklog_id)
        except AuthError:
            raise
        except TransientApiError as exc:
            self.halt, self.halt_error = "transient", exc
            return  # stays "deleting": the next sync sees whether it is gone
        except ApiError as exc:
            if exc.status != 404:
                # refused: not deleted, the entry stays ours
                await settler.add((action_id, "failed", None, exc.message),
                                  not_sent=[action.key])  # fmt: skip
                self.delete_problems.append({"worklog_id": action.worklog_id, "key": action.key,
                                             "reason": exc.description or exc.message})  # fmt: skip
                return
            await settler.add((action_id, "gone", None, None), removed=[action.key])
        else:
            await settler.add((action_id, "done", None, None), removed=[action.key])
        self.deleted.append(self._delete_doc(action))

    def _delete_doc(self, action: Delete) -> dict[str, Any]:
        w = server_worklog(action.before)
        return {"worklog_id": action.worklog_id, "key": action.key, "user_id": w.user_id,
                "user": self.labels.get(w.user_id, w.user_id),
                "timestamp": w.timestamp, "length": w.content.get("length"),
                "comment": w.content.get("comment")}  # fmt: skip

    # -- finishing -----------------------------------------------------------------------

    def _finish(self, journal: Journal, log: ActionLog, plan: SyncPlan,
                server: Mapping[str, ServerWorklog], desired: list[DesiredRow]) -> SyncResult:  # fmt: skip
        from timetracker_import.app.stages.account import rejected_in, write_rejected

        s = self.s
        all_rows = [int(r) for r in self.p.raw.index]
        for row, reason in self.skipped.items():
            self.outcome[row] = ("skipped", reason)
        counts = SyncCounts(rows=len(all_rows))
        for row in all_rows:
            outcome = self.outcome.get(row, ("unprocessed", None))[0]
            if outcome == "conflict":
                counts.conflicts += 1
            elif outcome in ("created", "updated", "unchanged", "rejected", "skipped"):
                setattr(counts, outcome, getattr(counts, outcome) + 1)
            else:
                counts.unprocessed += 1
        counts.deleted = len(self.deleted)
        key_of = {d.source_row: d.key for d in desired}
        if not s.dry_run:
            log.record_rows(
                (row, key_of.get(row), self.outcome.get(row, ("unprocessed", None))[0],
                 self.outcome.get(row, ("", None))[1] if self.outcome.get(row, ("",))[0]
                 != "skipped" else None, None)
                for row in all_rows
            )  # fmt: skip
        leftover = [r for r in journal.pending_rows() if self.outcome.get(r, ("",))[0]
                    not in ("updated", "unchanged", "conflict")]  # fmt: skip
        if leftover and not s.dry_run:
            journal.mark_unprocessed(leftover)
        rejections = sorted(
            merge_rejections(self.rejections + [
                Rejection(r.source_row, "conflict", None, r.worklog_id, r.reason or "conflict")
                for r in plan.by_outcome("conflict")]),
            key=lambda r: r.source_row,
        )  # fmt: skip
        from timetracker_import.app.stages.account import exit_code_for
        from timetracker_import.core.accounting import Accounting

        # the import's rule; a conflict, a kept edited worklog or a refused delete counts as
        # a rejection, rows left for the next sync of a ledger rebuild are not a failure
        refusals = (counts.rejected + counts.conflicts + len(self.delete_problems)
                    + len(plan.delete_conflicts))  # fmt: skip
        code = exit_code_for(
            Accounting(rows=counts.rows, rejected=refusals,
                       unprocessed=0 if s.rebuild else counts.unprocessed),
            halt=self.halt, halt_error=self.halt_error, ambiguous=self.ambiguous,
        )  # fmt: skip
        changes = [
            {"source_row": r.source_row, "key": r.key, "worklog_id": r.worklog_id,
             "adopted": r.adopted,
             "fields": {k: {"old": o, "new": n} for k, (o, n) in r.changes.items()}}
            for r in plan.rows if r.outcome == "update"
            and self.outcome.get(r.source_row, ("",))[0] in ("updated", "unchanged")
        ]  # fmt: skip
        conflicts = [
            {"source_row": r.source_row, "key": r.key, "worklog_id": r.worklog_id,
             "reason": r.reason, "ours": r.ours, "theirs": r.theirs,
             "wanted": {k: n for k, (_, n) in r.changes.items()}}
            for r in plan.by_outcome("conflict")
        ] + [{"source_row": None, "key": c.key, "worklog_id": c.worklog_id, "reason": c.reason}
             for c in plan.delete_conflicts]  # fmt: skip
        result = SyncResult(
            run_id=journal.run_id, run_dir=journal.directory, dry_run=s.dry_run, exit_code=code,
            counts=counts, changes=changes, deletes=self.deleted, conflicts=conflicts,
            kept=[{"key": e.key, "worklog_id": e.worklog_id, "timestamp": e.timestamp}
                  for e in plan.absent],
            rejections=rejections, notes=self.notes, halt_reason=self.halt,
            halt_message=None if self.halt_error is None else str(self.halt_error),
            writes=self.writes,
        )  # fmt: skip
        for problem in self.delete_problems:
            self.notes.append(f"worklog {problem['worklog_id']} (key {problem['key']}) was not "
                              f"deleted: {problem['reason']}")  # fmt: skip
        if plan.absent:
            self.notes.append(
                f"{len(plan.absent)} worklog(s) synced earlier are no longer in the file "
                "inside the window; kept (--prune deletes them)"
                if not s.prune
                else f"{len(plan.absent)} worklog(s) kept (see above)"
            )
        result.hours = _hours_before_after(plan, server, desired, self.outcome, self.labels,
                                           self.deleted)  # fmt: skip
        if rejections and not s.rebuild:
            result.rejected_path = rejected_in(journal.directory, s.path, self.p, rejections)
            if s.rejected_path is not None:
                write_rejected(s.rejected_path, self.p, rejections)
        if s.report_path is not None:
            result.report_path = self._write_report(result)
        journal.finish("halted" if code in (EXIT_TEMPFAIL, EXIT_AUTH, EXIT_AMBIGUOUS) else
                       "complete")  # fmt: skip
        journal.write_summary({k: v for k, v in result.summary_dict().items() if k != "run_id"})
        return result

    def _write_report(self, result: SyncResult) -> Path | None:
        from timetracker_import.core.report import ReportBuilder, ReportSettings, source_cells
        from timetracker_import.files.report_json import write_report

        assert self.s.report_path is not None
        builder = ReportBuilder(ReportSettings(timezone=self.p.timezone))
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
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        counts = {k: int(v) for k, v in result.counts.to_dict().items()}
        return write_report(builder.build(counts, meta), self.s.report_path)


def _hours_before_after(
    plan: SyncPlan,
    server: Mapping[str, ServerWorklog],
    desired: list[DesiredRow],
    outcome: Mapping[int, tuple[str, str | None]],
    labels: Mapping[str, str],
    deleted: list[dict[str, Any]],
) -> dict[str, dict[str, float]]:
    """User x week hours before -> after this sync, for the worklogs sync manages:
    ``{"user|week": {"before": h, "after": h}}``."""
    from timetracker_import.core.approval import week_start

    grid: dict[str, dict[str, float]] = {}

    def add(user: str, stamp: str, which: str, seconds: float) -> None:
        user = labels.get(user, user)
        cell = grid.setdefault(f"{user}|{week_start(_utc(stamp)).isoformat()}",
                               {"before": 0.0, "after": 0.0})  # fmt: skip
        cell[which] += seconds / 3600

    by_row = {d.source_row: d for d in desired}
    for r in plan.rows:
        d = by_row.get(r.source_row)
        state = outcome.get(r.source_row, ("",))[0]
        if d is None:
            continue
        old = server.get(r.worklog_id or "")
        if old is not None:
            add(old.user_id, old.timestamp, "before", old.content.get("length") or 0)
        if state in ("created", "updated", "unchanged"):
            add(d.user_id, d.content.get("timeStamp", d.timestamp), "after", d.content["length"])
        elif old is not None:
            add(old.user_id, old.timestamp, "after", old.content.get("length") or 0)
    for doc in deleted:
        add(doc["user_id"], doc["timestamp"], "before", doc.get("length") or 0)
    return {k: {"before": round(v["before"], 2), "after": round(v["after"], 2)}
            for k, v in sorted(grid.items())}  # fmt: skip


def _ledger_writer(path: Path, settings: SyncSettings) -> contextlib.AbstractContextManager[Any]:
    if settings.dry_run:
        return contextlib.nullcontext()
    from timetracker_import.journal.lock import ledger_lock

    return ledger_lock(path, wait=settings.wait)


async def _get_or_none(client: TimetrackerClient, worklog_id: str) -> dict[str, Any] | None:
    try:
        return await client.worklog(worklog_id)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


class _Settler:
    """The outcomes of PATCHes and DELETEs, committed in groups off the event loop: the
    run's journal first, then the ledger, one transaction each per group. Until a group is
    committed, the intents written before the requests (``sending``, ``pending``,
    ``deleting``) stand for it, and the next sync resolves them against the server."""

    EVERY = 50

    def __init__(self, ledger: Ledger, scope: str, log: ActionLog, run_id: str) -> None:
        self.ledger, self.scope, self.log, self.run_id = ledger, scope, log, run_id
        self.settled: list[tuple[int, str, str | None, str | None]] = []
        self.entries: list[LedgerEntry] = []
        self.removed: list[str] = []
        self.not_sent: list[str] = []
        self._lock = asyncio.Lock()

    async def add(
        self,
        settled: tuple[int, str, str | None, str | None] | None = None,
        *,
        entries: Sequence[LedgerEntry] = (),
        removed: Sequence[str] = (),
        not_sent: Sequence[str] = (),
    ) -> None:
        if settled is not None:
            self.settled.append(settled)
        self.entries.extend(entries)
        self.removed.extend(removed)
        self.not_sent.extend(not_sent)
        if len(self.settled) + len(self.entries) >= self.EVERY:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            group = (self.settled, self.entries, self.removed, self.not_sent)
            self.settled, self.entries, self.removed, self.not_sent = [], [], [], []
            if any(group):
                await asyncio.to_thread(self._commit, *group)

    def _commit(self, settled: list[tuple[int, str, str | None, str | None]],
                entries: list[LedgerEntry], removed: list[str], not_sent: list[str]) -> None:  # fmt: skip
        if settled:
            self.log.settle_many(settled)
        self.ledger.settle(self.scope, entries=entries, removed=removed, not_sent=not_sent,
                           run_id=self.run_id)  # fmt: skip


# --------------------------------------------------------------------------- undo


@dataclass
class SyncUndoReport:
    """What ``runs undo`` of a sync did: PATCHed values restored, created worklogs deleted,
    deleted worklogs re-created (new ids), and what was skipped (edited since) or failed."""

    dry_run: bool
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    recreated: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "restored": self.restored,
            "deleted": self.deleted,
            "recreated": [{"old_id": o, "new_id": n} for o, n in self.recreated],
            "skipped": [{"id": i, "why": w} for i, w in self.skipped],
            "failed": [{"id": i, "why": w} for i, w in self.failed],
        }

    def render(self) -> str:
        would = "would " if self.dry_run else ""
        lines = [
            f"sync undo: {would}restore {len(self.restored)}, {would}delete "
            f"{len(self.deleted)}, {would}re-create {len(self.recreated)}, skipped "
            f"{len(self.skipped)}, failed {len(self.failed)}"
        ]
        lines += [f"  re-created {o} as {n}" for o, n in self.recreated if n]
        lines += [f"  skipped {i}: {w}" for i, w in self.skipped[:20]]
        lines += [f"  failed {i}: {w}" for i, w in self.failed[:20]]
        if self.recreated:
            lines.append("note: re-created worklogs get new ids; the ledger now names them")
        return "\n".join(lines)


def is_sync_run(journal: Journal) -> bool:
    """Whether ``journal`` is a sync run (undone by ``undo_sync``)."""
    return journal.options.get("kind") == KIND_SYNC


async def undo_sync(
    journal: Journal, client: TimetrackerClient, *, dry_run: bool = False
) -> SyncUndoReport:
    """Undo a sync run: PATCH the old values back (unless edited since our PATCH), re-create
    what it deleted, delete what it created (unless edited since), and bring the ledger in
    line. Actions already undone are skipped, so running it again is harmless."""
    from timetracker_import.app.undo import undo_created
    from timetracker_import.core.roundtrip import recreate_body
    from timetracker_import.journal.actions import ActionLog
    from timetracker_import.journal.ledger import Ledger
    from timetracker_import.journal.lock import ledger_lock
    from timetracker_import.journal.undo import same_edited_timestamp

    options = journal.options
    report = SyncUndoReport(dry_run=dry_run)
    scope = str(options.get("scope") or "")
    path = Path(str(options["ledger"]))
    writer = contextlib.nullcontext() if dry_run else ledger_lock(path)
    with writer, ActionLog(journal.directory) as log, Ledger(path) as ledger:
        entries = {e.worklog_id: e for e in ledger.entries(scope).values()}
        for action in log.actions():
            wid = action.worklog_id
            if action.undo:
                report.skipped.append((wid, f"already undone ({action.undo})"))
                continue
            if action.state in ("failed", "gone"):
                continue  # never applied
            try:
                if action.kind == "update":
                    current = await _get_or_none(client, wid)
                    if current is None:
                        report.skipped.append((wid, "deleted since the sync"))
                        continue
                    edited = current.get("editedTimestamp")
                    ours = action.state == "done" and same_edited_timestamp(
                        action.edited_after, None if edited is None else str(edited)
                    )
                    if action.state == "done" and not ours:
                        report.skipped.append((wid, f"edited since the sync (editedTimestamp "
                                               f"{edited}); restore it by hand"))  # fmt: skip
                        continue
                    report.restored.append(wid)
                    if dry_run:
                        continue
                    body = {k: ("" if k == "comment" and v is None else v)
                            for k, v in action.before.items()}  # fmt: skip
                    answer = await client.patch_worklog(wid, body)
                    log.mark_undo(action.id, "restored")
                    entry = entries.get(wid)
                    if entry is not None:
                        restored = server_worklog(answer)
                        after = answer.get("editedTimestamp")
                        ledger.upsert(scope, [replace(
                            entry, content={**entry.content, **action.before},
                            edited_ts=None if after is None else str(after), pending=None,
                            timestamp=restored.timestamp, user_id=restored.user_id)],
                            journal.run_id)  # fmt: skip
                else:
                    if action.state == "sending" and await _get_or_none(client, wid):
                        report.skipped.append((wid, "the delete did not happen"))
                        continue
                    if dry_run:
                        report.recreated.append((wid, ""))
                        continue
                    log.mark_undo(action.id, "recreating")  # intent, before the POST
                    created = await client.create_worklog(recreate_body(action.before))
                    new_id = str(created.get("id"))
                    log.mark_undo(action.id, f"recreated as {new_id}")
                    report.recreated.append((wid, new_id))
                    if action.key:
                        w = server_worklog(created)
                        known = server_worklog(action.before).content
                        ledger.upsert(scope, [LedgerEntry(
                            action.key, new_id, w.user_id, w.timestamp,
                            {k: w.content.get(k) for k in known if known.get(k) is not None},
                            w.edited_ts)], journal.run_id)  # fmt: skip
            except AuthError:
                raise
            except ApiError as exc:
                report.failed.append((wid, exc.message))
        undo = await undo_created(journal, client, dry_run=dry_run)
        report.deleted = list(undo.deleted)
        report.skipped += list(undo.skipped_edited)
        report.failed += list(undo.failed)
        if not dry_run:
            ledger.remove_worklogs(scope, list(undo.deleted) + list(undo.already_gone))
    return report
