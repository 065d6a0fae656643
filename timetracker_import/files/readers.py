"""Stage 1: read a CSV, XLSX or XLS file into a :class:`RawTable` of untyped cells.

The contract (``docs/architecture.md``, "Stage 1: reading"):

* ``open_table(path, ...)`` looks at the file (format, encoding, delimiter, header row) and
  returns a :class:`RawTable` without loading the data;
* ``RawTable.chunks(size)`` streams ``DataFrame`` chunks whose columns are the integer
  positions ``0..len(headers)-1`` and whose index (named ``source_row``) is the row number a
  person sees in Excel or an editor: header row = 1, first data row = 2 (1 without a header).

Decisions where the contract is silent:

* CSV ``source_row`` is the *physical line where a record starts*. A quoted field with
  embedded newlines spans several lines; the next record's number jumps accordingly, exactly
  as an editor's line numbers do.
* CSV cells are ``str`` (never stripped: values are the mapping's business), ``None`` when
  empty. Header cells are stripped of surrounding whitespace.
* CSV data is parsed by pandas' C parser while that provably gives the same rows (no line
  break inside a cell, everything decodes, no stray cell beyond the width); otherwise the
  precise row-by-row reader takes over from the top, so numbers and errors never differ.
* A row counts as blank (and is skipped) when every cell is empty or only whitespace.
* The table is as wide as its header row (trailing empty header cells are trimmed). Without a
  header it is as wide as the widest of the first rows looked at. A later row with a
  non-empty cell beyond that width raises ``InputError`` naming the row and column, instead
  of silently losing the value; shorter rows are padded with ``None``.
* XLSX formulas give their cached value (``data_only=True``); a formula the file holds no
  cached value for (e.g. written by a library, never opened in Excel) reads as ``None``.
* Excel dates: a date or date-time cell reads as ``datetime.datetime`` (openpyxl does not
  tell a date from a midnight date-time); a cell below one day with a time format
  (``h:mm``) reads as ``datetime.time``; a cell with an elapsed-time format (``[h]:mm``,
  ``[mm]:ss`` ...) reads as ``datetime.timedelta``. XLS follows the same rules.
* ``sheet=`` accepts a sheet *name*, or a *1-based* position as ``int`` or digit string
  ("2" = the second sheet). A sheet whose name is exactly the given text wins over the
  position. The default is the first worksheet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import InputError
from timetracker_import.files.cells import column_letter, is_blank, is_empty, letter_index
from timetracker_import.files.readers_csv import (
    CSV_DELIMITERS,
    FastCsv,
    csv_cells,
    csv_records,
    open_csv,
)
from timetracker_import.files.readers_excel import (
    MAX_XLSX_COMPRESSION_RATIO,
    MAX_XLSX_PART_BYTES,
    MAX_XLSX_ROWS,
    MAX_XLSX_SHARED_STRINGS,
    MAX_XLSX_SHARED_STRINGS_BYTES,
    MAX_XLSX_UNCOMPRESSED_BYTES,
    XLSX_RATIO_MIN_MEMBER_BYTES,
    check_zip_safety,
    excel_cells,
    open_excel,
    xls_rows,
    xlsx_rows,
)

if TYPE_CHECKING:
    import pandas

__all__ = [
    "CSV_DELIMITERS",
    "MAX_XLSX_COMPRESSION_RATIO",
    "MAX_XLSX_PART_BYTES",
    "MAX_XLSX_ROWS",
    "MAX_XLSX_SHARED_STRINGS",
    "MAX_XLSX_SHARED_STRINGS_BYTES",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "XLSX_RATIO_MIN_MEMBER_BYTES",
    "RawTable",
    "check_zip_safety",
    "column_letter",
    "letter_index",
    "open_table",
]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
#: cells in one chunk at most (rows x width), whatever the chunk size asked for
MAX_CHUNK_CELLS = 2_000_000
XLS_SUFFIXES = frozenset({".xls"})


# --------------------------------------------------------------------------- the table


@dataclass
class RawTable:
    """A readable table: what :func:`open_table` found out, plus a way to stream the rows."""

    path: Path
    format: str  # "csv" | "xlsx" | "xls"
    headers: list[str]
    has_header: bool
    encoding: str | None = None  # csv only: the encoding actually used
    delimiter: str | None = None  # csv only
    sheet: str | None = None  # excel only: the sheet read
    _width: int = field(default=0, repr=False)
    _sheet_index: int = field(default=0, repr=False)

    def chunks(self, size: int = 50_000) -> Iterator[pandas.DataFrame]:
        """Stream the data rows as DataFrames of at most ``size`` rows.

        Columns are the integer positions ``0..len(headers)-1``, the index is ``source_row``;
        every call starts again from the top of the file. Only one chunk is held in memory.
        """
        if size < 1:
            raise ValueError(f"chunk size must be >= 1, got {size}")
        # a wide table gets shorter chunks: cells, not rows, are what a chunk costs (a header
        # with a value in column XFD would make 50,000-row chunks of 800 million cells)
        size = max(1, min(size, MAX_CHUNK_CELLS // max(1, self._width)))
        if self.format == "csv":
            yield from self._csv_chunks(size)
        else:
            yield from self._python_chunks(size)

    def read_all(self) -> pandas.DataFrame:
        """All rows as one DataFrame (for small files and tests); prefer :meth:`chunks`."""
        import pandas as pd

        frames = list(self.chunks())
        if not frames:
            return self._frame([], [])
        return pd.concat(frames) if len(frames) > 1 else frames[0]

    # -- internals

    def _csv_chunks(self, size: int) -> Iterator[pandas.DataFrame]:
        """pandas' C parser while it is provably equivalent, else the precise reader.

        The fast path only yields chunks it has checked (no line break inside a cell, no
        stray cell beyond the width, everything decoded); on the first doubt the precise
        reader starts again from the top of the file and continues after the last row
        already yielded, so rows, numbers, chunk boundaries and errors are exactly its own.
        """
        fast = FastCsv(self)
        yield from fast.chunks(size)
        if fast.fell_back:
            yield from self._python_chunks(size, after=fast.last_row)

    def _python_chunks(self, size: int, after: int = 0) -> Iterator[pandas.DataFrame]:
        """Chunks from the precise row-by-row reader, rows numbered ``<= after`` left out."""
        rows: list[list[Any]] = []
        numbers: list[int] = []
        for number, cells in self._data_rows():
            if number <= after:
                continue
            rows.append(cells)
            numbers.append(number)
            if len(rows) >= size:
                yield self._frame(numbers, rows)
                rows, numbers = [], []
        if rows:
            yield self._frame(numbers, rows)

    def _frame(self, numbers: list[int], rows: list[list[Any]]) -> pandas.DataFrame:
        import pandas as pd

        index = pd.Index(numbers, dtype="int64", name="source_row")
        frame = pd.DataFrame(rows, index=index, columns=range(self._width), dtype=object)
        return frame

    def _data_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(source_row, cells) for every non-blank data row, cells padded to the width."""
        raw: Iterator[tuple[int, Sequence[Any]]]
        cells_of: Callable[[Sequence[Any]], list[Any]]
        if self.format == "csv":
            raw = csv_records(self.path, self.encoding or "utf-8", self.delimiter or ",")
            cells_of = csv_cells
        elif self.format == "xlsx":
            raw = xlsx_rows(self.path, self._sheet_index)
            cells_of = excel_cells
        else:
            raw = xls_rows(self.path, self._sheet_index)
            cells_of = excel_cells
        skip_header = self.has_header
        for number, values in raw:
            cells = cells_of(values)
            if is_blank(cells):
                continue
            if skip_header:
                skip_header = False
                continue
            yield number, self._fit(number, cells)

    def _fit(self, number: int, cells: list[Any]) -> list[Any]:
        width = self._width
        if len(cells) < width:
            return cells + [None] * (width - len(cells))
        if len(cells) > width:
            for pos in range(width, len(cells)):
                if not is_empty(cells[pos]):
                    last = column_letter(width - 1) if width else "none"
                    raise InputError(
                        f"{self.path.name}: row {number} has a value in column "
                        f"{column_letter(pos)} beyond the last column ({last})",
                        path=str(self.path),
                        row=number,
                        column=column_letter(pos),
                        hint="give that column a header, or clear the stray cell",
                    )
            return cells[:width]
        return cells


