"""Lenient timestamp parsing for the sandbox (contract D6, D17).

The real service binds dates with .NET's parser; the sandbox accepts ISO 8601 (with or
without fraction, offset or ``Z``), a date alone, and the US-culture forms that 7pace's old
npm importer produces with JavaScript's ``toLocaleString()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The fraction of an ISO time: "." or "," then digits (.NET keeps 7, DateTime's tick).
_FRACTION = re.compile(r"[T ][0-9:]+[.,]([0-9]+)")

# "3/4/2024, 9:00:00 AM", "3/4/2024 9:00 AM", "3/4/2024 13:00", "3/4/2024".
_US_FORM = re.compile(
    r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})"
    r"(?:,?\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<ampm>[AaPp][Mm])?)?$"
)


@dataclass(frozen=True)
class ParsedTime:
    """A parsed timestamp: the instant used for filtering and the text the API echoes."""

    instant: datetime  # aware, UTC; naive input is taken as UTC
    text: str  # what the sandbox stores and returns
    had_offset: bool

    @property
    def key(self) -> int:
        """Microseconds since the epoch: the sortable column in SQLite."""
        return to_key(self.instant)


def to_key(instant: datetime) -> int:
    """Microseconds since 1970-01-01 UTC for an aware datetime."""
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_key(key: int) -> datetime:
    """Inverse of :func:`to_key`."""
    return EPOCH + timedelta(microseconds=key)


def format_utc_z(instant: datetime, fraction: str | None = None) -> str:
    """``2024-03-04T08:00:00Z``, with the fraction as .NET writes it (S20): ``fraction``'s
    digits (else the microseconds) cut to 7, trailing zeros dropped, none when zero."""
    utc = instant.astimezone(UTC)
    digits = f"{utc.microsecond:06d}" if fraction is None else fraction[:7]
    digits = digits.rstrip("0")
    whole = utc.replace(microsecond=0, tzinfo=None).isoformat()  # four-digit years
    return whole + (f".{digits}" if digits else "") + "Z"


def format_created(instant: datetime) -> str:
    """createdTimestamp/editedTimestamp: UTC, no offset, 7 fractional digits (D6)."""
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%dT%H:%M:%S.") + f"{naive.microsecond:06d}0"


def parse_timestamp(value: object) -> ParsedTime | None:
    """Parse a body or filter timestamp; None when it cannot be parsed."""
    if not isinstance(value, str):
        return None
    # Node's ICU puts a narrow no-break space before AM/PM.
    text = value.replace("\u202f", " ").replace("\u00a0", " ").strip()
    if not text:
        return None
    parsed = _parse_iso(text)
    if parsed is None:
        parsed = _parse_us(text)
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        try:
            instant = parsed.astimezone(UTC)
        except OverflowError:  # before year 1 or after 9999 in UTC: no DateTime (S22)
            return None
        # offsets are whole minutes, so the UTC time keeps the fraction as sent (7 digits)
        fraction = _FRACTION.search(text)
        return ParsedTime(instant, format_utc_z(instant, fraction and fraction[1]), True)
    # Without an offset the text is stored and returned exactly as sent (D6), whatever its
    # form: ISO, a date alone or a US form, even with Node's narrow no-break space.
    return ParsedTime(parsed.replace(tzinfo=UTC), value, False)


def _parse_iso(text: str) -> datetime | None:
    if not text[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_us(text: str) -> datetime | None:
    match = _US_FORM.match(text)
    if match is None:
        return None
    hour = int(match["hour"] or 0)
    minute = int(match["minute"] or 0)
    second = int(match["second"] or 0)
    ampm = (match["ampm"] or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    try:
        return datetime(
            int(match["year"]), int(match["month"]), int(match["day"]), hour, minute, second
        )
    except ValueError:
        return None
