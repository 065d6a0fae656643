"""The pure planner of ``sync``: make 7pace equal to a recurring source.

Inputs are plain values: the desired rows (each with its *key*, see ``slot_keys`` and
``column_keys``), the ledger entries of this sync scope (key -> the worklog we created or
adopted, the content we last wrote and its ``editedTimestamp`` after our write) and the
server's current worklogs. The output is one ``RowPlan`` per row (create / update /
unchanged / conflict) plus, under ``--prune``, the ``Delete`` actions of ledgered worklogs
whose key is absent from the file inside the window.

Identity and content (docs/sync.md):

- the key is the source's entry id (``--key`` / ``key:`` in a mapping) or else the *slot*:
  user + UTC start to the second + work item, plus an ordinal for equal slots in file order;
- length, billable length, comment and activity type are *content*, never identity (with an
  id key, start, user and work item are content too);
- a ledgered worklog whose ``editedTimestamp`` differs from the one after our last write was
  edited in 7pace: a conflict, not overwritten (unless ``overwrite_edited``); one that is gone
  is a conflict too (or re-created);
- without a ledger entry a row adopts the one worklog on its slot that nobody ledgered; an
  exact content match is taken first; several candidates are a conflict, never a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from timetracker_import.core.actions import Delete, Update

# the key rules live with the other duplicate rules; re-exported for sync's callers
from timetracker_import.core.dedupe import (  # noqa: F401
    ON_DUPLICATE_KEY,
    cell_text,
    column_keys,
    duplicate_keys,
)
from timetracker_import.core.worklog_key import normalize_comment, parse_api_timestamp

#: content fields (API names) in the order diffs are shown
CONTENT_FIELDS = (
    "userId",
    "timeStamp",
    "workItemId",
    "length",
    "billableLength",
    "comment",
    "activityTypeId",
)
#: fields that are part of the slot (identity) when no id key is given
SLOT_FIELDS = ("userId", "timeStamp", "workItemId")
SLOT_KEY = "slot"

SameEdited = Callable[[str | None, str | None], bool]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class DesiredRow:
    """One valid, resolved file row: its key and the content it wants on the server.

    ``content`` holds API field names; only the fields the mapping manages are present (a
    field the file does not give is never compared or changed)."""

    source_row: int
    key: str
    user_id: str
    timestamp: str  # UTC "YYYY-MM-DDTHH:MM:SSZ"
    work_item_id: int | None
    content: Mapping[str, Any]

    @property
    def slot(self) -> tuple[str, str, int | None]:
        return (self.user_id.lower(), self.timestamp, self.work_item_id)


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows of one key. ``pending``: the fields of a PATCH that was sent but
    whose outcome was not recorded (a crash); ``state`` ``deleting``: a DELETE was sent."""

    key: str
    worklog_id: str
    user_id: str
    timestamp: str
    content: Mapping[str, Any]
    edited_ts: str | None
    pending: Mapping[str, Any] | None = None
    state: str = "ok"


@dataclass(frozen=True)
class ServerWorklog:
    """A worklog as the planner compares it (see ``server_worklog``)."""

    id: str
    user_id: str
    timestamp: str
    work_item_id: int | None
    content: Mapping[str, Any]
    edited_ts: str | None
    created_ts: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> tuple[str, str, int | None]:
        return (self.user_id.lower(), self.timestamp, self.work_item_id)


def server_worklog(worklog: Mapping[str, Any], *, naive_offset_minutes: int = 0) -> ServerWorklog:
    """A worklog as the API returns it, in the planner's terms."""
    user = worklog.get("user") or {}
    user_id = str(user.get("id") or worklog.get("userId") or "").strip().lower()
    text = worklog.get("timestamp") or worklog.get("timeStamp")
    if not isinstance(text, str):
        raise ValueError(f"worklog {worklog.get('id')!r} has no timestamp")
    ts = parse_api_timestamp(text, naive_offset_minutes=naive_offset_minutes)
    stamp = ts.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    work_item = worklog.get("workItemId")
    work_item_id = None if work_item is None else int(work_item)
    activity = worklog.get("activityType") or {}
    activity_id = activity.get("id") or worklog.get("activityTypeId")
    billable = worklog.get("billableLength")
    content = {
        "userId": user_id,
        "timeStamp": stamp,
        "workItemId": work_item_id,
        "length": int(worklog.get("length") or 0),
        "billableLength": None if billable is None else int(billable),
        "comment": worklog.get("comment"),
        "activityTypeId": None if activity_id is None else str(activity_id).lower(),
    }
    edited = worklog.get("editedTimestamp")
    return ServerWorklog(
        id=str(worklog.get("id")),
        user_id=user_id,
        timestamp=stamp,
        work_item_id=work_item_id,
        content=content,
        edited_ts=None if edited is None else str(edited),
        created_ts=str(worklog.get("createdTimestamp") or ""),
        raw=dict(worklog),
    )


