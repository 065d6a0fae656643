"""Duplicate detection on the natural key (``core.worklog_key``).

Both functions are deterministic: rows are taken lowest ``source_row`` first, existing
worklogs in the order given (callers pass them oldest first; ``existing_from_worklogs`` does).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from timetracker_import.core.worklog_key import WorklogKey, key_from_worklog


def find_in_file_duplicates(keys: Mapping[int, WorklogKey]) -> dict[int, int]:
    """Rows whose key equals the key of an earlier row: ``{row: first_row_with_that_key}``.

    The first row of each key is not in the result."""
    first: dict[WorklogKey, int] = {}
    duplicates: dict[int, int] = {}
    for row in sorted(keys):
        key = keys[row]
        if key in first:
            duplicates[row] = first[key]
        else:
            first[key] = row
    return duplicates


def match_existing(
    rows_keys: Mapping[int, WorklogKey], existing: Iterable[tuple[str, WorklogKey]]
) -> dict[int, str]:
    """Match file rows to existing worklogs with the same key: ``{source_row: worklog_id}``.

    A multiset match: each existing worklog claims at most one row, so two identical rows and
    one identical worklog give one match (the lower row), and the other row is still posted.
    Lowest ``source_row`` first, existing worklogs in the order given (oldest first).
    """
    pool: dict[WorklogKey, deque[str]] = defaultdict(deque)
    seen: set[str] = set()
    for worklog_id, key in existing:
        if worklog_id in seen:  # the same worklog read twice (overlapping pages) counts once
            continue
        seen.add(worklog_id)
        pool[key].append(worklog_id)
    matched: dict[int, str] = {}
    for row in sorted(rows_keys):
        candidates = pool.get(rows_keys[row])
        if candidates:
            matched[row] = candidates.popleft()
    return matched


def existing_from_worklogs(
    worklogs: Iterable[Mapping[str, Any]], *, naive_offset_minutes: int = 0
) -> list[tuple[str, WorklogKey]]:
    """``(id, key)`` of server worklogs, oldest first (``createdTimestamp``, then ``id``), ready
    for ``match_existing``. Worklogs without an id are left out."""
    items = [w for w in worklogs if w.get("id")]
    items.sort(key=lambda w: (str(w.get("createdTimestamp") or ""), str(w["id"])))
    return [
        (str(w["id"]), key_from_worklog(w, naive_offset_minutes=naive_offset_minutes))
        for w in items
    ]
