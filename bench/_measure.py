"""Running a console script as a user does, measured: wall time and its own peak RSS."""

from __future__ import annotations

import compileall
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compile_package() -> None:
    """Write the package's bytecode, as installing it from a wheel does: with an editable
    install (and PYTHONDONTWRITEBYTECODE, common in CI) every run would compile ~130
    modules again, which no user pays."""
    compileall.compile_dir(ROOT / "timetracker_import", quiet=1)


@dataclass
class Measured:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float  # of this process alone (wait4), not of the sandbox


def run_measured(command: Sequence[str], env: Mapping[str, str]) -> Measured:
    """Run ``command`` to its end; its output is kept in temporary files (no pipe to drain)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(command), env=dict(env), stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in kilobytes on Linux
        return Measured(wall, proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024)


def tree_bytes(path: Path) -> int:
    """The size of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
