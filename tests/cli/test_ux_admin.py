"""`roles` and `approvals` walkthrough findings: a request the server refuses for its content
is the user's to fix (exit 2, nothing changed), not a temporary failure (exit 75)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from timetracker_import.cli.main import cli
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("TIMETRACKER_PROFILE", raising=False)


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


def run(box: RunningSandbox, *args: str, who: str = "alice") -> Any:
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens[f"{who}@example.com"]}
    return CliRunner().invoke(cli, list(args), env=env)


def role_of(box: RunningSandbox, email: str) -> str:
    result = run(box, "roles", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return next(r["role"] for r in json.loads(result.stdout) if r["email"] == email)


def test_misspelt_role_is_an_input_error_and_changes_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text(
        "email,role\nbob@example.com,Adminstrator\ncarol@example.com,Product\n", encoding="utf-8"
    )
    result = run(box, "roles", "set", str(path))
    assert result.exit_code == 2, result.output
    assert "Adminstrator" in result.stderr and "nothing was changed" in result.stderr
    assert "--skip-errors" in result.stderr
    assert role_of(box, "carol@example.com") == "Team"  # the valid row was not applied


def test_contradicting_rows_for_one_user_are_refused_before_sending(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("email,role\nbob@example.com,Team\nBOB@example.com,Product\n", encoding="utf-8")
    result = run(box, "roles", "set", str(path))
    assert result.exit_code == 2, result.output
    assert "roles.csv row 3" in result.stderr and "row 2" in result.stderr
    assert role_of(box, "bob@example.com") == "Team"


def test_revoking_a_week_that_is_not_submitted_exits_2(box: RunningSandbox) -> None:
    result = run(box, "approvals", "revoke", "2026-11-23", who="bob")
    assert result.exit_code == 2, result.output
    assert "not in the Submitted state" in result.stderr
    assert "ApprovalStateFailed" in result.stderr


def test_submitting_twice_exits_2(box: RunningSandbox) -> None:
    args = ("approvals", "submit", "2026-11-16", "--manager", "alice@example.com")
    assert run(box, *args, who="bob").exit_code == 0
    again = run(box, *args, who="bob")
    assert again.exit_code == 2, again.output
    assert "cannot submit the week of 2026-11-16" in again.stderr


def test_approvals_list_from_after_to_is_refused(box: RunningSandbox) -> None:
    result = run(box, "approvals", "list", "--from", "2026-11-30", "--to", "2026-10-01")
    assert result.exit_code == 2, result.output
    assert "--from 2026-11-30 is after --to 2026-10-01" in result.stderr


def test_roles_file_without_usable_columns_lists_its_headers(tmp_path: Path) -> None:
    from timetracker_import.app.admin import role_entries
    from timetracker_import.errors import InputError

    path = tmp_path / "roles.csv"
    path.write_text("user,new role\nbob@example.com,Team\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        role_entries(path)
    assert "its headers are: user, new role" in str(caught.value)
