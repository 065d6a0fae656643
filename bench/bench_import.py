"""Benchmark: the ``import`` command as a user runs it, against the old importer's strategy.

Both sides run as subprocesses, start-up included, against a sandbox in its OWN process
(``timetracker-import sandbox``, a fresh database per run, the same server settings):

- this tool: ``timetracker-import import FILE --mapping M --yes --json`` (the console script
  of this virtualenv, its bytecode written first as an installed package has it) with its
  defaults (batch size 500, ``--concurrency auto``, preflight, journal); the phases and the
  concurrency it chose come from its ``--json`` summary (``timings``), start-up is the rest
  of the wall time (interpreter start, imports, option parsing, connection set-up, exit);
- the baseline: ``bench/old_importer.py``, a sequential two-pass client as 7pace's old
  importer worked: batches of 500, a ``validateOnly`` pass over every batch, then a posting
  pass, one request at a time (aiohttp and the standard library only: a lighter start-up).

Three scenarios, each with the baseline in the same run:

1. ``--sizes`` (default ``20@50,20000@50,50000@200``: ROWS@LATENCY_MS): the sandbox answers
   after the latency, whatever the load. Targets on a 2-core machine: 20 rows <= 2x the
   baseline's wall, 20,000 rows >= 4x faster, 50,000 rows at 200 ms >= 12x faster.
2. ``--capacity-rows`` (default 10,000): a sandbox of finite capacity, ``--capacity 4
   --row-cost-ms 2 --latency-ms 50`` (a batch of 500 holds one of 4 places for 1 s): auto
   next to a sweep of fixed ``--concurrency`` levels; target: auto within 15% of the best.
3. ``--rate-rows`` (default 20,000): ``--rate-limit 10/s --latency-ms 50``; target: every
   row lands.

Every run of this tool is checked on the server: rows lost (never stored) and doubled
(stored twice) are counted from the sandbox database. Also shown: this tool's peak RSS (its
own process) and the journal's size per row. Figures, no pass/fail: the script fails only
when a run of this tool does not finish (exit code other than 0).

Usage: ``python bench/bench_import.py [--sizes 20@50,...] [--capacity-rows N] [--sweep
2,4,8] [--rate-rows N] [--repeat N] [--no-baseline] [--tool-args '...']``; ``--sizes
1000000@50 --capacity-rows 0 --rate-rows 0 --repeat 1`` for a million rows.
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
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _measure import compile_package, run_measured, tree_bytes  # noqa: E402
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
CAPACITY = ["--capacity", "4", "--row-cost-ms", "2"]
RATE = ["--rate-limit", "10/s"]


def write_input(path: Path, rows: int) -> None:
    """``rows`` distinct worklogs in 2026-09 (the demo seed locks weeks in October)."""
    step = max(1, min(97, 25 * 86_400 // max(rows, 1)))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        for i in range(rows):
            ts = START + timedelta(seconds=step * i)
            writer.writerow(
                [USERS[i % 3], ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 15, 100 + i % 50, f"bench-{i}"]
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox(
    db: Path, latency_ms: float, extra: Sequence[str] = ()
) -> Iterator[tuple[str, dict[str, str]]]:
    """A sandbox subprocess; yields its URL and the seeded tokens."""
    args = ["--port", str(_free_port()), "--db", str(db), "--latency-ms", str(latency_ms), *extra]
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


def stored(db: Path) -> tuple[int, int]:
    """(worklogs stored, distinct comments): every input row has its own comment."""
    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT comment) FROM worklogs"
        ).fetchone()
    return int(total), int(distinct)


@dataclass
class Run:
    wall: float
    rows: int
    phases: dict[str, float] = field(default_factory=dict)
    lost: int = 0
    doubled: int = 0
    rss_mb: float = 0.0
    journal_bytes: int = 0
    level: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.wall


def run_ours(
    work: Path,
    src: Path,
    rows: int,
    latency_ms: float,
    n: int,
    args: Sequence[str],
    server: Sequence[str] = (),
) -> Run:
    db = work / f"ours{n}.sqlite"
    state = work / f"state{n}"
    with sandbox(db, latency_ms, server) as (url, tokens):
        env = dict(
            os.environ,
            TIMETRACKER_URL=url,
            TIMETRACKER_TOKEN=tokens["alice@example.com"],
            TIMETRACKER_STATE_DIR=str(state),
        )
        command = [
            str(CONSOLE),
            "import",
            str(src),
            "--mapping",
            str(work / "mapping.yaml"),
            "--yes",
            "--json",
            "--no-progress",
            *args,
        ]
        done = run_measured(command, env)
        if done.returncode != 0:
            raise SystemExit(f"import exited {done.returncode}: {done.stderr[-2000:]}")
        total, distinct = stored(db)
    summary = json.loads(done.stdout)
    timings = summary["timings"]
    phases = {p: float(timings.get(p, 0.0)) for p in PHASES}
    phases["startup"] = done.wall - sum(phases.values())
    return Run(
        done.wall,
        rows,
        phases,
        lost=rows - distinct,
        doubled=total - distinct,
        rss_mb=done.peak_rss_mb,
        journal_bytes=tree_bytes(state / "runs"),
        level=timings.get("concurrency", {}),
    )


def run_old(
    work: Path, src: Path, rows: int, latency_ms: float, n: int, server: Sequence[str] = ()
) -> Run:
    db = work / f"old{n}.sqlite"
    with sandbox(db, latency_ms, server) as (url, tokens):
        env = dict(os.environ, TIMETRACKER_URL=url, TIMETRACKER_TOKEN=tokens["alice@example.com"])
        done = run_measured(
            [sys.executable, str(ROOT / "bench" / "old_importer.py"), str(src)], env
        )
        total, distinct = stored(db)
    run = Run(
        done.wall, rows, lost=rows - distinct, doubled=total - distinct, rss_mb=done.peak_rss_mb
    )
    if done.returncode != 0:
        run.failed = done.stderr.strip().splitlines()[-1][:160] if done.stderr.strip() else "failed"
        return run
    out = json.loads(done.stdout)
    run.phases = {
        "setup": out["seconds_setup"],
        "validate pass": out["seconds_validate"],
        "post pass": out["seconds_post"],
    }
    return run


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def level_text(level: dict[str, Any]) -> str:
    if not level:
        return "-"
    if level.get("mode") != "auto":
        text = f"fixed {level.get('final')}"
    else:
        text = f"auto {level.get('start')}->{level.get('peak')}, end {level.get('final')}, mean {level.get('mean')}"
    extra = [f"{level[k]} {k}" for k in ("throttled", "overloaded") if level.get(k)]
    return ", ".join([text, *extra])


def show(label: str, runs: list[Run], *, phases: bool = True) -> Run:
    run = median_run(runs)
    walls = ", ".join(f"{r.wall:.2f}" for r in runs)
    print(f"  {label:<14}{run.wall:8.2f} s {run.rate:9.0f} rows/s   (runs: {walls})")
    if run.failed:
        print(f"    FAILED: {run.failed}")
    if run.level:
        print(f"    concurrency: {level_text(run.level)}")
    if phases and run.phases:
        if "startup" in run.phases:
            print(
                "    phases: "
                + ", ".join(f"{LABELS[p]} {run.phases[p]:.3f} s" for p in ("startup", *PHASES))
            )
        else:
            print(
                "    phases: "
                + ", ".join(f"{k} {v:.3f} s" for k, v in run.phases.items())
                + f", start-up+exit {run.wall - sum(run.phases.values()):.3f} s"
            )
    checks = f"lost {max(r.lost for r in runs)}, doubled {max(r.doubled for r in runs)}"
    memory = f"peak RSS {max(r.rss_mb for r in runs):.0f} MB"
    if run.journal_bytes:
        memory += f", journal {run.journal_bytes / run.rows:.0f} B/row"
    print(f"    rows on the server: {checks}; {memory}")
    return run


def ratio_line(ours: list[Run], old: list[Run]) -> None:
    a, b = median_run(ours), median_run(old)
    if b.failed:
        print(
            f"  speed-up: - (the baseline did not finish: {b.rows - b.lost} of {b.rows} rows stored)"
        )
        return
    per_run = ", ".join(f"{o.wall / u.wall:.1f}" for u, o in zip(ours, old, strict=True))
    print(f"  speed-up: {b.wall / a.wall:.1f}x  (median walls; per-run ratios {per_run})")


@contextmanager
def workdir(rows: int) -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        src = work / "bench.csv"
        write_input(src, rows)
        (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
        yield work, src


def plain(rows: int, latency: float, repeat: int, baseline: bool, args: list[str]) -> None:
    print(f"\n{rows} rows at {latency:.0f} ms latency")
    ours_runs, old_runs = [], []
    with workdir(rows) as (work, src):
        for n in range(repeat):  # alternate: both see the same machine load
            ours_runs.append(run_ours(work, src, rows, latency, n, args))
            if baseline:
                old_runs.append(run_old(work, src, rows, latency, n))
    show("this tool", ours_runs)
    if old_runs:
        show("baseline", old_runs)
        ratio_line(ours_runs, old_runs)
        print(
            f"  wall / baseline wall: {median_run(ours_runs).wall / median_run(old_runs).wall:.2f}"
        )
    print(f"  spread of this tool's runs: {statistics.pstdev([r.wall for r in ours_runs]):.3f} s")


def capacity(rows: int, sweep: list[int], repeat: int, baseline: bool, args: list[str]) -> None:
    latency = 50.0
    print(
        f"\n{rows} rows, sandbox of finite capacity ({' '.join(CAPACITY)}), {latency:.0f} ms latency"
    )
    levels: dict[str, list[Run]] = {"auto": []} | {str(c): [] for c in sweep}
    old_runs: list[Run] = []
    with workdir(rows) as (work, src):
        n = 0
        for _ in range(repeat):
            for level, runs in levels.items():
                extra = [*args] if level == "auto" else [*args, "--concurrency", level]
                runs.append(run_ours(work, src, rows, latency, n, extra, CAPACITY))
                n += 1
            if baseline:
                old_runs.append(run_old(work, src, rows, latency, n, CAPACITY))
    auto = show("auto", levels["auto"], phases=False)
    fixed = {
        level: show(f"fixed {level}", runs, phases=False)
        for level, runs in levels.items()
        if level != "auto"
    }
    if fixed:
        best_level, best = min(fixed.items(), key=lambda kv: kv[1].wall)
        print(
            f"  best fixed level: {best_level} ({best.wall:.2f} s); auto takes "
            f"{auto.wall / best.wall:.2f}x its wall ({(auto.wall / best.wall - 1) * 100:+.0f}%)"
        )
    if old_runs:
        show("baseline", old_runs, phases=False)
        ratio_line(levels["auto"], old_runs)


def rate_limited(rows: int, repeat: int, baseline: bool, args: list[str]) -> None:
    latency = 50.0
    print(f"\n{rows} rows, sandbox limited to {RATE[1]}, {latency:.0f} ms latency")
    ours_runs, old_runs = [], []
    with workdir(rows) as (work, src):
        for n in range(repeat):
            ours_runs.append(run_ours(work, src, rows, latency, n, args, RATE))
            if baseline:
                old_runs.append(run_old(work, src, rows, latency, n, RATE))
    show("this tool", ours_runs, phases=False)
    if old_runs:
        show("baseline", old_runs, phases=False)
        ratio_line(ours_runs, old_runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="20@50,20000@50,50000@200",
        help="ROWS@LATENCY_MS, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--capacity-rows",
        type=int,
        default=10_000,
        help="rows for the finite-capacity scenario (0: skip it)",
    )
    parser.add_argument(
        "--sweep",
        default="2,4,6,8,12,16,32",
        help="fixed --concurrency levels compared with auto there",
    )
    parser.add_argument(
        "--rate-rows",
        type=int,
        default=20_000,
        help="rows for the rate-limited scenario (0: skip it)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (median shown)")
    parser.add_argument("--no-baseline", action="store_true", help="time this tool only")
    parser.add_argument(
        "--tool-args",
        default="",
        help="extra options for this tool's import, e.g. '--concurrency 16'",
    )
    args = parser.parse_args()
    compile_package()
    repeat = max(1, args.repeat)
    tool_args = args.tool_args.split()
    baseline = not args.no_baseline
    print(
        f"console script: {CONSOLE} {args.tool_args} (subprocess, start-up included, bytecode "
        "compiled first); sandbox in its own process, fresh database per run; median of "
        f"{repeat} run(s); {os.cpu_count()} CPU(s)"
    )
    for size in filter(None, args.sizes.split(",")):
        rows, latency = size.split("@")
        plain(int(float(rows)), float(latency), repeat, baseline, tool_args)
    if args.capacity_rows:
        sweep = [int(c) for c in args.sweep.split(",") if c]
        capacity(args.capacity_rows, sweep, repeat, baseline, tool_args)
    if args.rate_rows:
        rate_limited(args.rate_rows, repeat, baseline, tool_args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
