"""Reading CSV/TSV/TXT: encoding (BOM, strict UTF-8, BOM-less UTF-16 refused with a hint),
decoding with the line and byte offset of a bad byte, delimiter sniffing, the precise
row-by-row reader (``csv_records``) and the checked pandas C-parser fast path (``FastCsv``).
The contract and its decisions are in ``files.readers``."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from timetracker_import.errors import InputError
from timetracker_import.files.cells import make_headers, sized

if TYPE_CHECKING:
    import pandas

CSV_DELIMITERS = (",", ";", "\t", "|")

_READ_BLOCK = 1 << 20  # bytes decoded per step when streaming a CSV
_SNIFF_LINES = 50
_SNIFF_CHARS = 256 << 10
_ENCODING_HINT = "if the file was saved by Excel on Windows, try --encoding cp1252"
_NEWLINE = re.compile(r"\r\n|\r|\n")


class CsvLayout(NamedTuple):
    """What ``open_csv`` found out: the header texts, encoding, delimiter and width."""

    headers: list[str]
    encoding: str
    delimiter: str
    width: int


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
    if codec in ("utf-16", "utf-32") and path.stat().st_size:
        # the generic codec came back: no byte-order mark to tell the byte order (Python
        # 3.13 reports this as a decode error at byte 0, earlier versions as a UnicodeError)
        raise _no_bom_error(path, encoding, f"it does not start with a {codec} byte-order mark")
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
                raise _no_bom_error(path, encoding, str(exc)) from None
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


def _no_bom_error(path: Path, encoding: str, why: str) -> InputError:
    """--encoding utf-16 (or utf-32) on a file without a byte-order mark."""
    return InputError(
        f"{path.name}: cannot read the file as {encoding}: {why}",
        path=str(path),
        hint="name the byte order (--encoding utf-16-le or utf-16-be), or leave "
        "--encoding out to detect it from the byte-order mark",
    )


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


def csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
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


def csv_cells(fields: Sequence[Any]) -> list[Any]:
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


def open_csv(
    path: Path, encoding: str | None, delimiter: str | None, has_header: bool
) -> CsvLayout:
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
    records = ((n, csv_cells(f)) for n, f in csv_records(path, used, delim))
    first, width = sized(path, records, has_header)
    return CsvLayout(make_headers(first, width, has_header), used, delim, width)


class CsvSource(Protocol):
    """What the fast path reads of the table it serves (``files.readers.RawTable``)."""

    @property
    def path(self) -> Path: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def delimiter(self) -> str | None: ...
    @property
    def has_header(self) -> bool: ...
    @property
    def _width(self) -> int: ...


class FastCsv:
    """Chunks of a CSV via pandas' C parser, numbered by physical line.

    One record per physical line holds only while no cell contains a line break, so every
    parsed block is checked for one before it is used. Anything the C parser and the
    precise reader could disagree on (a line break in a cell, a decode or parser error, a
    stray cell beyond the width, a BOM character at the start) stops the fast path:
    ``fell_back`` is then True and ``last_row`` is the last ``source_row`` yielded.
    """

    def __init__(self, table: CsvSource) -> None:
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
    frame: pandas.DataFrame = pd.DataFrame(
        data, index=index, columns=range(width), dtype=object, copy=False
    )
    return frame
