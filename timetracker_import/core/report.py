"""The report model: what a run is about to do (or did), built once, rendered many ways.

Pure: takes canonical chunks, rejections and pipeline facts; returns frozen dataclasses.
Renderers live in ``files/report_html.py``, ``files/report_json.py`` and ``cli/render.py``;
the JSON shape is documented in ``docs/report-schema.md``.

Memory: the builder keeps aggregates, never rows — seconds per (user, local day), per activity
type and per work item, plus one compact interval record per row for overlap detection
(four int64 numbers = 32 bytes per row, so ~100 MB for three million rows). Overlaps are found
at ``build`` time with one sort (O(n log n)). Measured: 500,000 rows in 100,000-row chunks
take ~1.4 s in ``add_rows`` and ~0.5 s in ``build`` on one core.

Conventions (documented in docs/report-schema.md):
- every duration is integer seconds;
- a worklog counts for the local date (in the report's timezone) on which it *starts*;
- weeks are ISO weeks ``YYYY-Www`` of that local date;
- a day over 24 h is flagged once, as ``day_over_24h`` (not also as over the day threshold).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from timetracker_import.core.rejections import Rejection

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
SELF_USER = "(token's own user)"  # label for rows with no user: they go to the token's user

JsonScalar = str | int | float | bool | None


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ReportSettings:
    """Knobs of a report; thresholds are in hours."""

    timezone: str = "UTC"
    day_threshold_hours: float = 12.0
    week_threshold_hours: float = 60.0
    max_examples_per_reason: int = 5
    top_work_items: int = 10
    max_flag_items: int = 50


@dataclass(frozen=True)
class Totals:
    """Totals over the accepted (canonical) rows."""

    rows: int
    seconds: int
    billable_seconds: int
    users: int
    first_date: str | None
    last_date: str | None


@dataclass(frozen=True)
class GridRow:
    """One user's seconds per week; ``seconds`` lines up with ``Report.weeks``."""

    user: str
    seconds: tuple[int, ...]
    total_seconds: int


@dataclass(frozen=True)
class Grid:
    """Hours per user per ISO week, with row and column totals."""

    weeks: tuple[str, ...]
    rows: tuple[GridRow, ...]
    week_totals: tuple[int, ...]
    total_seconds: int


@dataclass(frozen=True)
class ActivityTotal:
    """Seconds per activity type (``None`` = the user's default activity type)."""

    activity_type: str | None
    rows: int
    seconds: int


@dataclass(frozen=True)
class WorkItemTotal:
    """Seconds per work item (``None`` = rows without a work item)."""

    work_item_id: int | None
    rows: int
    seconds: int


@dataclass(frozen=True)
class FlagItem:
    """One occurrence of something that looks wrong."""

    text: str
    user: str | None = None
    period: str | None = None  # a local date "YYYY-MM-DD" or an ISO week "YYYY-Www"
    seconds: int | None = None
    source_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class Flag:
    """A kind of warning with its total count and (at most ``max_flag_items``) items."""

    code: str
    title: str
    count: int
    items: tuple[FlagItem, ...] = ()
    seconds: int | None = None  # for rounding drift: the total


@dataclass(frozen=True)
class RejectionExample:
    """One rejected row, with its original cells when the caller had them."""

    source_row: int
    value: str | None
    reason: str
    source: tuple[tuple[str, str | None], ...] = ()  # (header, cell text) in file order


@dataclass(frozen=True)
class RejectionGroup:
    """Rejections that share stage, column and reason kind."""

    stage: str
    column: str | None
    kind: str
    error_code: str | None
    count: int
    examples: tuple[RejectionExample, ...]


