"""Run many crash trials and print the tally: ``python -m tests.reliability.run_trials -n 100``.

Exit status 0 when every trial held each row exactly once, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter

from tests.reliability.crash import TrialResult, run_trial


def run_trials(count: int, first_seed: int = 100) -> list[TrialResult]:
    """``count`` trials with consecutive seeds, printing one line per trial to stderr."""
    results = []
    for seed in range(first_seed, first_seed + count):
        result = run_trial(seed)
        print(("ok   " if result.ok else "FAIL ") + result.describe(), file=sys.stderr)
        results.append(result)
    return results


def tally(results: list[TrialResult]) -> str:
    """A short summary: passed/failed, and where the kills landed."""
    phases = Counter(r.phase for r in results)
    mid = sum(1 for r in results if 0 < r.on_server_at_kill < r.rows)
    done = sum(1 for r in results if r.on_server_at_kill == r.rows)
    passed = sum(1 for r in results if r.ok)
    return (
        f"crash trials: {passed}/{len(results)} passed, {len(results) - passed} failed "
        f"(killed during start-up {phases['startup']}, before any worklog {len(results) - mid - done - phases['startup']}, "
        f"mid-import {mid}, after the last worklog {done})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args(argv)
    # the sandbox logs each connection a SIGKILL cut mid-request; that is expected here
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    started = time.monotonic()
    results = run_trials(args.count, args.first_seed)
    print(tally(results) + f" in {time.monotonic() - started:.0f} s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
