"""Benchmark: ``import`` with its default settings against the old importer's strategy.

The sandbox runs in its OWN process (``python -m timetracker_import sandbox``), like a real
server: it shares no interpreter (and no GIL) with the tool. Each strategy gets a fresh
sandbox with a fresh database file and the same injected latency.

- this tool: ``run_import`` with the defaults (batch size 500, concurrency 8, preflight,
  journal), called in this process exactly as the ``import`` command calls it (without the
  click layer), timed end to end from reading the file to the written summary;
- the old importer: batches of 500, first a ``validateOnly`` pass over all batches, then a
  posting pass, one request at a time (timed from its first request; building its bodies
  is not counted, which favours it).

Prints rows/s for both, the ratio (target >= 10x), this tool's phase times (read+validate,
resolve, preflight, post, finish) and its rows/s as a fraction of
``concurrency x batch size / median batch round trip`` (target >= 0.8), both for the whole
run and for the posting phase alone.

Usage: ``python bench/bench_import.py [--rows 20000] [--latency-ms 50] [--concurrency N]
[--profile FILE] [--profile-sandbox FILE] [--repeat N]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _sandbox import sandbox_subprocess  # noqa: E402

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


def step_seconds(rows: int) -> int:
    """Spacing between rows: all of them stay within 2026-09 (the demo seed locks October)."""
    return max(1, min(97, 25 * 86_400 // max(rows, 1)))


BATCH = 500
CONCURRENCY = 8
PHASES = ("read_validate", "resolve", "preflight", "post", "finish")


def write_input(path: Path, rows: int) -> None:
    """``rows`` distinct worklogs in 2026-09 (no locked weeks), users round robin."""
    step = step_seconds(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        for i in range(rows):
            ts = START + timedelta(seconds=step * i)
            writer.writerow([USERS[i % 3], ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 15, 100 + i % 50,
                             f"bench-{i}"])  # fmt: skip


def old_bodies(rows: int, user_ids: dict[str, str], tag: str) -> list[dict[str, Any]]:
    step = step_seconds(rows)
    return [
        {
            "timeStamp": (START + timedelta(seconds=step * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "length": 900,
            "workItemId": 100 + i % 50,
            "comment": f"{tag}-{i}",
            "userId": user_ids[USERS[i % 3]],
        }
        for i in range(rows)
    ]


async def old_importer(settings: Any, rows: int) -> tuple[float, list[float]]:
    """Sequential: validateOnly over all batches, then post them, one request at a time."""
    from timetracker_import.api.client import TimetrackerClient

    async with TimetrackerClient(settings) as client:
        users = {u["email"]: u["id"] for u in await client.users()}
        bodies = old_bodies(rows, users, "old")
        batches = [bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)]
        trips: list[float] = []
        started = time.perf_counter()
        for validate_only in (True, False):
            for batch in batches:
                t0 = time.perf_counter()
                await client.post_batch(batch, validate_only=validate_only)
                trips.append(time.perf_counter() - t0)
        return time.perf_counter() - started, trips


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(
    db: Path, latency_ms: float, profile: Path | None = None
) -> Iterator[tuple[str, dict[str, str], int]]:
    """Run ``timetracker_import sandbox`` as a subprocess; yield its URL, seeded tokens and
    process id."""
    prof = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    args = ["--port", str(_free_port()), "--db", str(db), "--latency-ms", str(latency_ms)]
    with sandbox_subprocess(args, python_args=prof) as proc:
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
        yield url, tokens, proc.pid


def warm_imports() -> float:
    """Import what ``import`` imports lazily, so every timed run starts equal; return the
    seconds it took (a CLI user pays this once per command)."""
    import importlib

    started = time.perf_counter()
    # pandera registers its pandas backends (and its check strategies, which import
    # hypothesis when installed) lazily on the first validation: an import cost too
    for name in ("pandas", "numpy", "aiohttp", "pandera", "pydantic", "yaml", "psutil",
                 "pandera.backends.pandas.register", "pandera.backends.pandas.builtin_checks",
                 "timetracker_import.core.mapping", "timetracker_import.core.schema",
                 "timetracker_import.files.mapping_loader", "timetracker_import.app.importer",
                 "timetracker_import.app.validate", "timetracker_import.app.poster",
                 "timetracker_import.api.client", "timetracker_import.core.planning",
                 "timetracker_import.core.resolve", "timetracker_import.core.dedupe",
                 "timetracker_import.core.approval", "timetracker_import.core.worklog_key",
                 "timetracker_import.files.readers", "timetracker_import.journal.store"):  # fmt: skip
        importlib.import_module(name)
    return time.perf_counter() - started


def run_ours(
    work: Path, src: Path, latency_ms: float, profile: Path | None, sandbox_profile: Path | None
) -> Any:
    import psutil

    from timetracker_import.api.settings import resolve_connection
    from timetracker_import.app.importer import ImportSettings, run_import

    box = sandbox_process(work / "ours.sqlite", latency_ms, sandbox_profile)
    with box as (url, tokens, pid):
        settings = resolve_connection(
            url=url, env={"TIMETRACKER_TOKEN": tokens["alice@example.com"]}, config_dir=work / "cfg"
        )
        request = ImportSettings(
            path=src,
            connection=settings,
            mapping_path=work / "mapping.yaml",
            concurrency=CONCURRENCY,
        )
        server = psutil.Process(pid)
        server_cpu = sum(server.cpu_times()[:2])
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(run_import, request)
            profiler.dump_stats(profile)
        else:
            result = run_import(request)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return wall, result, cpu, sum(server.cpu_times()[:2]) - server_cpu


def run_old(work: Path, rows: int, latency_ms: float) -> tuple[float, list[float]]:
    from timetracker_import.api.settings import resolve_connection

    with sandbox_process(work / "old.sqlite", latency_ms) as (url, tokens, _):
        settings = resolve_connection(
            url=url, env={"TIMETRACKER_TOKEN": tokens["alice@example.com"]}, config_dir=work / "cfg"
        )
        return asyncio.run(old_importer(settings, rows))


def main() -> int:
    global CONCURRENCY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="this tool's (default: its default)"
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of this tool's run here")
    parser.add_argument(
        "--profile-sandbox", type=Path, help="write a cProfile of the sandbox (this tool's run)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run both strategies N times (alternating) and report the median run of each; "
        "on a shared machine single runs vary a lot",
    )
    args = parser.parse_args()
    CONCURRENCY = args.concurrency
    imports = warm_imports()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        os.environ["TIMETRACKER_STATE_DIR"] = str(work / "state")
        src = work / "bench.csv"
        write_input(src, args.rows)
        (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
        runs, olds = [], []
        for n in range(max(1, args.repeat)):
            run_dir = work / f"run{n}"
            run_dir.mkdir()
            (run_dir / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
            os.environ["TIMETRACKER_STATE_DIR"] = str(run_dir / "state")
            ours_run = run_ours(run_dir, src, args.latency_ms, args.profile, args.profile_sandbox)
            if ours_run[1].accounting.created != args.rows:
                raise SystemExit(f"not every row was created: {ours_run[1].accounting.to_dict()}")
            runs.append(ours_run)
            olds.append(run_old(run_dir, args.rows, args.latency_ms))
            if args.repeat > 1:
                print(f"run {n + 1}: this tool {ours_run[0]:.2f} s "
                      f"(post {ours_run[1].phases.get('post', 0.0):.2f} s), "
                      f"old importer {olds[-1][0]:.2f} s", flush=True)  # fmt: skip
        ours, result, cpu, server_cpu = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        old, old_trips = sorted(olds, key=lambda r: r[0])[len(olds) // 2]

    rows = args.rows
    ours_rate, old_rate = rows / ours, rows / old
    post = result.phases.get("post", float("nan"))
    post_rate = rows / post
    median_rt = statistics.median(result.round_trips)
    ideal = CONCURRENCY * BATCH / median_rt
    print(f"rows: {rows}, injected latency: {args.latency_ms:.0f} ms per request, "
          "sandbox in its own process, fresh db per strategy"
          + (f", median of {len(runs)} runs" if len(runs) > 1 else ""))  # fmt: skip
    print(f"this tool (batch {BATCH}, concurrency {CONCURRENCY}, run_import end to end): "
          f"{ours:6.2f} s {ours_rate:8.0f} rows/s ({result.requests} batch requests, "
          f"median round trip {median_rt * 1000:.0f} ms)")  # fmt: skip
    print(f"  module imports before the runs (paid once per CLI start, not included): "
          f"{imports:.2f} s")  # fmt: skip
    print("  phases: " + ", ".join(f"{p} {result.phases.get(p, 0.0):.3f} s" for p in PHASES))
    print(f"  posting phase alone: {post:.3f} s {post_rate:8.0f} rows/s")
    print(f"  CPU seconds during the run: this tool {cpu:.2f} s, sandbox process "
          f"{server_cpu:.2f} s (2 cores shared by both)")  # fmt: skip
    print(f"old importer (validate pass + post pass, sequential): {old:6.2f} s  "
          f"{old_rate:8.0f} rows/s ({len(old_trips)} requests, "
          f"median round trip {statistics.median(old_trips) * 1000:.0f} ms)")  # fmt: skip
    print(f"speed-up, end to end: {ours_rate / old_rate:.1f}x (target >= 10x); "
          f"posting phase: {post_rate / old_rate:.1f}x")  # fmt: skip
    print(f"efficiency, end to end: {ours_rate:.0f} / ({CONCURRENCY} x {BATCH} / "
          f"{median_rt:.3f} s) = {ours_rate / ideal:.2f} (target >= 0.8); "
          f"posting phase: {post_rate / ideal:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