# --------------------------------------------------------------------------- content


def _billable(value: Any, length: Any) -> Any:
    # a billable length that is not set means "all of it"
    return length if value is None else value


def field_equal(name: str, desired: Any, current: Any, *, length: tuple[Any, Any]) -> bool:
    """Whether one content field already has the desired value (``length``: the desired and
    current lengths, for an unset billable length)."""
    if name == "comment":
        return normalize_comment(desired) == normalize_comment(current)
    if name == "billableLength":
        return _billable(desired, length[0]) == _billable(current, length[1])
    if name in ("userId", "activityTypeId"):
        norm = [None if v is None else str(v).lower() for v in (desired, current)]
        return norm[0] == norm[1]
    return bool(desired == current)


def diff_content(
    desired: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """``{field: (current, desired)}`` for the managed fields whose value differs. A desired
    activity type of None (the user's default) is not a change."""
    lengths = (desired.get("length", current.get("length")), current.get("length"))
    changes: dict[str, tuple[Any, Any]] = {}
    for name in CONTENT_FIELDS:
        if name not in desired:
            continue
        want, have = desired[name], current.get(name)
        if name == "activityTypeId" and want is None:
            continue
        if name == "billableLength" and want is None and "length" in desired:
            # not given: the billable length follows the length; unchanged if it already does
            want = desired["length"]
        if not field_equal(name, want, have, length=lengths):
            changes[name] = (have, want)
    return changes


def patch_body(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The PATCH body of a diff: only the changed fields, with their new values."""
    body: dict[str, Any] = {}
    for name, (_, new) in changes.items():
        if name == "comment":
            body[name] = "" if new is None else str(new)
        else:
            body[name] = new
    return body


# --------------------------------------------------------------------------- keys


def slot_keys(slots: Iterable[tuple[int, tuple[str, str, int | None]]]) -> dict[int, str]:
    """``{source_row: key}`` from ``(source_row, (user_id, utc_second, work_item))``: the slot
    plus an ordinal (1, 2, ...) for equal slots in file order."""
    seen: dict[tuple[str, str, int | None], int] = defaultdict(int)
    keys: dict[int, str] = {}
    for row, (user, stamp, work_item) in sorted(slots, key=lambda item: item[0]):
        slot = (user.lower(), stamp, work_item)
        seen[slot] += 1
        keys[row] = f"{slot[0]}|{stamp}|{'' if work_item is None else work_item}#{seen[slot]}"
    return keys


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class RowPlan:
    """What sync does with one row. ``changes``: ``{field: (old, new)}`` for an update;
    ``ledger``: the entry to record once the row is done (adoption, recovered writes);
    ``ours``/``theirs``: both versions of a conflict."""

    source_row: int
    key: str
    outcome: str  # create | update | unchanged | conflict
    worklog_id: str | None = None
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    adopted: bool = False
    reason: str | None = None
    ours: Mapping[str, Any] | None = None
    theirs: Mapping[str, Any] | None = None
    ledger: LedgerEntry | None = None
    action: Update | None = None


@dataclass(frozen=True)
class DeleteConflict:
    """A ledgered worklog absent from the file that was edited in 7pace: kept."""

    key: str
    worklog_id: str
    reason: str


@dataclass
class SyncPlan:
    """The whole plan. ``absent``: ledgered keys missing from the file inside the window
    that are kept because ``--prune`` was not given (or is suspended); ``forget``: ledger keys
    whose worklog is gone after a DELETE we sent (nothing to do but drop them)."""

    rows: list[RowPlan] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    delete_conflicts: list[DeleteConflict] = field(default_factory=list)
    absent: list[LedgerEntry] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_outcome(self, outcome: str) -> list[RowPlan]:
        return [r for r in self.rows if r.outcome == outcome]


@dataclass(frozen=True)
class PruneWindow:
    """Where ``--prune`` deletes: per user (lowercased id) the first to last day of that
    user's rows, or one range for everyone (``--window``). Days are in ``timezone``."""

    per_user: Mapping[str, tuple[date, date]] = field(default_factory=dict)
    overall: tuple[date, date] | None = None
    timezone: str = "UTC"

    def contains(self, user_id: str, utc_stamp: str) -> bool:
        day = local_day(utc_stamp, self.timezone)
        if self.overall is not None:
            return self.overall[0] <= day <= self.overall[1]
        span = self.per_user.get(user_id.lower())
        return span is not None and span[0] <= day <= span[1]


def local_day(utc_stamp: str, timezone: str) -> date:
    """The calendar day of a UTC "...Z" stamp in ``timezone``."""
    ts = datetime.strptime(utc_stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return ts.astimezone(ZoneInfo(timezone)).date()


def default_window(rows: Iterable[DesiredRow], timezone: str) -> PruneWindow:
    """Per user, the first to last day of the user's rows."""
    spans: dict[str, tuple[date, date]] = {}
    for row in rows:
        day = local_day(row.timestamp, timezone)
        lo, hi = spans.get(row.user_id.lower(), (day, day))
        spans[row.user_id.lower()] = (min(lo, day), max(hi, day))
    return PruneWindow(per_user=spans, timezone=timezone)


def _recover(entry: LedgerEntry, current: ServerWorklog, same: SameEdited) -> LedgerEntry:
    """An entry whose PATCH outcome was lost: if the server holds the pending values and was
    edited since, that edit was ours - take its ``editedTimestamp``."""
    if not entry.pending or same(entry.edited_ts, current.edited_ts):
        return replace(entry, pending=None)
    if diff_content(entry.pending, current.content):
        return replace(entry, pending=None)  # someone else's edit: stays a conflict
    return replace(
        entry,
        content={**entry.content, **entry.pending},
        edited_ts=current.edited_ts,
        pending=None,
        timestamp=current.timestamp,
        user_id=current.user_id,
    )


def _entry_for(row: DesiredRow, worklog: ServerWorklog) -> LedgerEntry:
    return LedgerEntry(
        key=row.key,
        worklog_id=worklog.id,
        user_id=worklog.user_id,
        timestamp=worklog.timestamp,
        content={k: worklog.content.get(k) for k in row.content},
        edited_ts=worklog.edited_ts,
    )


def _update(row: DesiredRow, worklog: ServerWorklog, changes: dict[str, Any]) -> Update:
    return Update(
        source_row=row.source_row,
        worklog_id=worklog.id,
        fields=patch_body(changes),
        before={name: old for name, (old, _) in changes.items()},
    )


def plan_sync(
    rows: Sequence[DesiredRow],
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    *,
    same_edited: SameEdited,
    prune: bool = False,
    window: PruneWindow | None = None,
    overwrite_edited: bool = False,
    present_keys: Iterable[str] = (),
    prune_blocked: str | None = None,
) -> SyncPlan:
    """Plan a sync (see the module docstring).

    ``server``: the current worklogs by id - every worklog in the window, plus each ledgered
    worklog looked up by id; a ledgered id missing here is gone. ``present_keys``: keys of
    rows that are not in ``rows`` (rejected) but keep their worklogs from being pruned.
    ``prune_blocked``: why ``--prune`` deletes nothing in this run (a rejected row without a
    key could be the one that keeps a worklog). ``same_edited`` compares two
    ``editedTimestamp`` texts (tolerating the precision the server drops)."""
    plan = SyncPlan()
    claimed = {e.worklog_id for e in ledger.values()}
    fresh: list[DesiredRow] = []
    for row in sorted(rows, key=lambda r: r.source_row):
        entry = ledger.get(row.key)
        if entry is None:
            fresh.append(row)
            continue
        current = server.get(entry.worklog_id)
        if current is None:
            if entry.state == "deleting":
                plan.forget.append(row.key)
                fresh.append(row)  # our own delete went through: the row is new again
                continue
            if overwrite_edited:
                plan.rows.append(
                    RowPlan(
                        row.source_row,
                        row.key,
                        "create",
                        reason=f"re-created: it was deleted in 7pace (worklog {entry.worklog_id})",
                    )
                )
            else:
                plan.rows.append(
                    RowPlan(
                        row.source_row,
                        row.key,
                        "conflict",
                        worklog_id=entry.worklog_id,
                        reason=f"worklog {entry.worklog_id} was deleted in 7pace after sync "
                        "wrote it; not re-created (--overwrite-edited re-creates it)",
                        ours=dict(entry.content),
                        theirs=None,
                    )
                )
            continue
        entry = replace(_recover(entry, current, same_edited), state="ok")
        recovered = entry if entry != ledger[row.key] else None
        changes = diff_content(row.content, current.content)
        if not same_edited(entry.edited_ts, current.edited_ts) and not overwrite_edited:
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    row.key,
                    "conflict",
                    worklog_id=current.id,
                    reason=f"worklog {current.id} was edited in 7pace after sync wrote it "
                    f"(editedTimestamp {current.edited_ts}, ours {entry.edited_ts}); not "
                    "overwritten (--overwrite-edited overwrites it)",
                    ours=dict(entry.content),
                    theirs={k: current.content.get(k) for k in entry.content or row.content},
                    changes=changes,
                )
            )
            continue
        if changes:
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    row.key,
                    "update",
                    worklog_id=current.id,
                    changes=changes,
                    action=_update(row, current, changes),
                )
            )
        else:
            if not same_edited(entry.edited_ts, current.edited_ts):
                recovered = _entry_for(row, current)  # overwritten by consent: now in step
            plan.rows.append(
                RowPlan(
                    row.source_row, row.key, "unchanged", worklog_id=current.id, ledger=recovered
                )
            )
    _adopt(plan, fresh, server, claimed)
    _prune(
        plan,
        rows,
        ledger,
        server,
        same_edited=same_edited,
        prune=prune,
        window=window,
        overwrite_edited=overwrite_edited,
        present=set(present_keys),
        blocked=prune_blocked,
    )
    plan.rows.sort(key=lambda r: r.source_row)
    return plan


