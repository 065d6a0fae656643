"""Reading XLSX (openpyxl, read-only, cached formula values, zip-bomb guard) and XLS (xlrd),
with Excel's cell types: dates, times and elapsed times. The contract and its decisions are
in ``files.readers``."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from timetracker_import.errors import InputError
from timetracker_import.files.cells import make_headers, sized

# Hostile-XLSX guards, checked on the zip directory before openpyxl touches the file.
MAX_XLSX_UNCOMPRESSED_BYTES = 1 << 30  # 1 GiB in total
MAX_XLSX_COMPRESSION_RATIO = 200  # per member, once the member is big enough to matter
XLSX_RATIO_MIN_MEMBER_BYTES = 16 << 20

_DURATION_FORMAT = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)


class ExcelLayout(NamedTuple):
    """What ``open_excel`` found out: the header texts, the sheet (name and 0-based index)
    and the width."""

    headers: list[str]
    sheet: str
    sheet_index: int
    width: int


def excel_cells(values: Sequence[Any]) -> list[Any]:
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


def open_excel(path: Path, fmt: str, sheet: str | int | None, has_header: bool) -> ExcelLayout:
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
        first, width = sized(path, ((n, excel_cells(v)) for n, v in rows), has_header)
    finally:
        close()
    return ExcelLayout(make_headers(first, width, has_header), names[index], index, width)


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


def xlsx_rows(path: Path, index: int) -> Iterator[tuple[int, list[Any]]]:
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


def xls_rows(path: Path, index: int) -> Iterator[tuple[int, list[Any]]]:
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


def sheet_names(path: Path) -> list[str]:
    """The worksheet names of an .xlsx/.xlsm or .xls workbook, in order (InputError when it
    cannot be read)."""
    if path.suffix.lower() == ".xls":
        book = _load_xls(path)
        try:
            return list(book.sheet_names())
        finally:
            book.release_resources()
    wb = _load_xlsx(path)
    try:
        return [ws.title for ws in wb.worksheets]
    finally:
        wb.close()
