"""`validate` as a new user meets it (issue 13): lookup files are not needed to start and
never hide other errors, in-file copies are skipped (or allowed, or rejected), `--preset
auto` says what it chose or refuses, and `--date` dates a file without dates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from timetracker_import.cli.main import cli

DATA = Path(__file__).resolve().parents[1] / "data" / "presets"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory as the current one: no preset lookup file can be found."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--timezone", "UTC"])


def as_json(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def test_harvest_without_lookup_file_validates_names_and_keeps_real_errors(work: Path) -> None:
    src = (DATA / "harvest-sandbox.csv").read_text(encoding="utf-8")
    # a real mistake on row 3 (an empty Hours cell) must still show, on its own
    src = src.replace("Weekly sync,0.75,", "Weekly sync,,", 1)
    (work / "h.csv").write_text(src, encoding="utf-8", newline="")
    result = run("validate", "--preset", "harvest", "h.csv", "--json")
    assert result.exit_code == 1, result.stderr
    doc = as_json(result)
    assert (doc["rows"], doc["valid"], doc["rejected"], doc["skipped"]) == (5, 4, 1, 0)
    [rej] = doc["rejections"]
    assert (rej["source_row"], rej["column"]) == (3, "Hours")
    assert "lookup" not in rej["reason"]
    assert doc["missing_lookup_files"] == {"users": str(work / "harvest-users.csv")}
    misses = {m["value"]: m for m in doc["lookup_misses"]}
    assert set(misses) == {"Alice Admin", "Bob Builder", "Carol Coder", "Carol Codr"}
    assert misses["Bob Builder"]["outcome"] == "passed on"
    assert misses["Bob Builder"]["first_rows"] == [3, 5]
    err = result.stderr
    assert "harvest-users.csv not found; its values pass on" in err
    assert "4 value(s) not in lookup 'users': passed on as written, for the server" in err
    assert "these still need the server: `import --dry-run` checks them" in err
    assert f"add it with its 7pace user to {work / 'harvest-users.csv'}" in err


def test_tempo_without_key_file_keeps_the_key_in_the_comment(work: Path) -> None:
    # the input's folder has no jira-keys.csv (a preset reads its lookups beside the input)
    shutil.copy(DATA / "tempo.csv", work / "tempo.csv")
    result = run("validate", "--preset", "tempo", "tempo.csv", "--json")
    assert result.exit_code == 0, result.stderr
    doc = as_json(result)
    assert (doc["valid"], doc["rejected"]) == (3, 0)
    assert {m["value"]: m["outcome"] for m in doc["lookup_misses"]} == {
        "WEB-101": "key in comment",
        "WEB-102": "key in comment",
        "OPS-7": "key in comment",
    }
    assert "no work item; the key is kept in the comment" in result.stderr


def test_required_lookup_still_rejects(work: Path) -> None:
    shutil.copy(DATA / "tempo.csv", work / "tempo.csv")
    shutil.copy(DATA / "jira-keys.csv", work / "jira-keys.csv")
    mapping = CliRunner().invoke(cli, ["mapping", "show", "tempo"]).stdout
    mapping = mapping.replace("key: Key, value: Id}", "key: Key, value: Id, required: true}")
    (work / "m.yaml").write_text(mapping, encoding="utf-8")
    result = run("validate", "--mapping", "m.yaml", "tempo.csv", "--json")
    assert result.exit_code == 1
    [rej] = as_json(result)["rejections"]
    assert rej["source_row"] == 4 and "marks required" in rej["reason"]
    (work / "jira-keys.csv").unlink()
    missing = run("validate", "--mapping", "m.yaml", "tempo.csv")
    assert missing.exit_code == 2
    assert "is required but" in missing.stderr and "mapping init" in missing.stderr


def test_init_then_validate_works_without_filling_in_the_templates(work: Path) -> None:
    # the flow of issue 13: init -o writes the template, validate with it is not exit 2
    shutil.copy(DATA / "bamboohr-hours.csv", work / "b.csv")
    assert not (work / "sub").exists()  # issue 21: output folders are created
    init = CliRunner().invoke(cli, ["mapping", "init", "b.csv", "-o", "sub/m.yaml"])
    assert init.exit_code == 0, init.stderr
    assert "next: timetracker-import validate b.csv --mapping sub/m.yaml" in init.stderr
    template = (work / "sub" / "bamboohr-employees.csv").read_text(encoding="utf-8")
    assert template.splitlines()[0] == "Employee,User,note"
    assert [line.split(",")[0] for line in template.splitlines()[1:]] == ["101", "102", "999"]
    assert all(line.split(",")[1] == "" for line in template.splitlines()[1:])
    result = run("validate", "--mapping", "sub/m.yaml", "b.csv", "--json")
    assert result.exit_code == 1, result.stderr  # row 4: a date in the wrong format, only
    doc = as_json(result)
    assert [r["source_row"] for r in doc["rejections"]] == [4]
    assert doc["missing_lookup_files"] == {}
    assert {m["value"] for m in doc["lookup_misses"]} == {"101", "102", "999"}


# -- in-file copies


@pytest.mark.parametrize(
    ("policy", "code", "valid", "rejected", "skipped"),
    [("skip", 0, 4, 0, 1), ("allow", 0, 5, 0, 0), ("fail", 1, 4, 1, 0)],
)
def test_on_duplicate(
    work: Path, policy: str, code: int, valid: int, rejected: int, skipped: int
) -> None:
    shutil.copy(DATA / "harvest-sandbox.csv", work / "h.csv")
    args = ["validate", "--preset", "harvest", "h.csv", "--json", "--on-duplicate", policy]
    result = run(*args)
    assert result.exit_code == code, result.stderr
    doc = as_json(result)
    assert (doc["valid"], doc["rejected"], doc["skipped"]) == (valid, rejected, skipped)
    assert doc["rows"] == doc["valid"] + doc["rejected"] + doc["skipped"]
    assert doc["in_file_duplicates"] == [{"source_row": 5, "same_as_row": 3}]
    assert doc["on_duplicate"] == policy
    assert "identical rows within the file" in result.stderr and "5 (= row 3)" in result.stderr
    if policy == "skip":
        assert doc["skipped_duplicates"] == 1
        assert "1 skipped as copies of an earlier row" in result.stderr
        assert doc["seconds_per_user"]["Bob Builder"] == 2700  # 0.75 h once, not twice
    if policy == "fail":
        [rej] = doc["rejections"]
        assert rej["stage"] == "duplicate" and "repeats row 3" in rej["reason"]


def test_on_duplicate_shows_in_the_json_report(work: Path) -> None:
    shutil.copy(DATA / "harvest-sandbox.csv", work / "h.csv")
    result = run("validate", "--preset", "harvest", "h.csv", "--report", "r.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((work / "r.json").read_text(encoding="utf-8"))
    assert report["accounting"]["skipped"] == 1
    assert report["accounting"]["in_file_duplicates"] == 1


# -- --preset auto


def test_preset_auto_says_what_it_chose_and_why(work: Path) -> None:
    result = run("validate", "--preset", "auto", str(DATA / "clockify-us-by-data.csv"))
    assert result.exit_code == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("recognised preset clockify-us: matched columns Start Date")
    assert "2 date(s) such as '03/18/2024' (row 3) read only as month/day (US)" in first
    assert "mapping: preset clockify-us" in result.stderr


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        ("clockify-undecided.csv", "fits clockify-eu or clockify-us and its data cannot decide"),
        ("harvest-users.csv", "no shipped preset matches"),
    ],
)
def test_preset_auto_refuses_when_unsure(work: Path, sample: str, words: str) -> None:
    result = run("validate", "--preset", "auto", str(DATA / sample))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: --preset auto:") and words in lines[0]
    assert lines[1].startswith("  hint: ")
    assert "Traceback" not in result.stderr


def test_preset_auto_reads_the_npm_letter_layout(work: Path) -> None:
    result = run("validate", "--preset", "auto", str(DATA / "7pace-npm-letters.csv"), "--json")
    assert result.exit_code == 0, result.stderr
    doc = as_json(result)
    assert (doc["rows"], doc["valid"]) == (3, 3)
    assert doc["detection"].startswith("recognised preset 7pace-npm-letters")


# -- azure-devops-query and --date


def test_ado_query_with_auto_reads_the_date_order_from_the_data(work: Path) -> None:
    shutil.copy(DATA / "azure-devops-query.csv", work / "q.csv")  # the rejected file goes here
    result = run("validate", "--preset", "auto", "q.csv", "--json")
    assert result.exit_code == 1, result.stderr
    doc = as_json(result)
    # 2001 and 2002 valid; 2003 (empty) and 2004 (0) skipped; 2005 "two" hours rejected
    assert (doc["valid"], doc["rejected"], doc["skipped"]) == (2, 1, 2)
    assert doc["seconds_per_user"] == {"alice@example.com": 12600, "Bob Builder": 4500}
    assert "date order MDY from the data" in doc["detection"]
    assert doc["note"].startswith("Completed Work is one total per work item")
    assert "note: Completed Work is one total per work item" in result.stderr


def test_ado_query_without_dates_needs_date(work: Path) -> None:
    lines = (DATA / "azure-devops-query.csv").read_text(encoding="utf-8").splitlines()
    cut = [",".join(line.split(",")[:6]) for line in lines]  # ID .. Completed Work
    (work / "q.csv").write_text("\n".join(cut) + "\n", encoding="utf-8")
    without = run("validate", "--preset", "azure-devops-query", "q.csv")
    assert without.exit_code == 2
    assert "--date YYYY-MM-DD" in without.stderr
    result = run("validate", "--preset", "azure-devops-query", "q.csv", "--date", "2024-03-31")
    assert result.exit_code == 1, result.stderr  # only the "two" hours row
    assert "2 valid, 1 rejected, 2 skipped" in result.stderr
    bad = run("validate", "--preset", "azure-devops-query", "q.csv", "--date", "31.03.2024")
    assert bad.exit_code == 2 and "write it as YYYY-MM-DD" in bad.stderr