def _adopt(
    plan: SyncPlan,
    fresh: list[DesiredRow],
    server: Mapping[str, ServerWorklog],
    claimed: set[str],
) -> None:
    """Rows without a ledger entry: adopt the worklog on their slot, or create."""
    pool: dict[tuple[str, str, int | None], list[ServerWorklog]] = defaultdict(list)
    for worklog in sorted(server.values(), key=lambda w: (w.created_ts, w.id)):
        if worklog.id not in claimed:
            pool[worklog.slot].append(worklog)
    by_slot: dict[tuple[str, str, int | None], list[DesiredRow]] = defaultdict(list)
    for row in fresh:
        by_slot[row.slot].append(row)
    for slot, slot_rows in by_slot.items():
        candidates = pool.get(slot, [])
        left: list[DesiredRow] = []
        for row in slot_rows:  # exact content first: any of equal worklogs is as good
            match = next((w for w in candidates if not diff_content(row.content, w.content)), None)
            if match is None:
                left.append(row)
                continue
            candidates = [w for w in candidates if w.id != match.id]
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    row.key,
                    "unchanged",
                    worklog_id=match.id,
                    adopted=True,
                    ledger=_entry_for(row, match),
                )
            )
        if not left:
            continue
        if not candidates:
            plan.rows.extend(RowPlan(r.source_row, r.key, "create") for r in left)
        elif len(left) == 1 and len(candidates) == 1:
            row, worklog = left[0], candidates[0]
            changes = diff_content(row.content, worklog.content)
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    row.key,
                    "update",
                    worklog_id=worklog.id,
                    changes=changes,
                    adopted=True,
                    ledger=_entry_for(row, worklog),
                    action=_update(row, worklog, changes),
                )
            )
        else:
            ids = ", ".join(w.id for w in candidates)
            for row in left:
                plan.rows.append(
                    RowPlan(
                        row.source_row,
                        row.key,
                        "conflict",
                        reason=f"{len(candidates)} worklog(s) on this slot ({ids}) could be "
                        f"this row and {len(left)} row(s) claim the slot; sync does not guess "
                        "(delete the extra worklogs in 7pace, or give the rows a --key)",
                        theirs={"candidates": [dict(w.content) for w in candidates]},
                    )
                )


