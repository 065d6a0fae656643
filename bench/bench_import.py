"""Benchmark: ``import`` with its default settings against the old importer's strategy.

Both run in the same process against the embedded sandbox with injected latency:

- this tool: ``run_import`` with the defaults (batch size 500, concurrency 8, preflight, journal);
- the old importer: batches of 500, first a ``validateOnly`` pass over all batches, then a
  posting pass, one request at a time.

Prints rows/s for both, the ratio (target >= 10x) and this tool's rows/s as a fraction of
``concurrency x batch size / median batch round trip`` (target >= 0.8).

Usage: ``python bench/bench_import.py [--rows 20000] [--latency-ms 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def write_input(path: Path, rows: int) -> None:
    """``rows`` distinct worklogs in 2026-09 (no locked weeks), users round robin."""
    start = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        for i in range(rows):
            ts = start + timedelta(seconds=97 * i)
            writer.writerow([USERS[i % 3], ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 15, 100 + i % 50,
                             f"bench-{i}"])  # fmt: skip


def old_bodies(rows: int, user_ids: dict[str, str], tag: str) -> list[dict[str, Any]]:
    start = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
    return [
        {
            "timeStamp": (start + timedelta(seconds=97 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
        batches = [bodies[i : i + 500] for i in range(0, len(bodies), 500)]
        trips: list[float] = []
        started = time.perf_counter()
        for validate_only in (True, False):
            for batch in batches:
                t0 = time.perf_counter()
                await client.post_batch(batch, validate_only=validate_only)
                trips.append(time.perf_counter() - t0)
        return time.perf_counter() - started, trips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    args = parser.parse_args()

    from timetracker_import.api.settings import resolve_connection
    from timetracker_import.app.importer import ImportSettings, run_import
    from timetracker_import.sandbox import run_sandbox_in_thread

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        os.environ["TIMETRACKER_STATE_DIR"] = str(work / "state")
        src = work / "bench.csv"
        write_input(src, args.rows)
        (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
        with run_sandbox_in_thread(latency_ms=args.latency_ms) as box:
            settings = resolve_connection(
                url=box.url,
                env={"TIMETRACKER_TOKEN": box.tokens["alice@example.com"]},
                config_dir=work / "cfg",
            )
            started = time.perf_counter()
            result = run_import(
                ImportSettings(path=src, connection=settings, mapping_path=work / "mapping.yaml")
            )
            ours = time.perf_counter() - started
            assert result.accounting.created == args.rows, result.summary_dict()
            box.reset()  # same server, empty again, for the old strategy
            old, old_trips = asyncio.run(old_importer(settings, args.rows))

    ours_rate = args.rows / ours
    old_rate = args.rows / old
    median_rt = statistics.median(result.round_trips)
    ideal = 8 * 500 / median_rt
    print(f"rows: {args.rows}, injected latency: {args.latency_ms:.0f} ms per request")
    print(f"this tool (batch 500, concurrency 8): {ours:6.2f} s  {ours_rate:8.0f} rows/s "
          f"({result.requests} batch requests, median round trip {median_rt * 1000:.0f} ms)")  # fmt: skip
    print(f"old importer (validate pass + post pass, sequential): {old:6.2f} s  "
          f"{old_rate:8.0f} rows/s (median round trip {statistics.median(old_trips) * 1000:.0f} ms)")  # fmt: skip
    print(f"speed-up: {ours_rate / old_rate:.1f}x (target >= 10x)")
    print(f"efficiency: {ours_rate:.0f} / (8 x 500 / {median_rt:.3f} s) = "
          f"{ours_rate / ideal:.2f} (target >= 0.8)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
