"""Offending cells of an XLSX rejected-rows file get a fill and the reason as a comment."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from timetracker_import.errors import InputError
from timetracker_import.files.writers import write_table
from timetracker_import.files.xlsx_highlight import BAD_FILL, highlight_rejections


def _sheet(tmp_path: Path) -> Path:
    path = tmp_path / "rejected.xlsx"
    write_table(
        path,
        ["Date", "Duration", "User", "Date"],  # a repeated header: the first one counts
        [["2024-01-02", -5, "alice@example.com", "x"], ["31.02.2024", 2, "bob@example.com", "y"]],
    )
    return path


def test_cells_are_filled_and_commented(tmp_path: Path) -> None:
    path = _sheet(tmp_path)
    marked = highlight_rejections(
        path,
        [
            (2, "Duration", "length must be > 0"),
            (3, "Date", "'31.02.2024' is not a date"),
            (3, "Date", "date is in a locked week"),
            (3, "Date", "date is in a locked week"),  # repeated reasons are not repeated
            (2, None, "user is not in the organization"),
            (3, "No such column", "unknown"),
        ],
    )
    assert marked == 3  # B2, A2 and A3 (an unknown header falls back to the first cell)
    ws = load_workbook(path).worksheets[0]
    assert ws["B2"].fill.start_color.rgb == BAD_FILL
    assert ws["B2"].comment.text == "length must be > 0"
    assert ws["A3"].comment.text == "'31.02.2024' is not a date\ndate is in a locked week\nunknown"
    assert ws["A2"].comment.text == "user is not in the organization"
    assert ws["D3"].comment is None  # the repeated "Date" header is not the one marked
    # cells without a problem are left alone, values intact
    assert ws["C2"].comment is None and ws["C2"].fill.fill_type is None
    assert ws["B2"].value == -5 and ws["C3"].value == "bob@example.com"
    assert not list(tmp_path.glob(".rejected.xlsx.*"))


def test_header_row_can_be_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    write_table(path, ["Report of rejected rows"], [["Date", "Hours"], ["2024-01-02", 99]])
    highlight_rejections(path, [(3, "Hours", "too long")], header_row=2)
    ws = load_workbook(path).worksheets[0]
    assert ws["B3"].comment.text == "too long"


def test_sheet_without_header_uses_column_letters(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    write_table(path, ["2024-01-02", "-1", "x"], [["2024-01-03", "0", "y"]])
    highlight_rejections(path, [(1, "B", "length must be > 0"), (2, "C", "bad")], header_row=None)
    ws = load_workbook(path).worksheets[0]
    assert ws["B1"].comment.text == "length must be > 0"
    assert ws["C2"].comment.text == "bad"
    assert ws["A1"].comment is None


def test_not_an_xlsx_file(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_text("not a workbook")
    with pytest.raises(InputError, match="cannot open"):
        highlight_rejections(path, [(2, "A", "x")])


def test_file_permissions_are_kept(tmp_path: Path) -> None:
    path = _sheet(tmp_path)
    path.chmod(0o640)
    highlight_rejections(path, [(2, "Duration", "x")])
    assert path.stat().st_mode & 0o777 == 0o640