def open_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    has_header: bool = True,
) -> RawTable:
    """Open a CSV/TSV/TXT, XLSX or XLS file as a :class:`RawTable` (rows are read lazily).

    ``encoding`` and ``delimiter`` override detection for text files (BOM, else strict
    UTF-8; delimiter sniffed among ``,`` ``;`` TAB ``|``). ``sheet`` picks an Excel sheet by
    name or 1-based position (int or digit string). ``has_header=False`` names the columns
    "A", "B", ... and numbers the first data row 1. Raises ``InputError`` for a missing,
    empty, undecodable or unsupported file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}", path=str(p), hint="check the path and name")
    if p.is_dir():
        raise InputError(f"{p} is a directory, not a file", path=str(p))
    if p.stat().st_size == 0:
        raise InputError(f"{p.name} is empty", path=str(p), hint="export the data again")
    suffix = p.suffix.lower()
    if suffix in CSV_SUFFIXES:
        text = open_csv(p, encoding, delimiter, has_header)
        return RawTable(
            path=p,
            format="csv",
            headers=text.headers,
            has_header=has_header,
            encoding=text.encoding,
            delimiter=text.delimiter,
            _width=text.width,
        )
    if suffix in XLSX_SUFFIXES or suffix in XLS_SUFFIXES:
        fmt = "xlsx" if suffix in XLSX_SUFFIXES else "xls"
        book = open_excel(p, fmt, sheet, has_header)
        return RawTable(
            path=p,
            format=fmt,
            headers=book.headers,
            has_header=has_header,
            sheet=book.sheet,
            _width=book.width,
            _sheet_index=book.sheet_index,
        )
    raise InputError(
        f"{p.name}: unsupported file type {suffix or '(none)'!r}",
        path=str(p),
        hint="use .csv, .tsv, .txt, .xlsx or .xls",
    )
