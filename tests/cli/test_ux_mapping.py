"""`mapping init` walkthrough findings: the README's own demo file is recognised, and a
"Billable Hours" column is drafted as billable_length instead of being dropped."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from timetracker_import.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def test_payroll_demo_sample_is_recognised_as_its_preset() -> None:
    result = CliRunner().invoke(
        cli, ["mapping", "init", str(REPO / "sample_data" / "payroll_hours.xlsx")]
    )
    assert result.exit_code == 0, result.output
    assert "recognised preset payroll-demo" in result.stderr
    assert "use --preset payroll-demo" in result.stderr


def test_billable_hours_column_is_drafted_as_billable_length(tmp_path: Path) -> None:
    data = tmp_path / "hours.csv"
    data.write_text("Employee,Day,Worked Hours,Billable Hours,Notes\n", encoding="utf-8")
    out = tmp_path / "draft.yaml"
    result = CliRunner().invoke(cli, ["mapping", "init", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    fields = yaml.safe_load(out.read_text(encoding="utf-8"))["fields"]
    assert fields["length"] == {"column": "Worked Hours", "unit": "hours"}
    assert fields["billable_length"] == {"column": "Billable Hours", "unit": "hours"}
