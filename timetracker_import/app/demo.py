"""``make demo``: the main job end to end against the embedded sandbox.

Starts the sandbox (demo seed, temporary database) on a free loopback port, then runs
``import sample_data/payroll_hours.xlsx --preset payroll-demo`` as a dry run and for real
(``--yes --report``), prints the report path and the run id, and stops the sandbox even on
failure. The sample has deliberate mistakes, so exit 1 ("finished with rejected rows") counts as
success; any other non-zero exit fails the demo. The journal goes under ``OUT/state`` and every
run is ``--new-run``, so a demo never resumes an earlier one.

Usage: ``python -m timetracker_import.app.demo [OUT_DIR]`` (default ``out``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLE = Path("sample_data/payroll_hours.xlsx")
DEMO_USER = "alice@example.com"  # Administrator in the demo seed


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    from timetracker_import.sandbox import run_sandbox_in_thread

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "out").resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = out / "import.report.html"
    with run_sandbox_in_thread(seed="demo") as box:
        print(f"sandbox running at {box.url} (demo seed)", flush=True)
        env = dict(
            os.environ,
            TIMETRACKER_URL=box.url,
            TIMETRACKER_TOKEN=box.tokens[DEMO_USER],  # a sandbox-only demo token
            TIMETRACKER_STATE_DIR=str(out / "state"),
        )
        base = [sys.executable, "-m", "timetracker_import", "import", str(SAMPLE),
                "--preset", "payroll-demo", "--new-run", "--no-progress"]  # fmt: skip
        steps = [
            ("dry run", [*base, "--dry-run"]),
            ("import", [*base, "--yes", "--report", str(report)]),
        ]
        for title, command in steps:
            print(f"\n== {title}: {' '.join(command[2:])}", flush=True)
            code = subprocess.run(command, env=env, check=False).returncode
            if code not in (0, 1):
                print(f"demo failed: {title} exited {code}", file=sys.stderr)
                return code
        print("\n== runs list", flush=True)
        subprocess.run(
            [sys.executable, "-m", "timetracker_import", "runs", "list"], env=env, check=False
        )
    print(f"\nreport: {report}\nsandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
