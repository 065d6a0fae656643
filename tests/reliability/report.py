"""``make reliability``: run every reliability scenario (slow ones included) and the crash
trials (under CPU contention, then idle), then print a table of scenario | result and the
trials' tally. Exit 0 only when everything passed.

    python -m tests.reliability.report [--trials N] [--idle-trials M] [--busy B] [--jobs J]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.reliability.crash import default_busy
from tests.reliability.run_trials import _quiet, run_trials, tally

REPO = Path(__file__).resolve().parents[2]


def scenario_results(junit: Path) -> list[tuple[str, str]]:
    """(scenario, pass|FAIL|skip) per test case of a junit XML file."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = str(case.get("classname", "")).rsplit(".", 1)[-1]
        name = f"{module}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result = "FAIL"
        elif case.find("skipped") is not None:
            result = "skip"
        else:
            result = "pass"
        rows.append((name, result))
    return rows


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"{'scenario'.ljust(width)} | result", f"{'-' * width}-|-------"]
    lines += [f"{name.ljust(width)} | {result}" for name, result in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=300, help="trials under contention")
    parser.add_argument("--idle-trials", type=int, default=100, help="trials on an idle box")
    parser.add_argument("--busy", type=int, default=None, help="busy processes (default: CPUs)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="trials at the same time (under contention only)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "reliability.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-m",
                "",
                "-p",
                "no:cacheprovider",
                "tests/reliability",
                "--deselect",
                "tests/reliability/test_crash_trials.py::test_hundred_crash_trials_under_contention",
                f"--junitxml={junit}",
            ],
            cwd=REPO,
            check=False,
        )
        rows = scenario_results(junit)
    _quiet()
    keep = Path(tempfile.mkdtemp(prefix="crash-trials-"))
    busy = default_busy() if args.busy is None else args.busy
    tallies = []
    for count, load, first in ((args.trials, busy, 100), (args.idle_trials, 0, 1000)):
        if count <= 0:
            continue
        # idle means one trial at a time: parallel trials contend with each other
        jobs = args.jobs if load else 1
        trials, _ = run_trials(count, first, busy=load, keep=keep, jobs=jobs)
        passed = sum(1 for t in trials if t.ok)
        label = f"crash trials ({count}, {'busy ' + str(load) if load else 'idle'})"
        rows.append((label, "pass" if passed == len(trials) else f"FAIL {passed}/{len(trials)}"))
        tallies.append(tally(trials))
    print()
    print(table(rows))
    print("\n".join(tallies))
    failed = any(result not in ("pass", "skip") for _, result in rows)
    print(f"failing trials kept in {keep}" if failed else f"no failing trial kept ({keep})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
