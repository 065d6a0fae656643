"""One vocabulary: ``--json`` on the commands that report a result (``--format json`` kept as
the old spelling), ``--ntlm-user`` for the NTLM account on every command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.cli.conftest import invoke
from timetracker_import.cli.main import cli
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def test_json_and_its_old_spelling_give_the_same_document(box: RunningSandbox) -> None:
    new = invoke(box, "users", "--json")
    old = invoke(box, "users", "--format", "json")
    assert new.exit_code == old.exit_code == 0
    assert json.loads(new.stdout) == json.loads(old.stdout)
    assert (
        "json" not in CliRunner().invoke(cli, ["users", "--help"]).output.split("--format")[1][:20]
    )


def test_auth_status_json_masks_the_token(box: RunningSandbox) -> None:
    token = box.tokens["alice@example.com"]
    result = invoke(box, "auth", "status", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["token"] == "****" + token[-4:] and token not in result.output
    assert doc["user"]["uniqueName"] == "alice@example.com"


def test_worklogs_delete_and_approvals_print_json(box: RunningSandbox) -> None:
    result = invoke(box, "worklogs", "delete", "--id", "999999", "--dry-run", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == doc["exit_code"] == 1  # the id is not found
    assert doc["not_found"] == ["999999"]
    listed = invoke(box, "approvals", "list", "--json")
    assert listed.exit_code == 0 and isinstance(json.loads(listed.stdout), list)


def test_the_ntlm_account_is_ntlm_user_on_every_command() -> None:
    runner = CliRunner()
    for command in (["me"], ["import"], ["export"], ["runs", "undo"], ["sync"]):
        text = runner.invoke(cli, [*command, "--help"]).output
        assert "--ntlm-user DOMAIN\\USER" in text, command
    export = runner.invoke(cli, ["export", "--help"]).output
    assert "--user EMAIL" in export  # a filter here, as it always was


def test_roles_list_writes_to_stdout_with_dash(box: RunningSandbox) -> None:
    result = invoke(box, "roles", "list", "-o", "-", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    from timetracker_import.app.admin import ROLE_COLUMNS

    assert result.stdout.splitlines()[0] == ",".join(ROLE_COLUMNS)
    assert "alice@example.com" in result.stdout
    xlsx = invoke(box, "roles", "list", "-o", "-", "--format", "xlsx")
    assert xlsx.exit_code == 2 and "--output PATH.xlsx" in xlsx.stderr
