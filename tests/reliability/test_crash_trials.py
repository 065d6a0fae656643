"""Crash trials (issue 8 part 2, issue 14 part 3): SIGKILL at a chosen moment, re-run, compare
server and file.

CI samples a few seeds idle and a few under CPU contention (one busy process per CPU); the
full runs are ``make reliability`` (300 under contention and 100 idle) and
``python -m tests.reliability.run_trials``. The slow test below runs 100 under contention.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.crash import (
    LANDINGS,
    CompetingLoad,
    Phases,
    default_busy,
    landing_of,
    measure_phases,
    run_trial,
)

IDLE_SEEDS = [1, 2]
BUSY_SEEDS = [4, 5]


@pytest.fixture(scope="module")
def idle_phases() -> Phases:
    return measure_phases()


@pytest.fixture(scope="module")
def contention() -> Iterator[tuple[int, Phases]]:
    busy = default_busy()
    with CompetingLoad(busy):
        yield busy, measure_phases()


@pytest.mark.parametrize("seed", IDLE_SEEDS)
def test_crash_trial_idle(seed: int, idle_phases: Phases, tmp_path: Path) -> None:
    result = run_trial(seed, phases=idle_phases, keep=tmp_path / "kept")
    assert result.killed, result.describe()  # a live child, killed by SIGKILL
    assert result.ok, result.describe()


@pytest.mark.parametrize("seed", BUSY_SEEDS)
def test_crash_trial_under_contention(
    seed: int, contention: tuple[int, Phases], tmp_path: Path
) -> None:
    busy, phases = contention
    result = run_trial(seed, phases=phases, busy=busy, keep=tmp_path / "kept")
    assert result.killed, result.describe()
    assert result.ok, result.describe()


def test_landing_is_read_from_the_server_state() -> None:
    assert landing_of(0, 0, 120) == LANDINGS[0] == "start-up"
    assert landing_of(3, 0, 120) == "before the first worklog"
    assert landing_of(9, 1, 120) == landing_of(9, 119, 120) == "mid-import"
    assert landing_of(12, 120, 120) == "after the last worklog"


def test_a_failing_trial_keeps_its_evidence(idle_phases: Phases, tmp_path: Path) -> None:
    """A trial that cannot pass is kept: the child is told to fail at once (a bad batch
    size), so the moment the trial waits for (a request, a stored row) never comes and the
    'kill' finds it exited: not a SIGKILL of a live process."""
    import tests.reliability.crash as crash

    original = crash._args

    def broken(path: Path, base: Path, batch_size: int, concurrency: int) -> list[str]:
        return original(path, base, 0, concurrency)  # --batch-size 0: exit 2 at once

    crash._args = broken
    try:
        seed = next(s for s in range(1000) if not _aims_at_startup(s))
        result = run_trial(seed, phases=idle_phases, keep=tmp_path / "kept")
    finally:
        crash._args = original
    assert not result.killed and not result.ok and result.child_status == 2
    kept = Path(str(result.kept))
    assert {"killed-run.stderr", "rerun.stderr", "trial.json", "in.csv"} <= {
        p.name for p in kept.iterdir()
    }
    assert "--batch-size" in (kept / "killed-run.stderr").read_text()


def _aims_at_startup(seed: int) -> bool:
    import random

    from tests.reliability.crash import INTENTS, LATENCIES_MS

    rng = random.Random(seed)
    rng.choice([5, 10, 20]), rng.choice([1, 2, 4]), rng.choice(LATENCIES_MS)
    return rng.choices([i for i, _ in INTENTS], weights=[w for _, w in INTENTS])[0] == "start-up"


@pytest.mark.slow
@pytest.mark.timeout(1500)  # 100 trials one after another on a loaded machine: ~8 min
def test_hundred_crash_trials_under_contention() -> None:
    busy = default_busy()
    with CompetingLoad(busy):
        phases = measure_phases()
        results = [run_trial(seed, phases=phases, busy=busy) for seed in range(100, 200)]
    failures = [r.describe() for r in results if not r.ok]
    assert not failures, "\n".join(failures)
