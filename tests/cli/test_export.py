"""The ``export`` command against a sandbox: golden CSV/XLSX, formats, stdout, errors."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.app.test_export import conn, import_file
from tests.cli.conftest import invoke
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
VOLATILE = ("id", "created_utc", "edited_utc")
RANGE = ["--from", "2026-10-01", "--to", "2026-11-30", "--timezone", "Europe/Berlin"]
pytestmark = pytest.mark.usefixtures("cli_env", "restored_logging")


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1 if intended)"


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        import_file(
            conn(sandbox), REPO / "sample_data/legacy_npm.csv", "7pace-npm", "Europe/Berlin"
        )
        yield sandbox


def run(box: RunningSandbox, *args: str, who: str = "alice") -> Result:
    return invoke(box, "export", *args, who=who)


def mask(rows: list[list[Any]]) -> list[list[Any]]:
    header = rows[0]
    idx = [header.index(c) for c in VOLATILE]
    return [header] + [["<volatile>" if i in idx else v for i, v in enumerate(r)] for r in rows[1:]]


def test_csv_golden(box: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = run(box, *RANGE, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "exported" in result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(mask(rows))
    assert_golden("export_sample.csv", buf.getvalue())


def test_xlsx_golden_by_cells(box: RunningSandbox, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "x.xlsx"
    result = run(box, *RANGE, "--output", str(out))  # format from the extension
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(out, read_only=True).active
    rows = [
        [c if c is None or isinstance(c, int | float | str) else c.isoformat() for c in r]
        for r in ws.iter_rows(values_only=True)
    ]
    assert_golden("export_sample.xlsx.json", json.dumps(mask(rows), indent=1) + "\n")


def test_stdout_json_and_ndjson(box: RunningSandbox) -> None:
    as_json = run(box, *RANGE, "--format", "json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    lines = run(box, *RANGE, "--format", "ndjson").stdout.splitlines()
    assert [json.loads(line) for line in lines] == data
    assert data[0]["date"].startswith("2026-10")


def test_filters_and_mine_via_cli(box: RunningSandbox) -> None:
    mine = run(box, *RANGE, "--mine", "--format", "csv", who="carol")
    assert mine.exit_code == 0
    emails = {r["user_email"] for r in csv.DictReader(io.StringIO(mine.stdout))}
    assert emails == {"carol@example.com"}


def test_permission_and_usage_errors(box: RunningSandbox) -> None:
    denied = run(box, *RANGE, who="bob")
    assert denied.exit_code == 3 and "AccessDenied" in denied.stderr
    bad = run(box, "--from", "2026-11-02", "--to", "2026-11-01")
    assert bad.exit_code == 2 and "after" in bad.stderr
    assert run(box, *RANGE, "--output", "x.pdf").exit_code == 2
    assert run(box, *RANGE, "--format", "xlsx").exit_code == 2  # xlsx to stdout
    assert run(box, *RANGE, "--timezone", "Mars/Base").exit_code == 2


def test_two_profiles_merge(
    box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config" / "timetracker-import"
    config.mkdir(parents=True)
    profiles = config / "profiles.toml"
    profiles.write_text(
        "".join(
            f'[profiles.{name}]\nurl = "{box.url}"\ntoken = "{box.tokens[who]}"\n'
            for name, who in (("east", "alice@example.com"), ("west", "dave@example.com"))
        )
    )
    profiles.chmod(0o600)
    result = CliRunner().invoke(
        cli, ["export", *RANGE, "--profile", "west", "--profile", "east", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    orgs = [r["organization"] for r in rows]
    assert set(orgs) == {"east", "west"} and orgs.count("east") == orgs.count("west")
    assert "east:" in result.stderr
