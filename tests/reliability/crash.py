"""Crash trials: run an import as a subprocess, SIGKILL it at a chosen moment, run it again to
completion, and compare the server's worklogs with the file (nothing lost, nothing twice).

``run_trial(seed)`` is one trial; ``tests/reliability/run_trials.py`` runs many and prints the
tally; ``tests/reliability/test_crash_trials.py`` samples a few in CI.

Each trial proves what it claims:

- the kill is a real SIGKILL of a live process: the child was still running when the signal
  was sent and its exit status is "killed by SIGKILL" (a child that had already exited fails
  the trial instead of passing as a "kill after the last worklog");
- where the kill landed is read from the server, not from the intended moment: *start-up*
  (no request had reached the server), *before the first worklog* (requests, nothing stored),
  *mid-import* (some of the rows stored) or *after the last worklog* (all stored, the run was
  finishing). The count is taken once the requests the child had in flight have settled, so it
  is what the re-run meets;
- a failing trial keeps its evidence: both runs' stdout/stderr, the state directory (journal,
  summary, lock files), the sandbox database and the trial's description, under ``keep``.

The kill moment is drawn from the measured phases of an unkilled run (``measure_phases``, once
per contention level): a few kills at a uniform moment of the start-up, some in the preflight
(after the first request, before the first worklog), most once a uniformly drawn number of rows
is stored (mid-import; plus up to one latency so that the kill lands anywhere in a batch's
round trip), and some as soon as the last row is stored (the run is journaling and writing its
summary). ``CompetingLoad`` runs busy processes beside the trials (CPU contention), because
timing bugs hide on idle machines.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.reliability.conftest import (
    cli_command,
    expected_worklogs,
    make_rich_rows,
    rich_mapping_file,
    server_worklogs,
    start,
    stored_count,
    subprocess_env,
    write_rich_rows,
)
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

STARTUP = "start-up"
PREFLIGHT = "before the first worklog"
MID = "mid-import"
AFTER = "after the last worklog"
LANDINGS = (STARTUP, PREFLIGHT, MID, AFTER)
#: how often each moment is aimed at (the landing is measured, and may differ)
INTENTS: tuple[tuple[str, float], ...] = (
    (STARTUP, 0.06),
    (PREFLIGHT, 0.14),
    (MID, 0.68),
    (AFTER, 0.12),
)
#: mid-import kills wait for a uniform number of stored rows up to this share of the file:
#: under contention the harness sees a count late, and kills aimed at the last rows landed
#: after the last worklog (measured: 37% of 199 trials with 1..119 and 60% aimed mid)
MID_TARGET_SHARE = 0.8
#: a trial whose child exited before the kill (the harness starved by the load past the
#: whole run) is run again, at most this many times in all; the attempts are recorded
MAX_ATTEMPTS = 3
POLL = 0.002  # seconds between two looks at the server while waiting for the moment
LATENCIES_MS = (10, 30, 60)
#: how long a batch's answer trails its commit in the trials (see ``_attempt``)
ANSWER_AFTER_COMMIT = "150ms"


@dataclass(frozen=True)
class Phases:
    """Seconds an unkilled import spends in each phase (one measured run)."""

    startup: float  # start of the process -> the first request reaches the server
    preflight: float  # the first request -> the first worklog stored
    posting: float  # the first worklog -> the last one
    finish: float  # the last worklog -> the process exits


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one crash trial."""

    seed: int
    busy: int  # competing busy processes while the trial ran (0: idle)
    intent: str  # the moment aimed at
    landing: str  # where the kill landed, from the server's state
    kill_at: float  # seconds after the child started
    killed: bool  # a live child was SIGKILLed (its exit status says so)
    child_status: int | None  # the first run's exit status (-9: SIGKILL)
    requests_at_kill: int
    on_server_at_kill: int
    rerun_exit: int
    missing: int  # rows of the file not on the server after the re-run
    extra: int  # worklogs on the server beyond the file's (duplicates)
    counts_ok: bool  # the re-run's summary balances: every row created or already existing
    rows: int
    batch_size: int
    concurrency: int
    latency_ms: int
    kept: str | None = None  # where a failing trial's evidence is
    attempts: int = 1  # > 1: the child had exited before the kill in the earlier attempts

    @property
    def ok(self) -> bool:
        return (
            self.killed
            and self.rerun_exit == 0
            and self.missing == 0
            and self.extra == 0
            and self.counts_ok
        )

    def describe(self) -> str:
        kill = "SIGKILL" if self.killed else f"NOT KILLED (exit status {self.child_status})"
        text = (
            f"seed {self.seed} ({'busy ' + str(self.busy) if self.busy else 'idle'}, batch "
            f"{self.batch_size}x{self.concurrency}, {self.latency_ms} ms): {kill} at "
            f"{self.kill_at:.3f}s, aimed {self.intent}, landed {self.landing} with "
            f"{self.on_server_at_kill}/{self.rows} stored after {self.requests_at_kill} "
            f"requests; re-run exit {self.rerun_exit}, missing {self.missing}, extra "
            f"{self.extra}, counts ok {self.counts_ok}"
        )
        if self.attempts > 1:
            text += f" (attempt {self.attempts}: the child exited before the earlier kills)"
        return text + (f"; kept in {self.kept}" if self.kept else "")


