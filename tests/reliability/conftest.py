"""Shared helpers of the reliability suite.

The import helpers (``make_rows``, ``write_rows``, ``settings_for``, the autouse ``state_dir``
fixture) come from ``tests/app/test_import.py``; here are only what the reliability checks add:
the server's worklogs as a multiset, the multiset a file should produce, a client with a fast
retry policy, and the CLI/subprocess runners.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from tests.app.test_import import MAPPING, state_dir
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.retry import RetryPolicy
from timetracker_import.app.importer import ImportResult, ImportSettings, run_import
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

__all__ = ["state_dir"]  # autouse: a private journal directory, no inherited settings

REPO = Path(__file__).resolve().parents[2]

#: (user email, UTC start as epoch seconds, length seconds, work item, comment)
WorklogTuple = tuple[str, int, int, int | None, str | None]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as box:
        yield box


def server_worklogs(box: RunningSandbox) -> Counter[WorklogTuple]:
    """Every worklog stored on the sandbox, as a multiset, read straight from its DB."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        emails = dict(conn.execute("SELECT id, email FROM users"))
        found: Counter[WorklogTuple] = Counter()
        for user_id, ts_text, length, work_item, comment in conn.execute(
            "SELECT user_id, ts_text, length, work_item_id, comment FROM worklogs"
        ):
            found[(emails.get(user_id, user_id), _epoch(ts_text), length, work_item, comment)] += 1
    return found


def _epoch(text: str) -> int:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def expected_worklogs(rows: Iterable[Mapping[str, Any]]) -> Counter[WorklogTuple]:
    """The multiset of worklogs a file in ``tests/app/test_import.py``'s layout should give."""
    wanted: Counter[WorklogTuple] = Counter()
    for row in rows:
        work_item = row.get("WorkItem")
        wanted[
            (
                str(row["User"]),
                _epoch(str(row["Start"])),
                int(row["Minutes"]) * 60,
                int(work_item) if work_item not in (None, "") else None,
                str(row["Comment"]) if row.get("Comment") else None,
            )
        ] += 1
    return wanted


def balanced(result: ImportResult) -> bool:
    """The accounting invariant: rows = created + existing + rejected + unprocessed (+ skipped)."""
    c = result.accounting
    return c.rows == c.created + c.already_existing + c.rejected + c.unprocessed + c.skipped


def quick_client(
    *, timeout: float = 30, attempts: int = 3, cap: float = 30
) -> Callable[..., TimetrackerClient]:
    """A client factory whose backoff waits are milliseconds (Retry-After still honoured)."""

    def factory(connection: Any, on_retry: Callable[[Any], None]) -> TimetrackerClient:
        return TimetrackerClient(
            connection,
            on_retry=on_retry,
            timeout=aiohttp.ClientTimeout(total=timeout),
            retry_policy=RetryPolicy(max_attempts=attempts, floor=0.01, cap=cap),
            rand=lambda: 0.0,
        )

    return factory


def run_quick(settings: ImportSettings, **kw: Any) -> ImportResult:
    """``run_import`` with ``quick_client(**kw)``."""
    return run_import(settings, client_factory=quick_client(**kw))


def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


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
