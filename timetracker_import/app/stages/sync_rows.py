"""Stage ``keys`` of ``sync``: the declared period and zone, each row's key and the content it
wants, the rows outside the period, and what the rejected rows freeze."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from timetracker_import.core.rejections import Rejection
from timetracker_import.core.sync_plan import (
    DesiredRow,
    Freeze,
    LedgerEntry,
    Period,
    RejectedRow,
    ServerWorklog,
    freeze_of,
    local_day,
    parse_period,
    slot_text,
)
from timetracker_import.core.zone import require_declared
from timetracker_import.errors import (
    UsageError,
)

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.app.stages.resolve import ResolvedRows

from timetracker_import.app.stages.sync_model import (
    STAGE_PERIOD,
    SyncRunState,
    _missing,
    _slot_cells,
)


class SyncRowsMixin(SyncRunState):
    """Stage ``keys`` of ``sync``: the declared period and zone, each row's key and the content it"""

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
            require_declared(
                self.zone,
                command="sync",
                why=f"{self.p.naive_times} time(s) in the file have no offset",
            )
        elif self.period is not None:
            require_declared(self.zone, command="sync", why="the period's days are local days")

    def _key_columns(self) -> list[str]:
        return [] if self.p.keys is None else list(self.p.keys.spec)

    def _given(self) -> set[str]:
        """The fields the file gives (mapped to a column, or a constant)."""
        from timetracker_import.core.mapping import resolve_columns

        mapping = self.p.loaded.mapping
        given = set(resolve_columns(mapping, self.p.table.headers, self.p.table.has_header))
        given |= {n for n, spec in mapping.field_specs().items() if spec.value is not None}
        return given

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
            self.reject(
                [
                    Rejection(
                        r,
                        "validate",
                        header,
                        None,
                        f"the key column {header!r} is empty; sync needs a key to know "
                        "which worklog this row is",
                    )
                    for r, header in sorted(entry.empty.items())
                    if r in built
                ]
            )
            present = {k for r, k in keys.items() if r in self._closed()}
            chosen = {r: keys[r] for r in rows if r in keys and r not in self._closed()}
        else:
            chosen = {
                r: slot_text(b["userId"], b["timeStamp"], b.get("workItemId"))
                for r, b in built.items()
                if r not in self._closed()
            }
        given = self._given()
        billable = frame["billable_seconds"].to_dict() if "billable_seconds" in frame else {}
        comments = frame["comment"].to_dict() if "comment" in frame.columns else {}
        desired = []
        for row, key in sorted(chosen.items()):
            body = built[row]
            content: dict[str, Any] = {"length": body["length"]}
            value = billable.get(row)
            if (
                ({"billable_length", "billable"} & given)
                and value is not None
                and not _missing(value)
            ):
                content["billableLength"] = int(value)
            if "comment" in given:
                comment = comments.get(row)
                content["comment"] = comment if isinstance(comment, str) else None
            if "activity_type" in given:
                at = body.get("activityTypeId")
                content["activityTypeId"] = at.lower() if isinstance(at, str) else None
            # where the entry sits is content too: with an id key a moved entry is updated
            # in place; without one, a worklog moved in 7pace (another start or user) is
            # an edit there - a conflict, or moved back with --overwrite-edited - never
            # "unchanged" while 7pace and the file disagree
            content["timeStamp"] = body["timeStamp"]
            content["userId"] = body["userId"].lower()
            if "work_item" in given:
                content["workItemId"] = body.get("workItemId")
            desired.append(
                DesiredRow(
                    row,
                    key,
                    body["userId"].lower(),
                    body["timeStamp"],
                    body.get("workItemId"),
                    content,
                )
            )
        return desired, built, present, keys

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
                out.append(
                    Rejection(
                        int(row),
                        STAGE_PERIOD,
                        self.p.date_header,
                        day.isoformat(),
                        f"{day.isoformat()} is outside the period {period.label} this sync is "
                        f"about ({period.origin}); fix the date, or declare a period that "
                        "includes it",
                    )
                )
        return out

    def _moved_from_outside(
        self,
        desired: list[DesiredRow],
        entries: Mapping[str, LedgerEntry],
        server: Mapping[str, ServerWorklog],
    ) -> list[Rejection]:
        """Rows with an id key whose worklog lies outside the declared period (last month's
        entry, re-dated into this one): moving it would change a day this sync is not
        about, so the row is rejected and its worklog stays."""
        period = self.period
        if period is None:
            return []
        out = []
        for d in desired:
            entry = entries.get(d.key)
            current = None if entry is None else server.get(entry.worklog_id)
            if current is None:
                continue
            day = local_day(current.timestamp, self.zone.name)
            if not period.contains(day):
                out.append(
                    Rejection(
                        d.source_row,
                        STAGE_PERIOD,
                        self.p.date_header,
                        day.isoformat(),
                        f"its worklog ({current.id}) lies on {day.isoformat()}, outside the "
                        f"period {period.label} this sync is about ({period.origin}); moving "
                        "it would change a day outside the period: declare a period that "
                        f"includes {day.isoformat()} to move it",
                    )
                )
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
                ids, _ = resolve_users(
                    wanted,
                    UserDirectory.from_users(users),
                    self_user_id=resolved.self_id,
                    column_header=None,
                )
                partial_users = {
                    int(r): str(u).lower()
                    for r, u in zip(ids.index.tolist(), ids.tolist(), strict=True)
                    if isinstance(u, str) and u
                }
        known: list[RejectedRow] = []
        for rej in self.rejections:
            row = rej.source_row
            if row in canonical.index:
                uid = resolved.user_ids.get(row)
                stamp, work_item = _slot_cells(canonical, row)
                known.append(
                    RejectedRow(
                        row,
                        keys.get(row),
                        str(uid) if isinstance(uid, str) and uid else None,
                        stamp,
                        work_item,
                        slot_known=rej.stage != STAGE_PERIOD,
                    )
                )
            elif partial is not None and row in partial.index:
                stamp, work_item = _slot_cells(partial, row)
                unknown_wi = work_item is None and self._maps_wi()
                known.append(
                    RejectedRow(
                        row,
                        keys.get(row),
                        partial_users.get(row),
                        stamp,
                        work_item,
                        slot_known=not unknown_wi,
                    )
                )
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
                "nothing of theirs is deleted"
                + ("" if keyed else " or matched by order")
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
