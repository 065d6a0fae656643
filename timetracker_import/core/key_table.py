"""The natural keys of many rows, 24 bytes a row: a 16-byte digest of each row's
``WorklogKey`` (``core.worklog_key``) next to its row number, in two numpy arrays.

A million-row import kept every key as a tuple of strings (~260 bytes a row) for the whole
run, to compare rows with the worklogs already on the server and with each other. Equal keys
have equal digests; a different key has the same digest with a probability of 2**-128, far
below anything a file of rows can meet. A server worklog's key is digested the same way
(``key_digest``) before it is compared.

``KeyTable`` is a ``Mapping[int, bytes]`` (row -> digest), so ``core.dedupe``'s
``find_in_file_duplicates`` and ``match_existing`` take it as they take a dict of keys;
``duplicates`` and ``match`` do the same work column-wise.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from timetracker_import.core.worklog_key import WorklogKey, keys_from_frame

if TYPE_CHECKING:
    import pandas as pd

#: rows whose keys are built at once (their tuples live only while they are digested)
CHUNK_ROWS = 10_000
_DIGEST = np.dtype("V16")


def key_digest(key: WorklogKey) -> bytes:
    """16 bytes that stand for ``key``. The text is unambiguous: the user id comes with its
    length, the time stamp, length and work item hold no ``|``, the comment is the rest."""
    user, stamp, length, item, comment = key
    text = f"{len(user)}:{user}|{stamp}|{length}|{'-' if item is None else item}|{comment}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class KeyTable(Mapping[int, bytes]):
    """Row -> digest of its natural key, for the rows that have one (a row without a user
    id has none, as in ``keys_from_frame``)."""

    def __init__(self, rows: np.ndarray, digests: np.ndarray) -> None:
        order = np.argsort(rows, kind="stable")
        self._rows = np.ascontiguousarray(rows[order], dtype=np.int64)
        self._digests = np.ascontiguousarray(digests[order])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, user_ids: pd.Series) -> KeyTable:
        """The keys of a canonical frame's rows (``keys_from_frame``), built a chunk at a
        time so that only one chunk's tuples exist at once."""
        rows: list[np.ndarray] = []
        digests: list[np.ndarray] = []
        aligned = user_ids.reindex(frame.index)  # once: each chunk's reindex is then trivial
        for start in range(0, len(frame), CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            keys = keys_from_frame(frame.iloc[part], aligned.iloc[part])
            rows.append(np.fromiter(keys.keys(), dtype=np.int64, count=len(keys)))
            digests.append(
                np.frombuffer(b"".join(key_digest(k) for k in keys.values()), dtype=_DIGEST)
            )
        if not rows:
            return cls(np.array([], dtype=np.int64), np.array([], dtype=_DIGEST))
        return cls(np.concatenate(rows), np.concatenate(digests))

    # -- the Mapping -----------------------------------------------------------------------

    def _at(self, row: object) -> int:
        if not isinstance(row, (int, np.integer)):
            return -1
        at = int(self._rows.searchsorted(int(row)))
        return at if at < len(self._rows) and int(self._rows[at]) == row else -1

    def __getitem__(self, row: int) -> bytes:
        at = self._at(row)
        if at < 0:
            raise KeyError(row)
        return bytes(self._digests[at])

    def __contains__(self, row: object) -> bool:
        return self._at(row) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows.tolist())

    def __len__(self) -> int:
        return len(self._rows)

    # -- column-wise -----------------------------------------------------------------------

    def subset(self, rows: Iterable[int] | np.ndarray) -> KeyTable:
        """The table of those of ``rows`` that have a key."""
        wanted = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
        keep = np.isin(self._rows, wanted)
        return KeyTable(self._rows[keep], self._digests[keep])

    def duplicates(self) -> dict[int, int]:
        """``core.dedupe.find_in_file_duplicates``: rows whose key equals an earlier row's,
        ``{row: first row with that key}``."""
        if len(self._rows) < 2:
            return {}
        # rows are ascending: a stable sort by digest keeps each group's first row first
        order = np.argsort(self._digests.view("S16"), kind="stable")
        ranked = self._digests[order]
        same = np.zeros(len(order), dtype=bool)
        same[1:] = ranked[1:] == ranked[:-1]
        if not same.any():
            return {}
        group_start = np.maximum.accumulate(np.where(~same, np.arange(len(order)), 0))
        first = self._rows[order[group_start]]
        rows = self._rows[order]
        return dict(sorted(zip(rows[same].tolist(), first[same].tolist(), strict=True)))

    def match(
        self, existing: Iterable[tuple[str, WorklogKey]], rows: Iterable[int] | None = None
    ) -> dict[int, str]:
        """``core.dedupe.match_existing`` of this table's rows (or of ``rows`` among them)
        with the worklogs ``existing``: each worklog claims at most one row, lowest row
        first, worklogs in the order given."""
        pool: dict[bytes, deque[str]] = defaultdict(deque)
        seen: set[str] = set()
        for worklog_id, key in existing:
            if worklog_id in seen:
                continue
            seen.add(worklog_id)
            pool[key_digest(key)].append(worklog_id)
        if not pool:
            return {}
        table = self if rows is None else self.subset(rows)
        wanted = np.frombuffer(b"".join(pool), dtype=_DIGEST)
        hits = np.flatnonzero(np.isin(table._digests.view("S16"), wanted.view("S16")))
        matched: dict[int, str] = {}
        for at in hits.tolist():  # ascending rows
            candidates = pool.get(bytes(table._digests[at]))
            if candidates:
                matched[int(table._rows[at])] = candidates.popleft()
        return matched
