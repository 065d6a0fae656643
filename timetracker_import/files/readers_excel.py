"""Reading XLSX (openpyxl, read-only, cached formula values, zip-bomb guard) and XLS (xlrd),
with Excel's cell types: dates, times and elapsed times. The contract and its decisions are
in ``files.readers``."""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from timetracker_import.errors import InputError
from timetracker_import.files.cells import make_headers, sized

# Hostile-XLSX guards (docs/reliability.md "Workbook limits"), checked before openpyxl reads a
# part. openpyxl streams a worksheet row by row, but reads every other part whole, the
# shared strings (every distinct text of the workbook) into one list: those are bounded by
# size and, for the shared strings, by count (a 5-byte ``<si/>`` costs ~100 bytes of RAM).
MAX_XLSX_UNCOMPRESSED_BYTES = 1 << 30  # 1 GiB in total
MAX_XLSX_COMPRESSION_RATIO = 200  # per member, once the member is big enough to matter
XLSX_RATIO_MIN_MEMBER_BYTES = 16 << 20
#: rows per sheet: Excel's own limit, so any sheet Excel can hold is read
MAX_XLSX_ROWS = 1_048_576
#: distinct texts of a workbook: two per row of a full sheet
MAX_XLSX_SHARED_STRINGS = 2 * MAX_XLSX_ROWS
MAX_XLSX_SHARED_STRINGS_BYTES = 256 << 20
#: any other part openpyxl reads whole (manifest, relationships, workbook, styles, theme,
#: properties, chartsheets and their drawings); Excel writes these far smaller
MAX_XLSX_PART_BYTES = 64 << 20

_CT = "application/vnd.openxmlformats-officedocument."
_SHARED_STRINGS_TYPE = _CT + "spreadsheetml.sharedStrings+xml"
_WORKSHEET_TYPES = (_CT + "spreadsheetml.worksheet+xml", "application/vnd.ms-excel.worksheet+xml")
#: a worksheet's declared size: ``<dimension ref="A1:E1048576"/>``, near its start
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref="[A-Z]*\d*:?[A-Z]*(\d+)"')
_DIMENSION_WITHIN = 64 << 10  # bytes of a worksheet looked at for it
#: content types of the parts openpyxl (read-only) parses whole, besides the shared strings
_WHOLE_READ_TYPES = tuple(
    _CT + t
    for t in (
        "spreadsheetml.sheet.main+xml",
        "spreadsheetml.template.main+xml",
        "spreadsheetml.styles+xml",
        "theme+xml",
        "spreadsheetml.chartsheet+xml",
        "drawing+xml",
        "drawingml.chart+xml",
        "custom-properties+xml",
    )
) + (
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    "application/vnd.openxmlformats-package.core-properties+xml",
    "application/vnd.openxmlformats-package.relationships+xml",
)
#: parts openpyxl reads at these names whatever the manifest declares
_WHOLE_READ_NAMES = frozenset(
    {
        "[Content_Types].xml",
        "xl/styles.xml",
        "xl/theme/theme1.xml",
        "docProps/core.xml",
        "docProps/custom.xml",
    }
)
_SHARED_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")

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
    """Refuse an XLSX whose zip would inflate beyond sane limits (zip bomb), or whose parts
    read whole are past the limits above: from the zip directory and the manifest, before
    openpyxl reads anything (the shared strings are counted in one streaming pass)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            _check_ratios(path, members)
            _check_parts(path, zf, members)
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise InputError(
            f"{path.name} is not a valid .xlsx file ({_one_line(str(exc))})",
            path=str(path),
            hint="open it in Excel and save it again as .xlsx",
        ) from None


def _refuse(path: Path, what: str, hint: str) -> InputError:
    return InputError(f"{path.name} refused: {what}", path=str(path), hint=hint)


def _check_ratios(path: Path, members: list[zipfile.ZipInfo]) -> None:
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


def _content_types(path: Path, zf: zipfile.ZipFile) -> dict[str, str]:
    """Each member's content type from ``[Content_Types].xml`` (defaults by extension,
    overrides by part name); empty when the manifest is missing or unreadable (openpyxl
    then refuses the file itself)."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(zf.read("[Content_Types].xml"))
    except KeyError:
        return {}
    except Exception as exc:  # defusedxml refuses entities; broken XML
        raise InputError(
            f"{path.name} cannot be read as .xlsx: its manifest {_xml_problem(exc)}",
            path=str(path),
            hint="open it in Excel and save it again as .xlsx",
        ) from None
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for node in root:
        tag = str(node.tag).rsplit("}", 1)[-1]
        kind = node.get("ContentType") or ""
        if tag == "Default" and node.get("Extension"):
            defaults[str(node.get("Extension")).lower()] = kind
        elif tag == "Override" and node.get("PartName"):
            overrides[str(node.get("PartName")).lstrip("/")] = kind
    types = {}
    for name in zf.namelist():
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        types[name] = overrides.get(name, defaults.get(ext, ""))
    return types


