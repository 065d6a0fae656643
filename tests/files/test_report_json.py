"""The JSON report file and the --report path checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.test_report import check_golden, sample_report
from timetracker_import.errors import InputError, UsageError
from timetracker_import.files.report_json import check_report_path, write_report


def test_json_file_matches_the_model_golden(tmp_path: Path) -> None:
    path = write_report(sample_report(), tmp_path / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    check_golden("report_sample.json", data)


def test_schema_doc_names_every_top_level_key(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "report-schema.md").read_text(encoding="utf-8")
    data = sample_report().to_dict()
    keys = set(data) | set(data["totals"]) | set(data["grid"]) | set(data["flags"][0])
    keys |= set(data["flags"][0]["items"][0]) | set(data["rejections"][0])
    keys |= set(data["rejections"][0]["examples"][0])
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"docs/report-schema.md does not document {missing}"
    for flag in data["flags"]:
        assert f"`{flag['code']}`" in doc


@pytest.mark.parametrize("name", ["r.txt", "r", "r.xlsx"])
def test_unknown_suffix_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        check_report_path(tmp_path / name)
    with pytest.raises(UsageError):
        write_report(sample_report(), tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_a_missing_folder_is_created_when_the_report_is_written(tmp_path: Path) -> None:
    target = tmp_path / "out" / "r.html"
    assert check_report_path(target) == target
    assert not (tmp_path / "out").exists()  # the check creates nothing
    assert write_report(sample_report(), target) == target and target.exists()
    assert check_report_path(tmp_path / "R.HTML") == tmp_path / "R.HTML"
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_report_path(tmp_path / "f" / "r.html")


def test_report_file_is_not_private_only(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        path = write_report(sample_report(), tmp_path / "r.json")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
