"""Issue 21 item 6: a mapping's ``key`` + ``on_duplicate_key`` (BambooHR's repeated Time
Entry ID is a correction) in the offline stages that validate and import share. The sample
is tests/data/fidelity/bamboohr-corrections.csv: TE-1001 on rows 2 and 5 (7 h, corrected to
5 h), TE-1002 on rows 3 (an impossible date) and 6 (the fixed row), TE-1003 once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from timetracker_import.app.validate import ValidateSettings, run_validate
from timetracker_import.files.mapping_loader import preset_text

DATA = Path(__file__).resolve().parents[1] / "data" / "fidelity"
SAMPLE = "bamboohr-corrections.csv"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (SAMPLE, "bamboohr-employees.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("chunk_rows", [100, 2])  # a correction may come chunks later
def test_the_later_row_with_a_repeated_key_wins(work: Path, chunk_rows: int) -> None:
    result = run_validate(
        ValidateSettings(
            path=work / SAMPLE, preset="bamboohr-hours", timezone="UTC", chunk_rows=chunk_rows
        )
    )
    assert (result.rows, result.valid, result.rejected, result.skipped) == (5, 3, 0, 2)
    # row 3's impossible date does not matter: row 6 replaced it
    assert result.replaced == {2: 5, 3: 6}
    assert result.total_seconds == int((4.5 + 5 + 6.25) * 3600)
    [note] = [n for n in result.notes if "replaced" in n]
    assert "row 2 by row 5 ('TE-1001')" in note and "row 3 by row 6 ('TE-1002')" in note
    assert result.exit_code == 0


def test_without_the_rule_both_rows_count(work: Path) -> None:
    data = yaml.safe_load(preset_text("bamboohr-hours"))
    del data["on_duplicate_key"]
    (work / "m.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(work / "bamboohr-employees.csv", work / "employees.csv")
    result = run_validate(ValidateSettings(path=work / SAMPLE, mapping_path=work / "m.yaml"))
    assert (result.valid, result.rejected, result.replaced) == (4, 1, {})


def test_reject_rejects_every_row_of_a_repeated_key(work: Path) -> None:
    data = yaml.safe_load(preset_text("bamboohr-hours"))
    data["on_duplicate_key"] = "reject"
    (work / "m.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_validate(
        ValidateSettings(path=work / SAMPLE, mapping_path=work / "m.yaml", chunk_rows=2)
    )
    assert (result.valid, result.rejected, result.skipped) == (1, 4, 0)
    reasons = {r.source_row: r.reason for r in result.rejections}
    assert "key 'TE-1001' is also on row(s) 5" in reasons[2]
    assert "key 'TE-1001' is also on row(s) 2" in reasons[5]
    # row 3 keeps its own problem too (joined into its one rejection)
    assert "not a date/time" in reasons[3] and "TE-1002" in reasons[3]
    assert "`on_duplicate_key: last` in the mapping" in reasons[3]
