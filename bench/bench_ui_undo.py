"""Benchmark: the web app's undo confirmation for a big import, against what it did before.

Issue 23 measured 132 s and 7.8 MB of HTML to confirm the undo of 96k worklogs: the page ran
the undo as a dry run against 7pace (one GET per worklog, to see which were edited) and
listed every worklog. Now the confirmation comes from the run's journal, 100 worklogs a page,
and 7pace is asked nothing until the person confirms.

Both sides against the same import of N rows into an in-process sandbox:

- the baseline: ``library.undo_run(dry_run=True)`` (what the old page ran before rendering)
  plus an HTML table of every worklog (the old page's rows: id and source row);
- the web app: ``GET /runs/RUN/undo`` through the app (journal read, first page rendered).

Usage: ``python bench/bench_ui_undo.py [--rows 20000]``; prints seconds, page bytes, ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_rows(path: Path, rows: int) -> None:
    from timetracker_import.ui.demo import HEADERS

    users = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for i in range(rows):
            day = 1 + (i // 40) % 28
            minute = (i % 40) * 15
            out.writerow(
                [
                    users[i % 4],
                    f"2027-02-{day:02d}",
                    f"{minute // 60:02d}:{minute % 60:02d}",
                    "0.25",
                    "0.25",
                    str(101 + i % 4),
                    "Development",
                    f"row {i}",
                ]
            )


async def app_page(run_id: str) -> tuple[float, int]:
    from aiohttp.test_utils import TestClient, TestServer

    from timetracker_import.ui.security import Guard
    from timetracker_import.ui.server import make_app
    from timetracker_import.ui.state import Wizard

    guard = Guard(hosts=frozenset())
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    client = TestClient(TestServer(make_app(guard=guard, wizard=Wizard(work_dir=work))))
    await client.start_server()
    try:
        guard.bind("127.0.0.1", client.port)
        await client.get(f"/launch?token={guard.launch_token}", allow_redirects=False)
        started = time.perf_counter()
        resp = await client.get(f"/runs/{run_id}/undo")
        body = await resp.read()
        took = time.perf_counter() - started
        assert resp.status == 200, body[:500]
        return took, len(body)
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-ui-undo-"))
    os.environ["TIMETRACKER_STATE_DIR"] = str(folder / "state")
    from timetracker_import import library
    from timetracker_import.sandbox import run_sandbox_in_thread

    data = folder / "hours.csv"
    write_rows(data, args.rows)
    with run_sandbox_in_thread() as box:
        conn = library.Connection(url=box.url, token=box.tokens["alice@example.com"])
        result = library.import_file(data, preset="payroll-demo", connection=conn)
        created = result.counts.created
        assert created == args.rows, result.counts
        started = time.perf_counter()
        outcome = library.undo_run(result.run_id, connection=conn, dry_run=True)
        assert outcome.report is not None
        rows = library.created_rows(result.run_id)
        html = "".join(
            f"<tr><td><code>{i}</code></td><td>{rows.get(i, '')}</td></tr>"
            for i in outcome.report.deleted
        )
        base_s, base_bytes = time.perf_counter() - started, len(html.encode())
        new_s, new_bytes = asyncio.run(app_page(result.run_id))
        assert box.stats()["worklogs"] == args.rows  # nothing was deleted by either
    print(f"undo confirmation of {created:,} worklogs")
    print(f"  baseline (undo dry run + every row): {base_s:8.2f} s  {base_bytes / 1e6:8.2f} MB")
    print(f"  web app (journal, first 100 rows):   {new_s:8.2f} s  {new_bytes / 1e6:8.2f} MB")
    print(f"  ratio: {base_s / new_s:.0f}x faster, {base_bytes / new_bytes:.0f}x smaller")
    return 0


if __name__ == "__main__":
    sys.exit(main())
