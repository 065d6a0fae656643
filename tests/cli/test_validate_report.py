"""`validate --report`: the HTML/JSON report and the highlighted XLSX rejected-rows file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from timetracker_import.cli.main import cli

SAMPLE = ["sample_data/payroll_hours.xlsx", "--preset", "payroll-demo"]


def _run(repo_root: Path, *args: str) -> tuple[int, str]:
    import os

    cwd = os.getcwd()
    os.chdir(repo_root)
    try:
        result = CliRunner().invoke(cli, ["validate", *SAMPLE, *args])
    finally:
        os.chdir(cwd)
    return result.exit_code, result.output


def test_json_report_agrees_with_the_run(repo_root: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, output = _run(repo_root, "--rejected", str(tmp_path / "r.xlsx"), "--report", str(report))
    assert code == 1
    assert f"report written to {report}" in output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["meta"]["command"] == "validate"
    acc = data["accounting"]
    assert acc["rows"] == acc["valid"] + acc["rejected"] + acc["skipped"]
    assert data["totals"]["rows"] == acc["valid"]
    assert sum(g["count"] for g in data["rejections"]) == acc["rejected"]
    assert data["grid"]["total_seconds"] == sum(r["total_seconds"] for r in data["grid"]["rows"])
    # examples carry the row as written in the workbook
    example = data["rejections"][0]["examples"][0]
    assert "Employee Email" in example["source"]


def test_html_report_and_highlighted_rejected_xlsx(repo_root: Path, tmp_path: Path) -> None:
    rejected, report = tmp_path / "r.xlsx", tmp_path / "report.html"
    code, _ = _run(repo_root, "--rejected", str(rejected), "--report", str(report))
    assert code == 1
    page = report.read_text(encoding="utf-8")
    assert 'id="grand-total"' in page and "Rejected rows" in page
    ws = load_workbook(rejected).worksheets[0]
    headers = [c.value for c in ws[1]]
    reason_col = headers.index("reason") + 1
    marked = 0
    for row in range(2, ws.max_row + 1):
        commented = [c for c in ws[row] if c.comment is not None]
        assert len(commented) == 1, f"row {row}: one offending cell expected"
        cell = commented[0]
        assert cell.comment.text == ws.cell(row=row, column=reason_col).value
        assert cell.fill.fill_type == "solid"
        marked += 1
    assert marked >= 1


def test_unknown_report_suffix_fails_before_running(repo_root: Path, tmp_path: Path) -> None:
    code, output = _run(
        repo_root, "--rejected", str(tmp_path / "r.xlsx"), "--report", str(tmp_path / "r.pdf")
    )
    assert code == 2
    assert "unknown report format" in output
    assert not list(tmp_path.iterdir())
