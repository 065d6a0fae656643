"""Pure parts of ``export``: date bounds, windows, the row layout and the output order.

The API's timestamp filters are strict (``$fromTimestamp`` means "greater than",
``$toTimestamp`` "less than", API §1.6), so inclusive days are translated into a slightly
wider server query and the rows are then filtered client-side to the exact range:

* from: start of the ``--from`` day (in ``--timezone``) minus one second;
* to:   start of the day after ``--to``;
* kept: ``start_of_from_day <= timestamp < start_of_day_after_to``.

Server timestamps without an offset are read as UTC (the sandbox does the same for filters;
the real service calls them "user-local" but ``workLogs/all`` mixes users whose zones the
client does not know).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 30
FLAG_NAMES = (
    "isTracked",
    "isManuallyEntered",
    "isChanged",
    "isTrackedExtended",
    "isImported",
    "isFromApi",
    "isBillable",
)

_FLAG_SET = frozenset(FLAG_NAMES)

EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "user_email",
    "user_name",
    "timestamp_utc",
    "date",
    "start",
    "length_seconds",
    "length_hours",
    "billable_seconds",
    "work_item_id",
    "activity_type",
    "comment",
    "created_utc",
    "edited_utc",
    "flags",
)
ORGANIZATION_COLUMN = "organization"


@dataclass(frozen=True)
class DayRange:
    """Inclusive local days ``first..last`` in ``timezone``, with the exact UTC instants
    ``[start, end)`` they cover."""

    first: date
    last: date
    timezone: str
    start: datetime  # aware, UTC: start of ``first`` in ``timezone``
    end: datetime  # aware, UTC: start of the day after ``last``

    @property
    def query_from(self) -> datetime:
        """``$fromTimestamp`` (strict >): one second before ``start``."""
        from timetracker_import.core.worklog import QUERY_MARGIN

        return self.start - QUERY_MARGIN

    @property
    def query_to(self) -> datetime:
        """``$toTimestamp`` (strict <): ``end`` itself."""
        return self.end

    def contains(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) lies in ``[start, end)``."""
        return self.start <= instant < self.end


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_range(first: date | None, last: date | None, timezone: str, *, today: date) -> DayRange:
    """The inclusive range ``first..last``; ``last`` defaults to ``today``, ``first`` to
    ``DEFAULT_DAYS`` days ending at ``last``. Raises ``ValueError`` when ``first > last``."""
    zone = ZoneInfo(timezone)
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    return DayRange(
        first=first,
        last=last,
        timezone=timezone,
        start=_day_start(first, zone),
        end=_day_start(last + timedelta(days=1), zone),
    )


