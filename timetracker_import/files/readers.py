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

import codecs
import csv
import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import InputError

if TYPE_CHECKING:
    import pandas

__all__ = [
    "CSV_DELIMITERS",
    "RawTable",
    "check_zip_safety",
    "column_letter",
    "letter_index",
    "open_table",
]

CSV_DELIMITERS = (",", ";", "\t", "|")
CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
XLS_SUFFIXES = frozenset({".xls"})

# Hostile-XLSX guards, checked on the zip directory before openpyxl touches the file.
MAX_XLSX_UNCOMPRESSED_BYTES = 1 << 30  # 1 GiB in total
MAX_XLSX_COMPRESSION_RATIO = 200  # per member, once the member is big enough to matter
XLSX_RATIO_MIN_MEMBER_BYTES = 16 << 20

_READ_BLOCK = 1 << 20  # bytes decoded per step when streaming a CSV
_SNIFF_LINES = 50
_SNIFF_CHARS = 256 << 10
_WIDTH_SAMPLE_ROWS = 1000  # rows looked at to size a table without header
_ENCODING_HINT = "if the file was saved by Excel on Windows, try --encoding cp1252"
_DURATION_FORMAT = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)
_NEWLINE = re.compile(r"\r\n|\r|\n")


# --------------------------------------------------------------------------- column letters


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
        fast = _FastCsv(self)
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
            raw = _csv_records(self.path, self.encoding or "utf-8", self.delimiter or ",")
            cells_of = _csv_cells
        elif self.format == "xlsx":
            raw = _xlsx_rows(self.path, self._sheet_index)
            cells_of = _excel_cells
        else:
            raw = _xls_rows(self.path, self._sheet_index)
            cells_of = _excel_cells
        skip_header = self.has_header
        for number, values in raw:
            cells = cells_of(values)
            if _is_blank(cells):
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
                if not _is_empty(cells[pos]):
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


# --------------------------------------------------------------------------- entry point


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
        table = _open_csv(p, encoding, delimiter, has_header)
    elif suffix in XLSX_SUFFIXES:
        table = _open_excel(p, "xlsx", sheet, has_header)
    elif suffix in XLS_SUFFIXES:
        table = _open_excel(p, "xls", sheet, has_header)
    else:
        raise InputError(
            f"{p.name}: unsupported file type {suffix or '(none)'!r}",
            path=str(p),
            hint="use .csv, .tsv, .txt, .xlsx or .xls",
        )
    return table


def _make_headers(first: list[Any] | None, width: int, has_header: bool) -> list[str]:
    if not has_header:
        return [column_letter(i) for i in range(width)]
    assert first is not None
    return [_header_text(v) for v in first[:width]]


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_blank(cells: Sequence[Any]) -> bool:
    return all(_is_empty(c) for c in cells)


def _last_filled(cells: Sequence[Any]) -> int:
    """Number of cells up to and including the last non-empty one."""
    for pos in range(len(cells) - 1, -1, -1):
        if not _is_empty(cells[pos]):
            return pos + 1
    return 0


def _sized(
    path: Path, rows: Iterable[tuple[int, list[Any]]], has_header: bool
) -> tuple[list[Any] | None, int]:
    """The header row (or None) and the table width, from the first non-blank rows."""
    width = 0
    seen = 0
    for _number, cells in rows:
        if _is_blank(cells):
            continue
        if has_header:
            return cells, _last_filled(cells)
        width = max(width, _last_filled(cells))
        seen += 1
        if seen >= _WIDTH_SAMPLE_ROWS:
            break
    if has_header or width == 0:
        raise InputError(f"{path.name} holds no data (every row is empty)", path=str(path))
    return None, width


# --------------------------------------------------------------------------- CSV


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _detect_encoding(path: Path, encoding: str | None) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(
                f"unknown encoding {encoding!r}",
                path=str(path),
                hint="use a Python codec name such as utf-8, utf-16 or cp1252",
            ) from None
        # An explicit utf-8 still must not leak the BOM into the first header.
        if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        return name
    for bom, codec in _BOMS:  # UTF-32-LE before UTF-16-LE: its BOM starts with that one
        if head.startswith(bom):
            return "utf-8-sig" if codec == "utf-8" else codec
    return "utf-8"


