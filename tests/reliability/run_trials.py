"""Run many crash trials and print the tally:

    python -m tests.reliability.run_trials -n 300 --busy 2     # under CPU contention
    python -m tests.reliability.run_trials -n 100 --busy 0     # idle

The kill moments are drawn from the phases of one unkilled run measured first under the same
load (printed). Every failing trial's evidence (both runs' stdout/stderr, state directory with
the journal, sandbox database) is kept under ``--keep`` (default: a new directory under the
temporary directory), which is printed. Exit status 0 when every trial passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tests.reliability.crash import (
    LANDINGS,
    CompetingLoad,
    Phases,
    TrialResult,
    default_busy,
    measure_phases,
    run_trial,
)


def _quiet() -> None:
    # the sandbox logs each connection a SIGKILL cut mid-request; that is expected here
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)


def run_trials(
    count: int,
    first_seed: int = 100,
    *,
    busy: int = 0,
    keep: Path | None = None,
    jobs: int = 1,
) -> tuple[list[TrialResult], Phases]:
    """``count`` trials with consecutive seeds under ``busy`` competing busy processes
    (``jobs`` trials at a time, each in its own worker process: more contention still),
    printing the measured phases and one line per trial to stderr."""
    results = []
    with CompetingLoad(busy):
        phases = measure_phases()
        print(f"measured phases ({_load(busy)}): {_phases(phases)}", file=sys.stderr)
        seeds = range(first_seed, first_seed + count)
        with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_quiet) as pool:
            futures = [
                pool.submit(run_trial, seed, phases=phases, busy=busy, keep=keep) for seed in seeds
            ]
            try:
                for future in as_completed(futures):
                    result = future.result()
                    print(("ok   " if result.ok else "FAIL ") + result.describe(), file=sys.stderr)
                    results.append(result)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    results.sort(key=lambda r: r.seed)
    return results, phases


def _load(busy: int) -> str:
    return f"{busy} competing busy process(es)" if busy else "idle"


def _phases(p: Phases) -> str:
    return (
        f"start-up {p.startup:.2f} s, preflight {p.preflight:.2f} s, posting {p.posting:.2f} s, "
        f"finish {p.finish:.2f} s"
    )


def tally(results: list[TrialResult]) -> str:
    """Passed/failed, whether every kill was a SIGKILL of a live process, and where the kills
    landed (measured on the server), with shares."""
    if not results:
        return "crash trials: none run"
    landed = Counter(r.landing for r in results)
    passed = sum(1 for r in results if r.ok)
    not_killed = sum(1 for r in results if not r.killed)
    retried = sum(1 for r in results if r.attempts > 1)
    share = ", ".join(
        f"{name} {landed[name]} ({100 * landed[name] / len(results):.0f}%)" for name in LANDINGS
    )
    loads = sorted({r.busy for r in results})
    return (
        f"crash trials ({', '.join(_load(b) for b in loads)}): {passed}/{len(results)} passed, "
        f"{len(results) - passed} failed; {len(results) - not_killed} SIGKILLed while running"
        f"{f', {not_killed} NOT killed (exited first)' if not_killed else ''}"
        f"{f', {retried} after a retry (the child exited before the first kill)' if retried else ''}"
        f"; landed: {share}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument(
        "--busy",
        type=int,
        default=None,
        help="competing busy processes (default: one per CPU; 0: idle)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="where failing trials go")
    parser.add_argument("--jobs", type=int, default=1, help="trials run at the same time")
    args = parser.parse_args(argv)
    busy = default_busy() if args.busy is None else args.busy
    keep = args.keep or Path(tempfile.mkdtemp(prefix="crash-trials-"))
    _quiet()
    started = time.monotonic()
    results, _ = run_trials(args.count, args.first_seed, busy=busy, keep=keep, jobs=args.jobs)
    print(tally(results) + f" in {time.monotonic() - started:.0f} s")
    failed = [r for r in results if not r.ok]
    print(f"failing trials kept in {keep}" if failed else f"no failing trial ({keep} is empty)")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
