"""``import-worklogs``, the old npm importer's drop-in: end to end against the sandbox with a
config.json in both layouts (letters, ``--map`` headers) and with several organizations."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from timetracker_import.cli.legacy import (
    import_worklogs,
    letter_mapping,
    load_legacy_config,
    worst_exit_code,
)
from timetracker_import.errors import ConfigError
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

ALICE_TOKEN_USER = "alice@example.com"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMETRACKER_USER", "TIMETRACKER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(import_worklogs, list(args), env=env or {})
    return result.exit_code, result.stdout, result.stderr


def server_rows(box: RunningSandbox) -> list[tuple[str, str, int]]:
    """(user email, comment, length) of every worklog stored in the sandbox."""
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        return sorted(
            (str(e), str(c), int(n))
            for e, c, n in conn.execute(
                "SELECT u.email, w.comment, w.length FROM worklogs w JOIN users u"
                " ON u.id = w.user_id"
            )
        )


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_config(path: Path, data: dict[str, object]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_letter_layout_from_config_json(sandbox: RunningSandbox, tmp_path: Path) -> None:
    # A rearranged letter map (duration first) proves config.json's map is what is used.
    config = write_config(
        tmp_path / "config.json",
        {
            "map": {
                "duration": "A",
                "userName": "B",
                "timeStamp": "C",
                "comment": "D",
                "workItem": "E",
            },
            "organizationTokens": {},
        },
    )
    data = write_csv(
        tmp_path / "in.csv",
        [
            ["1.5", "bob@example.com", "09.01.2026 09:00", "review", "101"],
            ["0,25", "", "09/01/2026 11:00", "standup", ""],
            ["x", "bob@example.com", "09.01.2026 12:00", "bad duration", "101"],
        ],
    )
    token = sandbox.tokens[ALICE_TOKEN_USER]
    code, out, err = invoke(
        "-f", str(data), "--api", sandbox.url, "-t", token, "--config", str(config)
    )
    assert code == 1, err
    assert token not in out + err
    assert "warning: a token given with -t/--token is visible" in err
    assert "TIMETRACKER_TOKEN" in err
    assert "rows 3 = created 2 + already existing 0 + rejected 1 + unprocessed 0" in err
    assert server_rows(sandbox) == [
        ("alice@example.com", "standup", 900),  # empty UserName: the token's own user
        ("bob@example.com", "review", 5400),
    ]
    # The rejected row is isolated with its row number (no header row: first row is 1).
    assert "row 3 [A: 'x']" in err  # the column and the value to fix


def test_token_never_written_to_run_directory(
    sandbox: RunningSandbox, tmp_path: Path, state_dir: Path
) -> None:
    data = write_csv(tmp_path / "in.csv", [["", "09.02.2026 09:00", "1", "", "c1"]])
    token = sandbox.tokens[ALICE_TOKEN_USER]
    code, _, err = invoke(
        "-f",
        str(data),
        "--api",
        sandbox.url,
        "-t",
        token,
        "--config",
        str(tmp_path / "absent.json"),
    )
    assert code == 0, err
    assert server_rows(sandbox) == [("alice@example.com", "c1", 3600)]
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert files, "the run should be journaled"
    for path in files:
        assert token.encode() not in path.read_bytes(), path


def test_header_layout_with_map(sandbox: RunningSandbox, tmp_path: Path) -> None:
    data = write_csv(
        tmp_path / "in.csv",
        [
            ["UserName", "Date", "Start", "Duration", "ActivityType", "Comment", "WorkItem"],
            ["carol@example.com", "09.03.2026", "8:30 AM", "2", "Testing", "tests", "7"],
            ["carol@example.com", "09.03.2026", "", "0.5", "Nope", "unknown type", ""],
        ],
    )
    env = {"TIMETRACKER_TOKEN": sandbox.tokens[ALICE_TOKEN_USER]}
    code, _, err = invoke("-f", str(data), "--api", sandbox.url, "-m", env=env)
    assert code == 1, err
    assert "warning" not in err  # the token came from the environment
    assert server_rows(sandbox) == [("carol@example.com", "tests", 7200)]
    assert "row 3 [ActivityType: 'Nope']" in err


def test_multiple_organizations_with_organization_tokens(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # Both organizations point at the one sandbox (--api); each has its own token, so the
    # rows without a UserName land on the user of their organization's token.
    config = write_config(
        tmp_path / "config.json",
        {
            "organizationTokens": {
                "Contoso": sandbox.tokens["alice@example.com"],
                "fabrikam": sandbox.tokens["bob@example.com"],
            }
        },
    )
    data = write_csv(
        tmp_path / "in.csv",
        [
            ["Organization", "TimeStamp", "Duration", "Comment"],
            ["contoso", "09.04.2026 09:00", "1", "c-1"],
            ["FABRIKAM", "09.04.2026 10:00", "1", "f-1"],
            ["", "09.04.2026 11:00", "1", "default-org"],
            ["fabrikam", "09.04.2026 12:00", "-1", "f-bad"],
        ],
    )
    code, _, err = invoke(
        "-f", str(data), "--api", sandbox.url, "-m", "-o", "contoso", "--config", str(config)
    )
    assert code == 1, err
    assert server_rows(sandbox) == [
        ("alice@example.com", "c-1", 3600),
        ("alice@example.com", "default-org", 3600),
        ("bob@example.com", "f-1", 3600),
    ]
    assert "API tokens are stored in plain text" in err
    assert "readable by others" not in err  # chmod 600
    assert (
        "total over 2 organization(s): rows 4 = created 3 + already existing 0 + "
        "rejected 1 + unprocessed 0" in err
    )
    assert Counter(line.split()[0] for line in err.splitlines() if "Importing" in line) == {
        "Importing": 2
    }


def test_multiple_organizations_routed_to_their_cloud_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sandboxes stand in for https://contoso... and https://fabrikam.timehub.7pace.com.
    with run_sandbox_in_thread() as one, run_sandbox_in_thread() as two:
        urls = {"contoso": one.url, "fabrikam": two.url}
        monkeypatch.setattr(
            "timetracker_import.api.settings.org_url", lambda org: urls[org.lower()]
        )
        config = write_config(
            tmp_path / "config.json",
            {
                "map": {"organization": "A", "timeStamp": "B", "duration": "C", "comment": "D"},
                "organizationTokens": {
                    "contoso": one.tokens["carol@example.com"],
                    "fabrikam": two.tokens["dave@example.com"],
                },
            },
        )
        data = write_csv(
            tmp_path / "in.csv",
            [
                ["contoso", "09.07.2026 09:00", "1", "to-one"],
                ["fabrikam", "09.07.2026 09:00", "2", "to-two"],
            ],
        )
        code, _, err = invoke("-f", str(data), "--config", str(config))
        assert code == 0, err
        assert server_rows(one) == [("carol@example.com", "to-one", 3600)]
        assert server_rows(two) == [("dave@example.com", "to-two", 7200)]


def test_organization_without_token_stops_before_sending(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "config.json",
        {"organizationTokens": {"contoso": sandbox.tokens["alice@example.com"]}},
    )
    data = write_csv(
        tmp_path / "in.csv",
        [
            ["Organization", "TimeStamp", "Duration", "Comment"],
            ["contoso", "09.04.2026 09:00", "1", "c"],
            ["globex", "09.04.2026 09:00", "1", "g"],
        ],
    )
    code, _, err = invoke("-f", str(data), "--api", sandbox.url, "-m", "--config", str(config))
    assert code == 2
    assert "no API token for organization(s) globex" in err
    assert server_rows(sandbox) == []


def test_rows_without_organization_need_o_or_api(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [["", "09.04.2026 09:00", "1", "", "c"]])
    code, _, err = invoke("-f", str(data), "-t", "x" * 20, "--config", str(tmp_path / "no"))
    assert code == 2
    assert "rows 1 have no Organization" in err


def test_ntlm_needs_api(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [["", "09.04.2026 09:00", "1", "", "c"]])
    code, _, err = invoke(
        "-f",
        str(data),
        "-a",
        "ntlm",
        "-o",
        "DefaultCollection",
        "-u",
        "CONTOSO\\al",
        "-p",
        "secret-password-1",
        "--config",
        str(tmp_path / "no"),
    )
    assert code == 2
    assert "--authorization ntlm needs --api" in err
    assert "secret-password-1" not in err


def test_unknown_authorization_is_usage_error(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "in.csv", [["", "09.04.2026 09:00", "1", "", "c"]])
    code, _, err = invoke("-f", str(data), "-a", "kerberos", "--api", "http://127.0.0.1:9")
    assert code == 2
    assert "token or ntlm" in err


def test_worst_exit_code_orders_by_severity() -> None:
    assert worst_exit_code([]) == 0
    assert worst_exit_code([0, 1, 0]) == 1
    assert worst_exit_code([1, 75, 3]) == 3
    assert worst_exit_code([3, 4, 1]) == 4
    assert worst_exit_code([0, 130, 4]) == 130


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad_key = write_config(tmp_path / "a.json", {"map": {"user": "A"}})
    with pytest.raises(ConfigError, match=r"map\.user is not a field"):
        load_legacy_config(bad_key)
    bad_letter = write_config(tmp_path / "b.json", {"map": {"duration": "C1"}})
    with pytest.raises(ConfigError, match=r"map\.duration must be a column letter"):
        load_legacy_config(bad_letter)
    (tmp_path / "c.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_legacy_config(tmp_path / "c.json")


def test_missing_config_uses_the_old_default_letters(tmp_path: Path) -> None:
    config = load_legacy_config(tmp_path / "config.json")
    fields = letter_mapping(config.letter_map)["fields"]
    # an empty UserName is the token's own user in the old importer's format (issue 21)
    assert fields["user"] == {"column": "A", "optional": True, "default": "me"}
    assert fields["timestamp"] == {"column": "B"}
    assert fields["length"] == {"column": "C", "unit": "hours"}
    assert fields["billable_length"] == {"column": "G", "unit": "hours", "optional": True}


def test_timezone_option_the_zone_note_names(sandbox: RunningSandbox, tmp_path: Path) -> None:
    # Without a zone the summary says "declare the zone (--timezone ZONE, ...)": the drop-in
    # had no --timezone ("No such option"), so its user could not follow the note.
    data = write_csv(
        tmp_path / "in.csv",
        [
            ["UserName", "TimeStamp", "Duration", "Comment"],
            ["carol@example.com", "03.09.2026 08:30", "1", "standup"],
        ],
    )
    env = {"TIMETRACKER_TOKEN": sandbox.tokens[ALICE_TOKEN_USER], "TZ": "UTC"}
    code, _, err = invoke("-f", str(data), "--api", sandbox.url, "-m", env=env)
    assert code == 0, err
    assert "declare the zone (--timezone ZONE" in err
    assert sandbox.db is not None
    data = write_csv(
        tmp_path / "in2.csv",
        [
            ["UserName", "TimeStamp", "Duration", "Comment"],
            ["carol@example.com", "03.09.2026 08:30", "1", "standup berlin"],
        ],
    )
    args = ("-f", str(data), "--api", sandbox.url, "-m", "--timezone", "Europe/Berlin")
    code, _, err = invoke(*args, env=env)
    assert code == 0, err
    assert "times without an offset read in Europe/Berlin (from --timezone)" in err
    assert "declare the zone" not in err
    with sqlite3.connect(sandbox.db) as conn:
        stamps = dict(conn.execute("SELECT comment, ts_text FROM worklogs"))
    assert str(stamps["standup berlin"]).startswith("2026-03-09T07:30")  # 08:30 CET


def test_an_unknown_user_is_told_to_fix_the_file_not_a_temporary_mapping(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # The drop-in builds its mapping in a temporary folder: the reason named that file,
    # gone when the command ends, as the place for `map:`. The old importer's fix is the cell.
    data = write_csv(
        tmp_path / "in.csv",
        [["UserName", "TimeStamp", "Duration", "Comment"], ["E1042", "03.09.2026 08:30", "1", "x"]],
    )
    env = {"TIMETRACKER_TOKEN": sandbox.tokens[ALICE_TOKEN_USER]}
    code, _, err = invoke("-f", str(data), "--api", sandbox.url, "-m", "--timezone", "UTC", env=env)
    assert code == 1, err
    assert "write the person's 7pace uniqueName (the e-mail in the cloud" in err
    assert "in the file's UserName column" in err and "timetracker-routes-" not in err
