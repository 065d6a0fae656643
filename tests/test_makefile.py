"""``make`` rebuilds a virtualenv made with another Python than ``$(PYTHON)``. Slow (a new
venv and a pip upgrade): ``make test-all`` runs it."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_a_venv_of_another_python_is_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / ".venv"
    venv.create(target, with_pip=False)
    # pretend it was made with another Python: its interpreter reports another version
    fake = target / "bin" / "python"
    fake.unlink()
    fake.write_text("#!/bin/sh\necho 0.0.1\n")
    fake.chmod(0o755)
    version = platform.python_version()
    mark = f"{target}/.python-{version}"
    done = subprocess.run(
        ["make", "-C", str(REPO), mark, f"VENV={target}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "rebuilding it" in done.stdout
    real = subprocess.run(
        [str(fake), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert real.stdout.strip() == version
    again = subprocess.run(
        ["make", "-C", str(REPO), mark, f"VENV={target}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "rebuilding" not in again.stdout  # the right Python: kept
