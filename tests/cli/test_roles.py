"""``roles list`` and ``roles set`` against the demo sandbox, including permission errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def run(box: RunningSandbox, *args: str, who: str = "alice") -> Result:
    return invoke(box, "roles", *args, who=who)


def roles_of(box: RunningSandbox, *extra: str) -> dict[str, str]:
    result = run(box, "list", "--format", "csv", *extra)
    assert result.exit_code == 0, result.output
    return {r["email"]: r["role"] for r in csv.DictReader(io.StringIO(result.stdout))}


def test_list_with_and_without_none(box: RunningSandbox, tmp_path: Path) -> None:
    plain = roles_of(box)
    assert plain["alice@example.com"] == "Administrator" and "erin@example.com" not in plain
    assert roles_of(box, "--include-none")["erin@example.com"] == "None"
    data = json.loads(run(box, "list", "--format", "json").stdout)
    assert {d["role"] for d in data} >= {"Team", "Product"}
    out = tmp_path / "roles.xlsx"
    assert run(box, "list", "--output", str(out)).exit_code == 0
    import openpyxl

    cells = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert cells[0][:2] == ("name", "email") and len(cells) == 5


def test_list_needs_administrator(box: RunningSandbox) -> None:
    result = run(box, "list", who="bob")
    assert result.exit_code == 3 and "AccessDenied" in result.stderr


def test_set_all_or_nothing_and_skip_errors(box: RunningSandbox, tmp_path: Path) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("email,role\nbob@example.com,Product\nnobody@example.com,Team\n")
    strict = run(box, "set", str(path))
    assert strict.exit_code != 0
    assert roles_of(box)["bob@example.com"] == "Team"  # nothing changed
    skipping = run(box, "set", str(path), "--skip-errors")
    assert skipping.exit_code == 1
    assert "succeeded: 1, failed: 1" in skipping.stdout
    assert "failed nobody@example.com:" in skipping.stdout
    assert roles_of(box)["bob@example.com"] == "Product"


def test_set_by_id_and_bad_file(box: RunningSandbox, tmp_path: Path) -> None:
    listing = json.loads(run(box, "list", "--format", "json").stdout)
    carol = next(d for d in listing if d["email"] == "carol@example.com")
    path = tmp_path / "ids.csv"
    path.write_text(f"id,role\n{carol['id']},Budget\n")
    result = run(box, "set", str(path))
    assert result.exit_code == 0 and "succeeded: 1, failed: 0" in result.stdout
    assert roles_of(box)["carol@example.com"] == "Budget"
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\nx,y\n")
    assert run(box, "set", str(bad)).exit_code == 2
    assert run(box, "set", str(path), who="carol").exit_code == 3


def test_set_row_with_an_empty_role_cell_is_refused_before_sending(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("email,role\nbob@example.com,\n", encoding="utf-8")
    result = run(box, "set", str(path))
    assert result.exit_code == 2, result.output
    assert "row 2: needs a user and a role" in result.stderr
    assert "nan" not in result.stderr  # the empty cell was not sent as the role "nan"
    assert roles_of(box)["bob@example.com"] == "Team"