class CompetingLoad:
    """``count`` busy processes (pure-Python spin loops) for the ``with`` block: CPU
    contention for the trials. 0: idle (nothing started)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CompetingLoad:
        for _ in range(self.count):
            self._procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.kill()
        for proc in self._procs:
            proc.wait()
        self._procs.clear()


def default_busy() -> int:
    """One busy process per CPU this process may use (so every core is contended)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _requests(box: RunningSandbox) -> int:
    return int(box.stats()["calls"].get("any", 0))


def _args(path: Path, base: Path, batch_size: int, concurrency: int) -> list[str]:
    return cli_command(
        "import",
        str(path),
        "--mapping",
        str(rich_mapping_file(base)),
        "--yes",
        "--json",
        "--batch-size",
        str(batch_size),
        "--concurrency",
        str(concurrency),
    )


def measure_phases(*, rows: int = 120, latency_ms: int = 30, workdir: Path | None = None) -> Phases:
    """Run one import to completion (batch 10, concurrency 2) and time its phases from the
    server's side, polling every ``POLL`` seconds."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        base = Path(tmp)
        path = write_rich_rows(base / "in.csv", make_rich_rows(rows))
        with run_sandbox_in_thread(latency_ms=latency_ms) as box:
            env = subprocess_env(box, base / "state")
            began = time.monotonic()
            proc = start(_args(path, base, 10, 2), env)
            first_call = first_stored = last_stored = None
            while proc.poll() is None and time.monotonic() - began < 180:
                now = time.monotonic()
                if first_call is None and _requests(box):
                    first_call = now
                if last_stored is None:
                    count = stored_count(box)
                    if count and first_stored is None:
                        first_stored = now
                    if count == rows and last_stored is None:
                        last_stored = now
                time.sleep(POLL)
            ended = time.monotonic()
            _, err = proc.communicate()
            if proc.returncode != 0 or None in (first_call, first_stored, last_stored):
                raise RuntimeError(f"the measuring run failed (exit {proc.returncode}): {err}")
            assert first_call is not None and first_stored is not None
            assert last_stored is not None
            return Phases(
                startup=first_call - began,
                preflight=first_stored - first_call,
                posting=last_stored - first_stored,
                finish=ended - last_stored,
            )


def _wait_for(proc: subprocess.Popen[str], done: Any, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while proc.poll() is None and not done() and time.monotonic() < deadline:
        time.sleep(POLL)


def _kill(proc: subprocess.Popen[str]) -> tuple[bool, int | None]:
    """SIGKILL the child if it still runs; (a live child was killed by it, its status)."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive and proc.returncode == -signal.SIGKILL, proc.returncode


def _settle(box: RunningSandbox, latency_ms: int) -> None:
    """Let the requests the killed child had sent finish on the server (its latency plus
    the work), i.e. until the request count and the stored count stop moving."""
    quiet, last = 0, (-1, -1)
    deadline = time.monotonic() + 10
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(latency_ms / 1000 + 0.02)
        now = (_requests(box), stored_count(box))
        quiet = quiet + 1 if now == last else 0
        last = now


def landing_of(requests: int, stored: int, rows: int) -> str:
    """Where a kill landed, from the server's state once the child's requests settled."""
    if stored >= rows:
        return AFTER
    if stored > 0:
        return MID
    return PREFLIGHT if requests > 0 else STARTUP


