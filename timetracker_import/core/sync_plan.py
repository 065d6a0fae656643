"""The pure planner of ``sync``: make 7pace equal to a recurring source, and never delete or
double an hour by mistake.

Inputs are plain values: the desired rows (each with its *key*: the source's entry id, or,
without one, its *slot*), the ledger entries of this *source* (key -> the worklog this
source created or adopted, the content it last wrote and the ``editedTimestamp`` after that
write), the server's current worklogs, the *period* the user declared and what the rejected
rows *freeze*. The output is one ``RowPlan`` per row (create, update, unchanged, conflict,
hold) and the ``Delete`` actions of this source's ledgered worklogs that left the file.

The rules (docs/sync.md):

- **Identity.** With an id key, a row is its ledger entry's (start, user and work item are
  content). Without one, rows and ledger entries meet per slot (user + UTC start to the
  second + work item): first by content (what the server holds, then what sync last wrote),
  only then by order, so a rejected or re-sorted row never shifts another's worklog.
- **Conflict means a real difference**: 7pace holds values that differ both from what sync
  last wrote and from what the file wants, in a field the file manages. A no-op edit, an
  edit of a field the mapping does not manage, or 7pace already holding what the file wants
  is no conflict.
- **Deletes are bounded by the declared period** and touch only this source's worklogs. A
  rejected row *freezes* what it could be (its slot, or its user's whole period when its
  slot is unknown, or everything when even its user is): nothing there is updated or
  deleted in this run. Whether the deletes may run at all is the guard's call
  (``guard_deletes``).
- **Adoption.** A row without a ledger entry adopts the one worklog on its slot that no
  source owns (an exact content match first); several candidates are a conflict, never a
  guess; a worklog another source owns is never taken, and a row that another source
  already holds (the same content on its slot, or its id key for the same user) is a
  conflict rather than a second worklog.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from timetracker_import.core.actions import Delete, Update

# the key rules live with the other duplicate rules (core.dedupe); re-exported for sync
from timetracker_import.core.dedupe import (
    ON_DUPLICATE_KEY,
    cell_text,
    column_keys,
    duplicate_keys,
)
from timetracker_import.core.worklog import (
    CONTENT_FIELDS,
    ServerWorklog,
    diff_content,
    patch_body,
)
from timetracker_import.errors import UsageError

__all__ = [
    "CONTENT_FIELDS",
    "ON_DUPLICATE_KEY",
    "SLOT_KEY",
    "DeleteConflict",
    "DeleteLimit",
    "DesiredRow",
    "Freeze",
    "GuardVerdict",
    "RejectedRow",
    "Kept",
    "LedgerEntry",
    "Period",
    "Planned",
    "RowPlan",
    "ServerWorklog",
    "SyncPlan",
    "cell_text",
    "column_keys",
    "diff_content",
    "duplicate_keys",
    "freeze_of",
    "guard_deletes",
    "local_day",
    "local_week",
    "parse_delete_limit",
    "parse_period",
    "patch_body",
    "plan_sync",
    "slot_text",
]

SLOT_KEY = "slot"

SameEdited = Callable[[str | None, str | None], bool]
Slot = tuple[str, str, int | None]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class DesiredRow:
    """One valid, resolved file row: its key and the content it wants on the server.

    ``key``: the id key's text, or, without an id key, the slot text (``slot_text``); the
    planner numbers equal slots itself. ``content`` holds API field names; only the fields
    the source gives are present (a field it does not give is never compared or changed)."""

    source_row: int
    key: str
    user_id: str
    timestamp: str  # UTC "YYYY-MM-DDTHH:MM:SSZ"
    work_item_id: int | None
    content: Mapping[str, Any]

    @property
    def slot(self) -> Slot:
        return (self.user_id.lower(), self.timestamp, self.work_item_id)


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows of one key of one source. ``pending``: the fields of a PATCH
    sent whose outcome was not recorded (a crash); ``state`` ``deleting``: a DELETE was
    sent; ``run_id``: the run that last wrote the entry (it settles that run's open actions
    once the next run has read the server)."""

    key: str
    worklog_id: str
    user_id: str
    timestamp: str
    content: Mapping[str, Any]
    edited_ts: str | None
    pending: Mapping[str, Any] | None = None
    state: str = "ok"
    run_id: str | None = None


def slot_text(user_id: str, stamp: str, work_item: int | None) -> str:
    """The key text of a slot (user + UTC start + work item), without its ordinal."""
    return f"{user_id.lower()}|{stamp}|{'' if work_item is None else work_item}"


