"""Issue 21 item 3: the day/month order comes from all of a file's dates, never from one
row, in `mapping init` and `--preset auto` alike (core.preset_detect.infer_date_order).

Samples (Clockify detailed CSV, US settings, in tests/data/fidelity/):
clockify-us-days-under-13.csv: 5 rows whose days are all <= 12 (nothing decides);
clockify-us-dirty-row.csv: 37 rows that read only as month/day and, on row 9, one date
typed day-first (13/11/2026)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from timetracker_import.cli.main import cli

DATA = Path(__file__).resolve().parents[1] / "data" / "fidelity"
UNDER_13 = "clockify-us-days-under-13.csv"
DIRTY = "clockify-us-dirty-row.csv"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (UNDER_13, DIRTY):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_init_refuses_a_us_file_whose_days_are_all_under_13(work: Path) -> None:
    result = run("mapping", "init", UNDER_13, "-o", "m.yaml")
    assert result.exit_code == 2
    assert "every date reads both ways" in result.stderr
    assert "nothing written" in result.stderr and not (work / "m.yaml").exists()
    assert f"mapping init {UNDER_13} --date-order MDY" in result.stderr
    named = run("mapping", "init", UNDER_13, "-o", "m.yaml", "--date-order", "MDY")
    assert named.exit_code == 0, named.stderr
    assert yaml.safe_load((work / "m.yaml").read_text(encoding="utf-8"))["date_order"] == "MDY"
    # the mapping it wrote reads 03/04/2024 as 4 March
    check = run("validate", "--mapping", "m.yaml", UNDER_13, "--timezone", "UTC", "--json")
    assert check.exit_code == 0, check.stderr
    assert json.loads(check.stdout)["valid"] == 5


def test_preset_auto_refuses_when_the_data_cannot_decide(work: Path) -> None:
    result = run("validate", "--preset", "auto", UNDER_13)
    assert result.exit_code == 2
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith("error: --preset auto: the file fits clockify-eu or clockify-us")
    assert "--preset clockify-eu or --preset clockify-us" in hint


def test_one_dirty_row_is_rejected_and_does_not_flip_the_file(work: Path) -> None:
    init = run("mapping", "init", DIRTY)
    assert init.exit_code == 0, init.stderr
    assert "recognised preset clockify-us" in init.stderr
    assert "1 row(s) contradict it and are rejected: '13/11/2026' (row 9)" in init.stderr
    result = run("validate", "--preset", "auto", DIRTY, "--timezone", "UTC", "--json")
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["valid"], doc["rejected"]) == (38, 37, 1)
    assert "read only as month/day (US)" in doc["detection"]
    [rej] = doc["rejections"]
    assert rej["source_row"] == 9 and rej["value"] == "13/11/2026"
    assert rej["reason"].startswith(
        "'13/11/2026' is not a month/day (US) date (date order MDY): there is no month 13"
    )


def test_the_evidence_is_every_row_not_the_first_thousand(work: Path) -> None:
    lines = (work / UNDER_13).read_text(encoding="utf-8").splitlines()
    header, row = lines[0], lines[1]  # 03/04/2024: reads both ways
    late = [row.replace("03/04/2024", f"03/{day}/2024") for day in range(13, 29)]
    (work / "big.csv").write_text(
        "\n".join([header, *[row] * 1200, *late]) + "\n", encoding="utf-8"
    )
    result = run("validate", "--preset", "auto", "big.csv", "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("recognised preset clockify-us")