_BOM_FAMILY = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16",
    "utf-16-be": "utf-16",
    "utf-32": "utf-32",
    "utf-32-le": "utf-32",
    "utf-32-be": "utf-32",
}


def _bom_split(path: Path, encoding: str) -> tuple[str, int]:
    """(codec to decode with, BOM bytes to skip) for ``encoding``.

    The BOM is skipped by hand and the BOM-less codec used, so that byte offsets in decode
    errors count from the start of the file (the -sig and generic utf-16/32 decoders eat
    the BOM and report positions relative to what follows).
    """
    family = _BOM_FAMILY.get(encoding)
    if family is None:
        return encoding, 0
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, codec in _BOMS:
        if head.startswith(bom) and _BOM_FAMILY[codec] == family:
            if codec == "utf-16-le" and head.startswith(codecs.BOM_UTF32_LE):
                continue
            return codec, len(bom)
    if encoding == "utf-8-sig":
        return "utf-8", 0
    return encoding, 0


def _decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    """Lines of the file (line ends kept), decoded strictly.

    Decoding by hand, block by block, lets an undecodable byte be reported with its line
    number and byte offset; ``open(..., errors="strict")`` would only say "position N" of
    some internal buffer.
    """
    codec, skip = _bom_split(path, encoding)
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    fed = skip  # bytes handed to the decoder so far (absolute offset of the next block)
    lines_done = 0  # line ends already emitted
    pending = ""
    first = True
    with path.open("rb") as fh:
        fh.seek(skip)
        while True:
            block = fh.read(_READ_BLOCK)
            final = not block
            buffered = _decoder_buffered(decoder)
            try:
                text = decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                error = _decode_error(
                    path, encoding, codec, exc, fed - buffered, pending, lines_done
                )
                raise error from None
            except UnicodeError as exc:
                # e.g. --encoding utf-16 on a file without a UTF-16 byte-order mark
                raise InputError(
                    f"{path.name}: cannot read the file as {encoding}: {exc}",
                    path=str(path),
                    hint="name the byte order (--encoding utf-16-le or utf-16-be), or leave "
                    "--encoding out to detect it from the byte-order mark",
                ) from None
            fed += len(block)
            if first and text:
                text = text.removeprefix("\ufeff")  # e.g. an explicit utf-16 with BOM
                first = False
            pending += text
            parts = _NEWLINE.split(pending)
            ends = _NEWLINE.findall(pending)
            # Keep the unterminated tail, and a lone "\r" that may be half of "\r\n".
            keep = parts[-1]
            complete = len(ends)
            if not final and ends and ends[-1] == "\r" and keep == "":
                complete -= 1
                keep = parts[-2] + "\r"
            for i in range(complete):
                yield parts[i] + ends[i]
            lines_done += complete
            pending = keep
            if final:
                if pending:
                    yield pending
                return


def _decoder_buffered(decoder: codecs.IncrementalDecoder) -> int:
    state = decoder.getstate()
    buf = state[0] if isinstance(state, tuple) else b""
    return len(buf) if isinstance(buf, bytes | bytearray) else 0


def _decode_error(
    path: Path,
    encoding: str,
    codec: str,
    exc: UnicodeDecodeError,
    data_start: int,
    pending: str,
    lines_done: int,
) -> InputError:
    """An InputError saying where the undecodable byte is (line number, byte offset)."""
    offset = data_start + exc.start
    good = exc.object[: exc.start]
    try:
        prefix = codecs.decode(good, codec, errors="replace")
    except LookupError:  # pragma: no cover - the codec was found before
        prefix = ""
    line = lines_done + len(_NEWLINE.findall(pending + prefix)) + 1
    bad = exc.object[exc.start : exc.end].hex(" ")
    return InputError(
        f"{path.name}: cannot decode byte(s) {bad} at line {line}, byte offset {offset} "
        f"as {encoding}",
        path=str(path),
        row=line,
        hint=_ENCODING_HINT,
    )


