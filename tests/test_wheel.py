"""The wheel as a pip user gets it: built from this tree, installed in a fresh virtualenv
outside the repository (dependencies from the package index), ``timetracker-import demo``
run from there, and NTLM without the extra refused with the extra's name. Slow (a pip
install): ``make test-all`` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_the_wheel_runs_the_demo_from_a_fresh_virtualenv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("timetracker_import-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True, timeout=900)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIMETRACKER_", "PYTHON"))}
    demo = subprocess.run(
        [str(bin_dir / "timetracker-import"), "demo"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "would delete 31" in demo.stdout + demo.stderr
    assert (elsewhere / "timetracker-import-demo" / "import.report.html").is_file()
    ntlm = subprocess.run(
        [
            str(bin_dir / "timetracker-import"),
            "me",
            "--url",
            "http://127.0.0.1:9",
            "--auth",
            "ntlm",
            "--user",
            "CONTOSO\\alice",
        ],
        cwd=elsewhere,
        env={**env, "TIMETRACKER_PASSWORD": "pw-123456"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ntlm.returncode == 2
    assert "pip install 'timetracker-import[ntlm]'" in ntlm.stderr
