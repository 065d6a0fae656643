"""Benchmark: the ``import`` command as a user runs it, against the old importer's strategy.

Both sides run as subprocesses, start-up included, against a sandbox in its OWN process
(``timetracker-import sandbox``, a fresh database per run, the same injected latency):

- this tool: ``timetracker-import import FILE --mapping M --yes --json`` (the console script
  of this virtualenv) with its defaults (batch size 500, concurrency 8, preflight, journal);
  the phases come from its ``--json`` summary (``timings``), and start-up is the rest of the
  wall time (interpreter start, imports, option parsing, connection set-up, exit);
- the baseline: ``bench/old_importer.py``, a sequential two-pass client as 7pace's old
  importer worked: batches of 500, a ``validateOnly`` pass over every batch, then a posting
  pass, one request at a time (aiohttp and the standard library only: a lighter start-up).

Default sizes (rows at latency): 20 at 50 ms, 20,000 at 50 ms, 50,000 at 200 ms. Targets on
a 2-core machine: 20 rows <= 0.8 s, 20,000 rows <= 1.5 s, 50,000 rows at 200 ms >= 10x the
baseline. Each run is checked: every row created, the server holds exactly that many.

Usage: ``python bench/bench_import.py [--sizes 20@50,20000@50,50000@200] [--repeat N]
[--no-baseline]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _sandbox import sandbox_subprocess  # noqa: E402

CONSOLE = Path(sys.executable).with_name("timetracker-import")
MAPPING = """\
version: 1
header: true
timezone: UTC
fields:
  user: {column: User}
  timestamp: {column: Start}
  length: {column: Minutes, unit: minutes}
  work_item: {column: WorkItem}
  comment: {column: Comment}
