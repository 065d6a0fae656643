"""``timetracker-import demo``: the quick start on the packaged sample data, from any
directory, against a sandbox it starts itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_quick_start_from_another_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRACKER_")}
    done = subprocess.run(
        [sys.executable, "-m", "timetracker_import", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for step in (
        "== validate:",
        "== dry run:",
        "== import:",
        "== runs list:",
        "== what undo would delete:",
    ):
        assert step in output
    out = tmp_path / "timetracker-import-demo"
    summary = json.loads((out / "import.json").read_text())
    assert summary["counts"]["created"] == 31 and summary["exit_code"] == 1
    assert "would delete 31" in output
    for name in ("validate.report.html", "import.report.html", "payroll_hours.rejected.xlsx"):
        assert (out / name).is_file(), name
    assert (out / "state" / "runs").is_dir()  # its own journal, not the user's
    assert "sandbox stopped" in output
