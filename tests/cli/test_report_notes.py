"""The report carries the warnings the summary printed.

A scheduled run's evidence is its report: the summary's notes (above all "times without an
offset were read in this machine's zone", issue 21 item 5) were printed to stderr only, so
the report of a run that read every time in the wrong zone looked clean.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.helpers import write_csv
from timetracker_import.cli.main import cli

ROW = {"UserName": "bob@example.com", "TimeStamp": "03/04/2024 09:15", "Duration": "1"}


def _validate(path: Path, report: Path, *extra: str) -> None:
    args = ["validate", str(path), "--preset", "7pace-npm", "--report", str(report), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_the_machine_zone_warning_reaches_the_json_and_html_report(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "hours.csv", [ROW | {"Comment": "x"}])
    _validate(path, tmp_path / "r.json")
    [note] = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["notes"]
    assert "1 time(s) without an offset were read in this machine's zone" in note
    _validate(path, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<section id="notes"><h2>Notes</h2>' in html and "machine&#x27;s zone" in html


def test_a_report_without_notes_has_no_notes_key_or_section(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "hours.csv", [ROW | {"Comment": "x"}])
    _validate(path, tmp_path / "r.json", "--timezone", "UTC")
    assert "notes" not in json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    _validate(path, tmp_path / "r.html", "--timezone", "UTC")
    assert 'id="notes"' not in (tmp_path / "r.html").read_text(encoding="utf-8")
