"""Batch planning: which rows go together into one ``POST workLogs/batch``.

Rows are grouped by user and taken in time order, so each batch covers a narrow time window and
reading a batch back after an ambiguous outcome is one narrow ``workLogs/all`` query. Small
left-overs of different users are packed together when their windows are close, so that a file
with many users and few rows each does not become one request per user. The plan depends only
on the input (same rows -> same plan), which resuming relies on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


MAX_BATCH_SIZE = 500  # API §13: more gives 413
DEFAULT_MIXED_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class PlannedBatch:
    """One planned request. ``user_id`` is None when the batch mixes users (or is the token's
    own user, unresolved); ``window_from``/``window_to`` are the earliest and latest row
    timestamps (UTC, inclusive); ``parent`` is the batch this one was split from."""

    batch_no: int
    source_rows: tuple[int, ...]
    user_id: str | None
    window_from: datetime
    window_to: datetime
    parent: int | None = None

    def __len__(self) -> int:
        return len(self.source_rows)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the journal)."""
        return {
            "batch_no": self.batch_no,
            "source_rows": list(self.source_rows),
            "user_id": self.user_id,
            "window_from": self.window_from.isoformat(),
            "window_to": self.window_to.isoformat(),
            "parent": self.parent,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlannedBatch:
        """Inverse of ``to_json``."""
        return cls(
            batch_no=int(data["batch_no"]),
            source_rows=tuple(int(r) for r in data["source_rows"]),
            user_id=data.get("user_id"),
            window_from=datetime.fromisoformat(data["window_from"]),
            window_to=datetime.fromisoformat(data["window_to"]),
            parent=None if data.get("parent") is None else int(data["parent"]),
        )


@dataclass
class _Chunk:
    user_id: str | None
    # numpy slices of one user's sorted rows (full batches: no Python int per row until the
    # batch is built), or lists once leftovers are packed
    rows: Any  # Sequence[int] or a numpy array
    stamps: Any  # UTC instants as integers of the frame's datetime unit

    @property
    def first_stamp(self) -> int:
        return int(min(self.stamps))

    @property
    def last_stamp(self) -> int:
        return int(max(self.stamps))


def _to_utc(ts: Any) -> datetime:
    import pandas as pd

    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime().astimezone(UTC)


def plan_batches(
    rows: pd.DataFrame,
    max_size: int = MAX_BATCH_SIZE,
    *,
    max_mixed_span: timedelta = DEFAULT_MIXED_SPAN,
) -> list[PlannedBatch]:
    """Plan batches of at most ``max_size`` rows.

    ``rows`` has the index ``source_row`` and the columns ``user_id`` (str or None) and
    ``timestamp`` (UTC). Each user's rows are sorted by (timestamp, source_row) and cut into
    full batches; the remainders (fewer than ``max_size`` rows) of different users are then
    packed together, in time order, as long as the batch stays within ``max_size`` rows and
    its window within ``max_mixed_span``. Batches are numbered from 1 in order of their
    window start."""
    import numpy as np
    import pandas as pd

    if not 1 <= max_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, got {max_size}")
    if rows.empty:
        return []
    instants = pd.to_datetime(rows["timestamp"], utc=True).dt.tz_localize(None).to_numpy()
    unit, _ = np.datetime_data(instants.dtype)
    table = pd.DataFrame(
        {
            "row": rows.index.astype("int64"),
            # "" sorts the token's own user (None) first and keeps sorting total
            "user": [u if isinstance(u, str) else "" for u in rows["user_id"]],
            "ts": instants.astype("int64"),
        }
    ).sort_values(["user", "ts", "row"], kind="mergesort")

    full: list[_Chunk] = []
    leftovers: list[_Chunk] = []
    for user, group in table.groupby("user", sort=True):
        user_rows = group["row"].to_numpy()
        user_stamps = group["ts"].to_numpy()
        user_id = str(user) or None
        for start in range(0, len(user_rows), max_size):
            chunk = _Chunk(
                user_id,
                user_rows[start : start + max_size],
                user_stamps[start : start + max_size],
            )
            (full if len(chunk.rows) == max_size else leftovers).append(chunk)

    span = int(np.timedelta64(max_mixed_span).astype(f"timedelta64[{unit}]").astype("int64"))
    packed = _pack(leftovers, max_size, span)
    chunks = sorted(full + packed, key=lambda c: (c.first_stamp, int(min(c.rows))))

    def instant(value: int) -> datetime:
        return _to_utc(pd.Timestamp(value, unit=unit))

    return [
        PlannedBatch(
            batch_no=number,
            source_rows=tuple(int(r) for r in _as_list(chunk.rows)),
            user_id=chunk.user_id,
            window_from=instant(chunk.first_stamp),
            window_to=instant(chunk.last_stamp),
        )
        for number, chunk in enumerate(chunks, start=1)
    ]


def _as_list(values: Sequence[int]) -> list[int]:
    """Plain ints (a numpy slice's ``tolist``)."""
    tolist = getattr(values, "tolist", None)
    return list(tolist()) if tolist is not None else list(values)


def _pack(chunks: list[_Chunk], max_size: int, max_span: int) -> list[_Chunk]:
    """Greedily merge small chunks (each a single user's, in time order) by window start;
    ``max_span`` is in the stamps' unit."""
    # leftovers are shorter than a batch: plain lists from here on
    lists = [_Chunk(c.user_id, _as_list(c.rows), _as_list(c.stamps)) for c in chunks]
    ordered = sorted(lists, key=lambda c: (c.stamps[0], c.user_id or "", c.rows[0]))
    packed: list[_Chunk] = []
    current: _Chunk | None = None
    for chunk in ordered:
        if current is not None:
            fits = len(current.rows) + len(chunk.rows) <= max_size
            span = max(max(current.stamps), chunk.stamps[-1]) - min(current.stamps)
            if fits and span <= max_span:
                same_user = current.user_id == chunk.user_id
                current = _Chunk(
                    current.user_id if same_user else None,
                    [*current.rows, *chunk.rows],
                    [*current.stamps, *chunk.stamps],
                )
                continue
            packed.append(current)
        current = _Chunk(chunk.user_id, _as_list(chunk.rows), _as_list(chunk.stamps))
    if current is not None:
        packed.append(current)
    return packed


def split_in_half(
    batch: PlannedBatch,
    first_batch_no: int,
    timestamps: Mapping[int, Any] | pd.Series | None = None,
) -> tuple[PlannedBatch, PlannedBatch]:
    """Split a batch of at least two rows into two halves (for bisecting a refused batch),
    numbered ``first_batch_no`` and ``first_batch_no + 1``, with ``parent`` set.

    With ``timestamps`` (``source_row -> timestamp``) each half gets its own tight window;
    without, both keep the parent's window (still correct, only wider)."""
    if len(batch.source_rows) < 2:
        raise ValueError(f"batch {batch.batch_no} has one row and cannot be split")
    middle = len(batch.source_rows) // 2
    halves = (batch.source_rows[:middle], batch.source_rows[middle:])
    result = []
    for offset, rows in enumerate(halves):
        if timestamps is not None:
            stamps = [_to_utc(timestamps[r]) for r in rows]
            window_from, window_to = min(stamps), max(stamps)
        else:
            window_from, window_to = batch.window_from, batch.window_to
        result.append(
            replace(
                batch,
                batch_no=first_batch_no + offset,
                source_rows=rows,
                window_from=window_from,
                window_to=window_to,
                parent=batch.batch_no,
            )
        )
    return result[0], result[1]


def read_back_window(batch: PlannedBatch) -> tuple[datetime, datetime]:
    """The ``($fromTimestamp, $toTimestamp)`` to read a batch back: the window widened by 1 s
    on both sides, because the API's filters are strict (API §1.6)."""
    from timetracker_import.core.worklog import query_bounds

    return query_bounds(batch.window_from, batch.window_to)
