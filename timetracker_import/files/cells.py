"""What every reader shares about cells: Excel column letters, empty and blank rows, header
texts, and sizing a table from its first rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from timetracker_import.errors import InputError

_WIDTH_SAMPLE_ROWS = 1000  # rows looked at to size a table without header


def column_letter(index: int) -> str:
    """Excel column letters for a 0-based column index: 0 -> "A", 25 -> "Z", 26 -> "AA"."""
    if index < 0:
        raise ValueError(f"column index must be >= 0, got {index}")
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def letter_index(letters: str) -> int:
    """0-based column index of Excel column letters (case-insensitive): "A" -> 0, "AA" -> 26."""
    text = letters.strip().upper()
    if not text or not text.isascii() or not text.isalpha():
        raise ValueError(f"not a column letter: {letters!r}")
    n = 0
    for ch in text:
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n - 1


def make_headers(first: list[Any] | None, width: int, has_header: bool) -> list[str]:
    if not has_header:
        return [column_letter(i) for i in range(width)]
    assert first is not None
    return [header_text(v) for v in first[:width]]


def header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_blank(cells: Sequence[Any]) -> bool:
    return all(is_empty(c) for c in cells)


def last_filled(cells: Sequence[Any]) -> int:
    """Number of cells up to and including the last non-empty one."""
    for pos in range(len(cells) - 1, -1, -1):
        if not is_empty(cells[pos]):
            return pos + 1
    return 0


def sized(
    path: Path, rows: Iterable[tuple[int, list[Any]]], has_header: bool
) -> tuple[list[Any] | None, int]:
    """The header row (or None) and the table width, from the first non-blank rows."""
    width = 0
    seen = 0
    for _number, cells in rows:
        if is_blank(cells):
            continue
        if has_header:
            return cells, last_filled(cells)
        width = max(width, last_filled(cells))
        seen += 1
        if seen >= _WIDTH_SAMPLE_ROWS:
            break
    if has_header or width == 0:
        raise InputError(f"{path.name} holds no data (every row is empty)", path=str(path))
    return None, width
