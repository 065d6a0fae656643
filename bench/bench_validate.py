"""Benchmark: `timetracker-import validate` vs a bare `pandas.read_csv` of the same file.

Generates a deterministic CSV (7pace-npm header layout) in a temp dir, runs both in
subprocesses and prints wall time and peak RSS (psutil polling) and the ratios.

    .venv/bin/python bench/bench_validate.py --rows 250000
    .venv/bin/python bench/bench_validate.py            # 250,000 and 1,000,000 rows (~90 MB)
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

USERS = [f"user{i}@example.com" for i in range(50)]
ACTIVITIES = ["Development", "Testing", "Meetings", "Documentation"]
COMMENTS = ["Code review", "Fix paging bug", "Sprint planning, retro", "Release notes"]


def generate(path: Path, rows: int) -> None:
    """Write ``rows`` worklog rows; a fixed seed makes the file identical on every run."""
    rnd = random.Random(42)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(
            "UserName,TimeStamp,Duration,BillableDuration,ActivityType,Comment,WorkItem,"
            "Organization\n"
        )
        for i in range(rows):
            month, day = rnd.randint(1, 12), rnd.randint(1, 28)
            hour, minute = rnd.randint(7, 18), rnd.choice((0, 15, 30, 45))
            hours = rnd.choice(("0.25", "0.5", "1", "1.5", "2", "3", '"4,5"'))
            fh.write(
                f"{rnd.choice(USERS)},{month:02d}/{day:02d}/2026 {hour:02d}:{minute:02d},"
                f"{hours},{hours if i % 3 else ''},{rnd.choice(ACTIVITIES)},"
                f'"{rnd.choice(COMMENTS)} #{i}",{1000 + i % 5000},contoso\n'
            )


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of a subprocess, polling RSS every 20 ms."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    return time.perf_counter() - start, peak / 2**20, proc.returncode


def run_size(rows: int) -> tuple[float, float, float, float]:
    """Generate ``rows`` rows, measure both commands, print one table; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "worklogs.csv"
        generate(csv_path, rows)
        size_mb = csv_path.stat().st_size / 2**20
        py = sys.executable
        read = [py, "-c", f"import pandas as pd; pd.read_csv({str(csv_path)!r}, dtype=str)"]
        validate = [
            py,
            "-m",
            "timetracker_import",
            "validate",
            str(csv_path),
            "--preset",
            "7pace-npm",
            "--timezone",
            "Europe/Berlin",
        ]
        r_wall, r_rss, _ = measure(read)
        v_wall, v_rss, v_rc = measure(validate)
    print(f"rows {rows:,}  file {size_mb:.1f} MB")
    print(f"{'':24}{'wall s':>10}{'peak RSS MB':>14}")
    print(f"{'pandas.read_csv':24}{r_wall:>10.2f}{r_rss:>14.0f}")
    print(f"{'validate (exit ' + str(v_rc) + ')':24}{v_wall:>10.2f}{v_rss:>14.0f}")
    print(f"ratio validate/read: time {v_wall / r_wall:.2f}x, RSS {v_rss / r_rss:.2f}x")
    print()
    return r_wall, r_rss, v_wall, v_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[250_000, 1_000_000],
        help="one or more row counts (default: 250000 1000000, to compare RSS growth)",
    )
    args = parser.parse_args()
    results = {rows: run_size(rows) for rows in args.rows}
    if len(results) > 1:
        small, large = min(results), max(results)
        growth = results[large][3] / results[small][3]
        print(
            f"validate peak RSS {results[small][3]:.0f} MB at {small:,} rows -> "
            f"{results[large][3]:.0f} MB at {large:,} rows ({growth:.2f}x for "
            f"{large / small:.0f}x the rows; chunked reading should keep this near 1x)"
        )


if __name__ == "__main__":
    main()
