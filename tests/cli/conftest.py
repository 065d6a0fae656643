"""Shared fixtures for the CLI tests that drive commands against an in-process sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from timetracker_import.cli.main import cli
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private config and journal dir; no inherited connection settings or keyring.
    Opt in with ``pytestmark = pytest.mark.usefixtures("cli_env")``."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ("TIMETRACKER_URL", "TIMETRACKER_TOKEN", "TIMETRACKER_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back after a test (``--debug`` changes them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    """A fresh demo sandbox for one test."""
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


def invoke(box: RunningSandbox, *args: str, who: str = "alice", input: str | None = None) -> Result:
    """Run the CLI with ``args`` against ``box`` with ``who``@example.com's token."""
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens[f"{who}@example.com"]}
    return CliRunner().invoke(cli, list(args), env=env, input=input)
