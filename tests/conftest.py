"""Shared test fixtures. Plain helpers (file layouts, settings, clients) are in
``tests/helpers.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository root (for sample_data/, mappings/)."""
    return REPO


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own journal directory and config directory, no keyring and no
    inherited connection settings: nothing a test runs reads or writes the user's own."""
    state = tmp_path / "state"
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ("TIMETRACKER_URL", "TIMETRACKER_TOKEN", "TIMETRACKER_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return state


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh demo sandbox for one test, served over loopback from a thread."""
    with run_sandbox_in_thread() as box:
        yield box


@pytest.fixture
def box(sandbox: RunningSandbox) -> RunningSandbox:
    """``sandbox`` under the name the CLI and sync tests use."""
    return sandbox
