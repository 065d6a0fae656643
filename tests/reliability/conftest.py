"""Shared helpers of the reliability suite.

The import helpers (``make_rows``, ``write_rows``, ``settings_for``, ``balanced``,
``mapping_file``) are in ``tests/helpers.py`` and the fixtures in ``tests/conftest.py``; here are only what the reliability checks add:
the server's worklogs as a multiset, the multiset a file should produce, a client with a fast
retry policy, and the CLI/subprocess runners.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.helpers import MAPPING, fast_client, write_csv
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.app.importer import ImportResult, ImportSettings, run_import
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox

REPO = Path(__file__).resolve().parents[2]

#: (user email, UTC start as epoch seconds, length seconds, billable seconds (the length when
#: not set), work item, comment, activity type name)
WorklogTuple = tuple[str, int, int, int, int | None, str | None, str]
#: the demo seed's default activity type (every user's, and the system's)
DEFAULT_ACTIVITY = "Development"
NOT_SET_ACTIVITY = "[Not Set]"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

#: MAPPING plus billable length and activity type (``make_rich_rows``/``write_rich_rows``)
RICH_MAPPING = (
    MAPPING
    + """\
  billable_length: {column: Billable, unit: minutes}
  activity_type: {column: Activity}
"""
)
RICH_COLUMNS = ["User", "Start", "Minutes", "Billable", "WorkItem", "Comment", "Activity"]


def server_worklogs(box: RunningSandbox) -> Counter[WorklogTuple]:
    """Every worklog stored on the sandbox, as a multiset, read straight from its DB."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        emails = dict(conn.execute("SELECT id, email FROM users"))
        activities = dict(conn.execute("SELECT id, name FROM activity_types"))
        activities.setdefault(EMPTY_GUID, NOT_SET_ACTIVITY)
        found: Counter[WorklogTuple] = Counter()
        for user_id, ts_text, length, billable, work_item, comment, activity in conn.execute(
            "SELECT user_id, ts_text, length, billable, work_item_id, comment, activity_type_id"
            " FROM worklogs"
        ):
            found[
                (
                    emails.get(user_id, user_id),
                    _epoch(ts_text),
                    length,
                    length if billable is None else billable,
                    work_item,
                    comment,
                    activities.get(activity, activity),
                )
            ] += 1
    return found


def stored_count(box: RunningSandbox) -> int:
    """How many worklogs the sandbox holds (one cheap query, for polling)."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM worklogs").fetchone()[0])


def _epoch(text: str) -> int:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def expected_worklogs(
    rows: Iterable[Mapping[str, Any]], *, default_activity: str = DEFAULT_ACTIVITY
) -> Counter[WorklogTuple]:
    """The multiset of worklogs a file in ``tests.helpers.MAPPING``'s layout (optionally
    with ``Billable`` minutes and an ``Activity`` name, ``RICH_COLUMNS``) should give."""
    wanted: Counter[WorklogTuple] = Counter()
    for row in rows:
        work_item = row.get("WorkItem")
        length = int(row["Minutes"]) * 60
        billable = row.get("Billable")
        wanted[
            (
                str(row["User"]),
                _epoch(str(row["Start"])),
                length,
                int(billable) * 60 if billable not in (None, "") else length,
                int(work_item) if work_item not in (None, "") else None,
                str(row["Comment"]) if row.get("Comment") else None,
                str(row.get("Activity") or default_activity),
            )
        ] += 1
    return wanted


def make_rich_rows(count: int) -> list[dict[str, Any]]:
    """``make_rows(count)`` with a billable length on every third row (shorter than the
    length) and activity types in turn: the file's default (empty), Testing, Meetings,
    Documentation."""
    from tests.helpers import make_rows

    activities = ("", "Testing", "Meetings", "Documentation")
    rows = make_rows(count)
    for i, row in enumerate(rows):
        row["Billable"] = int(row["Minutes"]) - 5 if i % 3 == 0 else ""
        row["Activity"] = activities[i % len(activities)]
    return rows


def write_rich_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A CSV in ``RICH_MAPPING``'s layout."""
    return write_csv(path, rows, RICH_COLUMNS)


def rich_mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(RICH_MAPPING, encoding="utf-8")
    return path


def quick_client(
    *, timeout: float = 30, attempts: int = 3, cap: float = 30
) -> Callable[..., TimetrackerClient]:
    """A client factory whose backoff waits are milliseconds (Retry-After still honoured)."""
    return fast_client(timeout, attempts=attempts, floor=0.01, cap=cap)


def run_quick(settings: ImportSettings, **kw: Any) -> ImportResult:
    """``run_import`` with ``quick_client(**kw)``."""
    return run_import(settings, client_factory=quick_client(**kw))


def invoke(args: list[str], env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    result = CliRunner().invoke(cli, args, env=dict(env or {}))
    return result.exit_code, result.stdout, result.stderr


def subprocess_env(
    box: RunningSandbox | None, state: Path, token: str | None = None
) -> dict[str, str]:
    """Environment for ``python -m timetracker_import`` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRACKER_")}
    env["TIMETRACKER_STATE_DIR"] = str(state)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    if box is not None:
        env["TIMETRACKER_URL"] = box.url
        env["TIMETRACKER_TOKEN"] = token or box.tokens["alice@example.com"]
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "timetracker_import", *args]


def start(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=dict(env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
