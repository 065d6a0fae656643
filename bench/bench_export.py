"""Benchmark: export of N worklogs from the sandbox with injected latency.

Prints this tool's default (concurrent windows) next to sequential paging in the same run,
and their ratio. Figures only, no assertions.

    .venv/bin/python bench/bench_export.py [--worklogs 100000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.export import ExportSettings, run_export
from timetracker_import.sandbox import load_seed
from timetracker_import.sandbox.store import Store, WorklogRow
from timetracker_import.sandbox.timeparse import to_key

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
            )  # fmt: skip
        )
        if len(rows) == 10_000:
            store.insert_worklogs(rows)
            rows = []
    store.insert_worklogs(rows)
    store.close()


@contextlib.contextmanager
def sandbox_process(db: Path, latency_ms: float) -> Iterator[str]:
    """``timetracker-import sandbox`` on a free port; yields its base URL."""
    command = [sys.executable, "-m", "timetracker_import", "sandbox", "--port", "0",
               "--db", str(db), "--latency-ms", str(latency_ms)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                yield found.group(0)
                break
        else:
            raise RuntimeError("the sandbox did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def timed(settings: ConnectionSettings, export: ExportSettings) -> tuple[float, int, int]:
    begin = time.perf_counter()
    result = asyncio.run(run_export([(None, settings)], export))
    return time.perf_counter() - begin, len(result.rows), result.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worklogs", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        t0 = time.perf_counter()
        seed_db(db, args.worklogs)
        print(f"seeded {args.worklogs} worklogs in {time.perf_counter() - t0:.1f} s")
        # the sandbox runs in its own process so its CPU does not share our GIL
        with sandbox_process(db, args.latency_ms) as url:
            token = load_seed("demo").tokens["alice@example.com"]
            conn = ConnectionSettings(url=url, token=Secret(token))
            days = {"first": FIRST, "last": FIRST + dt.timedelta(days=DAYS), "timezone": "UTC"}
            fast = timed(conn, ExportSettings(concurrency=args.concurrency, **days))  # type: ignore[arg-type]
            slow = timed(conn, ExportSettings(concurrency=1, windows=1, **days))  # type: ignore[arg-type]
    print(
        f"default (concurrency {args.concurrency}): {fast[0]:7.2f} s  {fast[1]} rows  {fast[2]} requests"
    )
    print(f"sequential paging:        {slow[0]:7.2f} s  {slow[1]} rows  {slow[2]} requests")
    print(f"ratio: {slow[0] / fast[0]:.1f}x faster (target: at least 4x)")
    if fast[1] != slow[1] or fast[1] != args.worklogs:
        print("WARNING: row counts differ")


if __name__ == "__main__":
    main()
