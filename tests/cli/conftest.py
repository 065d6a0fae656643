"""Shared fixtures for the CLI tests that drive commands against an in-process sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from timetracker_import.cli.main import cli
from timetracker_import.sandbox.server import RunningSandbox


@pytest.fixture
def cli_env(state_dir: Path) -> None:
    """What ``state_dir`` (autouse, tests/conftest.py) now gives every test: a private config
    and journal dir, no inherited connection settings or keyring. Kept for the modules that
    opt in with ``pytestmark = pytest.mark.usefixtures("cli_env")``."""


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back after a test (``--debug`` changes them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def invoke(box: RunningSandbox, *args: str, who: str = "alice", input: str | None = None) -> Result:
    """Run the CLI with ``args`` against ``box`` with ``who``@example.com's token."""
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens[f"{who}@example.com"]}
    return CliRunner().invoke(cli, list(args), env=env, input=input)
