"""The quick start end to end against the embedded sandbox (``timetracker-import demo``,
``make demo``): works from a plain ``pip install``, with the sample data shipped in the
package (``timetracker_import.sample_data``).

Starts the sandbox (demo seed, in memory) on a free loopback port, then runs what the
README's quick start tells a user to type, each as its own ``timetracker-import`` process:
``validate`` (with an HTML report), ``import --dry-run``, the real ``import --yes --report``,
``runs list`` and ``runs undo RUN --dry-run``; it stops the sandbox even on failure. The
sample has deliberate mistakes, so exit 1 ("finished with rejected rows") counts as success;
any other non-zero exit fails the demo. Everything it writes goes under OUT (the journal in
``OUT/state``), and every import is ``--new-run``, so a demo never resumes an earlier one.

Usage: ``python -m timetracker_import.app.demo [OUT_DIR]`` (default ``out``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SAMPLE = "payroll_hours.xlsx"
PRESET = "payroll-demo"
DEMO_USER = "alice@example.com"  # Administrator in the demo seed


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(out: Path, *, say: Callable[[str], None] = _say) -> int:
    """Run the quick start into ``out``; return the process exit code (0 when it worked)."""
    from timetracker_import.sample_data import sample_path
    from timetracker_import.sandbox import run_sandbox_in_thread

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sample = sample_path(SAMPLE)
    with run_sandbox_in_thread(seed="demo") as box:
        say(f"sandbox running at {box.url} (demo seed, in memory)")
        env = dict(
            os.environ,
            TIMETRACKER_URL=box.url,
            TIMETRACKER_TOKEN=box.tokens[DEMO_USER],  # a sandbox-only demo token
            TIMETRACKER_STATE_DIR=str(out / "state"),
        )
        env.pop("TIMETRACKER_PROFILE", None)

        def step(title: str, *args: str, capture: bool = False) -> tuple[int, str]:
            say(f"\n== {title}: timetracker-import {' '.join(args)}")
            done = subprocess.run(
                [sys.executable, "-m", "timetracker_import", *args],
                env=env,
                check=False,
                stdout=subprocess.PIPE if capture else None,
                text=True,
            )
            return done.returncode, done.stdout or ""

        base = ["import", str(sample), "--preset", PRESET, "--new-run", "--no-progress"]
        code, _ = step(
            "validate",
            "validate",
            str(sample),
            "--preset",
            PRESET,
            "--rejected",
            str(out / "payroll_hours.rejected.xlsx"),
            "--report",
            str(out / "validate.report.html"),
        )
        if code not in (0, 1):
            say(f"demo failed: validate exited {code}")
            return code
        code, _ = step("dry run", *base, "--dry-run")
        if code not in (0, 1):
            say(f"demo failed: the dry run exited {code}")
            return code
        report = out / "import.report.html"
        code, printed = step(
            "import", *base, "--yes", "--report", str(report), "--json", capture=True
        )
        if code not in (0, 1):
            say(f"demo failed: the import exited {code}")
            return code
        (out / "import.json").write_text(printed, encoding="utf-8")
        run_id = json.loads(printed)["run_id"]
        step("runs list", "runs", "list")
        code, _ = step("what undo would delete", "runs", "undo", run_id, "--dry-run")
        if code != 0:
            say(f"demo failed: runs undo --dry-run exited {code}")
            return code
    say(
        f"\nreports: {out / 'validate.report.html'}, {report}\n"
        f"rejected rows: {out / 'payroll_hours.rejected.xlsx'}\n"
        f"run {run_id}: its journal is in {out / 'state'}\nsandbox stopped"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m timetracker_import.app.demo [OUT]``."""
    args = sys.argv[1:] if argv is None else argv
    return run_demo(Path(args[0] if args else "out"))


if __name__ == "__main__":
    raise SystemExit(main())
