"""The import's JSON/HTML report: the hour grid counts only rows this import brings, and the
locked-week flag says which week and state stopped each row."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import make_rows, run, settings_for, write_rows
from timetracker_import.sandbox import RunningSandbox


def test_report_grid_leaves_out_rejected_rows_and_names_lock_states(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rows = make_rows(4, users=("alice@example.com",))  # 4 x 15 min, open weeks
    # bob's week of 2026-10-05 is Submitted and carol's is Closed in the demo seed
    rows.append(
        {
            "User": "bob@example.com",
            "Start": "2026-10-06T09:00:00Z",
            "Minutes": 120,
            "WorkItem": 5,
            "Comment": "locked-bob",
        }
    )
    rows.append(
        {
            "User": "carol@example.com",
            "Start": "2026-10-07T09:00:00Z",
            "Minutes": 90,
            "WorkItem": 5,
            "Comment": "locked-carol",
        }
    )
    path = write_rows(tmp_path / "in.csv", rows)
    report_path = tmp_path / "report.json"
    result = run(settings_for(sandbox, path, tmp_path, report_path=report_path))
    assert result.exit_code == 1

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["totals"]["seconds"] == 4 * 15 * 60  # the locked 3.5 h are not counted
    users = {row["user"] for row in report["grid"]["rows"]}
    assert users == {"alice@example.com"}
    locked = next(f for f in report["flags"] if f["code"] == "locked_week")
    texts = [item["text"] for item in locked["items"]]
    assert any("row 6:" in t and "Submitted" in t and "bob@example.com" in t for t in texts)
    assert any("row 7:" in t and "Closed" in t for t in texts)


def test_html_summary_shows_the_balance_check_as_yes_or_no() -> None:
    from timetracker_import.core.report import ReportBuilder
    from timetracker_import.files.report_html import render_html

    ok = render_html(ReportBuilder().build({"rows": 0, "balanced": 1}))
    broken = render_html(ReportBuilder().build({"rows": 1, "balanced": 0}))
    assert 'data-key="balanced"><b>yes</b><span>Rows add up</span>' in ok
    assert 'class="card bad" data-key="balanced"><b>NO</b>' in broken