def _slot_and_ordinal(key: str) -> tuple[str, int]:
    slot, _, ordinal = key.rpartition("#")
    return slot, int(ordinal) if ordinal.isdigit() else 0


class Planned(StrEnum):
    """What sync does with one row."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    #: left as it is for this run: its slot is frozen by a rejected row (counted unprocessed)
    HOLD = "hold"


@dataclass(frozen=True)
class RowPlan:
    """What sync does with one row. ``changes``: ``{field: (old, new)}`` for an update;
    ``ledger``: the entry to record once the row is done (adoption, a refreshed entry);
    ``ours``/``theirs``: both versions of a conflict."""

    source_row: int
    key: str
    outcome: Planned
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


@dataclass(frozen=True)
class Kept:
    """A ledgered worklog of this source, inside the period, absent from the file, that this
    run does not delete, and why (no ``--prune``, or frozen by a rejected row)."""

    entry: LedgerEntry
    why: str


@dataclass
class SyncPlan:
    """The whole plan. ``kept``: absent worklogs left alone (and why); ``forget``: ledger keys
    whose worklog is gone (by our own delete, or in 7pace, inside the period); ``recovered``:
    ledger entries whose earlier run's outcome this plan learnt from the server (the open
    actions of that run are settled with them)."""

    rows: list[RowPlan] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    delete_conflicts: list[DeleteConflict] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: entries of the ledger this plan read as {key: (entry as planned, its current worklog)}
    resolved: dict[str, tuple[LedgerEntry, ServerWorklog | None]] = field(default_factory=dict)
    #: rows this source has no entry for that lie on a slot (or an id key) another source
    #: holds, by that source: the sign of a feed continued under a new name
    beside_foreign: dict[str, int] = field(default_factory=dict)

    def by_outcome(self, outcome: Planned) -> list[RowPlan]:
        return [r for r in self.rows if r.outcome == outcome]


# --------------------------------------------------------------------------- the period


@dataclass(frozen=True)
class Period:
    """The days (inclusive, local to the declared zone) a sync is about: rows outside it are
    rejected and deletes never leave it. ``spec`` is how it was declared (``month:previous``,
    ``2026-11-01..2026-11-30``), ``origin`` where (``--window``, the mapping's ``window:``)."""

    first: date
    last: date
    spec: str
    origin: str

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    @property
    def label(self) -> str:
        span = f"{self.first.isoformat()}..{self.last.isoformat()}"
        return span if self.spec == span else f"{span} ({self.spec})"


_RELATIVE = re.compile(r"^last:(?P<n>\d{1,4})(?P<unit>[dw])$")


def parse_period(text: str, *, today: date, origin: str = "--window") -> Period:
    """A declared period: ``FROM..TO`` (ISO dates, both included), ``last:14d`` / ``last:2w``
    (the days ending today), ``week:current|previous`` (Monday to Sunday),
    ``month:current|previous``. Relative periods are read against ``today`` (in the declared
    zone). UsageError naming the forms when ``text`` is none of them."""
    spec = text.strip()
    low = spec.lower()
    first: date | None = None
    last: date | None = None
    if ".." in spec:
        parts = spec.split("..")
        try:
            if len(parts) != 2:
                raise ValueError
            first, last = date.fromisoformat(parts[0].strip()), date.fromisoformat(parts[1].strip())
        except ValueError:
            first = last = None
        if first is not None and last is not None and first > last:
            raise UsageError(f"{origin} {spec!r} ends before it starts")
    elif m := _RELATIVE.match(low):
        n = int(m["n"]) * (7 if m["unit"] == "w" else 1)
        if n < 1:
            raise UsageError(f"{origin} {spec!r} covers no day")
        first, last = today - timedelta(days=n - 1), today
    elif low in ("week:current", "week:previous"):
        monday = today - timedelta(days=today.weekday())
        if low == "week:previous":
            monday -= timedelta(days=7)
        first, last = monday, monday + timedelta(days=6)
    elif low in ("month:current", "month:previous"):
        year, month = today.year, today.month
        if low == "month:previous":
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
    if first is None or last is None:
        raise UsageError(
            f"{origin} {spec!r} is not a period",
            hint="use FROM..TO (e.g. 2026-11-01..2026-11-30), last:14d, last:2w, "
            "week:previous, week:current, month:previous or month:current",
        )
    return Period(first, last, spec, origin)


@functools.lru_cache(maxsize=65536)
def local_day(utc_stamp: str, timezone: str) -> date:
    """The calendar day of a UTC "...Z" stamp in ``timezone`` (cached: a sync asks for the
    same stamps several times, 20,000 rows at a time)."""
    ts = datetime.fromisoformat(utc_stamp[:-1]).replace(tzinfo=UTC)
    return ts.astimezone(_zone(timezone)).date()


def local_week(utc_stamp: str, timezone: str) -> date:
    """The Monday of the week (Monday to Sunday) of a UTC "...Z" stamp's day in
    ``timezone``: the week a person of that zone sees (a date-only entry of a Monday in
    Berlin is stored at 23:00 UTC on Sunday)."""
    day = local_day(utc_stamp, timezone)
    return day - timedelta(days=day.weekday())


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --------------------------------------------------------------------------- freezing


@dataclass(frozen=True)
class Freeze:
    """What the rejected rows of this run freeze: nothing there is updated or deleted.

    ``slots``: exact slots (user None: any user at that start and work item, for a row whose
    user did not resolve); ``users``: users with a rejected row whose slot is unknown (their
    whole period); ``everything``: a rejected row whose user is unknown too."""

    everything: bool = False
    users: frozenset[str] = frozenset()
    slots: frozenset[tuple[str | None, str, int | None]] = frozenset()

    def covers(self, user_id: str, stamp: str, work_item: int | None) -> bool:
        user = user_id.lower()
        return (
            self.everything
            or user in self.users
            or (user, stamp, work_item) in self.slots
            or (None, stamp, work_item) in self.slots
        )

    def covers_slot(self, user_id: str, stamp: str, work_item: int | None) -> bool:
        """A rejected row lies on this very slot (not only its user's or everyone's)."""
        return any(
            who in self.slots
            for who in ((user_id.lower(), stamp, work_item), (None, stamp, work_item))
        )

    def __bool__(self) -> bool:
        return self.everything or bool(self.users) or bool(self.slots)


@dataclass(frozen=True)
class RejectedRow:
    """What is known of a rejected row: its id key, its user, start and work item where they
    could be read, and whether its start is where its entry is (a row rejected for a date
    outside the period may carry a typo'd date: its entry could be anywhere of its user's)."""

    source_row: int
    key: str | None = None
    user_id: str | None = None
    stamp: str | None = None
    work_item: int | None = None
    slot_known: bool = False


def freeze_of(rejected: Iterable[RejectedRow], *, keyed: bool) -> tuple[Freeze, list[int]]:
    """What rejected rows freeze: with an id key, a row whose key is known keeps its own
    worklog and freezes nothing; without one, a row whose slot is known freezes that slot
    (``None`` for a user that did not resolve); a row whose slot is unknown freezes its
    user's whole period, or everything when even its user is unknown. Returns the freeze
    and the rows that froze everything."""
    everything: list[int] = []
    users: set[str] = set()
    slots: set[tuple[str | None, str, int | None]] = set()
    for row in rejected:
        if keyed and row.key is not None:
            continue
        if not keyed and row.slot_known and row.stamp is not None:
            slots.add(
                (None if row.user_id is None else row.user_id.lower(), row.stamp, row.work_item)
            )
        elif row.user_id is not None:
            users.add(row.user_id.lower())
        else:
            everything.append(row.source_row)
    return Freeze(bool(everything), frozenset(users), frozenset(slots)), everything


# --------------------------------------------------------------------------- keys


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class DeleteLimit:
    """How many deletes one run may make (``--max-delete``): at most ``count``, or at most
    ``share`` of this source's ledgered worklogs in the period; the default allows
    ``DEFAULT_FLOOR`` deletes, or ``DEFAULT_SHARE`` of the ledgered ones when that is
    more."""

    count: int | None = None
    share: float | None = None
    spec: str = "default"

    DEFAULT_FLOOR = 5
    DEFAULT_SHARE = 0.2

    @property
    def explicit(self) -> bool:
        return self.count is not None or self.share is not None

    @property
    def unlimited(self) -> bool:
        """``--max-delete all`` (or ``100%``): any number of deletes."""
        return self.share is not None and self.share >= 1

    def allows(self, deletes: int, ledgered: int) -> bool:
        if self.count is not None:
            return deletes <= self.count
        if self.share is not None:  # all (100%): any number, as the docs say
            return self.share >= 1 or deletes <= self.share * ledgered + 1e-9
        return deletes <= max(self.DEFAULT_FLOOR, self.DEFAULT_SHARE * ledgered + 1e-9)

    def describe(self, ledgered: int) -> str:
        if self.count is not None:
            return f"at most {self.count} (--max-delete {self.spec})"
        if self.share is not None:
            return (
                f"at most {self.share:.0%} of the {ledgered} worklog(s) this source holds "
                f"in the period (--max-delete {self.spec})"
            )
        return (
            f"by default at most {self.DEFAULT_FLOOR}, or {self.DEFAULT_SHARE:.0%} of the "
            f"{ledgered} worklog(s) this source holds in the period"
        )


def passing_share(deletes: int, ledgered: int) -> str:
    """The smallest ``--max-delete`` share (``P%``, whole percent) that lets ``deletes`` of
    ``ledgered`` worklogs go, or ``all`` when no share of them would (none ledgered)."""
    if ledgered <= 0 or deletes >= ledgered:
        return "all"
    percent = -(-deletes * 100 // ledgered)  # rounded up: 3 of 5 is 60%, 1 of 3 is 34%
    return f"{percent}%"


def parse_delete_limit(text: str | None) -> DeleteLimit:
    """``--max-delete``: ``N`` (a count, 0 allows none), ``P%`` (a share of this source's
    ledgered worklogs in the period) or ``all``."""
    if text is None:
        return DeleteLimit()
    spec = text.strip().lower()
    try:
        if spec == "all":
            return DeleteLimit(share=1.0, spec="all")
        if spec.endswith("%"):
            share = float(spec[:-1]) / 100
            if not 0 <= share <= 1:
                raise ValueError
            return DeleteLimit(share=share, spec=text.strip())
        count = int(spec)
        if count < 0:
            raise ValueError
        return DeleteLimit(count=count, spec=text.strip())
    except ValueError:
        raise UsageError(
            f"--max-delete {text!r} is not a count or a share",
            hint="e.g. --max-delete 40, --max-delete 25% or --max-delete all",
        ) from None


@dataclass(frozen=True)
class GuardVerdict:
    """Whether the planned deletes may run: ``allowed``, else ``reason`` says why not."""

    allowed: bool
    deletes: int
    ledgered: int
    limit: str
    reason: str | None = None
    #: the stop is lifted only by allowing any number of deletes (``--max-delete all``):
    #: the file says nothing about what to delete, so no count or share fits it
    needs_all: bool = False

    def allowance(self) -> str:
        """The option that lets this stopped run's deletes go."""
        if self.needs_all:
            return "--max-delete all"
        return (
            f"--max-delete {self.deletes} (or the share "
            f"--max-delete {passing_share(self.deletes, self.ledgered)})"
        )


#: a stop a standing limit (a scheduled job's --max-delete 30%) must not lift
_SAYS_NOTHING = (
    "; a limit of a number or a share of deletions does not let such a file delete, "
    "only allowing every deletion does"
)


def guard_deletes(
    deletes: int,
    ledgered: int,
    limit: DeleteLimit,
    *,
    source_empty: bool,
    unusable_rows: int = 0,
) -> GuardVerdict:
    """The deletion guard: more deletes than ``limit`` allows, or any delete from a file
    that says nothing about what to delete - one with no row at all (an empty or
    header-only export: ``source_empty``) or whose ``unusable_rows`` are all its rows
    (every one rejected or skipped: a file of another period, a changed layout) - stops
    the run before its first write. Only ``--max-delete all`` lets such a file delete: a
    count or a share is what a scheduled job passes every week, and would let a broken
    export delete its share of the period."""
    text = limit.describe(ledgered)
    if deletes == 0:
        return GuardVerdict(True, 0, ledgered, text)
    says_nothing = None
    if source_empty:
        says_nothing = "the source has no rows at all (an empty or header-only export)"
    elif unusable_rows:
        says_nothing = (
            f"none of the file's {unusable_rows} row(s) could be used (each is rejected or "
            "skipped: a file of another period? a changed layout?), so nothing in it says "
            "what to delete"
        )
    if says_nothing is not None and not limit.unlimited:
        return GuardVerdict(
            False, deletes, ledgered, text, says_nothing + _SAYS_NOTHING, needs_all=True
        )
    if not limit.allows(deletes, ledgered):
        share = f" ({deletes / ledgered:.0%} of them)" if ledgered else ""
        return GuardVerdict(
            False,
            deletes,
            ledgered,
            text,
            f"{deletes} delete(s) of the {ledgered} worklog(s) this source "
            f"holds in the period{share} is more than {text}",
        )
    return GuardVerdict(True, deletes, ledgered, text)


# --------------------------------------------------------------------------- plan


def _recover(entry: LedgerEntry, current: ServerWorklog, same: SameEdited) -> LedgerEntry:
    """An entry whose PATCH outcome was lost: if the server holds the pending values and was
    edited since, that edit was ours - take its ``editedTimestamp``."""
    if not entry.pending:
        return entry
    if same(entry.edited_ts, current.edited_ts):
        return replace(entry, pending=None)
    if diff_content(entry.pending, current.content):
        return replace(entry, pending=None)  # someone else's edit: judged as any edit
    return replace(
        entry,
        content={**entry.content, **entry.pending},
        edited_ts=current.edited_ts,
        pending=None,
        timestamp=current.timestamp,
        user_id=current.user_id,
    )


def _entry_for(row: DesiredRow, key: str, worklog: ServerWorklog) -> LedgerEntry:
    return LedgerEntry(
        key=key,
        worklog_id=worklog.id,
        user_id=worklog.user_id,
        timestamp=worklog.timestamp,
        content={k: worklog.content.get(k) for k in row.content},
        edited_ts=worklog.edited_ts,
    )


def _update(row: DesiredRow, worklog: ServerWorklog, changes: Mapping[str, Any]) -> Update:
    body = patch_body(changes, row.content)
    before = {name: worklog.content.get(name) for name in body}
    return Update(source_row=row.source_row, worklog_id=worklog.id, fields=body, before=before)


def _edited_apart(ours: Mapping[str, Any], current: ServerWorklog, managed: Iterable[str]) -> bool:
    """Whether 7pace holds, in a managed field, something else than what sync last wrote."""
    known = {k: v for k, v in ours.items() if k in set(managed)}
    return bool(diff_content(known, current.content))


def plan_sync(
    rows: Sequence[DesiredRow],
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    *,
    same_edited: SameEdited,
    keyless: bool,
    timezone: str = "UTC",
    period: Period | None = None,
    prune: bool = False,
    overwrite_edited: bool = False,
    present_keys: Iterable[str] = (),
    freeze: Freeze | None = None,
    foreign: Mapping[str, str] | None = None,
    foreign_keys: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    report_days: tuple[date, date] | None = None,
) -> SyncPlan:
    """Plan a sync (see the module docstring).

    ``ledger``: this source's entries by key. ``server``: the current worklogs by id - every
    worklog in the period and on the rows' days, plus each ledgered worklog looked up by id;
    a ledgered id missing here is gone. ``present_keys``: id keys of rejected rows (their
    worklogs are kept). ``freeze``: what rejected rows without a key freeze. ``foreign``:
    worklog id -> the other source that owns it; ``foreign_keys``: id key -> (user id,
    source) of other sources' entries. ``same_edited`` compares two ``editedTimestamp``
    texts (tolerating the precision the server drops). Deletes are planned only with
    ``prune`` and a ``period``. Without a period, ``report_days`` (the file's first and last
    day) is where absent worklogs are reported as kept - only reported, never deleted."""
    freeze = freeze or Freeze()
    foreign = foreign or {}
    plan = SyncPlan()
    claimed = {e.worklog_id for e in ledger.values()} | set(foreign)
    pairs, fresh, held = (
        _pair_keyless(rows, ledger, server, freeze)
        if keyless
        else (
            [(r, ledger[r.key]) for r in rows if r.key in ledger],
            [(r, r.key) for r in rows if r.key not in ledger],
            [],
        )
    )
    for row, why in held:
        plan.rows.append(RowPlan(row.source_row, row.key, Planned.HOLD, reason=why))
    paired_keys = set()
    for row, entry in pairs:
        paired_keys.add(entry.key)
        _plan_pair(plan, row, entry, server, same_edited, overwrite_edited, fresh)
    taken = paired_keys | set(present_keys)
    if not keyless:
        fresh = _rekey(plan, fresh, ledger, server, taken=taken)
    _adopt(plan, fresh, server, claimed, foreign, foreign_keys or {}, keyless=keyless)
    _prune(
        plan,
        ledger,
        server,
        paired=taken,
        same_edited=same_edited,
        timezone=timezone,
        period=period,
        prune=prune,
        overwrite_edited=overwrite_edited,
        freeze=freeze,
        report_days=report_days,
    )
    plan.rows.sort(key=lambda r: r.source_row)
    return plan


def _pair_keyless(
    rows: Sequence[DesiredRow],
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    freeze: Freeze,
) -> tuple[
    list[tuple[DesiredRow, LedgerEntry]], list[tuple[DesiredRow, str]], list[tuple[DesiredRow, str]]
]:
    """Meet rows and ledger entries per slot: by content (the server's, then what we last
    wrote), then by order. In a frozen slot only exact content matches pair; the other rows
    are held. Returns (pairs, fresh rows with their new keys, held rows with why)."""
    entries_of: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in ledger.values():
        entries_of[_slot_and_ordinal(entry.key)[0]].append(entry)
    rows_of: dict[str, list[DesiredRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.source_row):
        rows_of[row.key].append(row)
    pairs: list[tuple[DesiredRow, LedgerEntry]] = []
    fresh: list[tuple[DesiredRow, str]] = []
    held: list[tuple[DesiredRow, str]] = []
    on_server: dict[Slot, set[str]] = defaultdict(set)  # only a frozen slot asks
    for worklog in server.values() if freeze else ():
        on_server[worklog.slot].add(worklog.id)
    for slot, slot_rows in rows_of.items():
        free = sorted(entries_of.get(slot, []), key=lambda e: _slot_and_ordinal(e.key)[1])
        taken = max((_slot_and_ordinal(e.key)[1] for e in free), default=0)
        left = list(slot_rows)
        for source in ("server", "ledger"):
            for row in list(left):
                for entry in free:
                    current = server.get(entry.worklog_id)
                    if source == "server":
                        if current is None or diff_content(row.content, current.content):
                            continue
                    elif diff_content(row.content, entry.content):
                        continue
                    pairs.append((row, entry))
                    free.remove(entry)
                    left.remove(row)
                    break
        first = left[0] if left else None
        if first is not None and freeze.covers(first.user_id, first.timestamp, first.work_item_id):
            at = (first.user_id, first.timestamp, first.work_item_id)
            mine = {e.worklog_id for e in entries_of.get(slot, [])}
            if freeze.covers_slot(*at):
                why = "a rejected row may be this slot's entry"
            elif free or on_server.get(first.slot, set()) - mine:
                why = "a rejected row of this user (or of no known user) may be this slot's entry"
            else:  # nothing on the slot it could take: a new entry, whatever the rejected is
                why = ""
            if why:
                for row in left:
                    held.append((row, f"{why}; fixed when that row is fixed and synced again"))
                continue
        while left and free:
            pairs.append((left.pop(0), free.pop(0)))
        for row in left:
            taken += 1
            fresh.append((row, f"{slot}#{taken}"))
    return pairs, fresh, held


def _rekey(
    plan: SyncPlan,
    fresh: list[tuple[DesiredRow, str]],
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    *,
    taken: set[str],
) -> list[tuple[DesiredRow, str]]:
    """Rows with an id key the ledger does not know that are, field for field, a worklog
    this source holds under a key no row of the file has: the export's ids changed (a
    re-keyed export, leading zeros lost in a spreadsheet), not its entries. The row keeps
    that worklog (``unchanged``; the ledger follows the new key, ``taken`` gets the old
    one) instead of a second worklog beside it - or, with ``--prune``, a delete and a
    create of the same hours. Returns the rows that are still new."""
    absent: dict[Slot, list[tuple[LedgerEntry, ServerWorklog]]] = defaultdict(list)
    for key in sorted(ledger):
        entry = ledger[key]
        current = server.get(entry.worklog_id)
        if key in taken or current is None or entry.pending or entry.state != "ok":
            continue
        absent[current.slot].append((entry, current))
    if not absent:
        return fresh
    left: list[tuple[DesiredRow, str]] = []
    moved: list[tuple[int, str, str]] = []
    for row, key in sorted(fresh, key=lambda f: f[0].source_row):
        candidates = absent.get(row.slot, [])
        match = next((c for c in candidates if not diff_content(row.content, c[1].content)), None)
        if match is None:
            left.append((row, key))
            continue
        candidates.remove(match)
        old, current = match
        taken.add(old.key)
        plan.forget.append(old.key)
        moved.append((row.source_row, old.key, key))
        plan.rows.append(
            RowPlan(
                row.source_row,
                key,
                Planned.UNCHANGED,
                worklog_id=current.id,
                adopted=True,
                ledger=_entry_for(row, key, current),
            )
        )
    if moved:
        shown = ", ".join(f"row {r}: {a!r} -> {b!r}" for r, a, b in moved[:3])
        plan.notes.append(
            f"{len(moved)} row(s) carry a new id for a worklog this source holds under an id "
            f"the file no longer has, with the same user, start and content ({shown}"
            f"{', ...' if len(moved) > 3 else ''}): kept, the ledger follows the new id "
            "(did the export's ids change?)"
        )
    return left


def _plan_pair(
    plan: SyncPlan,
    row: DesiredRow,
    entry: LedgerEntry,
    server: Mapping[str, ServerWorklog],
    same_edited: SameEdited,
    overwrite_edited: bool,
    fresh: list[tuple[DesiredRow, str]],
) -> None:
    key = entry.key
    current = server.get(entry.worklog_id)
    plan.resolved[key] = (entry, current)
    if current is None:
        if entry.state == "deleting":
            plan.forget.append(key)
            fresh.append((row, key))  # our own delete went through: the row is new again
            return
        if overwrite_edited:
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    key,
                    Planned.CREATE,
                    reason=f"re-created: it was deleted in 7pace (worklog {entry.worklog_id})",
                )
            )
            return
        plan.rows.append(
            RowPlan(
                row.source_row,
                key,
                Planned.CONFLICT,
                worklog_id=entry.worklog_id,
                reason=f"worklog {entry.worklog_id} was deleted in 7pace after sync wrote it; "
                "not re-created (--overwrite-edited re-creates it)",
                ours=dict(entry.content),
                theirs=None,
            )
        )
        return
    recovered = _recover(entry, current, same_edited)
    if recovered.state != "ok":
        recovered = replace(recovered, state="ok")
    plan.resolved[key] = (recovered, current)
    changes = diff_content(row.content, current.content)
    edited = not same_edited(recovered.edited_ts, current.edited_ts)
    if not changes:
        # 7pace already holds what the file wants: in step, whatever happened there
        fresh_entry = (
            _entry_for(row, key, current)
            if (edited or recovered != entry or diff_content(row.content, recovered.content))
            else None
        )
        plan.rows.append(
            RowPlan(
                row.source_row, key, Planned.UNCHANGED, worklog_id=current.id, ledger=fresh_entry
            )
        )
        return
    if edited and not overwrite_edited and _edited_apart(recovered.content, current, row.content):
        plan.rows.append(
            RowPlan(
                row.source_row,
                key,
                Planned.CONFLICT,
                worklog_id=current.id,
                reason=f"worklog {current.id} was edited in 7pace after sync wrote it "
                f"(editedTimestamp {current.edited_ts}, ours {recovered.edited_ts}); not "
                "overwritten (--overwrite-edited overwrites it)",
                ours={k: recovered.content.get(k) for k in row.content},
                theirs={k: current.content.get(k) for k in row.content},
                changes=changes,
            )
        )
        return
    plan.rows.append(
        RowPlan(
            row.source_row,
            key,
            Planned.UPDATE,
            worklog_id=current.id,
            changes=changes,
            action=_update(row, current, changes),
            ledger=_entry_for(row, key, current) if edited else None,
        )
    )


def _adopt(
    plan: SyncPlan,
    fresh: list[tuple[DesiredRow, str]],
    server: Mapping[str, ServerWorklog],
    claimed: set[str],
    foreign: Mapping[str, str],
    foreign_keys: Mapping[str, Sequence[tuple[str, str]]],
    *,
    keyless: bool = True,
) -> None:
    """Rows without a ledger entry: adopt the worklog on their slot that no source owns, or
    create; never take or double another source's worklog. Counts the rows on another
    source's slot (keyless) or id key (``SyncPlan.beside_foreign``)."""
    pool: dict[Slot, list[ServerWorklog]] = defaultdict(list)
    owned: dict[Slot, list[ServerWorklog]] = defaultdict(list)
    for worklog in sorted(server.values(), key=lambda w: (w.created_ts, w.id)):
        if worklog.id in foreign:
            owned[worklog.slot].append(worklog)
        elif worklog.id not in claimed:
            pool[worklog.slot].append(worklog)
    by_slot: dict[Slot, list[tuple[DesiredRow, str]]] = defaultdict(list)
    for row, key in fresh:
        others = [s for user, s in foreign_keys.get(row.key, ()) if user == row.user_id.lower()]
        on_slot = {foreign[w.id] for w in owned.get(row.slot, [])} if keyless else set()
        for source in on_slot | set(others[:1]):
            plan.beside_foreign[source] = plan.beside_foreign.get(source, 0) + 1
        if others:
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    key,
                    Planned.CONFLICT,
                    reason=f"key {row.key!r} of this user belongs to source {others[0]!r} in the "
                    "ledger; if this file continues that feed, sync it with --source "
                    + repr(others[0])
                    + " (a separate feed whose ids repeat that one's needs another --key "
                    "column)",
                )
            )
            continue
        by_slot[row.slot].append((row, key))
    for slot, slot_rows in by_slot.items():
        candidates = pool.get(slot, [])
        left: list[tuple[DesiredRow, str]] = []
        for row, key in slot_rows:  # exact content first: any of equal worklogs is as good
            match = next((w for w in candidates if not diff_content(row.content, w.content)), None)
            if match is None:
                left.append((row, key))
                continue
            candidates = [w for w in candidates if w.id != match.id]
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    key,
                    Planned.UNCHANGED,
                    worklog_id=match.id,
                    adopted=True,
                    ledger=_entry_for(row, key, match),
                )
            )
        if not left:
            continue
        if not candidates:
            for row, key in left:
                # the same entry under another source (a feed renamed): never a second one
                theirs = [
                    w for w in owned.get(slot, []) if not diff_content(row.content, w.content)
                ]
                if theirs:
                    source = foreign[theirs[0].id]
                    plan.rows.append(
                        RowPlan(
                            row.source_row,
                            key,
                            Planned.CONFLICT,
                            worklog_id=theirs[0].id,
                            reason=f"the worklog on this slot ({theirs[0].id}) belongs to source "
                            f"{source!r}; sync does not write a second one (if this file "
                            f"continues that source, give --source {source!r})",
                        )
                    )
                else:
                    plan.rows.append(RowPlan(row.source_row, key, Planned.CREATE))
        elif len(left) == 1 and len(candidates) == 1:
            (row, key), worklog = left[0], candidates[0]
            changes = diff_content(row.content, worklog.content)
            plan.rows.append(
                RowPlan(
                    row.source_row,
                    key,
                    Planned.UPDATE,
                    worklog_id=worklog.id,
                    changes=changes,
                    adopted=True,
                    ledger=_entry_for(row, key, worklog),
                    action=_update(row, worklog, changes),
                )
            )
        else:
            ids = ", ".join(w.id for w in candidates)
            for row, key in left:
                plan.rows.append(
                    RowPlan(
                        row.source_row,
                        key,
                        Planned.CONFLICT,
                        reason=f"{len(candidates)} worklog(s) on this slot ({ids}) could be this "
                        f"row and {len(left)} row(s) claim the slot; sync does not guess "
                        "(delete the extra worklogs in 7pace, or give the rows a --key)",
                        theirs={"candidates": [dict(w.content) for w in candidates]},
                    )
                )


