"""The HTML report as text: self-contained, escaped, with the grid and flags."""

from __future__ import annotations

import re
from pathlib import Path

from tests.core.test_report import sample_report
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.report import ReportBuilder
from timetracker_import.files.report_html import heat_colour, render_html
from timetracker_import.files.report_json import write_report


def test_page_is_self_contained() -> None:
    page = render_html(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    # no scripts and nothing fetched from anywhere
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//|file:)""", page)
    assert "@import" not in page and "url(" not in page
    assert "@media print" in page


def test_grid_totals_and_flags_are_in_the_page() -> None:
    page = render_html(sample_report())
    assert '<td class="num" id="grand-total">105.00</td>' in page
    assert 'data-user="bob@example.com"' in page
    assert "bob@example.com worked 65.00 h in 2024-W02" in page
    assert "Days over 24 h (1)" in page
    assert "… and 1 more rows like these" in page


def test_everything_from_the_data_is_escaped(tmp_path: Path) -> None:
    builder = ReportBuilder()
    evil = "<script>alert(1)</script>"
    builder.add_rejections(
        [Rejection(2, "map", "Us<er>", evil, f"bad {evil}")], {2: {"Us<er>": evil, "x": "a&b"}}
    )
    page = render_html(builder.build({"rows": 1, "rejected": 1}, {"input": f"{evil}.csv"}))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Us&lt;er&gt;" in page and "a&amp;b" in page


def test_heat_colour_scale() -> None:
    assert heat_colour(0, 100) == "#ffffff"
    assert heat_colour(101, 100).startswith("hsl(4,")  # over the threshold: red
    light = int(heat_colour(10, 100).split(",")[2].strip(" %)"))
    dark = int(heat_colour(100, 100).split(",")[2].strip(" %)"))
    assert dark < light


def test_write_report_by_suffix(tmp_path: Path) -> None:
    report = sample_report()
    html_path = write_report(report, tmp_path / "r.html")
    assert html_path.read_text(encoding="utf-8") == render_html(report)
    assert not list(tmp_path.glob(".r.html.*"))  # no temporary file left behind