def _prune(
    plan: SyncPlan,
    rows: Sequence[DesiredRow],
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    *,
    same_edited: SameEdited,
    prune: bool,
    window: PruneWindow | None,
    overwrite_edited: bool,
    present: set[str],
    blocked: str | None,
) -> None:
    keys = {r.key for r in rows} | present | set(plan.forget)
    window = window or PruneWindow()
    for key in sorted(ledger):
        entry = ledger[key]
        if key in keys:
            continue
        current = server.get(entry.worklog_id)
        if current is None:
            if entry.state == "deleting" or window.contains(entry.user_id, entry.timestamp):
                plan.forget.append(key)  # gone (by our delete or in 7pace): nothing to keep
            continue
        if not window.contains(current.user_id, current.timestamp):
            continue
        if not prune or blocked:
            plan.absent.append(entry)
            continue
        entry = _recover(entry, current, same_edited)
        if not same_edited(entry.edited_ts, current.edited_ts) and not overwrite_edited:
            plan.delete_conflicts.append(
                DeleteConflict(
                    key,
                    current.id,
                    f"worklog {current.id} is no longer in the file but was edited in 7pace "
                    f"after sync wrote it (editedTimestamp {current.edited_ts}); kept "
                    "(--overwrite-edited deletes it)",
                )
            )
            continue
        plan.deletes.append(Delete(worklog_id=current.id, before=dict(current.raw), key=key))
    if prune and blocked and plan.absent:
        plan.notes.append(f"--prune deleted nothing: {blocked}")
