"""A property-based test of the sync planner (hypothesis): random sequences of edits to a
source - corrections, removals, additions, moves to another day or user, typo'd dates,
rejected rows, fixes, re-sorts, an empty export - each synced with ``--prune`` over a declared
period against an in-memory server that also holds another source's and hand-made
worklogs. After every sync:

- the other source's worklogs, the hand-made ones and everything outside the period are
  untouched;
- the run stopped before its first write (the deletion guard), or every valid row that is
  not held has its worklog, nothing this source holds is a worklog no row asked for that
  was not there before (nothing doubled), and no worklog a row still wants - a valid row or
  what a rejected row stood for before it broke - was deleted or changed (nothing lost);
- with no rejected row, this source's worklogs inside the period equal the file exactly;
- syncing the same file again writes nothing, and neither does a file only re-sorted.

Both identities are exercised: without a key (rows meet worklogs per slot; every entry of a
day shares one slot, the hardest case) and with an id key.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timetracker_import.core.sync_plan import (
    DeleteLimit,
    DesiredRow,
    LedgerEntry,
    Period,
    Planned,
    RejectedRow,
    ServerWorklog,
    freeze_of,
    guard_deletes,
    local_day,
    plan_sync,
    slot_text,
)

USERS = ("u-bob", "u-carol")
DAYS = (2, 3, 4, 5, 6)
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30), "2026-11-01..2026-11-30", "--window")
WI = 7


def stamp(day: int, month: int = 11) -> str:
    return f"2026-{month:02d}-{day:02d}T00:00:00Z"  # a date-only export: one slot per day


@dataclass
class Line:
    """One line of the source: its entry id, what it says, and how it is broken."""

    eid: str
    user: str
    day: int
    minutes: int
    comment: str
    broken: str | None = None  # None | "length" | "typo" | "user"
    #: what the line said the last time it was valid (what a broken line stands for)
    good: tuple[str, int, int, str] | None = None

    def content(self) -> tuple[str, int, int, str]:
        return (self.user, self.day, self.minutes, self.comment)


@dataclass
class World:
    """The server, this source's ledger, and the worklogs that are not this source's."""

    server: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    edits: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, user: str, ts: str, minutes: int, comment: str) -> str:
        wid = f"w{next(self.ids)}"
        self.server[wid] = {
            "id": wid,
            "timestamp": ts,
            "length": minutes * 60,
            "comment": comment,
            "workItemId": WI,
            "user": {"id": user},
            "editedTimestamp": f"e{next(self.edits)}",
            "createdTimestamp": f"c{wid}",
            "billableLength": None,
        }
        return wid

    def view(self) -> dict[str, ServerWorklog]:
        return {w: ServerWorklog.from_api(raw) for w, raw in self.server.items()}

    def ours(self) -> Counter[tuple[str, int, int, str]]:
        """This source's worklogs inside the period, as (user, day, minutes, comment)."""
        out: Counter[tuple[str, int, int, str]] = Counter()
        for e in self.ledger.values():
            raw = self.server.get(e.worklog_id)
            if raw is None:
                continue
            w = ServerWorklog.from_api(raw)
            day = local_day(w.timestamp, "UTC")
            if PERIOD.contains(day):
                out[(w.user_id, day.day, w.content["length"] // 60, w.content["comment"])] += 1
        return out

    def others(self) -> dict[str, dict[str, Any]]:
        mine = {e.worklog_id for e in self.ledger.values()}
        return {w: dict(raw) for w, raw in self.server.items() if w not in mine}


def seed_world() -> World:
    world = World()
    # another source's worklogs on the same slots, and a hand-made one at noon
    for user, day in (("u-bob", 3), ("u-carol", 5)):
        wid = world.add(user, stamp(day), 30, "other source")
        world.foreign[wid] = "payroll-b"
    world.add("u-bob", "2026-11-04T12:00:00Z", 45, "by hand")
    return world


def desired_and_rejected(
    lines: list[Line], keyed: bool
) -> tuple[list[DesiredRow], list[RejectedRow]]:
    desired, rejected = [], []
    for i, line in enumerate(lines):
        row = i + 2
        if line.broken is None:
            key = line.eid if keyed else slot_text(line.user, stamp(line.day), WI)
            content: dict[str, Any] = {"length": line.minutes * 60, "comment": line.comment}
            if keyed:  # with an id key, where the entry sits is content too (sync does this)
                content.update(timeStamp=stamp(line.day), userId=line.user, workItemId=WI)
            desired.append(DesiredRow(row, key, line.user, stamp(line.day), WI, content))
        elif line.broken == "length":  # e.g. "abc" hours: the slot reads
            rejected.append(
                RejectedRow(
                    row,
                    line.eid if keyed else None,
                    line.user,
                    stamp(line.day),
                    WI,
                    slot_known=True,
                )
            )
        elif line.broken == "typo":  # a date outside the period: its entry could be anywhere
            rejected.append(
                RejectedRow(
                    row,
                    line.eid if keyed else None,
                    line.user,
                    stamp(line.day, 10),
                    WI,
                    slot_known=False,
                )
            )
        else:  # a mistyped e-mail: the user does not resolve
            rejected.append(
                RejectedRow(
                    row, line.eid if keyed else None, None, stamp(line.day), WI, slot_known=True
                )
            )
    return desired, rejected


WRITES = {"n": 0}


def sync(world: World, lines: list[Line], keyed: bool) -> tuple[bool, list[int]]:
    """Plan and apply one sync; (whether it was allowed to write, held rows). Counts the
    writes in ``WRITES``."""
    desired, rejected = desired_and_rejected(lines, keyed)
    freeze, _ = freeze_of(rejected, keyed=keyed)
    present = {r.key for r in rejected if r.key is not None}
    plan = plan_sync(
        desired,
        world.ledger,
        world.view(),
        same_edited=lambda a, b: a == b,
        keyless=not keyed,
        period=PERIOD,
        prune=True,
        present_keys=present,
        freeze=freeze,
        foreign=world.foreign,
    )
    ledgered = sum(1 for e in world.ledger.values() if e.worklog_id in world.server)
    verdict = guard_deletes(len(plan.deletes), ledgered, DeleteLimit(), source_empty=not lines)
    if not verdict.allowed:
        return False, []
    by_row = {d.source_row: d for d in desired}
    WRITES["n"] += len(plan.deletes) + sum(
        1 for r in plan.rows if r.outcome in (Planned.CREATE, Planned.UPDATE)
    )
    for key in plan.forget:
        world.ledger.pop(key, None)
    for r in plan.rows:
        d = by_row.get(r.source_row)
        if r.outcome == Planned.CREATE:
            assert d is not None
            wid = world.add(d.user_id, d.timestamp, d.content["length"] // 60, d.content["comment"])
            raw = world.server[wid]
            world.ledger[r.key] = LedgerEntry(
                r.key, wid, d.user_id, d.timestamp, dict(d.content), raw["editedTimestamp"]
            )
        elif r.outcome == Planned.UPDATE:
            assert d is not None and r.action is not None and r.worklog_id is not None
            raw = world.server[r.worklog_id]
            for name, value in r.action.fields.items():
                if name == "userId":
                    raw["user"] = {"id": value}
                else:
                    raw[{"timeStamp": "timestamp"}.get(name, name)] = value
            raw["editedTimestamp"] = f"e{next(world.edits)}"
            world.ledger[r.key] = LedgerEntry(
                r.key, r.worklog_id, d.user_id, d.timestamp, dict(d.content), raw["editedTimestamp"]
            )
        elif r.outcome == Planned.UNCHANGED and r.ledger is not None:
            world.ledger[r.key] = r.ledger
    for delete in plan.deletes:
        world.server.pop(delete.worklog_id)
        assert delete.key is not None
        world.ledger.pop(delete.key)
    return True, [r.source_row for r in plan.by_outcome(Planned.HOLD)]


# --------------------------------------------------------------------------- edits

ops = st.one_of(
    st.tuples(st.just("correct"), st.integers(0, 30), st.sampled_from([15, 30, 60, 90])),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(
        st.just("add"),
        st.sampled_from(USERS),
        st.sampled_from(DAYS),
        st.sampled_from([30, 60, 120]),
        st.sampled_from(["a", "b"]),
    ),
    st.tuples(st.just("move_day"), st.integers(0, 30), st.sampled_from(DAYS)),
    st.tuples(st.just("move_user"), st.integers(0, 30)),
    st.tuples(st.just("break"), st.integers(0, 30), st.sampled_from(["length", "typo", "user"])),
    st.tuples(st.just("fix"), st.integers(0, 30)),
    st.tuples(st.just("resort"), st.randoms(use_true_random=False)),
    st.tuples(st.just("empty")),
)


def apply(op: tuple[Any, ...], lines: list[Line], fresh: itertools.count) -> list[Line]:
    lines = [replace(line) for line in lines]
    kind = op[0]
    pick = (op[1] % len(lines)) if lines and len(op) > 1 and isinstance(op[1], int) else None
    if kind == "correct" and pick is not None and lines[pick].broken is None:
        lines[pick].minutes = op[2]
    elif kind == "remove" and pick is not None:
        del lines[pick]
    elif kind == "add":
        lines.append(Line(f"E{next(fresh)}", op[1], op[2], op[3], op[4]))
    elif kind == "move_day" and pick is not None and lines[pick].broken is None:
        lines[pick].day = op[2]
    elif kind == "move_user" and pick is not None and lines[pick].broken is None:
        lines[pick].user = USERS[1 - USERS.index(lines[pick].user)]
    elif kind == "break" and pick is not None and lines[pick].broken is None:
        lines[pick].good = lines[pick].content()
        lines[pick].broken = op[2]
    elif kind == "fix" and pick is not None and lines[pick].broken is not None:
        lines[pick].broken = None
    elif kind == "resort":
        op[1].shuffle(lines)
    elif kind == "empty":
        lines = []
    return lines


def first_lines(fresh: itertools.count) -> list[Line]:
    return [Line(f"E{next(fresh)}", u, d, 60, "a") for u in USERS for d in DAYS[:3]] + [
        Line(f"E{next(fresh)}", "u-bob", 2, 120, "b")
    ]


def check(world: World, before: World, lines: list[Line], wrote: bool, held: list[int]) -> None:
    # never touched: the other source's worklogs, the hand-made ones, outside the period
    others_before = before.others()
    for wid, raw in others_before.items():
        assert world.server.get(wid) == raw, f"{wid} is not this source's but changed"
    if not wrote:
        assert world.server == before.server and world.ledger == before.ledger
        return
    ours, ours_before = world.ours(), before.ours()
    valid = Counter(
        line.content() for i, line in enumerate(lines) if line.broken is None and i + 2 not in held
    )
    # every valid row that is not held has its worklog
    missing = valid - ours
    assert not missing, f"lost: {missing}"
    # nothing doubled: what this source holds beyond the rows was there before
    extra = ours - valid
    assert not (extra - ours_before), f"doubled or invented: {extra - ours_before}"
    # nothing lost: a worklog still wanted (a valid or held row, or what a rejected row
    # stood for) is never deleted or changed
    wanted = Counter(line.content() for line in lines if line.broken is None)
    wanted += Counter(line.good for line in lines if line.broken is not None and line.good)
    removed = ours_before - ours
    for content, n in removed.items():
        assert n <= max(0, ours_before[content] - wanted[content]), (
            f"removed {content} x{n} although still wanted x{wanted[content]}"
        )
    if all(line.broken is None for line in lines):
        assert not held and ours == valid, f"not equal to the file: {ours} vs {valid}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keyed=st.booleans(), steps=st.lists(ops, min_size=1, max_size=8))
def test_random_edits_never_lose_or_double_an_hour(keyed: bool, steps: list[Any]) -> None:
    fresh = itertools.count(1)
    world = seed_world()
    lines = first_lines(fresh)
    wrote, held = sync(world, lines, keyed)
    assert wrote and not held
    check(world, seed_world(), lines, wrote, held)
    previous_clean = True
    for op in steps:
        lines = apply(op, lines, fresh)
        before = World(
            server={w: dict(raw) for w, raw in world.server.items()},
            ledger=dict(world.ledger),
            foreign=dict(world.foreign),
        )
        writes = WRITES["n"]
        wrote, held = sync(world, lines, keyed)
        check(world, before, lines, wrote, held)
        if op[0] == "resort" and previous_clean:
            assert WRITES["n"] == writes, "a re-sorted file was written"
        # the same file again: nothing to do
        writes = WRITES["n"]
        again, _ = sync(world, lines, keyed)
        assert not again or WRITES["n"] == writes, "a second sync of the same file wrote"
        previous_clean = wrote and all(line.broken is None for line in lines)
