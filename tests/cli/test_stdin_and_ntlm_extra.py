"""``-`` reads the input file from stdin (validate, import), and the NTLM extra is named when
it is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import MAPPING, make_rows, server_comments, write_rows
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox


def test_validate_reads_stdin_and_writes_rejected_rows_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    rows = make_rows(3)
    rows[1]["Minutes"] = "-5"
    data = write_rows(tmp_path / "in.csv", rows).read_bytes()
    result = CliRunner().invoke(cli, ["validate", "-", "--mapping", "m.yaml", "--json"], input=data)
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["rejected"]) == (3, 1)
    assert doc["rejected_path"] == "stdin.rejected.csv"
    assert (tmp_path / "stdin.rejected.csv").read_text().count("\n") == 2
    assert "stdin.csv: 3 rows" in result.stderr


def test_import_reads_stdin(sandbox: RunningSandbox, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    data = write_rows(tmp_path / "in.csv", make_rows(4)).read_bytes()
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    args = ["import", "-", "--mapping", str(tmp_path / "m.yaml"), "--yes", "--json"]
    result = CliRunner().invoke(cli, args, input=data, env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["created"] == 4
    assert sum(server_comments(sandbox).values()) == 4
    again = CliRunner().invoke(cli, args, input=data, env=env)  # the same content: resumed
    assert again.exit_code == 0 and sum(server_comments(sandbox).values()) == 4


def test_ntlm_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "spnego", None)  # as if pyspnego were not installed
    env = {"TIMETRACKER_PASSWORD": "pw-123456"}
    result = CliRunner().invoke(
        cli,
        [
            "me",
            "--url",
            "http://127.0.0.1:9",
            "--auth",
            "ntlm",
            "--ntlm-user",
            "CONTOSO\\alice",
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "error: NTLM (Windows authentication) needs the ntlm extra, which is not installed"
    )
    assert "pip install 'timetracker-import[ntlm]'" in result.stderr
    assert json.loads(result.stdout)["error"]["type"] == "ConfigError"


def test_the_sandbox_with_ntlm_names_the_extra_before_it_listens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "spnego", None)
    users = tmp_path / "users.txt"
    users.write_text("CONTOSO\\alice:pw123456\n")
    result = CliRunner().invoke(
        cli, ["sandbox", "--port", "0", "--auth", "ntlm", "--ntlm-users", str(users)]
    )
    assert result.exit_code == 2
    assert "pip install 'timetracker-import[ntlm]'" in result.stderr
    assert "listening" not in result.output
