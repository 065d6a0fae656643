"""Write a table (headers + rows) as CSV or XLSX, streaming and atomically.

The format follows the file extension: ``.csv``/``.tsv``/``.txt`` -> CSV, ``.xlsx`` -> XLSX
(openpyxl write-only mode, so rows are not held in memory). ``.xls`` is refused.

Spreadsheet-formula injection: a *text* cell starting with ``=``, ``+``, ``-``, ``@``, TAB or
CR gets a leading ``'`` (OWASP "CSV injection" advice), in CSV and XLSX alike, headers
included. Numbers are never touched: ``-1.5`` stays a number. In XLSX every text cell is a
string cell, never a formula.

Decisions where the brief is silent:

* CSV renders naive ``datetime`` as ``YYYY-MM-DD HH:MM:SS``, ``date`` as ``YYYY-MM-DD``,
  ``time`` as ``HH:MM:SS``, ``timedelta`` as ``H:MM:SS`` (hours may exceed 24), ``bool`` as
  ``true``/``false``, ``None``/NaN/NaT as an empty cell.
* XLSX writes naive date/time values as real cells (``yyyy-mm-dd hh:mm:ss``,
  ``yyyy-mm-dd``, ``hh:mm:ss``, ``[h]:mm:ss``). A timezone-aware ``datetime`` has no Excel
  equivalent, so both formats write it as ISO 8601 text with its offset (lossless).
* The file appears only when complete: rows go to a hidden temp file in the target folder,
  which replaces the target on success and is deleted on error.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from timetracker_import.errors import InputError

__all__ = ["TableWriter", "neutralise_cell", "write_table"]

_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
_BOM_LESS_UNICODE = frozenset({"utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"})
_CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_XLSX_FORMATS = {
    dt.datetime: "yyyy-mm-dd hh:mm:ss",
    dt.date: "yyyy-mm-dd",
    dt.time: "hh:mm:ss",
    dt.timedelta: "[h]:mm:ss",
}


# A signed plain number ("-1.5", "+2", "-0,25") is data, not a formula: Excel reads it as a
# number. Prefixing it would change the value a person fixes and re-imports.
_PLAIN_NUMBER = re.compile(r"[+-]\d+(?:[.,]\d+)?")


def neutralise_cell(value: Any) -> Any:
    """Return ``value`` made safe for a spreadsheet: text starting with ``=``, ``+``, ``-``,
    ``@``, TAB or CR gets a leading ``'``, except a plain signed number such as ``-1.5``;
    every other value (numbers too) is unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(_DANGEROUS_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def write_table(
    path: str | Path,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> None:
    """Write ``headers`` and ``rows`` to ``path`` as CSV or XLSX (by extension), atomically.

    ``delimiter`` (CSV only) defaults to TAB for ``.tsv`` and ``,`` otherwise; ``encoding``
    applies to CSV only (use ``utf-8-sig`` for Excel-friendly UTF-8 with BOM; UTF-16/32 are
    always written with a BOM, so the encoding a RawTable reports can be passed back).
    """
    with TableWriter(path, headers, encoding=encoding, delimiter=delimiter) as writer:
        writer.write_rows(rows)


class TableWriter:
    """Stream rows into a CSV or XLSX file chunk by chunk; the file appears on success only.

    >>> with TableWriter("out.csv", ["a", "b"]) as w:   # doctest: +SKIP
    ...     w.write_rows([[1, 2], [3, 4]])
    """

    def __init__(
        self,
        path: str | Path,
        headers: Sequence[str],
        *,
        encoding: str = "utf-8",
        delimiter: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.headers = list(headers)
        self.encoding = encoding
        suffix = self.path.suffix.lower()
        if suffix == ".xls":
            raise InputError(
                f"cannot write {self.path.name}: the old .xls format is not supported",
                path=str(self.path),
                hint="write .xlsx instead",
            )
        if suffix in _CSV_SUFFIXES:
            self.format = "csv"
        elif suffix == ".xlsx":
            self.format = "xlsx"
        else:
            raise InputError(
                f"cannot write {self.path.name}: unknown file type {suffix or '(none)'!r}",
                path=str(self.path),
                hint="use .csv, .tsv, .txt or .xlsx",
            )
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(
                f"unknown encoding {encoding!r}",
                path=str(self.path),
                hint="use a Python codec name such as utf-8, utf-8-sig or cp1252",
            ) from None
        self.delimiter = delimiter or ("\t" if suffix == ".tsv" else ",")
        self.rows_written = 0
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._wb: Any = None
        self._ws: Any = None

    # -- context manager

    def __enter__(self) -> TableWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    # -- lifecycle

    def open(self) -> None:
        """Create the temp file (and the folders above it) and write the header row."""
        ensure_parent(self.path)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        self._tmp = Path(name)
        # mkstemp creates 0600; give the result the mode a plain open() would have.
        os.chmod(fd, 0o666 & ~_current_umask())
        if self.format == "csv":
            self._fh = open(fd, "w", encoding=self.encoding, newline="")  # noqa: SIM115
            if codecs.lookup(self.encoding).name in _BOM_LESS_UNICODE:
                # Without a BOM nobody (our reader included) can tell UTF-16/32 from bytes;
                # this is also what the reader reports for Excel's "Unicode text".
                self._fh.write("\ufeff")
            self._csv = csv.writer(self._fh, delimiter=self.delimiter, lineterminator="\r\n")
            self._csv.writerow([_csv_text(neutralise_cell(h)) for h in self.headers])
        else:
            os.close(fd)  # openpyxl saves by file name at commit
            from openpyxl import Workbook

            self._wb = Workbook(write_only=True)
            self._ws = self._wb.create_sheet()
            self._ws.append([self._xlsx_cell(h) for h in self.headers])

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows (any iterable of sequences, e.g. a DataFrame's ``itertuples``)."""
        if self._tmp is None:
            raise RuntimeError("TableWriter is not open (use it as a context manager)")
        if self.format == "csv":
            for row in rows:
                self._csv.writerow([_csv_text(neutralise_cell(_plain(v))) for v in row])
                self.rows_written += 1
        else:
            for row in rows:
                self._ws.append([self._xlsx_cell(v) for v in row])
                self.rows_written += 1

    def commit(self) -> None:
        """Finish the file and move it into place."""
        if self._tmp is None:
            return
        try:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None
            if self._wb is not None:
                self._wb.save(self._tmp)
                self._wb = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._tmp = None

    def abort(self) -> None:
        """Drop the temp file; the target is left as it was."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        if self._ws is not None and self._wb is not None:
            # Finish openpyxl's own temp file for the sheet, then delete it.
            with contextlib.suppress(Exception):
                self._ws.close()
            writer = getattr(self._ws, "_writer", None)
            with contextlib.suppress(Exception):
                if writer is not None:
                    writer.cleanup()
        self._wb = None
        self._ws = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None

    # -- cells

    def _xlsx_cell(self, value: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell

        value = _plain(value)
        if value is None:
            return None
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.isoformat()
        if isinstance(value, str):
            cell = WriteOnlyCell(self._ws, value=None)
            cell.value = neutralise_cell(value)
            cell.data_type = "s"  # never a formula, whatever the text looks like
            return cell
        for kind in (dt.datetime, dt.date, dt.time, dt.timedelta):
            if isinstance(value, kind):
                cell = WriteOnlyCell(self._ws, value=value)
                cell.number_format = _XLSX_FORMATS[kind]
                return cell
        return value


def check_parent(path: str | os.PathLike[str]) -> Path:
    """Check up front that ``path``'s folder exists or can be created (its nearest existing
    ancestor is a folder this process may write in), so a long run does not fail at its
    end; InputError naming the obstacle otherwise. Creates nothing."""
    target = Path(path)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"cannot write {target}: {folder} is a file, not a folder",
            path=str(target),
            hint="choose another path",
        )
    if target.parent != folder and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write {target}: cannot create folders in {folder} (permission denied)",
            path=str(target),
            hint="choose a folder you may write in",
        )
    return target


def ensure_parent(path: str | os.PathLike[str]) -> Path:
    """Create the folders above ``path`` that do not exist yet (an output path such as
    ``out/report.html`` works without a ``mkdir out``); InputError when impossible."""
    target = Path(path)
    check_parent(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot write {target}: cannot create the folder {target.parent} "
            f"({exc.strerror or exc})",
            path=str(target),
            hint="choose another path",
        ) from None
    return target


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, line ends as given) next to ``path`` and rename it into place,
    so a reader never sees half a file; the file gets the mode a plain ``open()`` would."""
    with atomic_text_file(path) as handle:
        handle.write(text)
    return Path(path)


@contextlib.contextmanager
def atomic_text_file(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A UTF-8 text file to write (line ends as given) that appears at ``path`` only when
    the block ends without an error (written next to it, then renamed into place); it gets
    the mode a plain ``open()`` would."""
    target = ensure_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        os.chmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    """Turn numpy/pandas scalars into Python ones and missing markers into None."""
    if value is None:
        return None
    kind = type(value).__name__
    if kind in ("NAType", "NaTType"):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime()
    if hasattr(value, "to_pytimedelta"):  # pandas Timedelta
        return value.to_pytimedelta()
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return str(value)


def _duration_text(td: dt.timedelta) -> str:
    total = round(td.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
