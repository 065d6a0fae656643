"""`roles` and `approvals` walkthrough findings: a request the server refuses for its content
is the user's to fix (exit 2, nothing changed), not a temporary failure (exit 75)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def role_of(box: RunningSandbox, email: str) -> str:
    result = invoke(box, "roles", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return next(r["role"] for r in json.loads(result.stdout) if r["email"] == email)


def test_misspelt_role_is_an_input_error_and_changes_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text(
        "email,role\nbob@example.com,Adminstrator\ncarol@example.com,Product\n", encoding="utf-8"
    )
    result = invoke(box, "roles", "set", str(path))
    assert result.exit_code == 2, result.output
    assert "Adminstrator" in result.stderr and "nothing was changed" in result.stderr
    assert "--skip-errors" in result.stderr
    assert role_of(box, "carol@example.com") == "Team"  # the valid row was not applied


def test_contradicting_rows_for_one_user_are_refused_before_sending(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("email,role\nbob@example.com,Team\nBOB@example.com,Product\n", encoding="utf-8")
    result = invoke(box, "roles", "set", str(path))
    assert result.exit_code == 2, result.output
    assert "roles.csv row 3" in result.stderr and "row 2" in result.stderr
    assert role_of(box, "bob@example.com") == "Team"


def test_revoking_a_week_that_is_not_submitted_exits_2(box: RunningSandbox) -> None:
    result = invoke(box, "approvals", "revoke", "2026-11-23", who="bob")
    assert result.exit_code == 2, result.output
    assert "not in the Submitted state" in result.stderr
    assert "ApprovalStateFailed" in result.stderr


def test_submitting_twice_exits_2(box: RunningSandbox) -> None:
    args = ("approvals", "submit", "2026-11-16", "--manager", "alice@example.com")
    assert invoke(box, *args, who="bob").exit_code == 0
    again = invoke(box, *args, who="bob")
    assert again.exit_code == 2, again.output
    assert "cannot submit the week of 2026-11-16" in again.stderr


def test_approvals_list_from_after_to_is_refused(box: RunningSandbox) -> None:
    result = invoke(box, "approvals", "list", "--from", "2026-11-30", "--to", "2026-10-01")
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


def test_roles_list_xlsx_without_output_is_a_one_line_error_before_any_request(
    box: RunningSandbox,
) -> None:
    result = invoke(box, "roles", "list", "--format", "xlsx")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --format xlsx needs --output PATH.xlsx")
    assert box.stats()["calls"].get("roles", 0) == 0
