"""One worklog per calendar day: entries that cross local midnight are cut there
(``convert split-days``, as Kimai's importer fixes entries crossing midnight).

Pure: canonical rows in, rows of the ``split-days`` layout out. The cut falls on the local
midnight of the run's time zone, found per day (a DST change moves the instant, never the
wall-clock midnight); the parts' lengths add up to the entry's, and a billable length is
shared out in proportion, the parts adding up to it exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

#: the columns ``convert split-days`` writes (the ``split-days`` preset reads them); an empty
#: ``user`` is the token's own user: only rows the source mapping booked there are empty
SPLIT_HEADERS = (
    "source_row",
    "part",
    "user",
    "timestamp_utc",
    "length_seconds",
    "billable_seconds",
    "work_item_id",
    "activity_type",
    "comment",
    "organization",
)


def _next_midnight(instant: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """The first local midnight after ``instant`` (a zone whose clocks skip midnight: the
    first instant of that day)."""
    day = instant.tz_convert(timezone).date() + dt.timedelta(days=1)
    return (
        pd.Timestamp(day)
        .tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
        .tz_convert("UTC")
    )


def day_parts(
    start: pd.Timestamp, length_seconds: int, timezone: str
) -> list[tuple[pd.Timestamp, int]]:
    """``(start, seconds)`` of each calendar day's part of an entry (one part when it stays
    within a day)."""
    end = start + pd.Timedelta(seconds=length_seconds)
    parts: list[tuple[pd.Timestamp, int]] = []
    cursor = start
    while cursor < end:
        cut = min(end, _next_midnight(cursor, timezone))
        parts.append((cursor, int((cut - cursor).total_seconds())))
        cursor = cut
    return parts


def share_billable(billable: int, lengths: list[int]) -> list[int]:
    """``billable`` shared out over parts of ``lengths`` in proportion (cumulative rounding,
    so the shares add up to ``billable`` exactly)."""
    total = sum(lengths)
    shares, done, so_far = [], 0, 0
    for length in lengths:
        so_far += length
        upto = round(billable * so_far / total) if total else 0
        shares.append(upto - done)
        done = upto
    return shares


def _cell(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def split_rows(frame: pd.DataFrame, timezone: str) -> list[tuple[int, list[Any]]]:
    """``(source_row, cells)`` in ``SPLIT_HEADERS`` order for every day part of the
    canonical ``frame``'s rows, in row order; ``part`` reads ``2/3``."""
    out: list[tuple[int, list[Any]]] = []
    for row, rec in zip(frame.index.tolist(), frame.to_dict("records"), strict=True):
        start = pd.Timestamp(rec["timestamp"]).tz_convert("UTC")
        parts = day_parts(start, int(rec["length_seconds"]), timezone)
        billable = _cell(rec.get("billable_seconds"))
        shares = (
            share_billable(int(billable), [n for _, n in parts])
            if billable is not None
            else [None] * len(parts)
        )
        work_item = _cell(rec.get("work_item_id"))
        for i, ((at, seconds), share) in enumerate(zip(parts, shares, strict=True), start=1):
            out.append(
                (
                    int(row),
                    [
                        int(row),
                        f"{i}/{len(parts)}",
                        _cell(rec.get("user")),
                        at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        seconds,
                        share,
                        None if work_item is None else int(work_item),
                        _cell(rec.get("activity_type")),
                        _cell(rec.get("comment")),
                        _cell(rec.get("organization")),
                    ],
                )
            )
    return out
