"""The zone naive times are read in, said aloud by validate, import and sync (one rule,
``core.zone``), and an unattended import that would guess it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

MAPPING = """\
version: 1
fields:
  user: {column: User}
  timestamp: {column: Start}
  length: {column: Minutes, unit: minutes}
  comment: {column: Comment}
"""


def files(tmp_path: Path) -> tuple[str, str]:
    data = tmp_path / "hours.csv"
    data.write_text(
        "User,Start,Minutes,Comment\nbob@example.com,2026-11-02 09:00,60,work\n", encoding="utf-8"
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return str(data), str(mapping)


def test_validate_names_a_guessed_zone(
    box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    data, mapping = files(tmp_path)
    result = invoke(box, "validate", data, "--mapping", mapping, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["zone"]["name"] == "Europe/Berlin" and doc["zone"]["source"] == "machine"
    assert "this machine's zone: neither --timezone nor the mapping declares one" in result.stderr
    assert "note: 1 time(s) without an offset were read in this machine's zone" in result.stderr


def test_an_unattended_import_refuses_to_guess(
    box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Etc/UTC")
    data, mapping = files(tmp_path)
    refused = invoke(box, "import", data, "--mapping", mapping, "--yes")
    assert refused.exit_code == 2 and "will not guess the time zone" in refused.stderr
    assert "hint: add --timezone" in refused.stderr and "Traceback" not in refused.stderr
    assert box.stats()["calls"].get("batch", 0) == 0
    # a dry run is attended: it goes, and says which zone it used
    dry = invoke(box, "import", data, "--mapping", mapping, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["timezone"]["source"] == "machine"
    done = invoke(
        box, "import", data, "--mapping", mapping, "--yes", "--json", "--timezone", "Europe/Berlin"
    )
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["timezone"]["name"] == "Europe/Berlin" and doc["timezone"]["source"] == "--timezone"
    assert doc["timezone"]["token_user_offset_minutes"] == 60  # alice, the demo seed
    assert "times without an offset read in Europe/Berlin (from --timezone)" in done.stderr