def split_windows(start: datetime, end: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into at most ``count`` contiguous half-open windows of equal
    length (whole seconds), covering the range exactly."""
    if end <= start:
        return []
    total = int((end - start).total_seconds())
    count = max(1, min(count, max(1, total)))
    bounds = [start + timedelta(seconds=total * i // count) for i in range(count)] + [end]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def chunked(values: Sequence[int], size: int) -> list[list[int]]:
    """``values`` (deduplicated, order kept) in lists of at most ``size``."""
    unique = list(dict.fromkeys(int(v) for v in values))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def format_query_instant(instant: datetime) -> str:
    """A filter value: UTC, second precision, with ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant_or_none(value: Any) -> datetime | None:
    """An API timestamp as an aware UTC datetime (no offset = UTC, as the sandbox writes it);
    None when empty. The one parser is ``core.worklog.parse_api_timestamp``."""
    if value is None or value == "":
        return None
    from timetracker_import.core.worklog import parse_api_timestamp as parse

    return parse(str(value))


def format_utc(instant: datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` or None."""
    if instant is None:
        return None
    text = instant.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def flatten_flags(flags: Mapping[str, Any] | None) -> str:
    """The set flags as ``isFromApi;isManuallyEntered`` (known flags first in API order, then
    unknown ones sorted), empty when none is set."""
    if not flags:
        return ""
    known = [n for n in FLAG_NAMES if flags.get(n)]
    if flags.keys() <= _FLAG_SET:  # the usual case: no unknown flag to look for
        return ";".join(known)
    extra = sorted(k for k, v in flags.items() if k not in _FLAG_SET and v is True)
    return ";".join(known + extra)


def export_row(
    worklog: Mapping[str, Any], zone: ZoneInfo, *, organization: str | None = None
) -> dict[str, Any]:
    """One worklog as an export row (``EXPORT_COLUMNS``, plus ``organization`` when given).

    ``date`` and ``start`` are the local date and time of day in ``zone``."""
    ts = instant_or_none(worklog.get("timestamp"))
    return _layout(worklog, ts, zone, organization, {})


def _utc_text(value: Any, memo: dict[Any, Any]) -> str | None:
    """``format_utc(instant_or_none(value))``, memoised: created/edited stamps repeat
    (one import batch shares them)."""
    try:
        text: str | None = memo[value]
    except KeyError:
        text = memo[value] = format_utc(instant_or_none(value))
    except TypeError:  # not hashable: not a timestamp the API sends, let the parser say so
        return format_utc(instant_or_none(value))
    return text


def _layout(
    worklog: Mapping[str, Any],
    ts: datetime | None,
    zone: ZoneInfo,
    organization: str | None,
    memo: dict[Any, Any],
) -> dict[str, Any]:
    """:func:`export_row` with the timestamp already parsed (``build_rows`` parses it once);
    ``memo`` is shared by the rows of one export (stamps and flags repeat)."""
    local = ts.astimezone(zone) if ts is not None else None
    user = worklog.get("user") or {}
    activity = worklog.get("activityType") or {}
    length = worklog.get("length")
    billable = worklog.get("billableLength")
    row: dict[str, Any] = {
        "id": worklog.get("id"),
        "user_email": user.get("email") or user.get("uniqueName"),
        "user_name": user.get("displayName") or user.get("name"),
        "timestamp_utc": format_utc(ts),
        "date": local.date() if local else None,
        "start": local.time().replace(tzinfo=None) if local else None,
        "length_seconds": None if length is None else int(length),
        "length_hours": None if length is None else round(int(length) / 3600, 6),
        "billable_seconds": None if billable is None else int(billable),
        "work_item_id": worklog.get("workItemId"),
        "activity_type": activity.get("name"),
        "comment": worklog.get("comment"),
        "created_utc": _utc_text(worklog.get("createdTimestamp"), memo),
        "edited_utc": _utc_text(worklog.get("editedTimestamp"), memo),
        "flags": _flags_text(worklog.get("flags"), memo),
    }
    if organization is not None:
        row[ORGANIZATION_COLUMN] = organization
    return row


def _flags_text(flags: Any, memo: dict[Any, Any]) -> str:
    """``flatten_flags``, memoised by the flags' items (a handful of combinations)."""
    if not isinstance(flags, dict):
        return flatten_flags(flags)
    try:
        key = ("flags", *flags.items())
        text: str = memo[key]
    except KeyError:
        text = memo[key] = flatten_flags(flags)
    except TypeError:  # an unhashable flag value
        return flatten_flags(flags)
    return text


def sort_key(row: Mapping[str, Any]) -> tuple[datetime, str, str]:
    """Deterministic order: timestamp, organization, id (rows without a timestamp first)."""
    ts = instant_or_none(row.get("timestamp_utc"))
    return (
        ts or datetime.min.replace(tzinfo=UTC),
        str(row.get(ORGANIZATION_COLUMN) or ""),
        str(row.get("id") or ""),
    )


@dataclass(frozen=True)
class ExportFilter:
    """Client-side filters: users by e-mail/uniqueName (case-insensitive), activity types by
    name (case-insensitive), work items by id, and the exact day range."""

    days: DayRange
    users: frozenset[str] = frozenset()
    activity_types: frozenset[str] = frozenset()
    work_items: frozenset[int] = frozenset()

    @classmethod
    def build(
        cls,
        days: DayRange,
        users: Iterable[str] = (),
        activity_types: Iterable[str] = (),
        work_items: Iterable[int] = (),
    ) -> ExportFilter:
        """Normalise the option values."""
        return cls(
            days,
            frozenset(u.strip().lower() for u in users),
            frozenset(a.strip().lower() for a in activity_types),
            frozenset(int(w) for w in work_items),
        )

    def keep(self, worklog: Mapping[str, Any]) -> bool:
        """Whether a server worklog passes every filter."""
        return self._keep(worklog, instant_or_none(worklog.get("timestamp")))

    def _keep(self, worklog: Mapping[str, Any], ts: datetime | None) -> bool:
        if ts is None or not self.days.contains(ts):
            return False
        if self.users:
            user = worklog.get("user") or {}
            names = {str(user.get(k) or "").lower() for k in ("email", "uniqueName")}
            if not names & self.users:
                return False
        if self.activity_types:
            name = str((worklog.get("activityType") or {}).get("name") or "").lower()
            if name not in self.activity_types:
                return False
        return not self.work_items or worklog.get("workItemId") in self.work_items


class RowBuilder:
    """Filters, deduplicates by (organization, id) and lays out worklogs as they arrive, so
    an export can do this work page by page while other requests are in flight;
    :meth:`rows` sorts at the end. ``build_rows`` is the all-at-once form."""

    def __init__(self, row_filter: ExportFilter, zone: ZoneInfo) -> None:
        self.row_filter = row_filter
        self.zone = zone
        self.received = 0  # worklogs given to add(), duplicates and filtered ones included
        self._seen: set[tuple[str | None, Any]] = set()
        self._keyed: list[tuple[tuple[datetime, str, str], dict[str, Any]]] = []
        self._memo: dict[Any, Any] = {}  # created/edited stamps and flags repeat

    def add(self, organization: str | None, worklogs: Iterable[Mapping[str, Any]]) -> None:
        """Take server worklogs of ``organization`` (None: single organization); a worklog
        whose (organization, id) was already taken is skipped (first one wins)."""
        seen, keyed, memo, zone = self._seen, self._keyed, self._memo, self.zone
        keep = self.row_filter._keep
        org_key = str(organization or "")
        for worklog in worklogs:
            self.received += 1
            wid = worklog.get("id")
            key = (organization, wid)
            if key in seen:
                continue
            # parsed once: filter, layout and sort key all use it (sort_key's order)
            ts = instant_or_none(worklog.get("timestamp"))
            if not keep(worklog, ts):
                continue
            assert ts is not None  # _keep drops rows without a timestamp
            seen.add(key)
            row = _layout(worklog, ts, zone, organization, memo)
            keyed.append(((ts, org_key, str(wid or "")), row))

    @property
    def taken(self) -> int:
        """Rows taken and not drained."""
        return len(self._keyed)

    def drain(self) -> list[tuple[tuple[datetime, str, str], dict[str, Any]]]:
        """The rows taken so far with their sort keys, in the order taken; the builder
        forgets them (and their ids: deduplicating them is then the caller's)."""
        keyed, self._keyed = self._keyed, []
        self._seen.clear()
        return keyed

    def rows(self) -> list[dict[str, Any]]:
        """The rows taken so far, in ``sort_key`` order (stable for equal keys)."""
        self._keyed.sort(key=itemgetter(0))
        return [row for _, row in self._keyed]


def build_rows(
    worklogs_by_org: Mapping[str | None, Iterable[Mapping[str, Any]]],
    row_filter: ExportFilter,
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """Filter, deduplicate by (organization, id), lay out and sort the fetched worklogs.

    Keys of ``worklogs_by_org`` are organization names (None: single organization, no
    ``organization`` column)."""
    builder = RowBuilder(row_filter, zone)
    for org, worklogs in worklogs_by_org.items():
        builder.add(org, worklogs)
    return builder.rows()


def export_columns(multi_org: bool) -> list[str]:
    """The column list, with ``organization`` after ``id`` for a multi-organization export."""
    columns = list(EXPORT_COLUMNS)
    if multi_org:
        columns.insert(1, ORGANIZATION_COLUMN)
    return columns
