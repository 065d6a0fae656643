"""XLSX and XLS reading: native cell types, sheets, hostile files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.files.xls_builder import XlsCell, build_xls
from timetracker_import.errors import InputError
from timetracker_import.files import readers_excel
from timetracker_import.files.readers import open_table

SHEET_XML = "xl/worksheets/sheet1.xml"


def rows_of(path: Path, **kwargs: Any) -> dict[int, list[Any]]:
    frame = open_table(path, **kwargs).read_all()
    return {int(k): list(v) for k, v in zip(frame.index, frame.values.tolist(), strict=True)}


def rewrite_member(path: Path, member: str, edit: Any) -> None:
    """Rewrite one part of an xlsx in place (to create what openpyxl cannot write)."""
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                data = edit(data.decode("utf-8")).encode("utf-8")
            dst.writestr(info.filename, data)
    path.write_bytes(out.getvalue())


def make_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


def test_xlsx_native_types(tmp_path: Path) -> None:
    path = tmp_path / "hours.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Date", "Start", "Long", "Short", "AsTime", "Num", "Int", "Flag", "Text"])
    ws.append(
        [
            dt.datetime(2026, 11, 2, 9, 30),
            dt.time(8, 15),
            1.25,
            0.0625,
            0.0625,
            -2.5,
            7,
            True,
            "Grüße",
        ]
    )
    ws.append([dt.date(2026, 11, 3), None, None, None, None, None, None, False, ""])
    ws["C2"].number_format = "[h]:mm:ss"  # elapsed time over a day
    ws["D2"].number_format = "[mm]:ss"
    ws["E2"].number_format = "h:mm"  # a clock-time format on a duration below one day
    wb.save(path)
    assert rows_of(path) == {
        2: [
            dt.datetime(2026, 11, 2, 9, 30),
            dt.time(8, 15),
            dt.timedelta(hours=30),
            dt.timedelta(minutes=90),
            dt.time(1, 30),
            -2.5,
            7,
            True,
            "Grüße",
        ],
        3: [dt.datetime(2026, 11, 3), None, None, None, None, None, None, False, None],
    }


def test_xlsx_timedelta_written_by_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    make_xlsx(path, {"S": [["Dauer"], [dt.timedelta(hours=2, minutes=5)], [dt.timedelta(0)]]})
    assert rows_of(path) == {2: [dt.timedelta(hours=2, minutes=5)], 3: [dt.timedelta(0)]}


def test_xlsx_formulas_give_cached_value_or_none(tmp_path: Path) -> None:
    """openpyxl writes formulas without a cached value (as a library-made file has); the
    second formula gets one patched into the XML, as Excel would store it."""
    path = tmp_path / "f.xlsx"
    make_xlsx(path, {"S": [["a", "b", "sum"], [1, 2, "=A2+B2"], [3, 4, "=A3+B3"]]})
    rewrite_member(
        path, SHEET_XML, lambda xml: xml.replace("<f>A3+B3</f><v />", "<f>A3+B3</f><v>7</v>")
    )
    assert rows_of(path) == {2: [1, 2, None], 3: [3, 4, 7]}


def test_xlsx_trims_noise_and_ignores_a_wrong_dimension(tmp_path: Path) -> None:
    path = tmp_path / "n.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["a", "b", None])
    ws.append([1, None, None])
    ws.append([None, None, None])
    ws.append([3, 4])
    ws["J1"].number_format = "0.00"  # a formatted empty cell: max_column noise
    ws["J20"].number_format = "0.00"
    wb.save(path)
    # A generator that declares too small a dimension must not cost us rows or columns.
    rewrite_member(path, SHEET_XML, lambda xml: xml.replace('ref="A1:J20"', 'ref="A1:A1"'))
    table = open_table(path)
    assert table.headers == ["a", "b"]
    assert 'ref="A1:A1"' in zipfile.ZipFile(path).read(SHEET_XML).decode()
    assert rows_of(path) == {2: [1, None], 4: [3, 4]}


def test_xlsx_stray_cell_beyond_header(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    make_xlsx(path, {"S": [["a", "b"], [1, 2], [1, 2, None, "note"]]})
    with pytest.raises(InputError) as info:
        open_table(path).read_all()
    assert (info.value.row, info.value.column) == (3, "D")


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [
        (None, "First"),
        ("Second", "Second"),
        (2, "Second"),
        ("2", "Second"),
        ("1", "First"),
        ("3", "3"),
    ],
)
def test_xlsx_sheet_selection(tmp_path: Path, sheet: Any, expected: str) -> None:
    path = tmp_path / "w.xlsx"
    # A sheet literally named "3" wins over position 3 (which is the same sheet here) and
    # shows that names are matched first.
    make_xlsx(path, {"First": [["h"], ["f"]], "Second": [["h"], ["s"]], "3": [["h"], ["t"]]})
    table = open_table(path, sheet=sheet)
    assert table.sheet == expected
    assert table.format == "xlsx" and table.encoding is None and table.delimiter is None


@pytest.mark.parametrize("sheet", ["Nope", 0, 4, "0", -1])
def test_xlsx_unknown_sheet_lists_names(tmp_path: Path, sheet: Any) -> None:
    path = tmp_path / "w.xlsx"
    make_xlsx(path, {"First": [["h"]], "Zweites Blatt": [["h"]], "Third": [["h"]]})
    with pytest.raises(InputError) as info:
        open_table(path, sheet=sheet)
    assert "'First', 'Zweites Blatt', 'Third'" in info.value.message


def test_xlsx_without_header(tmp_path: Path) -> None:
    path = tmp_path / "nh.xlsx"
    make_xlsx(path, {"S": [["alice@example.com", "03.04.2024 09:15", 1.25], [None], ["b", "c"]]})
    table = open_table(path, has_header=False)
    assert table.headers == ["A", "B", "C"]
    assert rows_of(path, has_header=False) == {
        1: ["alice@example.com", "03.04.2024 09:15", 1.25],
        3: ["b", "c", None],
    }


def test_xlsx_header_cells_become_text(tmp_path: Path) -> None:
    path = tmp_path / "h.xlsx"
    make_xlsx(path, {"S": [[" Name ", 2026, None, "x"], ["a", 1, 2, 3]]})
    assert open_table(path).headers == ["Name", "2026", "", "x"]


def test_xlsx_empty_sheet_and_only_header(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    make_xlsx(path, {"Empty": [], "Head": [["a", "b"]]})
    with pytest.raises(InputError, match="no data"):
        open_table(path)
    table = open_table(path, sheet="Head")
    assert table.headers == ["a", "b"]
    assert table.read_all().empty


def test_xlsx_chunks_continue_numbering(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    rows: list[list[Any]] = [["n"]] + [[i] if i % 5 else [None] for i in range(1, 23)]
    make_xlsx(path, {"S": rows})
    chunks = list(open_table(path).chunks(size=3))
    numbers = [int(n) for c in chunks for n in c.index]
    assert numbers == [i + 1 for i in range(1, 23) if i % 5]
    assert all(len(c) <= 3 for c in chunks)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("Name,Hours\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid .xlsx"):
        open_table(path)


def test_zip_bomb_refused_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(SHEET_XML, b"\0" * (20 << 20))  # 20 MiB of zeros -> about 20 KiB
    with pytest.raises(InputError, match="zip bomb"):
        open_table(path)


def test_zip_total_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ok.xlsx"
    make_xlsx(path, {"S": [["a"], [1]]})
    assert rows_of(path) == {2: [1]}
    monkeypatch.setattr(readers_excel, "MAX_XLSX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(InputError, match="inflate"):
        open_table(path)


def test_xml_entities_are_refused(tmp_path: Path) -> None:
    """openpyxl parses with defusedxml when it is installed; an entity bomb is an error."""
    assert openpyxl.DEFUSEDXML is True
    path = tmp_path / "lol.xlsx"
    make_xlsx(path, {"S": [["a"], ["x"]]})
    doctype = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'

    def add_entity(xml: str) -> str:
        xml = xml.replace("<worksheet", doctype + "<worksheet", 1)
        return xml.replace("<t>x</t>", "<t>&lol2;</t>")

    rewrite_member(path, SHEET_XML, add_entity)
    with pytest.raises(InputError, match="cannot be read"):
        open_table(path).read_all()


# --------------------------------------------------------------------------- XLS

XLS_HEADER = ["Date", "Start", "Long", "Short", "Num", "Int", "Flag", "Text", "Stamp"]


@pytest.mark.parametrize("datemode", [0, 1])
def test_xls_native_types(tmp_path: Path, datemode: int) -> None:
    shift = 1462 if datemode else 0  # 1904 date system: serials count from 1904-01-01
    path = tmp_path / "old.xls"
    path.write_bytes(
        build_xls(
            {
                "Stunden": [
                    XLS_HEADER,
                    [
                        XlsCell(46328 - shift, "dd.mm.yyyy"),
                        XlsCell(0.34375, "hh:mm"),
                        XlsCell(1.25, "[h]:mm"),
                        XlsCell(0.0625, "[mm]:ss"),
                        -2.5,
                        7.0,
                        True,
                        "Grüße",
                        XlsCell(46328.5 - shift, "dd.mm.yyyy hh:mm"),
                    ],
                    [None] * 9,
                    [None, None, None, None, None, None, False, "", None],
                ],
                "Other": [["x"], [1]],
            },
            datemode=datemode,
        )
    )
    table = open_table(path)
    assert (table.format, table.sheet, table.headers) == ("xls", "Stunden", XLS_HEADER)
    assert rows_of(path) == {
        2: [
            dt.datetime(2026, 11, 2),
            dt.time(8, 15),
            dt.timedelta(hours=30),
            dt.timedelta(minutes=90),
            -2.5,
            7,
            True,
            "Grüße",
            dt.datetime(2026, 11, 2, 12),
        ],
        4: [None, None, None, None, None, None, False, None, None],
    }
    assert isinstance(rows_of(path)[2][5], int)


def test_xls_sheets_and_no_header(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(build_xls({"A": [["h"], ["a"]], "B": [["bob", 1.5], ["ann", 2]]}))
    assert open_table(path, sheet="B").sheet == "B"
    assert rows_of(path, sheet=2, has_header=False) == {1: ["bob", 1.5], 2: ["ann", 2]}
    with pytest.raises(InputError, match="'A', 'B'"):
        open_table(path, sheet="C")


def test_xls_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.xls"
    path.write_bytes(b"this is not an excel file at all" * 20)
    with pytest.raises(InputError, match="cannot be read as .xls"):
        open_table(path)


def _both_ways(path: Path) -> tuple[list[list[Any]], list[list[Any]]]:
    import openpyxl

    from timetracker_import.files.readers_excel import _sheet_values

    got: list[Any] = []
    want: list[Any] = []
    for reader, out in ((_sheet_values, got), (None, want)):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        ws.reset_dimensions()
        rows = reader(ws) if reader else ws.iter_rows(values_only=True)
        out.extend(list(r) for r in rows)
        wb.close()
    return got, want


def test_streamed_rows_are_exactly_openpyxls(tmp_path: Path) -> None:
    """``_sheet_values`` drops parsed rows from the XML tree (flat RSS, issue 25 item 4);
    the values are openpyxl's own: every cell type, rows missing from the XML, short and
    long rows."""
    import datetime as dt

    import openpyxl

    path = tmp_path / "kinds.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["text", "int", "float", "bool", "date", "time", "delta", "formula", None, "far"])
    ws.append(
        [
            "a",
            1,
            1.5,
            True,
            dt.datetime(2026, 9, 1, 8, 30),
            dt.time(9, 15),
            dt.timedelta(hours=1, minutes=30),
            "=1+1",
            None,
            "x",
        ]
    )
    ws["B2"].number_format = "0"
    ws["G2"].number_format = "[h]:mm"
    ws.cell(row=5, column=2, value=7)  # rows 3 and 4 absent from the XML
    ws.cell(row=6, column=12, value="beyond the header")
    ws.cell(row=9, column=1, value="#N/A")
    wb.save(path)
    got, want = _both_ways(path)
    assert got == want and len(got) == 9
    assert got[2] == [] and got[5][11] == "beyond the header"
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "payroll_hours.xlsx"
    got, want = _both_ways(sample)
    assert got == want and len(got) > 5
