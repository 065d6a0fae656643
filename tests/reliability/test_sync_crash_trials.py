"""Crash trials for ``sync``: a first sync completes, then a sync of a corrected re-export
(lengths changed, rows removed under --prune, rows added) runs as a subprocess. It is
SIGKILLed at a random moment and run again to completion. The server must end equal to the
corrected file (nothing lost, nothing twice, no removed row left), a third sync must find
everything unchanged and send no write, and ``runs undo`` of the re-run and then of the
killed run must bring the server back to the first file exactly (each change reversed once,
whatever the kill interrupted).

CI samples a few seeds; thirty more are marked slow (one test each, under the suite's
timeout).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_rows, mapping_file, write_rows
from tests.reliability.conftest import (
    cli_command,
    expected_worklogs,
    server_worklogs,
    start,
    subprocess_env,
)
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

ROWS = 120


def corrected(rows: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """About 10% lengths changed, 5% removed, 5% added (same days)."""
    out = []
    for i, row in enumerate(rows):
        pick = rng.random()
        if pick < 0.05:
            continue
        if pick < 0.15:
            row = {**row, "Minutes": int(row["Minutes"]) + 15 * (1 + i % 3)}
        out.append(row)
    for i in range(len(rows) // 20):
        base = rows[(i * 7) % len(rows)]
        when = datetime.strptime(base["Start"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=7)
        out.append(
            {
                **base,
                "Start": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Minutes": 5,
                "Comment": f"added-{i}",
            }
        )
    return out


def _writes(box: RunningSandbox) -> int:
    calls = box.stats()["calls"]
    return int(calls.get("batch", 0)) + int(calls.get("worklogs", 0))


def _wait_for_writes(
    box: RunningSandbox, proc: subprocess.Popen[str], mark: int, limit: float
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if _writes(box) > mark:
            return
        time.sleep(0.005)


@dataclass(frozen=True)
class SyncTrial:
    seed: int
    kill_delay: float
    rerun_exit: int
    missing: int
    extra: int
    balanced: bool
    third_writes: int
    third_unchanged: bool
    writes_before_kill: int = 0  # of the killed run (shows where the kill landed)
    when: str = "after its start"
    undo_exits: tuple[int, ...] = ()
    undo_missing: int = 0
    undo_extra: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.rerun_exit == 0
            and self.missing == 0
            and self.extra == 0
            and self.balanced
            and self.third_writes == 0
            and self.third_unchanged
            and all(c == 0 for c in self.undo_exits)
            and self.undo_missing == 0
            and self.undo_extra == 0
        )

    def describe(self) -> str:
        return (
            f"seed {self.seed}: killed {self.kill_delay:.2f}s {self.when}; re-run exit "
            f"{self.rerun_exit} ({self.writes_before_kill} writes before the kill), missing {self.missing}, extra {self.extra}, balanced "
            f"{self.balanced}; third sync writes {self.third_writes}, all unchanged "
            f"{self.third_unchanged}; undo exits {self.undo_exits}, then missing "
            f"{self.undo_missing}, extra {self.undo_extra}"
        )


def run_sync_trial(seed: int) -> SyncTrial:
    rng = random.Random(seed)
    batch_size = rng.choice([5, 10, 20])
    concurrency = rng.choice([1, 2, 4])
    latency_ms = rng.choice([10, 30, 60])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data = make_rows(ROWS)
        first = write_rows(base / "first.csv", data)
        wanted = corrected(data, rng)
        second = write_rows(base / "second.csv", wanted)
        mapping = str(mapping_file(base))
        ledger = str(base / "ledger.sqlite")

        def command(path: Path) -> list[str]:
            return cli_command(
                "sync",
                str(path),
                "--mapping",
                mapping,
                "--yes",
                "--json",
                "--prune",
                "--window",
                "2026-09-01..2026-09-30",
                "--source",
                "payroll",
                "--ledger",
                ledger,
                "--batch-size",
                str(batch_size),
                "--concurrency",
                str(concurrency),
            )

        with run_sandbox_in_thread(latency_ms=latency_ms) as box:
            env = subprocess_env(box, base / "state")
            done = subprocess.run(
                command(first), env=env, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, done.stderr
            mark = _writes(box)
            proc = start(command(second), env)
            # the run reads first (me, users, the window, approvals), then writes: mostly
            # kill during the writes, sometimes before them
            writes_phase = 30 / concurrency * (latency_ms / 1000 + 0.01)
            before_writes = rng.random() < 0.2
            delay = rng.uniform(0.0, 1.0 if before_writes else writes_phase)
            try:
                if not before_writes:
                    _wait_for_writes(box, proc, mark, 60)
                time.sleep(delay)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.communicate()
            killed_writes = _writes(box) - mark
            rerun = subprocess.run(
                command(second), env=env, capture_output=True, text=True, timeout=180
            )
            balanced = False
            if rerun.returncode == 0:
                doc = json.loads(rerun.stdout)
                c = doc["counts"]
                balanced = doc["balanced"] and c["rows"] == len(wanted)
            found, expected = server_worklogs(box), expected_worklogs(wanted)
            before = _writes(box)
            third = subprocess.run(
                command(second), env=env, capture_output=True, text=True, timeout=180
            )
            third_counts = json.loads(third.stdout)["counts"] if third.returncode == 0 else {}
            third_writes = _writes(box) - before
            # undo the re-run, then the killed run: back to the first file, exactly
            listed = subprocess.run(
                cli_command("runs", "list", "--json"),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            runs = [r["run_id"] for r in json.loads(listed.stdout) if r["kind"] == "sync"]
            rerun_id = json.loads(rerun.stdout)["run_id"] if rerun.returncode == 0 else None
            undo_exits = []
            for run_id in reversed(runs[1:]):  # the third (no write), the re-run, the killed
                undone = subprocess.run(
                    cli_command("runs", "undo", "--yes", run_id),
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
                undo_exits.append(undone.returncode)
            assert rerun_id is None or rerun_id in runs
            after_undo, first_state = server_worklogs(box), expected_worklogs(data)
            return SyncTrial(
                seed=seed,
                kill_delay=delay,
                rerun_exit=rerun.returncode,
                missing=sum((expected - found).values()),
                extra=sum((found - expected).values()),
                balanced=balanced,
                third_writes=third_writes,
                third_unchanged=third_counts.get("unchanged") == len(wanted),
                writes_before_kill=killed_writes,
                when="after its start" if before_writes else "into its writes",
                undo_exits=tuple(undo_exits),
                undo_missing=sum((first_state - after_undo).values()),
                undo_extra=sum((after_undo - first_state).values()),
            )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_sync_crash_trial(seed: int) -> None:
    result = run_sync_trial(seed)
    assert result.ok, result.describe()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(300, 330))
def test_thirty_more_sync_crash_trials(seed: int) -> None:
    result = run_sync_trial(seed)
    assert result.ok, result.describe()
