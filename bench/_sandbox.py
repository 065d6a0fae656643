"""The sandbox as a child process, shared by the benchmark scripts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def sandbox_subprocess(
    args: Sequence[str], *, python_args: Sequence[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """``python [python_args] -m timetracker_import sandbox [args]`` with its stdout piped
    (text); terminated on exit, killed if it has not stopped after 10 s."""
    command = [sys.executable, *python_args, "-m", "timetracker_import", "sandbox", *args]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
