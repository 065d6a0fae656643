"""Crash trials (issue 8, part 2): SIGKILL at a random moment, re-run, compare server and file.

CI samples five seeds; the hundred-trial run is marked slow (``make reliability`` or
``make test-all``; also ``python -m tests.reliability.run_trials``).
"""

from __future__ import annotations

import pytest

from tests.reliability.crash import run_trial

CI_SEEDS = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_crash_trial(seed: int) -> None:
    result = run_trial(seed)
    assert result.ok, result.describe()


@pytest.mark.slow
def test_hundred_crash_trials() -> None:
    failures = [r.describe() for r in (run_trial(seed) for seed in range(100, 200)) if not r.ok]
    assert not failures, "\n".join(failures)