def _sniff_delimiter(lines: list[str], truncated: bool) -> str:
    """The candidate giving the same column count (> 1) on every sampled record."""
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last sampled line may end inside a quoted field
    best: tuple[int, int, str] | None = None  # (consistent?, columns, delimiter)
    for cand in CSV_DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=cand) if any(r)]
        except csv.Error:
            continue
        if not counts:
            continue
        modal = max(set(counts), key=counts.count)
        if modal <= 1:
            continue
        consistent = int(all(c == counts[0] for c in counts))
        score = (consistent, modal, cand)
        # Earlier candidates win ties, so "," beats ";" on a one-column-per-line toss-up.
        if best is None or score[:2] > best[:2]:
            best = score
    return best[2] if best else ","


def _csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(physical start line, fields) for every CSV record, blank ones included."""
    lines = _decoded_lines(path, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(
                f"{path.name}: malformed CSV near line {reader.line_num}: {exc}",
                path=str(path),
                row=reader.line_num,
                hint='check for an unbalanced quote (") in the lines above',
            ) from None
        yield start, fields
        start = reader.line_num + 1


def _csv_cells(fields: Sequence[Any]) -> list[Any]:
    return [f if f != "" else None for f in fields]


def _bomless_utf16(path: Path) -> str | None:
    """The UTF-16 codec ("utf-16-le" or "utf-16-be") when the first KB has the telltale NUL
    in every other byte (ASCII text as UTF-16 without a BOM), else None. Strict UTF-8 accepts
    those NULs, so without this check the headers would read as garbled text full of NULs."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even_nul = head[0 : 2 * pairs : 2].count(0)
    odd_nul = head[1 : 2 * pairs : 2].count(0)
    # Mostly NUL on one side, (almost) never on the other: non-ASCII characters such as
    # umlauts or Cyrillic put a non-NUL byte there, so half is enough.
    if odd_nul >= pairs / 2 and even_nul <= pairs / 20:
        return "utf-16-le"
    if even_nul >= pairs / 2 and odd_nul <= pairs / 20:
        return "utf-16-be"
    return None


def _open_csv(
    path: Path, encoding: str | None, delimiter: str | None, has_header: bool
) -> RawTable:
    used = _detect_encoding(path, encoding)
    if used == "utf-8" and (utf16 := _bomless_utf16(path)) is not None:
        raise InputError(
            f"{path.name}: this looks like UTF-16 without a byte-order mark; "
            f"try --encoding {utf16}",
            path=str(path),
            hint=f"--encoding {utf16} reads it as it is; or save the file as UTF-8",
        )
    if delimiter is None:
        sample: list[str] = []
        size = 0
        truncated = False
        for line in _decoded_lines(path, used):
            sample.append(line)
            size += len(line)
            if len(sample) >= _SNIFF_LINES or size >= _SNIFF_CHARS:
                truncated = True
                break
        delim = _sniff_delimiter(sample, truncated)
    else:
        if len(delimiter) != 1:
            raise InputError(
                f"the delimiter must be one character, got {delimiter!r}",
                path=str(path),
                hint="e.g. --delimiter ';' or --delimiter $'\\t'",
            )
        delim = delimiter
    records = ((n, _csv_cells(f)) for n, f in _csv_records(path, used, delim))
    first, width = _sized(path, records, has_header)
    return RawTable(
        path=path,
        format="csv",
        headers=_make_headers(first, width, has_header),
        has_header=has_header,
        encoding=used,
        delimiter=delim,
        _width=width,
    )


