"""`worklogs` walkthrough findings: an edit of length_hours in an export is applied (it was
silently ignored because length_seconds, left as exported, won), and `delete` without a
terminal refuses like `import` instead of failing the prompt with exit 1."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.core.roundtrip import RowError, patch_body, patch_for_row
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

SERVER = {"id": "w1", "timeStamp": "2026-03-04T09:00:00Z", "length": 3600}


def test_edited_hours_win_over_the_exported_seconds() -> None:
    row = {"id": "w1", "length_seconds": "3600", "length_hours": "2.5"}
    body = patch_body(patch_for_row(row, SERVER, user_ids={}, activity_type_ids={}))
    assert body == {"length": 9000}


def test_edited_seconds_still_win_over_the_exported_hours() -> None:
    row = {"id": "w1", "length_seconds": "1800", "length_hours": "1.0"}
    body = patch_body(patch_for_row(row, SERVER, user_ids={}, activity_type_ids={}))
    assert body == {"length": 1800}


def test_both_lengths_edited_differently_is_a_row_error() -> None:
    row = {"id": "w1", "length_seconds": "1800", "length_hours": "2"}
    with pytest.raises(RowError, match="edit only one"):
        patch_for_row(row, SERVER, user_ids={}, activity_type_ids={})


def test_delete_without_terminal_refuses_with_exit_2(box: RunningSandbox, tmp_path: Path) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("id\n00000000-0000-0000-0000-000000000001\n", encoding="utf-8")
    result = invoke(box, "worklogs", "delete", str(ids))  # CliRunner's stdin is no terminal
    assert result.exit_code == 2, result.output
    assert "no terminal" in result.stderr and "--yes" in result.stderr


def test_edited_hours_reach_the_server(box: RunningSandbox, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "User,Date,Start,Hours,Notes\nalice@example.com,2026-11-16,09:00,1.5,ux\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\ntimezone: UTC\nfields:\n  user: {column: User}\n  date: {column: Date}\n"
        "  start: {column: Start}\n  length: {column: Hours, unit: hours}\n"
        "  comment: {column: Notes}\n",
        encoding="utf-8",
    )
    imported = invoke(box, "import", str(source), "--mapping", str(mapping), "--yes")
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "e.csv"
    got = invoke(box, "export", "--from", "2026-11-16", "--to", "2026-11-16", "-o", str(out))
    assert got.exit_code == 0, got.output
    (first,) = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert first["length_hours"] == "1.5"
    new_hours = float(first["length_hours"]) + 0.5
    first["length_hours"] = str(new_hours)
    edited = tmp_path / "edited.csv"
    with edited.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(first))
        writer.writeheader()
        writer.writerow(first)
    result = invoke(box, "worklogs", "update", str(edited))
    assert result.exit_code == 0, result.output
    assert "updated: 1" in result.stdout
    again = invoke(box, "export", "--from", "2026-11-16", "--to", "2026-11-16", "-o", str(out))
    assert again.exit_code == 0, again.output
    (after,) = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert after["length_seconds"] == "7200"
