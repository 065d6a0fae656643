"""A set of row numbers in one byte per row of the file: the rows of a large import still to
send (a Python ``set`` of a million ints held ~90 bytes a row for the whole run)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from typing import Any

import numpy as np


class RowSet(MutableSet[int]):
    """A mutable set of non-negative ints (source rows) over a boolean array indexed by the
    row number. Iterates in ascending order."""

    def __init__(self, rows: Iterable[int] | np.ndarray = ()) -> None:
        wanted = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
        if len(wanted) and int(wanted.min()) < 0:
            raise ValueError("a RowSet holds row numbers (>= 0)")
        self._bits = np.zeros(int(wanted.max()) + 1 if len(wanted) else 0, dtype=bool)
        self._bits[wanted] = True
        self._len = int(np.count_nonzero(self._bits))

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> RowSet:  # type: ignore[override]
        return cls(it)

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, (int, np.integer)) or isinstance(row, bool):
            return False
        return bool(0 <= row < len(self._bits) and self._bits[row])

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(self._bits).tolist())

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"RowSet({len(self)} rows)"

    def add(self, row: int) -> None:
        if row < 0:
            raise ValueError("a RowSet holds row numbers (>= 0)")
        if row >= len(self._bits):
            grown = np.zeros(max(row + 1, 2 * len(self._bits)), dtype=bool)
            grown[: len(self._bits)] = self._bits
            self._bits = grown
        if not self._bits[row]:
            self._bits[row] = True
            self._len += 1

    def discard(self, row: int) -> None:
        if row in self:
            self._bits[row] = False
            self._len -= 1

    def difference_update(self, rows: Iterable[int]) -> None:
        """``set.difference_update``: drop every row of ``rows``."""
        for row in rows:
            self.discard(row)
