"""``export``: a progress bar like import's (--progress/--no-progress) and a --json summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def test_export_shows_a_progress_bar_when_asked(box: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    shown = invoke(
        box,
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--timezone",
        "UTC",
        "-o",
        str(out),
        "--progress",
    )
    assert shown.exit_code == 0, shown.stderr
    assert "export: " in shown.stderr and " worklogs" in shown.stderr
    quiet = invoke(
        box,
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--timezone",
        "UTC",
        "-o",
        str(out),
        "--no-progress",
    )
    assert quiet.exit_code == 0 and "export: " not in quiet.stderr


def test_export_json_summary_needs_an_output_file(box: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    done = invoke(
        box,
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--timezone",
        "UTC",
        "-o",
        str(out),
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exit_code"] == 0 and doc["output"] == str(out) and doc["format"] == "csv"
    assert doc["worklogs"] == len(out.read_text().splitlines()) - 1
    clash = invoke(box, "export", "--json")
    assert clash.exit_code == 2
    assert json.loads(clash.stdout)["error"]["hint"].startswith("write the export to a file")
