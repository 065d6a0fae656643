"""`me`, `users`, `activity-types` over a live loopback fake, in every format, and redaction."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.api.fake_server import ACTIVITY_TYPES, USERS, FakeServer
from timetracker_import.cli.main import cli
from timetracker_import.cli.read import render_rows

TOKEN = "cli-read-token-0123456789-QRST"


pytestmark = pytest.mark.usefixtures("cli_env", "restored_logging")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(TOKEN) as s:
        yield s


def run(server: FakeServer, *args: str, token: str = TOKEN) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli, list(args), env={"TIMETRACKER_URL": server.url, "TIMETRACKER_TOKEN": token}
    )
    return result.exit_code, result.stdout, result.stderr


def test_me_json_round_trip(server: FakeServer) -> None:
    code, out, _ = run(server, "me", "--format", "json")
    assert code == 0
    assert json.loads(out)["user"]["uniqueName"] == "alice@example.com"
    assert server.requests[-1]["raw_path"] == (
        "/api/rest/me?api-version=3.2&$expand=user.displayName"
    )


def test_me_csv_is_default_off_terminal(server: FakeServer) -> None:
    code, out, _ = run(server, "me")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [
        {
            "name": "Alice Example",
            "uniqueName": "alice@example.com",
            "email": "alice@example.com",
            "id": "11111111-1111-1111-1111-111111111111",
            "account": "contoso",
            "defaultActivityType": "Development",
            "timeZone": "60",
        }
    ]


def test_users_table(server: FakeServer) -> None:
    code, out, _ = run(server, "users", "--format", "table")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "displayName", "uniqueName", "email", "id", "vstsId"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(USERS)
    assert "u2@x.com" in lines[-1]


def test_activity_types_csv_marks_default(server: FakeServer) -> None:
    code, out, _ = run(server, "activity-types", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == [a["name"] for a in ACTIVITY_TYPES["activityTypes"]]
    assert [r["default"] for r in rows] == ["false", "true"]


def test_bad_token_exits_3_without_traceback_or_token(server: FakeServer) -> None:
    bad = "wrong-token-abcdefgh-9999"
    code, out, err = run(server, "me", token=bad)
    assert code == 3
    assert "UnauthorizedError" in err and "Traceback" not in err
    assert bad not in out + err


def test_missing_url_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["users"], env={"TIMETRACKER_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "no 7pace URL" in result.stderr and "--url" in result.stderr


def test_debug_logs_never_contain_the_token(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        code, out, err = run(server, "users", "--debug", "--format", "json")
    assert code == 0
    assert "GET users attempt 1 -> 200" in err  # debug output did go to stderr
    for text in (out, err, caplog.text):
        assert TOKEN not in text


def test_no_option_takes_the_token() -> None:
    result = CliRunner().invoke(cli, ["me", "--help"])
    assert "--token-file" in result.output
    assert "--token " not in result.output and "--token=" not in result.output


def test_render_rows_table_aligns_and_handles_none() -> None:
    text = render_rows([{"a": "x", "b": None}, {"a": "long", "b": True}], ["a", "b"], "table")
    assert text.splitlines() == ["a     b", "----  ----", "x", "long  true"]