class _FastCsv:
    """Chunks of a CSV via pandas' C parser, numbered by physical line.

    One record per physical line holds only while no cell contains a line break, so every
    parsed block is checked for one before it is used. Anything the C parser and the
    precise reader could disagree on (a line break in a cell, a decode or parser error, a
    stray cell beyond the width, a BOM character at the start) stops the fast path:
    ``fell_back`` is then True and ``last_row`` is the last ``source_row`` yielded.
    """

    def __init__(self, table: RawTable) -> None:
        self.table = table
        self.fell_back = False
        self.last_row = 0

    def chunks(self, size: int) -> Iterator[pandas.DataFrame]:
        import numpy as np
        import pandas as pd

        table = self.table
        codec, skip = _bom_split(table.path, table.encoding or "utf-8")
        width = table._width
        with table.path.open("rb") as fh:
            reader = self._open(fh, codec, skip)
            if reader is None:
                self.fell_back = True
                return
            line = 0  # physical lines (= records) consumed so far
            header_pending = table.has_header
            parts: list[tuple[Any, Any]] = []  # (source rows, cells) waiting for a chunk
            have = 0
            done = False
            while not done:
                need = size - have + (1 if header_pending else 0)
                try:
                    block = reader.get_chunk(need)
                except StopIteration:
                    block = None
                except Exception:  # decode/parser error: the precise reader explains it
                    self.fell_back = True
                    return
                if block is None or len(block) == 0:
                    done = True
                else:
                    cells = block.to_numpy(dtype=object)
                    numbers = np.arange(line + 1, line + 1 + len(cells), dtype=np.int64)
                    line += len(cells)
                    kept = self._checked(cells, width, header_pending)
                    if kept is None:
                        self.fell_back = True
                        return
                    keep, header_seen = kept
                    header_pending = header_pending and not header_seen
                    if keep.all():  # the usual case: no copy
                        parts.append((numbers, cells))
                        have += len(cells)
                    elif keep.any():
                        parts.append((numbers[keep], cells[keep]))
                        have += int(keep.sum())
                if parts and (have >= size or done):
                    rows = np.concatenate([n for n, _ in parts]) if len(parts) > 1 else parts[0][0]
                    data = np.concatenate([c for _, c in parts]) if len(parts) > 1 else parts[0][1]
                    parts, have = [], 0
                    self.last_row = int(rows[-1])
                    yield _csv_frame(pd, np, rows, data, width)

    def _open(self, fh: Any, codec: str, skip: int) -> Any:
        """A pandas TextFileReader positioned after the BOM, or None when not usable."""
        import pandas as pd

        fh.seek(skip)
        head = fh.read(16)
        fh.seek(skip)
        try:
            first = codecs.getincrementaldecoder(codec)(errors="ignore").decode(head)
        except LookupError:
            return None
        if first.startswith("\ufeff"):
            return None  # a BOM character after the BOM bytes: the precise reader strips it
        try:
            return pd.read_csv(
                fh,
                sep=self.table.delimiter or ",",
                header=None,
                dtype=object,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                quotechar='"',
                doublequote=True,
                encoding=codec,
                encoding_errors="strict",
                engine="c",
                iterator=True,
            )
        except Exception:  # e.g. EmptyDataError on a leading blank line
            return None

    @staticmethod
    def _checked(cells: Any, width: int, header_pending: bool) -> tuple[Any, bool] | None:
        """(rows to keep, header row found) for a block of records; None means fall back."""
        import numpy as np

        columns = [cells[:, j].tolist() for j in range(cells.shape[1])]
        for values in columns:
            try:
                joined = "\x00".join(values)
            except TypeError:  # a non-text cell: not what the C parser normally gives
                return None
            if "\n" in joined or "\r" in joined:
                return None  # a line break inside a cell: line numbers would drift
        # A blank row has an empty first cell, so only those rows are looked at closely.
        maybe_blank = cells[:, 0] == ""
        if _has_whitespace_cell(columns[0]):
            maybe_blank |= np.fromiter((not c.strip() for c in columns[0]), bool, len(cells))
        keep = np.ones(len(cells), dtype=bool)
        if maybe_blank.any():
            rows = np.flatnonzero(maybe_blank)
            keep[rows] = ~_blank_rows(cells[rows])
        header_seen = False
        if header_pending and keep.any():
            keep[int(np.argmax(keep))] = False
            header_seen = True
        if cells.shape[1] > width:
            extra = cells[keep, width:]
            filled = extra[extra != ""]
            if any(c.strip() for c in filled):
                return None  # a stray value beyond the last column: the precise error
        return keep, header_seen


def _has_whitespace_cell(values: list[str]) -> bool:
    """Whether some cell is non-empty but only whitespace (one regex pass, no cell loop)."""
    return bool(_WHITESPACE_CELL.search("\x00" + "\x00".join(values) + "\x00"))


