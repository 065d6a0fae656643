"""A set of row numbers in one byte per row of the file: the rows of a large import still to
send (a Python ``set`` of a million ints held ~90 bytes a row for the whole run)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from typing import Any

import numpy as np


class RowSet(MutableSet[int]):
    """A mutable set of non-negative ints (source rows): a ``bytearray`` indexed by the row
    number (a membership test is one index, about as fast as a ``set``'s). Iterates in
    ascending order."""

    def __init__(self, rows: Iterable[int] | np.ndarray = ()) -> None:
        wanted = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
        if len(wanted) and int(wanted.min()) < 0:
            raise ValueError("a RowSet holds row numbers (>= 0)")
        bits = np.zeros(int(wanted.max()) + 1 if len(wanted) else 0, dtype=np.uint8)
        bits[wanted] = 1
        self._bits = bytearray(bits.tobytes())
        self._len = int(np.count_nonzero(bits))

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> RowSet:  # type: ignore[override]
        return cls(it)

    def __contains__(self, row: object) -> bool:
        if type(row) is not int:
            if not isinstance(row, (int, np.integer)) or isinstance(row, bool):
                return False
            row = int(row)
        return 0 <= row < len(self._bits) and self._bits[row] == 1

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(np.frombuffer(self._bits, dtype=np.uint8)).tolist())

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"RowSet({len(self)} rows)"

    def add(self, row: int) -> None:
        if row < 0:
            raise ValueError("a RowSet holds row numbers (>= 0)")
        if row >= len(self._bits):
            self._bits.extend(bytes(max(row + 1, 2 * len(self._bits)) - len(self._bits)))
        if not self._bits[row]:
            self._bits[row] = 1
            self._len += 1

    def discard(self, row: int) -> None:
        if row in self:
            self._bits[row] = 0
            self._len -= 1
