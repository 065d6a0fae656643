"""One model of a worklog as the server returns it, and the rules every command shares about
it: how an API timestamp is read, how a time range becomes the API's strict query bounds, and
how the content a file wants is compared with what the server holds (the one diff).

Content fields use the names of the API's creation/PATCH body (``timeStamp``, ``length``,
``billableLength``, ``workItemId``, ``comment``, ``activityTypeId``, ``userId``), so that a
diff turns into a PATCH body and a worklog into a re-creation body without translation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_US_FORM = re.compile(
    r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}),?\s+(?P<H>\d{1,2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp][Mm])?$"
)


def parse_timestamp_text(text: str) -> datetime:
    """A timestamp as the API may return it, naive or aware: ISO 8601 (``Z``, offsets, up to
    7 fractional digits), a date alone (midnight), or the US-culture forms 7pace's old npm
    importer sent and the service stores as sent (``3/4/2024, 9:00:00 AM``, ``3/4/2024
    9:00 AM``, ``3/4/2024 13:05``; contract D6/D17). ValueError for anything else."""
    value = text.strip().replace("\u202f", " ").replace("\xa0", " ")
    us = _US_FORM.match(value)
    if us is not None:
        hour = int(us["H"])
        ampm = (us["ampm"] or "").upper()
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueError(f"not a timestamp: {text!r}")
            hour = hour % 12 + (12 if ampm == "PM" else 0)
        return datetime(
            int(us["y"]), int(us["m"]), int(us["d"]), hour, int(us["M"]), int(us["S"] or 0)
        )
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python parses at most 6 fractional digits; .NET sends up to 7.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    return datetime.fromisoformat(value)


#: content fields (API body names) in the order diffs are shown
CONTENT_FIELDS = (
    "userId",
    "timeStamp",
    "workItemId",
    "length",
    "billableLength",
    "comment",
    "activityTypeId",
)
#: the API's ``$fromTimestamp``/``$toTimestamp`` are strict (API §1.6): widen by this much
QUERY_MARGIN = timedelta(seconds=1)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_FRACTION = re.compile(r"^(?P<base>[^.]*?)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:?\d\d)?$")


def parse_api_timestamp(text: str, *, naive_offset_minutes: int = 0) -> datetime:
    """An API timestamp as an aware UTC datetime. Accepts ``Z``, ``+hh:mm`` offsets, up to 7
    fractional digits, a date alone and the US-culture forms (``parse_timestamp_text``). A
    timestamp without an offset is the user's local time (API §1.6): ``naive_offset_minutes``
    is that user's offset from UTC (``me.timeZone``); 0 reads it as UTC, as the sandbox
    writes it (D6). ValueError for anything else."""
    if len(text) == 20 and text[-1] == "Z" and text[10] == "T":
        # the form the sandbox and most answers use ("2026-11-02T09:00:00Z"): no regex
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        except ValueError:
            pass
    parsed = parse_timestamp_text(text)
    if parsed.tzinfo is None:
        parsed = (parsed - timedelta(minutes=naive_offset_minutes)).replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_stamp(instant: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of an aware instant (to the second, as worklogs are keyed)."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no time zone")
    return instant.astimezone(UTC).replace(microsecond=0).strftime(_STAMP)


def stamp_instant(stamp: str) -> datetime:
    """The aware UTC instant of a ``utc_stamp`` text."""
    return datetime.fromisoformat(stamp.removesuffix("Z")).replace(tzinfo=UTC)


def query_bounds(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """The ``$fromTimestamp``/``$toTimestamp`` that select every worklog starting at or
    after ``first`` and at or before ``last`` (the API compares strictly, so both are
    widened by ``QUERY_MARGIN``; callers keep only the rows they want)."""
    return first - QUERY_MARGIN, last + QUERY_MARGIN


def same_edited_timestamp(recorded: str | None, current: str | None) -> bool:
    """Whether two ``editedTimestamp`` texts denote the same moment, tolerating the precision
    the server drops after a database round trip (``.0292991`` vs ``.03``, API §1.6)."""
    if recorded is None or current is None:
        return recorded == current
    a, b = _FRACTION.match(recorded.strip()), _FRACTION.match(current.strip())
    if a is None or b is None:
        return recorded.strip() == current.strip()
    if a["base"] != b["base"] or (a["zone"] or "") != (b["zone"] or ""):
        return False
    frac_a, frac_b = a["frac"] or "", b["frac"] or ""
    digits = min(len(frac_a), len(frac_b))
    return _round_fraction(frac_a, digits) == _round_fraction(frac_b, digits)


def _round_fraction(frac: str, digits: int) -> int:
    # round half up to ``digits`` places, in integers (a carry into the second stays 10**digits)
    if not frac:
        return 0
    value, places = int(frac), len(frac)
    scale: int = 10 ** abs(places - digits)  # int ** int is typed Any (a negative power is a float)
    if digits >= places:
        return value * scale
    quotient, remainder = divmod(value, scale)
    return quotient + (1 if 2 * remainder >= scale else 0)


@dataclass(frozen=True)
class ServerWorklog:
    """A worklog as read from the API (``from_api``), in the terms the planners compare."""

    id: str
    user_id: str
    timestamp: str  # UTC "YYYY-MM-DDTHH:MM:SSZ"
    work_item_id: int | None
    content: Mapping[str, Any]
    edited_ts: str | None
    created_ts: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> tuple[str, str, int | None]:
        """(user, start, work item): where the worklog sits."""
        return (self.user_id.lower(), self.timestamp, self.work_item_id)

    @classmethod
    def from_api(
        cls, worklog: Mapping[str, Any], *, naive_offset_minutes: int = 0
    ) -> ServerWorklog:
        """Read a worklog of any API answer (list, by id, POST, PATCH, batch). ValueError
        when it has no timestamp."""
        user = worklog.get("user") or {}
        user_id = str(user.get("id") or worklog.get("userId") or "").strip().lower()
        text = worklog.get("timestamp") or worklog.get("timeStamp")
        if not isinstance(text, str):
            raise ValueError(f"worklog {worklog.get('id')!r} has no timestamp")
        stamp = utc_stamp(parse_api_timestamp(text, naive_offset_minutes=naive_offset_minutes))
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
        return cls(
            id=str(worklog.get("id")),
            user_id=user_id,
            timestamp=stamp,
            work_item_id=work_item_id,
            content=content,
            edited_ts=None if edited is None else str(edited),
            created_ts=str(worklog.get("createdTimestamp") or ""),
            raw=dict(worklog),
        )

    def recreate_body(self) -> dict[str, Any]:
        """The creation body that puts this worklog back (a new id; the API cannot restore
        one): every content field that has a value."""
        body = {k: v for k, v in self.content.items() if v is not None}
        if not body.get("comment"):
            body.pop("comment", None)
        return body


# --------------------------------------------------------------------------- the one diff


_SPACES = re.compile(r"\s+")


def is_missing(value: object) -> bool:
    """Whether a cell is missing: NaN and pandas.NA are not equal to themselves (pd.NA's ==
    returns NA, whose bool() raises)."""
    try:
        return bool(value != value)
    except TypeError:
        return True


def normalize_comment(comment: object) -> str:
    """Strip, collapse internal whitespace to one space, Unicode NFC; None and "" are equal."""
    if comment is None or is_missing(comment):
        return ""
    text = unicodedata.normalize("NFC", str(comment))
    return _SPACES.sub(" ", text).strip()


def field_equal(name: str, wanted: Any, held: Any) -> bool:
    """Whether one content field already has the wanted value (comments compare normalised,
    ids case-insensitively)."""
    if name == "comment":
        return wanted == held or normalize_comment(wanted) == normalize_comment(held)
    if name in ("userId", "activityTypeId"):
        norm = [None if v is None else str(v).lower() for v in (wanted, held)]
        return norm[0] == norm[1]
    return bool(wanted == held)


def diff_content(wanted: Mapping[str, Any], held: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (held, wanted)}`` for the fields of ``wanted`` whose value differs. Only the
    fields in ``wanted`` are compared: a field the source does not give is never changed. A
    wanted activity type of None means "the user's default" and is no change."""
    changes: dict[str, tuple[Any, Any]] = {}
    for name in CONTENT_FIELDS:
        if name not in wanted:
            continue
        want, have = wanted[name], held.get(name)
        if name == "activityTypeId" and want is None:
            continue
        if not field_equal(name, want, have):
            changes[name] = (have, want)
    return changes


def patch_body(
    changes: Mapping[str, tuple[Any, Any]], wanted: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The PATCH body of a diff: the changed fields with their new values. A changed length
    carries the wanted billable length with it (when the source gives one), so the two are
    never written apart."""
    body: dict[str, Any] = {}
    for name, (_, new) in changes.items():
        body[name] = ("" if new is None else str(new)) if name == "comment" else new
    if wanted is not None and "length" in body and wanted.get("billableLength") is not None:
        body.setdefault("billableLength", wanted["billableLength"])
    return body