"""
USERS = ("alice@example.com", "bob@example.com", "carol@example.com")
START = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
PHASES = ("read_validate", "resolve", "preflight", "post", "finish")
LABELS = {
    "startup": "start-up+imports+exit",
    "read_validate": "read/validate",
    "resolve": "setup round trip+resolve",
    "preflight": "preflight+plan",
    "post": "posting",
    "finish": "finish",
}


def write_input(path: Path, rows: int) -> None:
    """``rows`` distinct worklogs in 2026-09 (the demo seed locks weeks in October)."""
    step = max(1, min(97, 25 * 86_400 // max(rows, 1)))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        for i in range(rows):
            ts = START + timedelta(seconds=step * i)
            writer.writerow([USERS[i % 3], ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 15, 100 + i % 50,
                             f"bench-{i}"])  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox(db: Path, latency_ms: float) -> Iterator[tuple[str, dict[str, str]]]:
    """A sandbox subprocess; yields its URL and the seeded tokens."""
    args = ["--port", str(_free_port()), "--db", str(db), "--latency-ms", str(latency_ms)]
    with sandbox_subprocess(args) as proc:
        assert proc.stdout is not None
        url, tokens = None, {}
        for line in proc.stdout:
            found = re.match(r"7pace sandbox listening on (\S+)", line)
            if found:
                url = found.group(1)
            parts = line.split()
            if len(parts) >= 4 and parts[0] in USERS:
                tokens[parts[0]] = parts[-1]
            if line.startswith("press Ctrl-C"):
                break
        if url is None or not tokens:
            raise RuntimeError(f"the sandbox did not start (exit {proc.poll()})")
        yield url, tokens


def stored_worklogs(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM worklogs").fetchone()[0])


@dataclass
class Run:
    wall: float
    phases: dict[str, float] = field(default_factory=dict)


def run_ours(
    work: Path, src: Path, rows: int, latency_ms: float, n: int, extra: list[str]
) -> Run:
    db = work / f"ours{n}.sqlite"
    with sandbox(db, latency_ms) as (url, tokens):
        env = dict(os.environ, TIMETRACKER_URL=url, TIMETRACKER_TOKEN=tokens["alice@example.com"],
                   TIMETRACKER_STATE_DIR=str(work / f"state{n}"))  # fmt: skip
        command = [str(CONSOLE), "import", str(src), "--mapping", str(work / "mapping.yaml"),
                   "--yes", "--json", "--no-progress", *extra]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"import exited {done.returncode}: {done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        created = summary["counts"]["created"]
        if created != rows or stored_worklogs(db) != rows:
            raise SystemExit(f"expected {rows} created, got {created} / {stored_worklogs(db)}")
    phases = {p: float(summary["timings"].get(p, 0.0)) for p in PHASES}
    phases["startup"] = wall - sum(phases.values())
    return Run(wall, phases)


def run_old(work: Path, src: Path, rows: int, latency_ms: float, n: int) -> Run:
    db = work / f"old{n}.sqlite"
    with sandbox(db, latency_ms) as (url, tokens):
        env = dict(os.environ, TIMETRACKER_URL=url, TIMETRACKER_TOKEN=tokens["alice@example.com"])
        command = [sys.executable, str(ROOT / "bench" / "old_importer.py"), str(src)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"baseline exited {done.returncode}: {done.stderr[-2000:]}")
        out = json.loads(done.stdout)
        if stored_worklogs(db) != rows:
            raise SystemExit(f"baseline stored {stored_worklogs(db)} of {rows}")
    return Run(wall, {"setup": out["seconds_setup"], "validate pass": out["seconds_validate"],
                      "post pass": out["seconds_post"]})  # fmt: skip


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20@50,20000@50,50000@200",
                        help="ROWS@LATENCY_MS, comma-separated")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (median shown)")
    parser.add_argument("--no-baseline", action="store_true", help="time this tool only")
    parser.add_argument("--tool-args", default="",
                        help="extra options for this tool's import, e.g. '--concurrency 16'")  # fmt: skip
    args = parser.parse_args()
    sizes = [tuple(float(x) for x in s.split("@")) for s in args.sizes.split(",")]
    print(f"console script: {CONSOLE} {args.tool_args} (subprocess, start-up included); "
          "sandbox in its own "
          f"process, fresh database per run; median of {args.repeat} run(s); "
          f"{os.cpu_count()} CPU(s)")  # fmt: skip
    for rows_f, latency in sizes:
        rows = int(rows_f)
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            work = Path(tmp)
            src = work / "bench.csv"
            write_input(src, rows)
            (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
            ours_runs, old_runs = [], []
            for n in range(max(1, args.repeat)):  # alternate: both see the same machine load
                ours_runs.append(run_ours(work, src, rows, latency, n, args.tool_args.split()))
                if not args.no_baseline:
                    old_runs.append(run_old(work, src, rows, latency, n))
        ours = median_run(ours_runs)
        walls = ", ".join(f"{r.wall:.2f}" for r in ours_runs)
        print(f"\n{rows} rows at {latency:.0f} ms latency")
        print(f"  this tool    {ours.wall:7.2f} s {rows / ours.wall:9.0f} rows/s   (runs: {walls})")
        print("    phases: " + ", ".join(
            f"{LABELS[p]} {ours.phases[p]:.3f} s" for p in ("startup", *PHASES)))  # fmt: skip
        if old_runs:
            old = median_run(old_runs)
            print(f"  baseline     {old.wall:7.2f} s {rows / old.wall:9.0f} rows/s   (runs: "
                  + ", ".join(f"{r.wall:.2f}" for r in old_runs) + ")")
            print("    phases: " + ", ".join(f"{k} {v:.3f} s" for k, v in old.phases.items())
                  + f", start-up+exit {old.wall - sum(old.phases.values()):.3f} s")
            print(f"  speed-up: {old.wall / ours.wall:.1f}x  "
                  f"(median walls; per-run ratios "
                  + ", ".join(f"{o.wall / u.wall:.1f}" for u, o in zip(ours_runs, old_runs,
                                                                      strict=True))
                  + ")")  # fmt: skip
        print(f"  spread of this tool's runs: {statistics.pstdev([r.wall for r in ours_runs]):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
