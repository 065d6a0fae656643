"""Seeds (D16): the built-in demo seed, custom YAML/JSON, errors, persistence; the command."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.sandbox.conftest import ApiFactory
from timetracker_import.sandbox import SeedError, load_seed, make_app
from timetracker_import.sandbox.seed import EMPTY_GUID, stable_guid

CUSTOM = """
account: {name: contoso}
defaultActivityType: Review
users:
  - uniqueName: ann@contoso.test
    name: Ann Admin
    role: administrator
    approvalManager: true
    token: t-ann
    timeZone: 120
  - email: tom@contoso.test
    name: Tom Team
    token: t-tom
    default_activity_type: Review
activity_types:
  - {name: Review, color: "#AABBCC"}
work_items: [100, 200]
approval_weeks:
  - {user: tom@contoso.test, week_start: 2025-01-06, state: Approved}
future_check: true
"""


def test_demo_seed_contents() -> None:
    seed = load_seed("demo")
    users = {u.email: (u.name, u.role, u.approval_manager) for u in seed.users}
    assert users == {
        "alice@example.com": ("Alice Admin", "Administrator", True),
        "bob@example.com": ("Bob Builder", "Team", False),
        "carol@example.com": ("Carol Coder", "Team", False),
        "dave@example.com": ("Dave Product", "Product", False),
        "erin@example.com": ("Erin Nobody", "None", False),
    }
    assert len(set(seed.tokens.values())) == 5
    assert [a.name for a in seed.activity_types] == [
        "[Not Set]",
        "Development",
        "Testing",
        "Meetings",
        "Documentation",
    ]
    assert seed.work_items is None
    states = {(w.user_email, w.week_start.isoformat(), w.state) for w in seed.approval_weeks}
    assert {s for _, _, s in states} == {1, 2, 3, 99}
    assert all(w.week_start.month == 10 and w.week_start.year == 2026 for w in seed.approval_weeks)
    # Deterministic ids: the same on every load.
    assert (
        load_seed("demo").users[0].id
        == seed.users[0].id
        == stable_guid("user", "alice@example.com")
    )


async def test_custom_yaml_seed_over_http(make_api: ApiFactory, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(CUSTOM, encoding="utf-8")
    api = await make_api(seed=path)
    client = api.client
    async with client.get(
        "/api/rest/me?api-version=3.2", headers={"Authorization": "Bearer t-ann"}
    ) as r:
        me = (await r.json())["data"]
    assert (me["user"]["name"], me["timeZone"], me["account"]["name"]) == (
        "Ann Admin",
        120,
        "contoso",
    )
    assert me["defaultActivityType"] is None
    async with client.get(
        "/api/rest/activityTypes?api-version=3.2", headers={"Authorization": "Bearer t-tom"}
    ) as r:
        types = (await r.json())["data"]
    review = stable_guid("activity", "Review")
    assert types["systemDefaultActivityTypeId"] == review
    assert [(a["name"], a["color"]) for a in types["activityTypes"]] == [
        ("[Not Set]", "ffffff"),
        ("Review", "aabbcc"),
    ]
    tom = {"Authorization": "Bearer t-tom"}
    url = "/api/rest/workLogs?api-version=3.2"
    async with client.post(
        url, json={"length": 60, "workItemId": 100, "timeStamp": "2025-01-02"}, headers=tom
    ) as r:
        assert r.status == 200
        assert (await r.json())["data"]["activityType"]["id"] == review
    async with client.post(
        url, json={"length": 60, "workItemId": 300, "timeStamp": "2025-01-02"}, headers=tom
    ) as r:
        assert r.status == 422  # not in work_items
    async with client.post(
        url, json={"length": 60, "workItemId": 100, "timeStamp": "2025-01-08"}, headers=tom
    ) as r:
        assert r.status == 409  # Approved week
    async with client.get(
        "/api/rest/users/roles?api-version=3.2", headers={"Authorization": "Bearer t-ann"}
    ) as r:
        assert [i["role"]["name"] for i in (await r.json())["data"]] == ["Administrator", "Team"]


async def test_json_and_dict_seeds(make_api: ApiFactory, tmp_path: Path) -> None:
    data = {"users": [{"email": "j@x.test", "token": "t-j"}]}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for seed in (path, data):
        api = await make_api(seed=seed)
        async with api.client.get(
            "/api/rest/me?api-version=3.0", headers={"Authorization": "Bearer t-j"}
        ) as r:
            me = (await r.json())["data"]
        assert me["user"]["email"] == "j@x.test"
        assert me["timeZone"] == 0


@pytest.mark.parametrize(
    "data,message",
    [
        ({"users": [{"name": "no email"}]}, "email"),
        ({"users": [{"email": "a@x", "role": "Boss"}]}, "role"),
        ({"users": [{"email": "a@x", "token": "t"}, {"email": "b@x", "token": "t"}]}, "token"),
        ({"users": [{"email": "a@x", "default_activity_type": "Nope"}]}, "activity type"),
        (
            {
                "users": [{"email": "a@x"}],
                "approval_weeks": [
                    {"user": "a@x", "week_start": "2025-01-07", "state": "Approved"}
                ],
            },
            "Monday",
        ),
        (
            {
                "users": [{"email": "a@x"}],
                "approval_weeks": [{"user": "a@x", "week_start": "2025-01-06", "state": "Done"}],
            },
            "state",
        ),
        ({"users": "everyone"}, "list"),
    ],
)
def test_seed_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        make_app(seed=data)


def test_missing_seed_file() -> None:
    with pytest.raises(SeedError, match="cannot read"):
        load_seed("/nonexistent/seed.yaml")


async def test_file_db_keeps_worklogs_across_restarts(make_api: ApiFactory, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    api = await make_api(db=db)
    await api.create()
    again = await make_api(db=db)
    _, body, _ = await again.get("workLogs")
    assert len(body["data"]) == 1
    assert body["data"][0]["activityType"]["id"] != EMPTY_GUID


# -- the command -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_sandbox_starts_prints_tokens_serves_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "timetracker_import",
        "sandbox",
        "--port",
        str(port),
        "--fault",
        "me#2:503",
        "--db",
        str(tmp_path / "s.sqlite"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(8)]
        assert f"http://127.0.0.1:{port}" in lines[0]
        text = "".join(lines)
        assert "alice@example.com" in text and "Alice Admin" in text and "Administrator" in text
        token = next(line.split()[-1] for line in lines if "bob@example.com" in line)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/rest/me?api-version=3.2",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["data"]["user"]["name"] == "Bob Builder"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        assert info.value.code == 503
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc = subprocess.Popen(
            [*cmd[:-2]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_sandbox_bad_fault_is_usage_error() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "timetracker_import",
            "sandbox",
            "--port",
            "0",
            "--fault",
            "nowhere:500",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr and "nowhere" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "--port 99999 is not a port number"),
        (["--port", "0", "--db", "{tmp}/missing/x.db"], "cannot use --db"),
        (["--port", "0", "--db", "{tmp}/not-sqlite.txt"], "file is not a database"),
        (
            ["--port", "0", "--queue", "5"],
            "--queue limits the line of calls waiting for --capacity",
        ),
    ],
)
def test_cli_sandbox_bad_port_or_db_is_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    from click.testing import CliRunner

    from timetracker_import.cli.main import cli

    (tmp_path / "not-sqlite.txt").write_text("hello\n", encoding="utf-8")
    argv = ["sandbox", *(a.format(tmp=tmp_path) for a in args)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_sandbox_help_is_listed() -> None:
    from click.testing import CliRunner

    from timetracker_import.cli.main import cli

    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "--fault" in result.output and "--rate-limit" in result.output
