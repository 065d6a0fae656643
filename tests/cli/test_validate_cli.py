"""`timetracker-import validate` end to end: exit codes, --json, rejected files vs golden."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from timetracker_import.cli.main import cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def _check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="")
    assert actual == path.read_text(encoding="utf-8"), f"differs from {path} (UPDATE_GOLDEN=1)"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("sample", "mapping_args", "golden"),
    [
        ("legacy_npm.csv", ["--preset", "7pace-npm"], "validate_legacy_npm.rejected.csv"),
        ("timesheet_eu.csv", ["--mapping", "MAPPING"], "validate_timesheet_eu.rejected.csv"),
    ],
)
def test_samples_reject_their_mistakes(
    tmp_path: Path, repo_root: Path, sample: str, mapping_args: list[str], golden: str
) -> None:
    src = tmp_path / sample
    shutil.copy(repo_root / "sample_data" / sample, src)
    args = [
        a.replace("MAPPING", str(repo_root / "sample_data/timesheet_eu.mapping.yaml"))
        for a in mapping_args
    ]
    code, out, err = _run(str(src), *args, "--json", "--timezone", "Europe/Berlin")
    assert code == 1
    doc = json.loads(out)
    assert doc["rows"] == doc["valid"] + doc["rejected"] + doc["skipped"]
    assert doc["rejected"] == len(doc["rejections"]) > 0
    assert {"source_row", "column", "value", "reason"} <= set(doc["rejections"][0])
    assert "rejected" in err and "Traceback" not in err
    rejected = tmp_path / sample.replace(".csv", ".rejected.csv")
    _check_golden(golden, rejected.read_text(encoding="utf-8-sig"))


def test_payroll_xlsx_gives_xlsx_rejections(tmp_path: Path, repo_root: Path) -> None:
    from timetracker_import.files.readers import open_table

    src = tmp_path / "payroll_hours.xlsx"
    shutil.copy(repo_root / "sample_data/payroll_hours.xlsx", src)
    code, out, _ = _run(str(src), "--preset", "payroll-demo", "--json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["rows"], doc["valid"], doc["rejected"]) == (40, 37, 3)
    assert doc["total_seconds"] == 67 * 3600
    table = open_table(tmp_path / "payroll_hours.rejected.xlsx")
    assert table.headers[-3:] == ["source_row", "stage", "reason"]
    rows = table.read_all()
    assert rows[8].tolist() == [9, 21, 33]
    lines = "\n".join("|".join(str(v) for v in row) for row in rows.itertuples(index=False))
    _check_golden("validate_payroll.rejected.txt", lines + "\n")


def test_clean_file_exits_0_and_writes_no_rejected_file(tmp_path: Path) -> None:
    src = tmp_path / "ok.csv"
    src.write_text("UserName,TimeStamp,Duration,Comment\nann,03/04/2026 09:00,1.5,x\n")
    code, out, err = _run(str(src), "--preset", "7pace-npm", "--json", "--timezone", "UTC")
    assert code == 0, err
    assert json.loads(out)["total_seconds"] == 5400
    assert not (tmp_path / "ok.rejected.csv").exists()


def test_rejected_file_can_be_fixed_and_revalidated(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("UserName,TimeStamp,Duration,Comment\nann,03/04/2026 09:00,abc,x\n")
    rejected = tmp_path / "fix.csv"
    assert _run(str(src), "--preset", "7pace-npm", "--rejected", str(rejected))[0] == 1
    rejected.write_text(rejected.read_text().replace("abc", "2"))
    code, _, err = _run(
        str(rejected), "--preset", "7pace-npm", "--rejected", str(tmp_path / "again.csv")
    )
    assert code == 0, err


def test_letter_preset_without_header(tmp_path: Path) -> None:
    src = tmp_path / "letters.csv"
    src.write_text("ann,03/04/2026 09:00,1.5,Dev,x,12,1\nbob,13/04/2026 09:00,1,Dev,y,12,\n")
    code, out, _ = _run(str(src), "--preset", "7pace-npm-letters", "--json", "--timezone", "UTC")
    assert code == 1
    doc = json.loads(out)
    assert [(r["source_row"], r["column"]) for r in doc["rejections"]] == [(2, "B")]
    # no header row in, none out
    assert (tmp_path / "letters.rejected.csv").read_text().startswith("bob,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        ([], "exactly one of --mapping"),
        (["--preset", "7pace-npm", "--timezone", "Nowhere/Land"], "unknown time zone"),
    ],
)
def test_usage_and_mapping_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    src = tmp_path / "x.csv"
    src.write_text("UserName,TimeStamp,Duration\nann,03/04/2026 09:00,1\n")
    code, _, err = _run(str(src), *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_mapping_file_and_missing_input_exit_2(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("fields:\n  length: {column: Hours, unit: days}\n  date: D\n")
    src = tmp_path / "x.csv"
    src.write_text("D,Hours\n2026-03-04,1\n")
    code, _, err = _run(str(src), "--mapping", str(mapping))
    assert code == 2 and "fields.length.unit" in err
    code, _, err = _run(str(tmp_path / "missing.csv"), "--preset", "7pace-npm")
    assert code == 2 and "not found" in err
