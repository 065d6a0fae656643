"""Benchmark: export of N worklogs from the sandbox with injected latency.

This tool's default (day range cut into windows fetched concurrently) next to sequential
paging (one window, one request at a time), in the same run. The sandbox runs in its OWN
process (``python -m timetracker_import sandbox``), like a real server, so its CPU does not
share the tool's interpreter; each strategy run gets a fresh sandbox on a fresh copy of a
database seeded once straight through the sandbox's store (no HTTP).

Prints, per strategy: wall time, rows, requests, response bytes, CPU seconds of this process
and of the sandbox process, and the ratio (target: default at least 4x faster). With
``--repeat N`` both strategies run N times, alternating, and the median run of each is
reported. Figures only; the run fails only when the two strategies' rows differ.

``--cli-sizes 250000,1000000`` instead times the console script as a user runs it
(``timetracker-import export --from --to -o FILE``, a subprocess, start-up included) on
sandboxes holding that many worklogs: wall, rows/s and the command's own peak RSS, to show
memory does not grow with the export.

    .venv/bin/python bench/bench_export.py [--worklogs 100000] [--latency-ms 50] [--repeat 3]
    .venv/bin/python bench/bench_export.py --cli-sizes 250000,1000000 [--format csv]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _measure import compile_package, run_measured  # noqa: E402
from _sandbox import sandbox_subprocess  # noqa: E402

from timetracker_import.api.redact import Secret  # noqa: E402
from timetracker_import.api.settings import ConnectionSettings  # noqa: E402
from timetracker_import.app.export import ExportSettings, run_export  # noqa: E402
from timetracker_import.sandbox import load_seed  # noqa: E402
from timetracker_import.sandbox.store import Store, WorklogRow  # noqa: E402
from timetracker_import.sandbox.timeparse import to_key  # noqa: E402

FIRST = dt.date(2026, 1, 1)
DAYS = 180


def seed_db(path: Path, count: int) -> None:
    """Insert ``count`` worklogs straight into the sandbox database (fast, no HTTP)."""
    seed = load_seed("demo")
    store = Store(path, seed)
    users = [u for u in store.users.values() if u.role != "None"]
    activity = next(iter(store.activity_types))
    start = dt.datetime.combine(FIRST, dt.time(0), tzinfo=dt.UTC)
    step = DAYS * 86400 / count
    now = to_key(dt.datetime.now(dt.UTC))
    rows = []
    for i in range(count):
        ts = start + dt.timedelta(seconds=int(i * step))
        user = users[i % len(users)]
        rows.append(
            WorklogRow(
                id=str(uuid.UUID(int=i + 1)),
                user_id=user.id,
                added_by=user.id,
                edited_by=user.id,
                ts_text=ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                ts_key=to_key(ts),
                length=1800,
                billable=None,
                work_item_id=1000 + i % 50,
                comment=f"bench {i}",
                activity_type_id=activity,
                created_key=now,
                edited_key=now,
            )
        )
        if len(rows) == 10_000:
            store.insert_worklogs(rows)
            rows = []
    store.insert_worklogs(rows)
    store.close()  # checkpoints the WAL: the file alone is the whole database


@contextlib.contextmanager
def sandbox_process(db: Path, latency_ms: float) -> Iterator[tuple[str, int]]:
    """``timetracker-import sandbox`` on a free port; yields its base URL and process id."""
    args = ["--port", "0", "--db", str(db), "--latency-ms", str(latency_ms)]
    with sandbox_subprocess(args) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                yield found.group(0), proc.pid
                break
        else:
            raise RuntimeError(f"the sandbox did not start (exit {proc.poll()})")


@dataclass
class Run:
    wall: float
    rows: list[dict[str, Any]]
    requests: int
    bytes: int
    cpu: float  # this process
    server_cpu: float  # the sandbox process


async def export_counting_bytes(
    conn: ConnectionSettings, export: ExportSettings
) -> tuple[Any, int]:
    """``run_export`` through a session that counts response body bytes."""
    import aiohttp

    from timetracker_import.api.client import DEFAULT_TIMEOUT, TimetrackerClient

    received = 0

    async def on_chunk(*args: Any) -> None:
        nonlocal received
        received += len(args[2].chunk)

    trace = aiohttp.TraceConfig()
    trace.on_response_chunk_received.append(on_chunk)
    async with aiohttp.ClientSession(timeout=DEFAULT_TIMEOUT, trace_configs=[trace]) as session:
        result = await run_export(
            [(None, conn)],
            export,
            client_factory=lambda c: TimetrackerClient(c, session=session),
        )
    return result, received


def run_once(template: Path, work: Path, latency_ms: float, export: ExportSettings) -> Run:
    import psutil

    db = work / f"run-{uuid.uuid4().hex[:8]}.sqlite"
    shutil.copyfile(template, db)
    try:
        with sandbox_process(db, latency_ms) as (url, pid):
            token = load_seed("demo").tokens["alice@example.com"]
            conn = ConnectionSettings(url=url, token=Secret(token))
            server = psutil.Process(pid)
            server_cpu = sum(server.cpu_times()[:2])
            begin, cpu = time.perf_counter(), time.process_time()
            result, received = asyncio.run(export_counting_bytes(conn, export))
            wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
            server_cpu = sum(server.cpu_times()[:2]) - server_cpu
    finally:
        db.unlink(missing_ok=True)
    return Run(wall, result.rows, result.requests, received, cpu, server_cpu)


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def describe(name: str, run: Run) -> str:
    per = 1000 / max(run.requests, 1)
    return (
        f"{name:<28}{run.wall:7.2f} s  {len(run.rows)} rows  {run.requests} requests  "
        f"{run.bytes / 1e6:6.1f} MB  CPU: tool {run.cpu:5.2f} s ({run.cpu * per:4.1f} ms/req), "
        f"sandbox {run.server_cpu:5.2f} s ({run.server_cpu * per:4.1f} ms/req)"
    )


def cli_sizes(sizes: list[int], latency_ms: float, fmt: str) -> int:
    """The console script on sandboxes of each size: wall, rows/s, peak RSS (see above)."""
    import os

    compile_package()
    console = Path(sys.executable).with_name("timetracker-import")
    last = FIRST + dt.timedelta(days=DAYS)
    print(
        f"console script {console} export (subprocess, start-up included), sandbox in its "
        f"own process, {latency_ms:.0f} ms latency, --format {fmt}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
            work = Path(tmp)
            db = work / "sandbox.sqlite"
            t0 = time.perf_counter()
            seed_db(db, size)
            seeded = time.perf_counter() - t0
            out = work / f"out.{fmt}"
            with sandbox_process(db, latency_ms) as (url, _):
                env = dict(
                    os.environ,
                    TIMETRACKER_URL=url,
                    TIMETRACKER_TOKEN=load_seed("demo").tokens["alice@example.com"],
                    TIMETRACKER_STATE_DIR=str(work / "state"),
                )
                done = run_measured(
                    [
                        str(console),
                        "export",
                        "--from",
                        str(FIRST),
                        "--to",
                        str(last),
                        "--timezone",
                        "UTC",
                        "--quiet",
                        "-o",
                        str(out),
                    ],
                    env,
                )
            if done.returncode != 0:
                print(f"export exited {done.returncode}: {done.stderr[-1000:]}")
                return 1
            print(
                f"{size:>9} worklogs: {done.wall:7.2f} s {size / done.wall:9.0f} rows/s   peak "
                f"RSS {done.peak_rss_mb:5.0f} MB   output {out.stat().st_size / 1e6:6.1f} MB"
                f"   ({done.stderr.strip().splitlines()[-1]}; seeded in {seeded:.0f} s)"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worklogs", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run both strategies N times, report the medians"
    )
    parser.add_argument("--cli-sizes", default="", help="e.g. 250000,1000000 (see above)")
    parser.add_argument("--format", default="csv", choices=["csv", "json", "ndjson", "xlsx"])
    args = parser.parse_args()
    if args.cli_sizes:
        return cli_sizes([int(n) for n in args.cli_sizes.split(",")], args.latency_ms, args.format)
    # warm the lazy imports so no timed run pays them
    import psutil  # noqa: F401

    import timetracker_import.api.client  # noqa: F401
    import timetracker_import.core.export  # noqa: F401

    days = {"first": FIRST, "last": FIRST + dt.timedelta(days=DAYS), "timezone": "UTC"}
    default = ExportSettings(concurrency=args.concurrency, **days)  # type: ignore[arg-type]
    sequential = ExportSettings(concurrency=1, windows=1, **days)  # type: ignore[arg-type]
    fast: list[Run] = []
    slow: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        template = work / "template.sqlite"
        t0 = time.perf_counter()
        seed_db(template, args.worklogs)
        print(f"seeded {args.worklogs} worklogs in {time.perf_counter() - t0:.1f} s", flush=True)
        for n in range(max(1, args.repeat)):
            fast.append(run_once(template, work, args.latency_ms, default))
            slow.append(run_once(template, work, args.latency_ms, sequential))
            if fast[-1].rows != slow[-1].rows:
                print("ERROR: the two strategies exported different rows")
                return 1
            if args.repeat > 1:
                print(
                    f"run {n + 1}: default {fast[-1].wall:.2f} s, sequential {slow[-1].wall:.2f} s",
                    flush=True,
                )
    f, s = median(fast), median(slow)
    print(
        f"{args.worklogs} worklogs, {args.latency_ms:.0f} ms injected latency per request, "
        "sandbox in its own process, fresh db copy per run"
        + (f", median of {len(fast)} runs" if len(fast) > 1 else "")
    )
    print(describe(f"default (concurrency {args.concurrency}):", f))
    print(describe("sequential paging:", s))
    print(f"ratio: {s.wall / f.wall:.1f}x faster (target: at least 4x)")
    if len(f.rows) != args.worklogs:
        print(f"WARNING: {len(f.rows)} rows exported, {args.worklogs} seeded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
