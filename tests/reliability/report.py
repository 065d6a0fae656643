"""``make reliability``: run every reliability scenario (slow ones included) and the crash
trials, then print a table of scenario | result. Exit 0 only when everything passed.

    python -m tests.reliability.report [--trials N]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.reliability.run_trials import run_trials, tally

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
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "reliability.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", "", "-p", "no:cacheprovider",
             "tests/reliability", "--deselect",
             "tests/reliability/test_crash_trials.py::test_hundred_crash_trials",
             f"--junitxml={junit}"],
            cwd=REPO,
            check=False,
        )  # fmt: skip
        rows = scenario_results(junit)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    trials = run_trials(args.trials)
    passed = sum(1 for t in trials if t.ok)
    rows.append(
        (
            f"crash trials ({args.trials})",
            "pass" if passed == len(trials) else f"FAIL {passed}/{len(trials)}",
        )
    )
    print()
    print(table(rows))
    print(tally(trials))
    return 0 if all(result in ("pass", "skip") for _, result in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
