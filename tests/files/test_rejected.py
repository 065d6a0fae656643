"""The one rejected-rows writer shared by validate, import and convert."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

from timetracker_import.core.rejections import Rejection
from timetracker_import.files.readers import open_table
from timetracker_import.files.rejected import RejectedWriter, write_rejected


def _table(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text("User;Hours;Notes\nbob;0;=cmd\nann;1;ok\n", encoding="utf-8")
    return path


def test_rows_keep_original_cells_then_the_reason(tmp_path: Path) -> None:
    table = open_table(_table(tmp_path))
    raw = next(table.chunks())
    out = write_rejected(
        tmp_path / "rej.csv",
        table,
        raw,
        [Rejection(2, "server", "Hours", "0", "length must be > 0", "LengthMustBePositive")],
    )
    assert out is not None
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))  # the input's own delimiter
    assert rows[0] == ["User", "Hours", "Notes", "source_row", "stage", "reason", "error_code"]
    assert rows[1] == [
        "bob",
        "0",
        "'=cmd",
        "2",
        "server",
        "length must be > 0",
        "LengthMustBePositive",
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_no_rejections_leave_no_file(tmp_path: Path) -> None:
    table = open_table(_table(tmp_path))
    writer = RejectedWriter(tmp_path / "rej.csv", table)
    writer.write(next(table.chunks()), [])
    assert writer.close(ok=True) is None
    assert not (tmp_path / "rej.csv").exists()


def test_xlsx_rejected_file_highlights_the_offending_cell(tmp_path: Path) -> None:
    import openpyxl

    source = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["User", "Hours", "Notes"])
    sheet.append(["bob", 0, "x"])
    book.save(source)
    table = open_table(source)
    out = write_rejected(
        tmp_path / "rej.xlsx",
        table,
        next(table.chunks()),
        [Rejection(2, "server", "Hours", "0", "length must be > 0", "LengthMustBePositive")],
    )
    assert out is not None
    cell = openpyxl.load_workbook(out).active["B2"]
    assert cell.comment is not None and "length must be > 0" in cell.comment.text
    assert cell.fill.fgColor.rgb not in (None, "00000000")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
