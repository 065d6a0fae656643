"""Helpers shared by the tests: an import file's layout (``MAPPING``, ``write_rows``,
``make_rows``), the settings and client for ``run_import`` against a sandbox, and what the
sandbox stored. Plain functions and constants; the fixtures are in ``tests/conftest.py``."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.retry import RetryPolicy
from timetracker_import.api.settings import resolve_connection
from timetracker_import.app.importer import ImportResult, ImportSettings, run_import
from timetracker_import.sandbox import RunningSandbox

#: the mapping of the files ``write_rows`` writes
MAPPING = """\
version: 1
header: true
timezone: UTC
fields:
  user: {column: User}
  timestamp: {column: Start}
  length: {column: Minutes, unit: minutes}
  work_item: {column: WorkItem}
  comment: {column: Comment}
"""
COLUMNS = ["User", "Start", "Minutes", "WorkItem", "Comment"]
USERS = ("alice@example.com", "bob@example.com", "carol@example.com")
BASE = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)  # weeks before the demo seed's locked weeks


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """``rows`` as a UTF-8 CSV with a header of ``columns`` (default: the first row's keys)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A CSV in the MAPPING's layout."""
    return write_csv(path, rows, COLUMNS)


def make_rows(
    count: int, *, users: tuple[str, ...] = USERS, start: datetime = BASE
) -> list[dict[str, Any]]:
    """``count`` distinct rows (comment ``row-N``), users round robin, 15 minutes apart."""
    return [
        {
            "User": users[i % len(users)],
            "Start": (start + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Minutes": 15,
            "WorkItem": 100 + i % 7,
            "Comment": f"row-{i}",
        }
        for i in range(count)
    ]


def mapping_file(tmp_path: Path) -> Path:
    """MAPPING written to ``tmp_path/mapping.yaml``."""
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def seed_with_work_items() -> dict[str, Any]:
    """The demo seed with work items 100..199 (``make_rows`` uses 100..106), so that the
    sandbox can refuse an unknown work item (404 EntityNotFound)."""
    text = resources.files("timetracker_import.sandbox").joinpath("seeds/demo.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    data["work_items"] = list(range(100, 200))
    return data


def server_comments(box: RunningSandbox) -> Counter[str]:
    """How often each comment is stored on the server (straight from the sandbox DB)."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        return Counter(str(c) for (c,) in conn.execute("SELECT comment FROM worklogs"))


def settings_for(
    box: RunningSandbox, path: Path, tmp_path: Path, *, user: str = "alice@example.com", **kw: Any
) -> ImportSettings:
    """Import settings for ``path`` (in MAPPING's layout) into ``box`` as ``user``."""
    return _settings(box.url, box.tokens[user], path, tmp_path, **kw)


def offline_settings(path: Path, tmp_path: Path, **kw: Any) -> ImportSettings:
    """Import settings for ``path`` (in MAPPING's layout) that reach no server: for the
    stages that read only the file, or a fake client (tests/fakes.py)."""
    return _settings("https://tt.example.invalid", "not-a-token", path, tmp_path, **kw)


def _settings(url: str, token: str, path: Path, tmp_path: Path, **kw: Any) -> ImportSettings:
    connection = resolve_connection(
        url=url, env={"TIMETRACKER_TOKEN": token}, config_dir=tmp_path / "cfg"
    )
    return ImportSettings(
        path=path, connection=connection, mapping_path=mapping_file(tmp_path), **kw
    )


def fast_client(
    timeout: float = 30, *, attempts: int = 5, floor: float = 1.0, cap: float = 30
) -> Callable[..., TimetrackerClient]:
    """A client factory with a short timeout and no jitter in its backoff (Retry-After is
    still honoured); ``floor`` is the shortest backoff wait in seconds."""

    def factory(connection: Any, on_retry: Callable[[Any], None]) -> TimetrackerClient:
        return TimetrackerClient(
            connection,
            on_retry=on_retry,
            timeout=aiohttp.ClientTimeout(total=timeout),
            retry_policy=RetryPolicy(max_attempts=attempts, floor=floor, cap=cap),
            rand=lambda: 0.0,
        )

    return factory


def run(settings: ImportSettings, **kw: Any) -> ImportResult:
    """``run_import`` with ``fast_client(**kw)``."""
    return run_import(settings, client_factory=fast_client(**kw))


def balanced(result: ImportResult) -> bool:
    """The accounting invariant: rows = created + existing + rejected + unprocessed + skipped."""
    c = result.accounting
    return c.rows == c.created + c.already_existing + c.rejected + c.unprocessed + c.skipped


def invoke_cli(box: RunningSandbox, *args: str) -> tuple[int, str, str]:
    """The CLI in-process against ``box`` as alice: (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from timetracker_import.cli.main import cli

    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens["alice@example.com"]}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr
