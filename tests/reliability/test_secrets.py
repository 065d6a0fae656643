"""Secret hygiene (issue 8, part 4): commands run with a known token under ``--debug`` against
failing servers; no captured stream, output file, log, journal or report contains the token.
A group-readable profile file is refused."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.app.test_import import make_rows, write_rows
from tests.reliability.conftest import cli_command, mapping_file, start, subprocess_env
from timetracker_import.sandbox import run_sandbox_in_thread

TOKEN = "s3cr3t-T0KEN-for-hygiene-4711"
SEED = {
    "users": [
        {"email": "alice@example.com", "role": "Administrator", "token": TOKEN,
         "approval_manager": True},
    ],
}  # fmt: skip

# failures that end quickly under the default retry policy run in CI; the ones that wait
# through the whole backoff (about 30 s each) are slow
SLOW = pytest.mark.slow
FAULTS = [
    ["any#2..:401"],
    ["batch:429=900"],
    ["batch#1:500"],
    pytest.param(["any:500"], marks=SLOW),
    pytest.param(["batch:drop"], marks=SLOW),
    pytest.param(["batch#1:500-after-commit", "worklogs-all#2..:503"], marks=SLOW),
]


def forms(token: str) -> list[str]:
    """The token and the encodings a leak could take (Basic auth, URL quoting)."""
    basic = base64.b64encode(f":{token}".encode()).decode()
    return [token, basic, token[: len(token) // 2 + 4]]


def scan(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        for form in forms(TOKEN):
            assert form not in text, f"token found in {where}"


def tree_texts(root: Path) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return found


@pytest.mark.parametrize(
    "faults", FAULTS, ids=lambda f: "+".join(f) if isinstance(f, list) else str(f)
)
def test_no_token_anywhere_under_debug(tmp_path: Path, faults: list[str]) -> None:
    rows = make_rows(12, users=("alice@example.com",))
    path = write_rows(tmp_path / "in.csv", rows)
    out = tmp_path / "out"
    out.mkdir()
    with run_sandbox_in_thread(seed=SEED, faults=faults) as box:
        env = subprocess_env(box, tmp_path / "state", token=TOKEN)
        mapping = str(mapping_file(tmp_path))
        commands = [
            ("me", "--debug"),
            ("users", "--debug"),
            ("import", str(path), "--mapping", mapping, "--yes", "--json", "--debug",
             "--batch-size", "5", "--report", str(out / "report.html"),
             "--rejected", str(out / "rejected.csv")),
            ("import", str(path), "--mapping", mapping, "--yes", "--json", "--debug",
             "--dry-run", "--report", str(out / "dry.json")),
            ("export", "--from", "2026-08-01", "--to", "2026-10-01", "--format", "csv",
             "-o", str(out / "export.csv"), "--quiet", "--debug"),
            ("runs", "list"),
        ]  # fmt: skip
        streams: dict[str, str] = {}
        codes = []
        for args in commands:
            proc = start(cli_command(*args), env)
            stdout, stderr = proc.communicate(timeout=120)
            codes.append(proc.returncode)
            streams[f"{args[0]} stdout"] = stdout
            streams[f"{args[0]} stderr"] = stderr
            assert "Traceback" not in stderr, stderr[-2000:]
        assert sum(box.stats()["fired"].values()) > 0  # the server really failed
        assert any(code != 0 for code in codes) or faults == ["batch#1:500"]  # that one heals
        assert any("DEBUG" in s or "debug" in s.lower() for s in streams.values())
    scan(streams)
    scan(tree_texts(tmp_path / "state"))
    scan(tree_texts(out))


def test_group_readable_profile_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "timetracker-import").mkdir(parents=True)
    profiles = config / "timetracker-import" / "profiles.toml"
    profiles.write_text(
        f'[profiles.work]\nurl = "http://127.0.0.1:9"\ntoken = "{TOKEN}"\n', encoding="utf-8"
    )
    os.chmod(profiles, 0o640)
    env = subprocess_env(None, tmp_path / "state") | {"XDG_CONFIG_HOME": str(config)}
    proc = start(cli_command("me", "--profile", "work", "--debug"), env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert "readable by other users" in stderr and "chmod 600" in stderr
    scan({"stdout": stdout, "stderr": stderr})
