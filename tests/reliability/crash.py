"""Crash trials: run an import as a subprocess, SIGKILL it at a random moment, run it again to
completion, and compare the server's worklogs with the file (nothing lost, nothing twice).

``run_trial(seed)`` is one trial; ``tests/reliability/run_trials.py`` runs many and prints the
tally; ``tests/reliability/test_crash_trials.py`` samples a few in CI.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.app.test_import import make_rows, write_rows
from tests.reliability.conftest import (
    cli_command,
    expected_worklogs,
    mapping_file,
    server_worklogs,
    start,
    subprocess_env,
)
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

#: seconds of preflight (me, users, activity types, approvals, baseline) before posting
PREFLIGHT_ESTIMATE = 0.3


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one crash trial."""

    seed: int
    phase: str  # "startup" (killed before any API call) or "network"
    kill_delay: float  # seconds after the phase began
    on_server_at_kill: int
    rerun_exit: int
    missing: int  # rows of the file not on the server after the re-run
    extra: int  # worklogs on the server beyond the file's (duplicates)
    counts_ok: bool  # the re-run's summary balances: every row created or already existing
    rows: int

    @property
    def ok(self) -> bool:
        return self.rerun_exit == 0 and self.missing == 0 and self.extra == 0 and self.counts_ok

    def describe(self) -> str:
        return (
            f"seed {self.seed}: killed {self.kill_delay:.2f}s into {self.phase} with "
            f"{self.on_server_at_kill}/{self.rows} stored; re-run exit {self.rerun_exit}, "
            f"missing {self.missing}, extra {self.extra}, counts ok {self.counts_ok}"
        )


def _wait_for_network(box: RunningSandbox, proc: subprocess.Popen[str], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if box.stats()["calls"].get("any", 0) > 0:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def run_trial(seed: int, *, rows: int = 120, workdir: Path | None = None) -> TrialResult:
    """One trial; deterministic in its choices (kill moment, batch size, latency) for ``seed``."""
    rng = random.Random(seed)
    batch_size = rng.choice([5, 10, 20])
    concurrency = rng.choice([1, 2, 4])
    latency_ms = rng.choice([10, 30, 60])
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        base = Path(tmp)
        data = make_rows(rows)
        path = write_rows(base / "in.csv", data)
        args = cli_command(
            "import", str(path), "--mapping", str(mapping_file(base)), "--yes", "--json",
            "--batch-size", str(batch_size), "--concurrency", str(concurrency),
        )  # fmt: skip
        with run_sandbox_in_thread(latency_ms=latency_ms) as box:
            env = subprocess_env(box, base / "state")
            proc = start(args, env)
            try:
                if rng.random() < 0.15:  # sometimes before anything reached the server
                    phase, delay = "startup", rng.uniform(0.0, 1.0)
                else:
                    phase = "network"
                    _wait_for_network(box, proc, 60)
                    rounds = -(-rows // batch_size) / concurrency
                    posting = rounds * (latency_ms / 1000 + 0.01)
                    delay = rng.uniform(0.0, PREFLIGHT_ESTIMATE + posting)
                time.sleep(delay)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.communicate()
            at_kill = sum(server_worklogs(box).values())
            rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
            counts_ok = False
            if rerun.returncode == 0:
                counts = json.loads(rerun.stdout)["counts"]
                # a run that had finished before the kill is complete: the re-run is a new run
                # that finds every row already existing
                counts_ok = counts["rows"] == rows and (
                    counts["created"] + counts["already_existing"] == rows
                )
            found, wanted = server_worklogs(box), expected_worklogs(data)
            return TrialResult(
                seed=seed,
                phase=phase,
                kill_delay=delay,
                on_server_at_kill=at_kill,
                rerun_exit=rerun.returncode,
                missing=sum((wanted - found).values()),
                extra=sum((found - wanted).values()),
                counts_ok=counts_ok,
                rows=rows,
            )