@dataclass(frozen=True)
class Report:
    """Everything a person needs to judge a run. ``to_dict()`` is the JSON document."""

    meta: Mapping[str, JsonScalar]
    settings: ReportSettings
    accounting: Mapping[str, int]
    totals: Totals
    grid: Grid
    activities: tuple[ActivityTotal, ...]
    work_items: tuple[WorkItemTotal, ...]
    flags: tuple[Flag, ...]
    rejections: tuple[RejectionGroup, ...]
    schema_version: int = SCHEMA_VERSION
    #: ``sync`` only: field diffs, deletes, conflicts and user x week hours before -> after
    changes: Mapping[str, Any] | None = None
    #: what the run's summary said beside its counts (the zone read from this machine, rows
    #: booked to the token's own user, rows created beside a worklog, ...)
    notes: tuple[str, ...] = ()

    @property
    def rejected_rows(self) -> int:
        """Rows rejected, counted from the groups."""
        return sum(group.count for group in self.rejections)

    def flag(self, code: str) -> Flag | None:
        """The flag with this code, if any."""
        return next((f for f in self.flags if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see docs/report-schema.md); tuples become lists."""
        raw = asdict(self)
        out: dict[str, Any] = {"schema_version": raw.pop("schema_version")}
        out.update(raw)
        out["meta"] = dict(self.meta)
        out["accounting"] = dict(self.accounting)
        if not self.notes:
            out.pop("notes", None)
        if self.changes is None:
            out.pop("changes", None)
        else:
            out["changes"] = json.loads(json.dumps(self.changes, default=str))
        for group in out["rejections"]:
            for example in group["examples"]:
                example["source"] = {h: v for h, v in example["source"]}
        listed: dict[str, Any] = _lists(out)
        return listed


def _lists(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_lists(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- reasons

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|«[^»]*»")
_ROWS = re.compile(r"\brows? \d+(?:\s*(?:,|and|-)\s*\d+)*", re.IGNORECASE)
# a number that is not a limit: limits follow a comparison ("> 0", "<= 24") and stay
_NUMBER = re.compile(
    r"(?<![<>=≤≥])(?<![<>=≤≥] )(?<!than )(?<!least )(?<!most )"
    r"(?<![\w.])-?\d+(?:[.,:/-]\d+)*(?![\w])"
)
# parenthesised help such as "(e.g. 2026-03-04 09:30)" is the same for every row; "(got 5)" isn't
_HELP = re.compile(r"\((?!got\b|was\b|value\b)[^()]*\)")
_SPACES = re.compile(r"\s+")


def reason_kind(reason: str, value: str | None = None) -> str:
    """Normalise a rejection reason so that rows with the same problem group together.

    Only the first problem of a merged reason ("a; b") counts. The offending value, quoted
    text, row numbers and numbers that are not limits (limits follow ``>``, ``<=``, "than",
    "at least", "at most") are replaced by ``…``, outside parenthesised help text:
    ``"length must be > 0, got '-5'"`` and ``"length must be > 0, got '0'"`` both become
    ``"length must be > 0, got …"``.
    """
    first = reason.split("; ")[0].strip()
    parts: list[str] = []
    end = 0
    for match in _HELP.finditer(first):
        parts.append(_strip_values(first[end : match.start()], value))
        parts.append(match.group(0))
        end = match.end()
    parts.append(_strip_values(first[end:], value))
    return _SPACES.sub(" ", "".join(parts)).strip()


def _strip_values(text: str, value: str | None) -> str:
    # a bare number value is left to _NUMBER, which knows not to touch limits like "> 0"
    if value and value.strip() and not _NUMBER.fullmatch(value.strip()):
        text = re.sub(rf"(?<!\w){re.escape(value.strip())}(?!\w)", "…", text)
    text = _QUOTED.sub("…", text)
    text = _ROWS.sub("row …", text)
    return _NUMBER.sub("…", text)


# --------------------------------------------------------------------------- the builder


@dataclass
class _Acc:
    rows: int = 0
    seconds: int = 0


@dataclass
class _GroupAcc:
    error_code: str | None
    count: int = 0
    examples: list[RejectionExample] = field(default_factory=list)


class ReportBuilder:
    """Accumulates a run chunk by chunk and builds a ``Report`` once at the end.

    Usage::

        builder = ReportBuilder(ReportSettings(timezone="Europe/Berlin"))
        for canonical, rejections, cells in chunks:
            builder.add_rows(canonical)
            builder.add_rejections(rejections, cells)
        builder.add_flags(locked_week_rows=[...], duplicate_rows=[...])
        report = builder.build(accounting, meta)
    """

    def __init__(self, settings: ReportSettings | None = None) -> None:
        self.settings = settings or ReportSettings()
        self._zone = ZoneInfo(self.settings.timezone)
        self._rows = 0
        self._seconds = 0
        self._billable = 0
        # (user, local date) -> [seconds, source rows of that day] (rows kept only while few)
        self._days: dict[tuple[str, date], int] = defaultdict(int)
        self._day_rows: dict[tuple[str, date], list[int]] = defaultdict(list)
        self._activities: dict[str | None, _Acc] = defaultdict(_Acc)
        self._work_items: dict[int | None, _Acc] = defaultdict(_Acc)
        self._user_codes: dict[str, int] = {}
        self._intervals: list[Any] = []  # numpy (4, n) int64 arrays: user, start, end, row
        self._groups: dict[tuple[str, str | None, str], _GroupAcc] = {}
        self._locked: list[int] = []
        self._locked_what: dict[int, str] = {}
        self._locked_count = 0
        self._duplicates: list[int] = []
        self._duplicate_count = 0
        self._drift_seconds = 0
        self._changes: dict[str, Any] | None = None

    # -- input

    def add_rows(self, canonical: pd.DataFrame) -> None:
        """Add one chunk of the canonical frame (index ``source_row``)."""
        import numpy as np
        import pandas as pd

        if canonical.empty:
            return
        users = canonical["user"].astype(object).where(canonical["user"].notna(), SELF_USER)
        timestamps = pd.Series(canonical["timestamp"]).dt.tz_convert("UTC")
        length = canonical["length_seconds"].astype("int64")
        local_day = timestamps.dt.tz_convert(self._zone).dt.date

        self._rows += len(canonical)
        self._seconds += int(length.sum())
        billable = canonical.get("billable_seconds")
        if billable is not None:
            self._billable += int(pd.to_numeric(billable).fillna(0).sum())

        frame = pd.DataFrame(
            {"user": users.to_numpy(), "day": local_day.to_numpy(), "s": length.to_numpy()}
        )
        frame["row"] = canonical.index.to_numpy()
        per_day: Any = frame.groupby(["user", "day"], sort=False)["s"].sum()
        for (user, day), seconds in per_day.items():
            self._days[(user, day)] += int(seconds)
        # keep a few source rows per day so flags can point at them
        firsts = frame.groupby(["user", "day"], sort=False).head(5)
        for user, day, row in firsts[["user", "day", "row"]].itertuples(index=False):
            kept = self._day_rows[(user, day)]
            if len(kept) < 5:
                kept.append(int(row))

        activities = canonical["activity_type"].astype(object)
        by_activity: Any = length.groupby(activities.to_numpy(), sort=False, dropna=False)
        for name, group in by_activity:
            acc = self._activities[None if pd.isna(name) else str(name)]
            acc.rows += len(group)
            acc.seconds += int(group.sum())
        items = pd.to_numeric(canonical["work_item_id"]).astype("Int64")
        by_item: Any = length.groupby(items.to_numpy(), sort=False, dropna=False)
        for item, group in by_item:
            acc_wi = self._work_items[None if pd.isna(item) else int(item)]
            acc_wi.rows += len(group)
            acc_wi.seconds += int(group.sum())

        codes = np.fromiter(
            (self._user_codes.setdefault(u, len(self._user_codes)) for u in users),
            dtype=np.int64,
            count=len(users),
        )
        start = timestamps.dt.as_unit("ns").astype("int64").to_numpy()
        end = start + length.to_numpy() * 1_000_000_000
        rows = canonical.index.to_numpy().astype(np.int64)
        self._intervals.append(np.vstack([codes, start, end, rows]))

    def add_rejections(
        self,
        rejections: Iterable[Rejection],
        source_values: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Add rejections; ``source_values`` maps a source row to its original cells
        (header -> value) so examples can show the row as the user wrote it."""
        cap = self.settings.max_examples_per_reason
        for rej in rejections:
            # the server's errorCode is the most reliable kind for server rejections
            kind = rej.error_code if rej.stage == "server" and rej.error_code else None
            kind = kind or reason_kind(rej.reason, rej.value)
            key = (rej.stage, rej.column, kind)
            acc = self._groups.get(key)
            if acc is None:
                acc = self._groups[key] = _GroupAcc(error_code=rej.error_code)
            acc.count += 1
            if len(acc.examples) < cap:
                cells = (source_values or {}).get(rej.source_row) or {}
                source = tuple((str(h), _cell_text(v)) for h, v in cells.items())
                acc.examples.append(RejectionExample(rej.source_row, rej.value, rej.reason, source))

    def add_flags(
        self,
        *,
        locked_week_rows: Iterable[int | tuple[int, str]] = (),
        duplicate_rows: Iterable[int] = (),
        rounding_drift_seconds: int | float = 0,
    ) -> None:
        """Add facts only the pipeline knows: rows in approval-locked weeks (a row number, or
        ``(row, what)`` such as ``(7, "week of 2026-10-05 is Submitted for bob")``), duplicates
        skipped (already on the server or repeated in the file), and rounding drift (seconds
        gained or lost by rounding lengths; may be negative)."""
        cap = self.settings.max_flag_items
        for entry in locked_week_rows:
            self._locked_count += 1
            if len(self._locked) < cap:
                row, what = entry if isinstance(entry, tuple) else (entry, "")
                self._locked.append(int(row))
                self._locked_what[int(row)] = what
        for row in duplicate_rows:
            self._duplicate_count += 1
            if len(self._duplicates) < cap:
                self._duplicates.append(int(row))
        self._drift_seconds += round(rounding_drift_seconds)

    # -- output

    def add_changes(
        self,
        *,
        changes: list[dict[str, Any]],
        deletes: list[dict[str, Any]],
        conflicts: list[dict[str, Any]],
        hours: Mapping[str, Mapping[str, float]],
    ) -> None:
        """``sync``: what changes (per-row field diffs old -> new), what is deleted, the
        conflicts (both versions), and hours before -> after per ``user|week``."""
        self._changes = {
            "updates": list(changes),
            "deletes": list(deletes),
            "conflicts": list(conflicts),
            "hours": [
                {"user": key.split("|")[0], "week": key.split("|")[1], **dict(value)}
                for key, value in hours.items()
            ],
        }

    def build(
        self,
        accounting: Mapping[str, int],
        meta: Mapping[str, JsonScalar] | None = None,
        *,
        notes: Iterable[str] = (),
    ) -> Report:
        """Build the report. ``accounting`` is the run's counts (rows, valid/created,
        already_existing, rejected, unprocessed, skipped, ...); ``meta`` free-form scalars
        such as command, input path, generated_at (the caller supplies the clock);
        ``notes`` the run's notes and warnings, as its summary printed them."""
        grid = self._grid()
        days = sorted(day for _, day in self._days)
        users = {user for user, _ in self._days}
        totals = Totals(
            rows=self._rows,
            seconds=self._seconds,
            billable_seconds=self._billable,
            users=len(users),
            first_date=days[0].isoformat() if days else None,
            last_date=days[-1].isoformat() if days else None,
        )
        activities = tuple(
            ActivityTotal(name, acc.rows, acc.seconds)
            for name, acc in sorted(
                self._activities.items(), key=lambda kv: (-kv[1].seconds, kv[0] or "")
            )
        )
        work_items = tuple(
            WorkItemTotal(item, acc.rows, acc.seconds)
            for item, acc in sorted(
                self._work_items.items(), key=lambda kv: (-kv[1].seconds, kv[0] or 0)
            )
            if item is not None
        )[: self.settings.top_work_items]
        groups = tuple(
            RejectionGroup(stage, column, kind, acc.error_code, acc.count, tuple(acc.examples))
            for (stage, column, kind), acc in sorted(
                self._groups.items(), key=lambda kv: (-kv[1].count, kv[0][0], kv[0][1] or "")
            )
        )
        return Report(
            meta=dict(meta or {}),
            settings=self.settings,
            accounting={k: int(v) for k, v in accounting.items()},
            totals=totals,
            grid=grid,
            activities=activities,
            work_items=work_items,
            flags=self._flags(grid),
            rejections=groups,
            changes=self._changes,
            notes=tuple(notes),
        )

    def _grid(self) -> Grid:
        per_user_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (user, day), seconds in self._days.items():
            per_user_week[user][iso_week(day)] += seconds
        weeks = tuple(sorted({w for by_week in per_user_week.values() for w in by_week}))
        rows = []
        for user in sorted(per_user_week, key=lambda u: (u == SELF_USER, u.casefold())):
            cells = tuple(per_user_week[user].get(w, 0) for w in weeks)
            rows.append(GridRow(user, cells, sum(cells)))
        week_totals = tuple(sum(r.seconds[i] for r in rows) for i in range(len(weeks)))
        return Grid(weeks, tuple(rows), week_totals, sum(week_totals))

    def _flags(self, grid: Grid) -> tuple[Flag, ...]:
        s = self.settings
        cap = s.max_flag_items
        day_limit = round(s.day_threshold_hours * 3600)
        week_limit = round(s.week_threshold_hours * 3600)
        ordered_days = sorted(self._days.items(), key=lambda kv: (kv[0][1], kv[0][0]))

        def day_items(keep: Any, label: str) -> Flag:
            hits = [(k, v) for k, v in ordered_days if keep(k, v)]
            items = tuple(
                FlagItem(
                    f"{user} worked {_hours(v)} on {day.isoformat()} ({day:%a})",
                    user,
                    day.isoformat(),
                    v,
                    tuple(self._day_rows[(user, day)]),
                )
                for (user, day), v in hits[:cap]
            )
            return Flag(label, _flag_title(label, s), len(hits), items)

        flags = [
            day_items(lambda k, v: v > 24 * 3600, "day_over_24h"),
            day_items(lambda k, v: day_limit < v <= 24 * 3600, "day_over_threshold"),
        ]
        week_hits = [
            (row.user, week, v)
            for row in grid.rows
            for week, v in zip(grid.weeks, row.seconds, strict=True)
            if v > week_limit
        ]
        week_hits.sort(key=lambda t: (t[1], t[0]))
        flags.append(
            Flag(
                "week_over_threshold",
                _flag_title("week_over_threshold", s),
                len(week_hits),
                tuple(
                    FlagItem(f"{u} worked {_hours(v)} in {w}", u, w, v)
                    for u, w, v in week_hits[:cap]
                ),
            )
        )
        flags.append(self._overlaps())
        flags.append(day_items(lambda k, v: k[1].weekday() >= 5, "weekend"))
        flags.append(
            Flag(
                "locked_week",
                _flag_title("locked_week", s),
                self._locked_count,
                tuple(
                    FlagItem(
                        f"row {row}: {self._locked_what.get(row) or 'in a week locked by approval'}",
                        source_rows=(row,),
                    )
                    for row in self._locked
                ),
            )
        )
        flags.append(
            Flag(
                "duplicate_skipped",
                _flag_title("duplicate_skipped", s),
                self._duplicate_count,
                _row_items(self._duplicates, "skipped as a duplicate"),
            )
        )
        drift = self._drift_seconds
        flags.append(
            Flag(
                "rounding_drift",
                _flag_title("rounding_drift", s),
                1 if drift else 0,
                (FlagItem(f"rounding changed the total by {_signed_duration(drift)}"),)
                if drift
                else (),
                seconds=drift,
            )
        )
        return tuple(flags)

    def _overlaps(self) -> Flag:
        import numpy as np

        title = _flag_title("overlap", self.settings)
        if not self._intervals:
            return Flag("overlap", title, 0)
        user, start, end, rows = np.hstack(self._intervals)
        order = np.lexsort((rows, start, user))
        user, start, end, rows = user[order], start[order], end[order], rows[order]
        # running max of earlier ends within each user: where a start is before it, the row
        # overlaps an earlier one of the same user
        new_user = np.ones(len(user), dtype=bool)
        new_user[1:] = user[1:] != user[:-1]
        hits: list[int] = []
        running = np.iinfo(np.int64).min
        holder = -1
        partner = np.full(len(user), -1, dtype=np.int64)
        # a plain loop: one pass, O(n); numpy has no segmented running max with argmax
        for i in range(len(user)):
            if new_user[i]:
                running, holder = end[i], i
                continue
            if start[i] < running:
                hits.append(i)
                partner[i] = holder
            if end[i] > running:
                running, holder = end[i], i
        names = {code: name for name, code in self._user_codes.items()}
        zone = self._zone
        items = []
        for i in hits[: self.settings.max_flag_items]:
            j = int(partner[i])
            overlap_ns = int(min(end[i], end[j]) - start[i])
            name = names[int(user[i])]
            when = _local(int(start[i]), zone)
            items.append(
                FlagItem(
                    f"{name}: row {int(rows[i])} starts at {when:%Y-%m-%d %H:%M} while row "
                    f"{int(rows[j])} is still running ({_hours(overlap_ns // 1_000_000_000)} "
                    "overlap)",
                    name,
                    when.date().isoformat(),
                    overlap_ns // 1_000_000_000,
                    (int(rows[j]), int(rows[i])),
                )
            )
        return Flag("overlap", title, len(hits), tuple(items))


# --------------------------------------------------------------------------- helpers


def source_cells(
    raw: pd.DataFrame, headers: list[str], rows: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The original cells of some rows of a raw chunk (columns are positions, index is
    source_row) as ``{source_row: {header: value}}``, for ``add_rejections``. A repeated
    header keeps its first cell."""
    wanted = [row for row in dict.fromkeys(rows) if row in raw.index]
    out: dict[int, dict[str, Any]] = {}
    for row, values in zip(wanted, raw.loc[wanted].itertuples(index=False, name=None), strict=True):
        cells: dict[str, Any] = {}
        for header, value in zip(headers, values, strict=False):
            cells.setdefault(header, value)
        out[int(row)] = cells
    return out


def iso_week(day: date) -> str:
    """ISO week label ``YYYY-Www`` of a date (2024-12-30 -> 2025-W01)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def format_hours(seconds: int | float) -> str:
    """Seconds as hours with two decimals: 27000 -> '7.50'."""
    return f"{seconds / 3600:.2f}"


def _hours(seconds: int) -> str:
    return f"{format_hours(seconds)} h"


def _signed_duration(seconds: int) -> str:
    sign = "+" if seconds > 0 else "-"
    minutes, secs = divmod(abs(seconds), 60)
    return f"{sign}{minutes} min {secs} s" if minutes else f"{sign}{secs} s"


def _local(ns: int, zone: ZoneInfo) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1_000_000_000, tz=UTC).astimezone(zone)


def _cell_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    if hasattr(value, "isoformat"):  # datetime, date, time, pandas Timestamp
        return str(value.isoformat())
    return str(value)


def _row_items(rows: list[int], what: str) -> tuple[FlagItem, ...]:
    return tuple(FlagItem(f"row {row} {what}", source_rows=(row,)) for row in rows)


def _flag_title(code: str, settings: ReportSettings) -> str:
    titles = {
        "day_over_24h": "Days over 24 h",
        "day_over_threshold": f"Days over {settings.day_threshold_hours:g} h",
        "week_over_threshold": f"Weeks over {settings.week_threshold_hours:g} h",
        "overlap": "Overlapping worklogs of the same user",
        "weekend": "Weekend work",
        "locked_week": "Rows in locked weeks",
        "duplicate_skipped": "Duplicates skipped",
        "rounding_drift": "Total rounding drift",
    }
    return titles[code]
