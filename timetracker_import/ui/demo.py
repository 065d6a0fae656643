"""``make ui``: the web app on a fresh sandbox, with a demo file ready to import.

Starts the sandbox (demo seed, temporary database) on a free loopback port, writes
``hours-demo.csv`` (a payroll-style file with an unknown user, a bad date and a duplicate
row) into a temporary folder, points the app at the sandbox through ``TIMETRACKER_URL`` /
``TIMETRACKER_TOKEN`` (Alice's sandbox-only demo token) and a private journal, and serves the
app until Ctrl-C. The demo file is chosen on the File page already (its path is printed;
``sample_data/payroll_hours.xlsx`` is another file to try).

Usage: ``python -m timetracker_import.ui.demo [--port N] [--no-open]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

DEMO_USER = "alice@example.com"
HEADERS = (
    "Employee Email",
    "Date",
    "Start",
    "Hours",
    "Billable Hours",
    "Work Item",
    "Activity",
    "Notes",
)
#: 8 rows: 5 valid and new, one unknown user (row 4), one bad date (row 5), and row 7 an
#: exact copy of row 2 (a duplicate within the file).
DEMO_ROWS = (
    ("alice@example.com", "2026-11-02", "09:00", "2", "2", "101", "Development", "Planning"),
    ("bob@example.com", "2026-11-02", "10:30", "1.5", "1", "102", "Testing", "Regression tests"),
    (
        "bobb@example.com",
        "2026-11-03",
        "09:00",
        "3",
        "3",
        "101",
        "Development",
        "Typo in the email",
    ),
    ("carol@example.com", "2026-11-31", "13:00", "2", "0", "103", "Meetings", "No such day"),
    ("carol@example.com", "2026-11-04", "08:15", "4.25", "4", "103", "Development", "Feature work"),
    ("bob@example.com", "2026-11-02", "10:30", "1.5", "1", "102", "Testing", "Regression tests"),
    ("dave@example.com", "2026-11-05", "14:00", "0.75", "", "104", "Documentation", "Docs"),
    ("alice@example.com", "2026-11-06", "16:00", "1", "1", "101", "Meetings", "Review"),
)
UNKNOWN_USER_ROW, BAD_DATE_ROW, DUPLICATE_ROW, DUPLICATE_OF = 4, 5, 7, 3


def write_demo_file(path: Path) -> Path:
    """Write the demo CSV (UTF-8, comma-separated) to ``path``."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(DEMO_ROWS)
    return path


def main(argv: list[str] | None = None) -> int:
    from timetracker_import.errors import TimetrackerError
    from timetracker_import.sandbox import run_sandbox_in_thread
    from timetracker_import.ui.server import serve

    parser = argparse.ArgumentParser(prog="make ui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--no-open", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tti-ui-demo-"))
    demo = write_demo_file(folder / "hours-demo.csv")
    with run_sandbox_in_thread(seed="demo") as box:
        os.environ.update(
            TIMETRACKER_URL=box.url,
            TIMETRACKER_TOKEN=box.tokens[DEMO_USER],  # a sandbox-only demo token
            TIMETRACKER_STATE_DIR=str(folder / "state"),
        )
        os.environ.pop("TIMETRACKER_PROFILE", None)
        print(
            f"sandbox running at {box.url} (demo seed; you are {DEMO_USER})\n"
            f"demo file: {demo}\n  (chosen on the File page already; it has an unknown user, "
            "a bad date and a duplicate row)",
            file=sys.stderr,
            flush=True,
        )
        try:
            serve(port=args.port, open_browser=not args.no_open, initial_file=demo)
        except TimetrackerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
