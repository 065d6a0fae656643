"""Benchmark: ``sync`` against the naive way to apply a corrected re-export.

The scenario of issue 12. 20,000 rows are already in 7pace (synced once). The source is
re-exported with 1% of the rows corrected (length changed) and 0.5% removed. Two ways to make
7pace equal to it, each on its own sandbox process with the same latency and the same
starting data:

- ``sync --prune``: one command (PATCH the corrected rows, DELETE the removed ones);
- naive: delete the window and import again, i.e. ``export`` the window, ``worklogs delete``
  every worklog in it, then ``import`` the new file.

Every step is the console script run as a subprocess (what a scheduled job runs), timed
from start to exit. Afterwards the unchanged file is synced once more, and the sandbox's
write-capable requests (batches and single-worklog calls) are counted: that must be 0.
Both servers must end with the same multiset of worklogs.

Usage: ``python bench/bench_sync.py [--rows 20000] [--latency-ms 50]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import MAPPING, USERS, sandbox  # noqa: E402

START = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
#: the period the corrected export is about (a declared period bounds sync's deletes)
WINDOW = "2026-08-31..2026-10-01"
CLI = [sys.executable, "-m", "timetracker_import"]


def rows_of(count: int) -> list[list[Any]]:
    step = max(1, min(97, 25 * 86_400 // max(count, 1)))
    return [
        [
            USERS[i % 3],
            (START + timedelta(seconds=step * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            15,
            100 + i % 50,
            f"bench-{i}",
        ]
        for i in range(count)
    ]


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User", "Start", "Minutes", "WorkItem", "Comment"])
        writer.writerows(rows)
    return path


def corrected(rows: list[list[Any]]) -> list[list[Any]]:
    """1% of the rows get a new length, 0.5% are removed (spread over the file)."""
    out = []
    for i, row in enumerate(rows):
        if i % 200 == 7:
            continue  # removed
        if i % 100 == 3:
            row = [*row[:2], 30, *row[3:]]  # 15 -> 30 minutes
        out.append(row)
    return out


def cli(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Run the console script; (seconds, exit code, stdout) - stderr is kept in ``LOG``."""
    started = time.perf_counter()
    proc = subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    LOG.append(proc.stderr)
    return time.perf_counter() - started, proc.returncode, proc.stdout


LOG: list[str] = []


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_sandbox/stats", timeout=10) as resp:  # noqa: S310
        return dict(json.loads(resp.read())["calls"])


def writes(url: str) -> int:
    calls = stats(url)
    return int(calls.get("batch", 0)) + int(calls.get("worklogs", 0))


def multiset(db: Path) -> Counter[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return Counter(
            conn.execute(
                "SELECT user_id, ts_text, length, work_item_id, comment FROM worklogs"
            ).fetchall()
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument(
        "--only-sync",
        action="store_true",
        help="measure sync alone (no naive run, no ratio): for quick checks",
    )
    args = parser.parse_args()
    base = rows_of(args.rows)
    new = corrected(base)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        mapping = work / "mapping.yaml"
        mapping.write_text(MAPPING, encoding="utf-8")
        first = write_csv(work / "first.csv", base)
        again = write_csv(work / "again.csv", new)
        results: dict[str, dict[str, Any]] = {}
        finals = []
        for name in ("sync",) if args.only_sync else ("sync", "naive"):
            db = work / f"{name}.sqlite"
            with sandbox(db, args.latency_ms) as (url, tokens):
                env = {
                    **os.environ,
                    "TIMETRACKER_URL": url,
                    "TIMETRACKER_TOKEN": tokens["alice@example.com"],
                    "TIMETRACKER_STATE_DIR": str(work / f"state-{name}"),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                    "XDG_CONFIG_HOME": str(work / "config"),
                }
                ledger = str(work / f"{name}-ledger.sqlite")
                seconds, code, out = cli(
                    env,
                    "sync",
                    str(first),
                    "--mapping",
                    str(mapping),
                    "--yes",
                    "--source",
                    "bench",
                    "--ledger",
                    ledger,
                )
                if code != 0:
                    print(out, LOG[-1], file=sys.stderr)
                    return 1
                before = writes(url)
                if name == "sync":
                    seconds, code, out = cli(
                        env,
                        "sync",
                        str(again),
                        "--mapping",
                        str(mapping),
                        "--yes",
                        "--prune",
                        "--window",
                        WINDOW,
                        "--source",
                        "bench",
                        "--ledger",
                        ledger,
                        "--json",
                    )
                    counts = json.loads(out)["counts"] if code == 0 else {}
                    steps = {"sync --prune": seconds}
                else:
                    exported = work / "window.csv"
                    t_export, code, out = cli(
                        env,
                        "export",
                        "--from",
                        "2026-08-31",
                        "--to",
                        "2026-10-01",
                        "-o",
                        str(exported),
                    )
                    t_delete, code2, out2 = cli(env, "worklogs", "delete", str(exported), "--yes")
                    t_import, code3, out3 = cli(
                        env, "import", str(again), "--mapping", str(mapping), "--yes"
                    )
                    code = code or code2 or code3
                    out = out + out2 + out3
                    seconds = t_export + t_delete + t_import
                    steps = {"export": t_export, "worklogs delete": t_delete, "import": t_import}
                    counts = {}
                if code != 0:
                    print(out, LOG[-1], file=sys.stderr)
                    return 1
                sent = writes(url) - before
                noop = None
                if name == "sync":
                    mark = writes(url)
                    t_noop, code, out = cli(
                        env,
                        "sync",
                        str(again),
                        "--mapping",
                        str(mapping),
                        "--yes",
                        "--prune",
                        "--window",
                        WINDOW,
                        "--source",
                        "bench",
                        "--ledger",
                        ledger,
                    )
                    noop = (t_noop, writes(url) - mark, code)
                results[name] = {
                    "seconds": seconds,
                    "steps": steps,
                    "requests": sent,
                    "counts": counts,
                    "noop": noop,
                }
            finals.append(multiset(db))
    s = results["sync"]
    if args.only_sync:
        t_noop, noop_writes, _ = s["noop"]
        print(
            f"sync --prune: {s['seconds']:.2f} s, {s['requests']} write-capable requests; "
            f"unchanged re-sync {t_noop:.2f} s, {noop_writes} writes (--only-sync: no ratio)"
        )
        return 0 if noop_writes == 0 else 1
    n = results["naive"]
    print(
        f"bench_sync: {args.rows} rows synced, {args.rows // 100} corrected, "
        f"{args.rows // 200} removed, {args.latency_ms:g} ms latency (console script)"
    )
    print(f"{'':<24}{'sync --prune':>16}{'naive (delete+import)':>24}")
    print(f"{'wall seconds':<24}{s['seconds']:>16.2f}{n['seconds']:>24.2f}")
    print(f"{'write-capable requests':<24}{s['requests']:>16}{n['requests']:>24}")
    print(f"speed-up: {n['seconds'] / s['seconds']:.1f}x (target >= 25x)")
    print("naive steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in n["steps"].items()))
    print(f"sync counts: {s['counts']}")
    t_noop, noop_writes, noop_code = s["noop"]
    print(
        f"re-sync of the unchanged file: {t_noop:.2f} s, {noop_writes} write-capable "
        f"requests (target 0; wall target <= 3 s), exit {noop_code}"
    )
    same = finals[0] == finals[1]
    print(f"both servers end equal: {same} ({sum(finals[0].values())} worklogs)")
    return 0 if same and noop_writes == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
