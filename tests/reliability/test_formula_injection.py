"""Formula injection (issue 8, part 5): every CSV and XLSX the tool writes (rejected rows,
exports, created.csv) neutralises text cells starting with ``=``, ``+``, ``-``, ``@``, TAB or
CR; XLSX cells holding user text are strings, never formulas; and the comments themselves go
to 7pace verbatim."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.helpers import make_rows, settings_for, write_rows
from tests.reliability.conftest import invoke, run_quick, server_worklogs
from timetracker_import.sandbox import RunningSandbox

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
MARK = 'HYPERLINK("http://evil.test","x")'
PAYLOADS = [f"{p}{MARK}" for p in DANGEROUS]


def hostile_rows() -> list[dict[str, Any]]:
    rows = make_rows(len(PAYLOADS) * 2)
    for i, payload in enumerate(PAYLOADS):
        rows[i]["Comment"] = payload  # valid rows: created with this comment
        rows[len(PAYLOADS) + i]["Comment"] = payload
        rows[len(PAYLOADS) + i]["User"] = payload  # unknown user: rejected, copied out
    return rows


def assert_csv_safe(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    for row in table:
        for cell in row:
            assert not cell.startswith(DANGEROUS), (path.name, cell)
    return table


def assert_xlsx_safe(path: Path) -> int:
    wb = openpyxl.load_workbook(path)  # not data_only: formulas would show as data_type "f"
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), (path.name, cell.value)
                    seen += MARK in cell.value
    return seen


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_import_outputs_are_neutralised_and_comments_sent_verbatim(
    sandbox: RunningSandbox, tmp_path: Path, suffix: str
) -> None:
    rows = hostile_rows()
    path = write_rows(tmp_path / "in.csv", rows)
    if suffix == ".xlsx":  # the same rows as a workbook: rejected rows come back as .xlsx
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(list(rows[0]))
        for row in rows:
            ws.append([str(v) for v in row.values()])
        path = tmp_path / "in.xlsx"
        for row in ws.iter_rows():
            for cell in row:
                cell.data_type = "s"  # keep the payloads as text in the input, too
        wb.save(path)
    result = run_quick(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 1, result.summary_dict()
    assert result.accounting.created == len(PAYLOADS)
    assert result.accounting.rejected == len(PAYLOADS)
    comments = sorted(str(k[5]) for k in server_worklogs(sandbox))  # k[5]: the comment
    # sent as written: no quote added, a leading TAB or CR kept (comments are not trimmed)
    written = list(PAYLOADS)
    if suffix == ".xlsx":  # XML turns a bare CR into LF: expect what the workbook holds
        column = list(rows[0]).index("Comment") + 1
        sheet = openpyxl.load_workbook(path).active
        written = [sheet.cell(r, column).value for r in range(2, 2 + len(PAYLOADS))]
        assert written[-1] == "\n" + MARK
    assert comments == sorted(written)
    assert result.rejected_path is not None and result.rejected_path.suffix == suffix
    if suffix == ".csv":
        table = assert_csv_safe(result.rejected_path)
        assert len(table) == 1 + len(PAYLOADS)
        assert all(MARK in " ".join(r) for r in table[1:])
    else:
        assert assert_xlsx_safe(result.rejected_path) >= len(PAYLOADS)
    assert result.created_csv is not None
    assert len(assert_csv_safe(result.created_csv)) == 1 + len(PAYLOADS)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_are_neutralised(sandbox: RunningSandbox, tmp_path: Path, fmt: str) -> None:
    rows = hostile_rows()[: len(PAYLOADS)]
    path = write_rows(tmp_path / "in.csv", rows)
    assert run_quick(settings_for(sandbox, path, tmp_path)).exit_code == 0
    out = tmp_path / f"export.{fmt}"
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    code, _, err = invoke(
        [
            "export",
            "--from",
            "2026-08-01",
            "--to",
            "2026-10-01",
            "--format",
            fmt,
            "-o",
            str(out),
            "--quiet",
        ],
        env,
    )
    assert code == 0, err
    if fmt == "csv":
        table = assert_csv_safe(out)
        assert sum(MARK in " ".join(r) for r in table) == len(PAYLOADS)
    else:
        assert assert_xlsx_safe(out) == len(PAYLOADS)
