"""The terminal summary: fits 100 columns, colour only when asked / on a terminal."""

from __future__ import annotations

import io
import re

import click
import pandas as pd

from tests.core.test_report import canonical, sample_report
from timetracker_import.cli.render import echo_summary, render_summary
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.report import Report, ReportBuilder

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _wide_report() -> Report:
    """Many weeks, many users with very long names, long reasons."""
    builder = ReportBuilder()
    rows = []
    n = 2
    for u in range(30):
        user = f"someone.with.a.really.long.name.number{u}@a-very-long-domain.example.com"
        for week in range(20):
            day = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=7 * week + u % 7)
            rows.append((n, user, day.isoformat(), 13 + u % 3, "Development", 1000 + u))
            n += 1
    builder.add_rows(canonical(rows))
    builder.add_rejections(
        [
            Rejection(
                9000 + i,
                "validate",
                "A column header that is long " * 3,
                "x" * 80,
                "a reason that goes on and on " * 6,
            )
            for i in range(7)
        ]
    )
    builder.add_flags(locked_week_rows=range(2, 500))
    return builder.build(
        {
            "rows": n + 5,
            "valid": n - 2,
            "rejected": 7,
            "already_existing": 0,
            "unprocessed": 0,
            "skipped": 0,
        }
    )


def test_no_line_exceeds_100_columns() -> None:
    for report in (sample_report(), _wide_report(), ReportBuilder().build({})):
        for color in (False, True):
            text = ANSI.sub("", render_summary(report, color=color))
            widths = [len(line) for line in text.splitlines()]
            assert max(widths) <= 100, text


def test_wide_grid_shows_latest_weeks_and_top_users() -> None:
    text = render_summary(_wide_report())
    assert "2024-W20" in text and "2024-W01 " not in text
    assert "(not shown: 13 earlier weeks, 18 more users; see --report PATH.html)" in text


def test_sample_summary_content() -> None:
    text = render_summary(sample_report())
    lines = text.splitlines()
    assert lines[0] == "Run: 18 rows · 12 valid · 6 rejected · 0 unprocessed"
    assert "Total                         28.00    73.00     4.00    105.00" in lines
    assert "  ! Days over 24 h: 1 — alice@example.com worked 25.00 h on 2024-01-03 (Wed)" in lines
    assert "      3 × validate · Duration — length must be > 0, got … (rows 7, 8, …)" in lines
    assert "\x1b[" not in text


def test_colour_only_when_asked() -> None:
    coloured = render_summary(sample_report(), color=True)
    assert "\x1b[" in coloured
    assert click.style("    65.00", fg="red", bold=True) in coloured  # the week over 60 h
    assert ANSI.sub("", coloured) == render_summary(sample_report())


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_echo_summary_colours_only_a_terminal() -> None:
    plain, tty = io.StringIO(), _Tty()
    echo_summary(sample_report(), stream=plain)
    echo_summary(sample_report(), stream=tty)
    assert "\x1b[" not in plain.getvalue() and "Flags:" in plain.getvalue()
    assert "\x1b[" in tty.getvalue()