def _blank_rows(cells: Any) -> Any:
    """Which rows of a cell block are blank: every cell empty or only whitespace."""
    import numpy as np

    empty = cells == ""
    if _has_whitespace_cell(cells.ravel().tolist()):
        ws = np.fromiter((not c.strip() for c in cells.ravel().tolist()), bool, cells.size)
        empty |= ws.reshape(cells.shape)
    return empty.all(axis=1)


_WHITESPACE_CELL = re.compile(r"\x00\s+\x00")


def _csv_frame(pd: Any, np: Any, rows: Any, data: Any, width: int) -> pandas.DataFrame:
    """The chunk frame of checked C-parser cells: cut or padded to the width, "" -> None."""
    if data.shape[1] > width:
        data = data[:, :width]
    elif data.shape[1] < width:
        pad = np.full((len(data), width - data.shape[1]), None, dtype=object)
        data = np.concatenate([data, pad], axis=1)
    if not data.flags.writeable:
        data = data.copy()  # the parser's array may be read-only
    # In place, column by column: np.where built a second array of every cell.
    for j in range(min(width, data.shape[1])):
        column = data[:, j]
        column[column == ""] = None
    index = pd.Index(rows, dtype="int64", name="source_row")
    return pd.DataFrame(data, index=index, columns=range(width), dtype=object, copy=False)


# --------------------------------------------------------------------------- Excel


def _excel_cells(values: Sequence[Any]) -> list[Any]:
    return [None if (v is None or v == "") else v for v in values]


