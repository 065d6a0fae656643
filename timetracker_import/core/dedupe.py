"""Duplicate detection: on the natural key (``core.worklog_key``) against the server, rows
of one file that repeat an earlier row (``in_file_repeats``, ``--on-duplicate``), and rows
that share an entry id (``duplicate_keys``: the mapping's ``key`` and ``on_duplicate_key``,
e.g. BambooHR's Time Entry ID, where a later row corrects an earlier one).

Both functions are deterministic: rows are taken lowest ``source_row`` first, existing
worklogs in the order given (callers pass them oldest first; ``existing_from_worklogs`` does).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from timetracker_import.core.rejections import Rejection
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


def same_start_worklogs(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    existing: Iterable[tuple[str, WorklogKey]],
    *,
    taken: Iterable[str] = (),
) -> dict[int, tuple[str, WorklogKey]]:
    """Rows of ``frame`` (canonical: ``timestamp`` in UTC; ``user_ids`` by row) that start at
    the second a worklog of the same user in ``existing`` starts, though they did not match
    it as identical: ``{row: (worklog id, its key)}``, lowest row first, each worklog given
    to one row. ``import`` adds such a row beside the worklog (it never changes one): the
    mark of a corrected row imported again. ``taken``: worklogs to leave out (matched as
    identical, or created by this run)."""
    skip = set(taken)
    by_start: dict[tuple[str, str], deque[tuple[str, WorklogKey]]] = defaultdict(deque)
    seen: set[str] = set()
    for worklog_id, key in existing:
        if worklog_id in skip or worklog_id in seen:
            continue
        seen.add(worklog_id)
        by_start[(key.user_id, key.timestamp_utc)].append((worklog_id, key))
    if not by_start or not len(frame):
        return {}
    starts = pd.to_datetime(frame["timestamp"], utc=True).dt.floor("s")
    wanted = pd.to_datetime(
        sorted({stamp for _, stamp in by_start}), utc=True, format="%Y-%m-%dT%H:%M:%SZ"
    )
    near = starts[starts.isin(wanted)].sort_index()  # a cheap first cut, lowest row first
    texts = near.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    users = user_ids.reindex(near.index).tolist()
    found: dict[int, tuple[str, WorklogKey]] = {}
    for row, user, stamp in zip(near.index.tolist(), users, texts, strict=True):
        if not isinstance(user, str) or not user:
            continue
        candidates = by_start.get((user.strip().lower(), stamp))
        if candidates:
            found[int(row)] = candidates.popleft()
    return found


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


# --------------------------------------------------------------------------- in-file copies

ON_DUPLICATE = ("skip", "allow", "fail")

#: The canonical fields two rows must share to be copies of one another: every field the
#: mapping produces, the user as written in the file (before server resolution) included.
IDENTITY_COLUMNS = (
    "user",
    "timestamp",
    "length_seconds",
    "billable_seconds",
    "work_item_id",
    "comment",
    "activity_type",
    "organization",
)

#: the column of a row's declared entry id (mapping ``key:``, ``sync --key``), when given
KEY_COLUMN = "_entry_key"


@dataclass(frozen=True)
class RepeatOutcome:
    """What ``--on-duplicate`` makes of the rows that repeat an earlier row of the file.

    ``repeats``: every later copy -> the first row it repeats (whatever the policy);
    ``skip``: the copies to leave out (``skip``); ``rejections``: one per copy (``fail``)."""

    repeats: dict[int, int]
    skip: dict[int, int]
    rejections: list[Rejection]


def repeat_reason(first_row: int) -> str:
    """The message for a copy of ``first_row`` (skipped rows' reason, and ``fail``'s)."""
    return f"repeats row {first_row} (identical in every field)"


class RepeatIndex:
    """Finds rows identical to an earlier row, over the chunks of one file.

    Rows are compared by a 64-bit hash of every ``IDENTITY_COLUMNS`` value; within one frame
    each match is then confirmed field by field (a hash collision never makes two different
    rows copies), across frames the hash stands for the row. Rows are taken lowest
    ``source_row`` first; the first of each set of copies is kept."""

    def __init__(self) -> None:
        self._hashes = np.array([], dtype=np.uint64)  # sorted
        self._rows = np.array([], dtype=np.int64)  # first row of each hash, aligned

    def add(self, frame: pd.DataFrame) -> dict[int, int]:
        """Copies among ``frame``'s rows (index = source_row) of rows seen so far:
        ``{row: first_row}``."""
        if frame.empty:
            return {}
        # a declared entry id (``KEY_COLUMN``) is part of a row's identity: two rows with
        # their own ids are two entries, however alike
        identity = list(IDENTITY_COLUMNS) + ([KEY_COLUMN] if KEY_COLUMN in frame.columns else [])
        part = frame.loc[:, identity].sort_index()
        rows = part.index.to_numpy(dtype=np.int64)
        hashes = pd.util.hash_pandas_object(part, index=False).to_numpy(dtype=np.uint64)
        codes, _ = pd.factorize(hashes)
        # factorize numbers hashes in order of first appearance: first position per code
        _, first_at = np.unique(codes, return_index=True)
        first_pos = first_at[codes]
        later = np.flatnonzero(first_pos != np.arange(len(codes)))
        if len(later):
            later = later[_same_rows(part, later, first_pos[later])]
        out = {int(rows[p]): int(rows[first_pos[p]]) for p in later}
        # each hash's first row against the rows of earlier frames
        firsts = first_at
        first_hashes = hashes[firsts]
        seen = np.zeros(len(firsts), dtype=bool)
        if len(self._hashes):
            at = np.searchsorted(self._hashes, first_hashes)
            inside = at < len(self._hashes)
            seen[inside] = self._hashes[at[inside]] == first_hashes[inside]
            earlier = {int(rows[firsts[i]]): int(self._rows[at[i]]) for i in np.flatnonzero(seen)}
            if earlier:
                for row, first in list(out.items()):  # copies of a copy: the file's first
                    out[row] = earlier.get(first, first)
                out.update(earlier)
        merged_h = np.concatenate([self._hashes, first_hashes[~seen]])
        merged_r = np.concatenate([self._rows, rows[firsts][~seen]])
        order = np.argsort(merged_h, kind="stable")
        self._hashes, self._rows = merged_h[order], merged_r[order]
        return dict(sorted(out.items()))


def _same_rows(part: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Field-by-field equality of the rows at positions ``left`` and ``right`` (empty equals
    empty): the confirmation of a hash match."""
    same = np.ones(len(left), dtype=bool)
    for column in part.columns:
        a = part[column].iloc[left].reset_index(drop=True)
        b = part[column].iloc[right].reset_index(drop=True)
        both_empty = (a.isna() & b.isna()).to_numpy(dtype=bool)
        equal = a.eq(b).fillna(False).to_numpy(dtype=bool)
        same &= equal | both_empty
    return same