def _prune(
    plan: SyncPlan,
    ledger: Mapping[str, LedgerEntry],
    server: Mapping[str, ServerWorklog],
    *,
    paired: set[str],
    same_edited: SameEdited,
    timezone: str,
    period: Period | None,
    prune: bool,
    overwrite_edited: bool,
    freeze: Freeze,
    report_days: tuple[date, date] | None = None,
) -> None:
    """This source's entries no row claims: inside the period they are deleted (``prune``),
    or kept and reported; outside it they are not this run's business."""
    forgotten = set(plan.forget)
    for key in sorted(ledger):
        if key in paired or key in forgotten:
            continue
        entry = ledger[key]
        current = server.get(entry.worklog_id)
        if current is None:
            if entry.state == "deleting" or (
                period is not None and period.contains(local_day(entry.timestamp, timezone))
            ):
                plan.forget.append(key)  # gone (by our delete, or in 7pace): nothing to keep
                plan.resolved[key] = (entry, None)
            continue
        day = local_day(current.timestamp, timezone)
        if period is None:
            if report_days is not None and report_days[0] <= day <= report_days[1]:
                plan.kept.append(
                    Kept(
                        entry,
                        "no longer in the file; kept: no period is "
                        "declared (--window), so nothing is deleted",
                    )
                )
            continue
        if not period.contains(day):
            continue
        entry = _recover(entry, current, same_edited)
        if entry.state != "ok":
            entry = replace(entry, state="ok")
        plan.resolved[key] = (entry, current)
        if freeze.covers(current.user_id, current.timestamp, current.work_item_id):
            plan.kept.append(Kept(entry, "frozen: a rejected row of this run may be its entry"))
            continue
        if not prune:
            plan.kept.append(Kept(entry, "no longer in the file (--prune deletes it)"))
            continue
        if (
            not same_edited(entry.edited_ts, current.edited_ts)
            and not overwrite_edited
            and _edited_apart(entry.content, current, entry.content)
        ):
            plan.delete_conflicts.append(
                DeleteConflict(
                    key,
                    current.id,
                    f"worklog {current.id} is no longer in the file but was edited in 7pace after "
                    f"sync wrote it (editedTimestamp {current.edited_ts}); kept "
                    "(--overwrite-edited deletes it)",
                )
            )
            continue
        plan.deletes.append(Delete(worklog_id=current.id, before=dict(current.raw), key=key))