def _check_parts(path: Path, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    manifest = zf.NameToInfo.get("[Content_Types].xml")
    if manifest is not None and manifest.file_size > MAX_XLSX_PART_BYTES:
        raise _refuse(
            path,
            f"part [Content_Types].xml would inflate to {manifest.file_size} bytes "
            f"(limit {MAX_XLSX_PART_BYTES})",
            "the file is damaged or hostile; export it again",
        )
    types = _content_types(path, zf)
    for info in members:
        kind = types.get(info.filename, "")
        if kind == _SHARED_STRINGS_TYPE:
            _check_shared_strings(path, zf, info)
        elif kind in _WORKSHEET_TYPES:
            _check_declared_rows(path, zf, info)
        elif (
            info.filename in _WHOLE_READ_NAMES
            or info.filename.lower().endswith(".rels")
            or kind in _WHOLE_READ_TYPES
        ) and info.file_size > MAX_XLSX_PART_BYTES:
            raise _refuse(
                path,
                f"part {info.filename} would inflate to {info.file_size} bytes "
                f"(limit {MAX_XLSX_PART_BYTES} for a part read whole)",
                "Excel writes such parts far smaller: the file is damaged or hostile; "
                "export it again, or as CSV",
            )


def _check_declared_rows(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """A worksheet whose ``<dimension>`` declares more rows than a sheet can hold is refused
    before anything else is read (a wrong or missing one is caught while streaming)."""
    with zf.open(info) as part:
        head = part.read(_DIMENSION_WITHIN)
    match = _DIMENSION.search(head)
    if match is not None and int(match[1]) > MAX_XLSX_ROWS:
        raise _refuse(
            path,
            f"part {info.filename} declares {int(match[1]):,} rows, more than the "
            f"{MAX_XLSX_ROWS:,} rows a sheet can hold",
            _TOO_MANY_ROWS_HINT,
        )


def _check_shared_strings(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """The shared-strings part within its size, then its ``<si>`` items counted while it
    streams through (nothing kept), within their number."""
    hint = (
        "a sheet Excel can hold has far fewer distinct texts: the file is damaged or "
        "hostile; export it again, or as CSV"
    )
    if info.file_size > MAX_XLSX_SHARED_STRINGS_BYTES:
        raise _refuse(
            path,
            f"its shared strings ({info.filename}) would inflate to {info.file_size} "
            f"bytes (limit {MAX_XLSX_SHARED_STRINGS_BYTES})",
            hint,
        )
    count = 0
    tail = b""
    with zf.open(info) as part:
        while block := part.read(1 << 20):
            data = tail + block
            # counted up to the last "<" (a tag holds one "<", so every tag that starts
            # before it also ends there); from it on, with the next block
            cut = data.rfind(b"<")
            cut = len(data) if cut < 0 else cut
            count += len(_SHARED_STRING_TAG.findall(data, 0, cut))
            tail = data[cut:]
            if count > MAX_XLSX_SHARED_STRINGS:
                break
    count += len(_SHARED_STRING_TAG.findall(tail))
    if count > MAX_XLSX_SHARED_STRINGS:
        raise _refuse(
            path,
            f"its shared strings ({info.filename}) hold more than "
            f"{MAX_XLSX_SHARED_STRINGS:,} texts (limit)",
            hint,
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _xml_problem(exc: BaseException) -> str:
    """What is wrong with an XML part, in one line: the innermost cause (openpyxl wraps it
    in a three-line ValueError that says "see the exception" without showing it)."""
    from defusedxml.common import DefusedXmlException

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        if isinstance(link, DefusedXmlException):
            return (
                "declares entities or a DTD, which Excel never writes "
                f"({type(link).__name__}); the file is damaged or hostile"
            )
    root = chain[-1]
    detail = _one_line(str(root))[:200]
    return f"is not valid ({type(root).__name__}{': ' + detail if detail else ''})"


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

    # openpyxl warns on stderr about what it does not keep (data validation, a missing
    # default style, ...): nothing a reader of our output can act on. A filter for
    # openpyxl's own UserWarnings only, set once (per row would cost seconds per 1M rows).
    warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
    try:
        # openpyxl parses with defusedxml whenever it is installed (a runtime dependency).
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputError(
            f"{path.name} cannot be read as .xlsx: its XML {_xml_problem(exc)}",
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
    declared = getattr(ws, "max_row", None)  # the sheet's <dimension>, read at load
    if isinstance(declared, int) and declared > MAX_XLSX_ROWS:
        raise _too_many_rows(path, ws.title, f"declares {declared:,} rows")
    # The <dimension> a file declares can be wrong (too small truncates rows and
    # columns, too big pads them); without it openpyxl sizes each row by its own cells.
    # Rows absent from the XML still come back as empty tuples, so counting from 1
    # gives Excel's row numbers.
    ws.reset_dimensions()
    rows = _sheet_values(ws)
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # sheet XML is parsed lazily: broken or hostile XML
            raise InputError(
                f"{path.name}: sheet {ws.title!r} cannot be read after row {number}: its "
                f"XML {_xml_problem(exc)}",
                path=str(path),
                row=number + 1,
                hint="open it in Excel and save it again as .xlsx",
            ) from None
        number += 1
        if number > MAX_XLSX_ROWS:  # the <dimension> was missing or wrong
            raise _too_many_rows(path, ws.title, f"has a row {number:,}")
        yield number, list(row)


def _sheet_values(ws: Any) -> Iterator[Sequence[Any]]:
    """The values of each row, as openpyxl's ``iter_rows(values_only=True)`` gives them
    (rows absent from the XML as empty rows, each row as wide as its last cell), with one
    difference: each parsed ``<row>`` leaves the XML tree once read. openpyxl keeps every
    parsed row element in the tree (about 85 bytes a row), so its RSS grew with the sheet.

    It uses openpyxl's own parser and row layout (``WorkSheetParser.parse_row``,
    ``_get_row``), which are not public: when they are missing (another openpyxl), the
    sheet is read by ``iter_rows`` as before."""
    from openpyxl.worksheet import _reader

    wb = ws.parent
    needed = (
        getattr(_reader, "WorkSheetParser", None),
        getattr(_reader, "ROW_TAG", None),
        getattr(ws, "_get_source", None),
        getattr(ws, "_get_row", None),
    )
    if any(part is None for part in needed) or not hasattr(_reader.WorkSheetParser, "parse_row"):
        yield from ws.iter_rows(values_only=True)  # pragma: no cover - another openpyxl
        return
    from openpyxl.xml.functions import iterparse  # openpyxl's: defusedxml when installed

    sheet_data = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheetData"
    counter = 1
    with ws._get_source() as src:
        parser = _reader.WorkSheetParser(
            src,
            ws._shared_strings,
            data_only=wb.data_only,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        data = None
        for event, element in iterparse(src, events=("start", "end")):
            if event == "start":
                if element.tag == sheet_data:
                    data = element
                continue
            if element.tag != _reader.ROW_TAG:
                continue
            index, cells = parser.parse_row(element)
            if data is not None:
                data.clear()  # the rows read so far leave the tree
            if index < counter:  # a row number repeated: openpyxl skips it too
                continue
            while counter < index:  # rows absent from the XML
                counter += 1
                yield ()
            counter += 1
            yield ws._get_row(cells, 1, None, True)


_TOO_MANY_ROWS_HINT = (
    "Excel itself holds at most 1,048,576 rows per sheet; split the data over several files, "
    "or export it as CSV"
)


def _too_many_rows(path: Path, sheet: str, what: str) -> InputError:
    return _refuse(
        path,
        f"sheet {sheet!r} {what}, more than the {MAX_XLSX_ROWS:,} rows a sheet can hold",
        _TOO_MANY_ROWS_HINT,
    )


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