def check_zip_safety(path: Path) -> None:
    """Refuse an XLSX whose zip would inflate beyond sane limits (zip bomb)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"{path.name} is not a valid .xlsx file ({exc})",
            path=str(path),
            hint="open it in Excel and save it again as .xlsx",
        ) from None
    total = 0
    for info in members:
        total += info.file_size
        if info.file_size >= XLSX_RATIO_MIN_MEMBER_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_XLSX_COMPRESSION_RATIO:
                raise InputError(
                    f"{path.name} refused: part {info.filename} would inflate {ratio:.0f}-fold "
                    f"to {info.file_size} bytes",
                    path=str(path),
                    hint="the file looks like a zip bomb; export it again from its source",
                )
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise InputError(
            f"{path.name} refused: it would inflate to {total} bytes "
            f"(limit {MAX_XLSX_UNCOMPRESSED_BYTES})",
            path=str(path),
            hint="split the workbook or export it as CSV",
        )


def _pick_sheet(path: Path, names: list[str], sheet: str | int | None) -> int:
    if not names:
        raise InputError(f"{path.name} has no worksheet", path=str(path))
    if sheet is None:
        return 0
    if isinstance(sheet, str) and sheet in names:
        return names.index(sheet)
    position: int | None = None
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        position = sheet
    elif isinstance(sheet, str) and sheet.strip().isdigit():
        position = int(sheet.strip())
    if position is not None and 1 <= position <= len(names):
        return position - 1
    listed = ", ".join(repr(n) for n in names)
    raise InputError(
        f"{path.name}: no sheet {sheet!r}; the sheets are {listed}",
        path=str(path),
        hint="give a sheet name from the list, or its position counting from 1",
    )


def _open_excel(path: Path, fmt: str, sheet: str | int | None, has_header: bool) -> RawTable:
    # One workbook load for the sheet names and the sizing rows (openpyxl parses the shared
    # strings on every load).
    if fmt == "xlsx":
        book = _load_xlsx(path)
        names = [ws.title for ws in book.worksheets]
        close = book.close
    else:
        book = _load_xls(path)
        names = list(book.sheet_names())
        close = book.release_resources
    try:
        index = _pick_sheet(path, names, sheet)
        rows = (
            _xlsx_sheet_rows(path, book, index) if fmt == "xlsx" else _xls_sheet_rows(book, index)
        )
        first, width = _sized(path, ((n, _excel_cells(v)) for n, v in rows), has_header)
    finally:
        close()
    return RawTable(
        path=path,
        format=fmt,
        headers=_make_headers(first, width, has_header),
        has_header=has_header,
        sheet=names[index],
        _width=width,
        _sheet_index=index,
    )


def _load_xlsx(path: Path) -> Any:
    check_zip_safety(path)
    import openpyxl

    try:
        # openpyxl parses with defusedxml whenever it is installed (a runtime dependency).
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputError(
            f"{path.name} cannot be read as .xlsx ({type(exc).__name__}: {exc})",
            path=str(path),
            hint="open it in Excel and save it again as .xlsx",
        ) from None


def _xlsx_rows(path: Path, index: int) -> Iterator[tuple[int, list[Any]]]:
    wb = _load_xlsx(path)
    try:
        yield from _xlsx_sheet_rows(path, wb, index)
    finally:
        wb.close()


def _xlsx_sheet_rows(path: Path, wb: Any, index: int) -> Iterator[tuple[int, list[Any]]]:
    ws = wb.worksheets[index]
    # The <dimension> a file declares can be wrong (too small truncates rows and
    # columns, too big pads them); without it openpyxl sizes each row by its own cells.
    # Rows absent from the XML still come back as empty tuples, so counting from 1
    # gives Excel's row numbers.
    ws.reset_dimensions()
    rows = ws.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # sheet XML is parsed lazily: broken or hostile XML
            raise InputError(
                f"{path.name}: sheet {ws.title!r} cannot be read after row {number} "
                f"({type(exc).__name__}: {exc})",
                path=str(path),
                row=number + 1,
                hint="open it in Excel and save it again as .xlsx",
            ) from None
        number += 1
        yield number, list(row)


def _load_xls(path: Path) -> Any:
    import xlrd

    try:
        return xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, AssertionError ...
        raise InputError(
            f"{path.name} cannot be read as .xls ({type(exc).__name__}: {exc})",
            path=str(path),
            hint="open it in Excel and save it as .xlsx",
        ) from None


def _xls_rows(path: Path, index: int) -> Iterator[tuple[int, list[Any]]]:
    # xlrd reads a whole .xls into memory; the format caps a sheet at 65,536 rows.
    book = _load_xls(path)
    try:
        yield from _xls_sheet_rows(book, index)
    finally:
        book.release_resources()


def _xls_sheet_rows(book: Any, index: int) -> Iterator[tuple[int, list[Any]]]:
    sh = book.sheet_by_index(index)
    for r in range(sh.nrows):
        yield r + 1, [_xls_value(book, sh, r, c) for c in range(sh.ncols)]


def _xls_value(book: Any, sh: Any, r: int, c: int) -> Any:
    import xlrd

    ctype = sh.cell_type(r, c)
    value = sh.cell_value(r, c)
    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_TEXT:
        return value
    if ctype == xlrd.XL_CELL_NUMBER:
        return int(value) if float(value).is_integer() else value
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    if ctype == xlrd.XL_CELL_DATE:
        fmt = _xls_format(book, sh, r, c)
        return _excel_serial(float(value), book.datemode, fmt)
    return value  # pragma: no cover - xlrd has no other cell types


def _xls_format(book: Any, sh: Any, r: int, c: int) -> str:
    try:
        xf = book.xf_list[sh.cell_xf_index(r, c)]
        return str(book.format_map[xf.format_key].format_str)
    except (IndexError, KeyError, AttributeError):  # pragma: no cover - defensive
        return ""


def _excel_serial(value: float, datemode: int, fmt: str) -> Any:
    """An Excel date serial as openpyxl would give it: timedelta, time or datetime."""
    if _DURATION_FORMAT.search(fmt.split(";")[0]):
        return _round_ms(dt.timedelta(days=value))
    if 0 <= value < 1:
        seconds = round(value * 86400 * 1000) / 1000
        if seconds < 86400:
            whole = int(seconds)
            micro = round((seconds - whole) * 1_000_000)
            return dt.time(whole // 3600, whole % 3600 // 60, whole % 60, micro)
    import xlrd

    try:
        return xlrd.xldate.xldate_as_datetime(value, datemode)
    except Exception:  # a negative or absurd serial: give the number, let mapping complain
        return value


def _round_ms(td: dt.timedelta) -> dt.timedelta:
    return dt.timedelta(milliseconds=round(td.total_seconds() * 1000))