def run_trial(
    seed: int,
    *,
    rows: int = 120,
    phases: Phases,
    busy: int = 0,
    workdir: Path | None = None,
    keep: Path | None = None,
) -> TrialResult:
    """One trial; deterministic in its choices (moment, batch size, concurrency, latency) for
    ``seed``. ``busy``: how many competing busy processes run meanwhile (the caller runs
    them, e.g. with ``CompetingLoad``; recorded only). ``keep``: where a failing trial's
    evidence is copied (a subdirectory per trial). A child that exited before the kill is
    not a kill: the trial is run again (``MAX_ATTEMPTS`` in all), and fails if no attempt
    killed a live child."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = _attempt(seed, rows=rows, phases=phases, busy=busy, workdir=workdir)
        result = TrialResult(**{**asdict(result), "attempts": attempt})
        if result.killed:
            break
    evidence = _evidence.pop(seed, None)
    if not result.ok and keep is not None and evidence is not None:
        kept = _keep(keep, result, *evidence)
        result = TrialResult(**{**asdict(result), "kept": str(kept)})
    elif evidence is not None:
        shutil.rmtree(evidence[0].parent, ignore_errors=True)
    return result


#: the last attempt's evidence per seed (copied to ``keep`` when the trial failed)
_evidence: dict[int, tuple[Path, Path | None, str, str, subprocess.CompletedProcess[str]]] = {}


def _attempt(
    seed: int, *, rows: int, phases: Phases, busy: int, workdir: Path | None
) -> TrialResult:
    rng = random.Random(seed)
    batch_size = rng.choice([5, 10, 20])
    concurrency = rng.choice([1, 2, 4])
    latency_ms = rng.choice(LATENCIES_MS)
    intent = rng.choices([i for i, _ in INTENTS], weights=[w for _, w in INTENTS])[0]
    target_rows = rng.randint(1, max(1, int((rows - 1) * MID_TARGET_SHARE)))
    jitter = rng.uniform(0, latency_ms / 1000)
    startup_delay = rng.uniform(0, phases.startup * 0.9)
    preflight_delay = rng.uniform(0, phases.preflight)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        base = Path(tmp)
        data = make_rich_rows(rows)
        path = write_rich_rows(base / "in.csv", data)
        args = _args(path, base, batch_size, concurrency)
        # Each batch answers ANSWER_AFTER_COMMIT after its worklogs are stored (a slow
        # response, as over a real network): the harness sees the stored rows while the
        # child still waits for the answer, so a kill aimed at "after N rows" (or after the
        # last) still finds it alive even when the harness is starved by the load.
        with run_sandbox_in_thread(
            latency_ms=latency_ms, faults=[f"batch#1..:delay-after-commit={ANSWER_AFTER_COMMIT}"]
        ) as box:
            env = subprocess_env(box, base / "state")
            began = time.monotonic()
            proc = start(args, env)
            kill_at = 0.0
            try:
                if intent == STARTUP:
                    time.sleep(startup_delay)
                elif intent == PREFLIGHT:
                    _wait_for(proc, lambda: _requests(box) > 0)
                    time.sleep(preflight_delay)
                elif intent == MID:
                    _wait_for(proc, lambda: stored_count(box) >= target_rows)
                    time.sleep(jitter)
                else:
                    _wait_for(proc, lambda: stored_count(box) >= rows)
                kill_at = time.monotonic() - began
            finally:
                killed, status = _kill(proc)
            first_out, first_err = proc.communicate()
            _settle(box, latency_ms)  # what the child had sent reaches the server
            requests, at_kill = _requests(box), stored_count(box)
            rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
            counts_ok = False
            if rerun.returncode == 0:
                counts = json.loads(rerun.stdout)["counts"]
                # a run that had finished before the kill is complete: the re-run is a new run
                # that finds every row already existing
                counts_ok = counts["rows"] == rows and (
                    counts["created"] + counts["already_existing"] == rows
                )
            found, wanted = server_worklogs(box), expected_worklogs(data)
            result = TrialResult(
                seed=seed,
                busy=busy,
                intent=intent,
                landing=landing_of(requests, at_kill, rows),
                kill_at=kill_at,
                killed=killed,
                child_status=status,
                requests_at_kill=requests,
                on_server_at_kill=at_kill,
                rerun_exit=rerun.returncode,
                missing=sum((wanted - found).values()),
                extra=sum((found - wanted).values()),
                counts_ok=counts_ok,
                rows=rows,
                batch_size=batch_size,
                concurrency=concurrency,
                latency_ms=latency_ms,
            )
            if not result.ok:  # what a failed trial keeps, while the files still exist
                saved = Path(tempfile.mkdtemp(prefix=f"trial-{seed}-"))
                shutil.copytree(base, saved / "work", dirs_exist_ok=True)
                db = None
                if box.db is not None:
                    db = saved / "sandbox.sqlite"
                    for suffix in ("", "-wal", "-shm"):
                        if Path(f"{box.db}{suffix}").exists():
                            shutil.copy2(f"{box.db}{suffix}", f"{db}{suffix}")
                _evidence[seed] = (saved / "work", db, first_out, first_err, rerun)
            return result


def _keep(
    keep: Path,
    result: TrialResult,
    base: Path,
    db: Path | None,
    first_out: str,
    first_err: str,
    rerun: subprocess.CompletedProcess[str],
) -> Path:
    """Copy a failing trial's evidence to ``keep/seed-N-...``."""
    where = keep / f"seed-{result.seed}-{'busy' if result.busy else 'idle'}"
    where.mkdir(parents=True, exist_ok=True)
    (where / "killed-run.stdout").write_text(first_out, encoding="utf-8")
    (where / "killed-run.stderr").write_text(first_err, encoding="utf-8")
    (where / "rerun.stdout").write_text(rerun.stdout, encoding="utf-8")
    (where / "rerun.stderr").write_text(rerun.stderr, encoding="utf-8")
    (where / "trial.json").write_text(
        json.dumps(asdict(result), indent=2) + "\n" + result.describe() + "\n", encoding="utf-8"
    )
    if (base / "state").is_dir():
        shutil.copytree(base / "state", where / "state", dirs_exist_ok=True)
    shutil.copy2(base / "in.csv", where / "in.csv")
    if db is not None:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{db}{suffix}")
            if source.exists():
                shutil.copy2(source, where / f"sandbox.sqlite{suffix}")
    shutil.rmtree(base.parent, ignore_errors=True)
    return where