def duplicate_policy(given: str | None, mapping: str | None) -> str:
    """What identical rows get: the command's ``--on-duplicate`` (``given``), else the
    mapping's ``on_duplicate``, else ``skip``. ValueError for another word."""
    policy = given or mapping or "skip"
    if policy not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
    return policy


def in_file_repeats(
    frame: pd.DataFrame, policy: str = "skip", *, index: RepeatIndex | None = None
) -> RepeatOutcome:
    """Rows of the canonical ``frame`` identical (``IDENTITY_COLUMNS``) to an earlier row,
    and what ``policy`` (``skip`` | ``allow`` | ``fail``) makes of them. ``index``: the
    running index when a file comes in chunks (one per file); None for a whole frame."""
    if policy not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
    repeats = (index or RepeatIndex()).add(frame)
    if policy == "skip":
        return RepeatOutcome(repeats, dict(repeats), [])
    if policy == "fail":
        rejections = [
            Rejection(
                row,
                "duplicate",
                None,
                None,
                repeat_reason(first) + "; remove one copy, or use --on-duplicate skip or allow",
            )
            for row, first in repeats.items()
        ]
        return RepeatOutcome(repeats, {}, rejections)
    return RepeatOutcome(repeats, {}, [])


# --------------------------------------------------------------------------- entry keys

ON_DUPLICATE_KEY = ("reject", "last")


def cell_text(value: Any) -> str:
    """A key cell as text: stripped; an Excel number 123.0 is "123"; empty is ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def column_keys(
    cells: Mapping[int, Sequence[Any]], headers: Sequence[str]
) -> tuple[dict[int, str], list[Rejection]]:
    """``{source_row: key}`` from the key columns' cells of each row (``headers``: their
    original names). A row with an empty key cell is rejected, naming the column."""
    keys: dict[int, str] = {}
    rejections: list[Rejection] = []
    for row in sorted(cells):
        texts = [cell_text(v) for v in cells[row]]
        empty = [h for h, t in zip(headers, texts, strict=True) if not t]
        if empty:
            rejections.append(
                Rejection(
                    row,
                    "validate",
                    empty[0],
                    None,
                    f"the key column {empty[0]!r} is empty; sync needs a key to know which "
                    "worklog this row is",
                )
            )
            continue
        keys[row] = texts[0] if len(texts) == 1 else json.dumps(texts, ensure_ascii=False)
    return keys, rejections


def duplicate_keys(
    keys: Mapping[int, str], policy: str = "reject", owners: Mapping[int, str] | None = None
) -> tuple[dict[int, str], list[Rejection], dict[int, int]]:
    """Rows sharing a key. ``reject``: every row of such a key is rejected, its reason naming
    the others. ``last``: the last row in file order keeps the key and the earlier ones are
    replaced by it - unless ``owners`` (row -> its user cell) names different users: one
    person's hours are no correction of another's (an id numbered per employee), so those
    rows are rejected. Returns (keys kept, rejections, ``{replaced_row: replacing_row}``)."""
    if policy not in ON_DUPLICATE_KEY:
        raise ValueError(f"unknown duplicate-key policy {policy!r}")
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row in sorted(keys):
        rows_of[keys[row]].append(row)
    kept: dict[int, str] = {}
    rejections: list[Rejection] = []
    replaced: dict[int, int] = {}
    owner_of = {r: cell_text(u).casefold() for r, u in (owners or {}).items()}
    for key, rows in rows_of.items():
        users = {owner_of.get(r, "") for r in rows}
        if len(rows) == 1:
            kept[rows[0]] = key
            continue
        if policy == "last" and len(users) == 1:
            kept[rows[-1]] = key
            replaced.update(dict.fromkeys(rows[:-1], rows[-1]))
            continue
        why = (
            "of another user; a correction keeps its user, so the last row does not replace "
            "the others: give each entry its own id"
            if policy == "last"
            else "a key must identify one entry: fix the file, or keep the last row as a "
            "correction (`on_duplicate_key: last` in the mapping; sync: --on-duplicate-key "
            "last)"
        )
        for row in rows:
            others = ", ".join(str(r) for r in rows if r != row)
            sep = ", " if policy == "last" else "; "
            rejections.append(
                Rejection(
                    row, "duplicate", None, key, f"key {key!r} is also on row(s) {others}{sep}{why}"
                )
            )
    return kept, rejections, replaced


def replaced_reason(by_row: int, key: str) -> str:
    """Why a row that a later row with the same entry key replaced is skipped."""
    return f"replaced by row {by_row}, a later row with the same key {key!r} (a correction)"
