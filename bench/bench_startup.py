"""Benchmark: how long the console script takes for commands that do no work (``--help``,
a command's ``--help``, ``runs list`` of an empty state directory), this tree against a
baseline git revision (default ``main``), alternating runs, medians.

    .venv/bin/python bench/bench_startup.py
    .venv/bin/python bench/bench_startup.py --baseline HEAD~5 --runs 51
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (["--help"], ["validate", "--help"], ["runs", "list"])


def _export(revision: str, into: Path) -> None:
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "archive",
            revision,
            "timetracker_import",
            "mappings",
            "sample_data",
        ],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def _once(source: Path, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "timetracker_import", *args],
        cwd=source,
        env={**env, "PYTHONPATH": str(source)},
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        _export(args.baseline, base)
        env = dict(os.environ, TIMETRACKER_STATE_DIR=str(Path(tmp) / "state"))
        print(f"{'command':<18}{args.baseline:>12}{'this tree':>12}{'ratio':>8}")
        for command in COMMANDS:
            ours, theirs = [], []
            for _ in range(args.runs):
                theirs.append(_once(base, command, env))
                ours.append(_once(REPO, command, env))
            a, b = statistics.median(theirs), statistics.median(ours)
            print(f"{' '.join(command):<18}{a * 1000:>10.0f}ms{b * 1000:>10.0f}ms{b / a:>8.2f}")


if __name__ == "__main__":
    main()
