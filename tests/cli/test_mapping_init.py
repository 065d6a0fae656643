"""`mapping init` recognises every preset from its sample file; `mapping check` previews."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from timetracker_import.cli.main import cli
from timetracker_import.files.mapping_loader import list_presets, load_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "presets"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"

# sample file -> the preset `init` must name (from the header, or the data where presets
# share a header: issue 13)
RECOGNISED = {
    DATA / "toggl-report.csv": ["toggl"],
    DATA / "toggl-data-export.csv": ["toggl"],
    DATA / "toggl-2025.csv": ["toggl-2025"],
    DATA / "clockify-us-by-data.csv": ["clockify-us"],  # 03/18/2024: month first
    DATA / "clockify-eu.csv": ["clockify-eu"],  # 18.03.2024, 19/03/2024: day first
    DATA / "harvest.csv": ["harvest"],
    DATA / "harvest-eu.csv": ["harvest"],
    DATA / "tempo.csv": ["tempo"],
    DATA / "kimai.csv": ["kimai"],
    DATA / "bamboohr-hours.csv": ["bamboohr-hours"],
    DATA / "azure-devops-query.csv": ["azure-devops-query"],
    DATA / "7pace-npm-letters.csv": ["7pace-npm-letters"],  # no header: the data says so
    SAMPLES / "legacy_npm.csv": ["7pace-npm"],
    DATA.parents[1] / "golden" / "jira_issues.worklogs.csv": ["jira-worklogs"],  # convert jira
    DATA.parents[1] / "golden" / "toggl_across_midnight.days.csv": ["split-days"],  # split-days
}


def _export_sample(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(
        "id,user_email,timestamp_utc,length_seconds,comment\n"
        "1,alice@example.com,2024-03-04T08:00:00Z,3600,x\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("sample", list(RECOGNISED), ids=lambda p: p.name)
def test_init_recognises_the_preset(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    result = CliRunner().invoke(cli, ["mapping", "init", str(sample), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    for name in RECOGNISED[sample]:
        assert f"recognised preset {name}" in result.stderr
        assert f"use --preset {name} (or --preset auto)" in result.stderr
    assert out.read_text(encoding="utf-8").startswith("#")


@pytest.mark.parametrize(
    ("sample", "why"),
    [
        # every date reads both ways; AM/PM alone does not decide the date order
        ("clockify-undecided.csv", "every date reads both ways"),
        # 03/13/2024 and a typo 13/03/2024: one date each way, the file has both orders
        ("clockify-us.csv", "the file has both orders"),
    ],
)
def test_init_says_when_the_data_cannot_decide(sample: str, why: str, tmp_path: Path) -> None:
    # issue 21: nothing is written (it once wrote clockify-eu and exited 0 for a US file)
    out = tmp_path / "m.yaml"
    result = CliRunner().invoke(cli, ["mapping", "init", str(DATA / sample), "-o", str(out)])
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: the header fits clockify-eu and clockify-us")
    assert "cannot decide the day/month order" in lines[0] and why in lines[0]
    assert "nothing written" in lines[0] and not out.exists()
    assert lines[1].startswith("  hint: name the order:") and "--date-order MDY" in lines[1]
    # naming the order decides
    named = CliRunner().invoke(
        cli, ["mapping", "init", str(DATA / sample), "-o", str(out), "--date-order", "mdy"]
    )
    assert named.exit_code == 0, named.stderr
    assert "recognised preset clockify-us" in named.stderr
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["date_order"] == "MDY"


def test_init_covers_every_header_preset(tmp_path: Path) -> None:
    named = {n for names in RECOGNISED.values() for n in names} | {"7pace-export"}
    result = CliRunner().invoke(cli, ["mapping", "init", str(_export_sample(tmp_path))])
    assert "recognised preset 7pace-export" in result.stderr
    # the demo has nothing to recognise (letters without a header are told by their data)
    assert {n for n, _ in list_presets()} - named == {"payroll-demo"}


def test_init_writes_the_recognised_preset_text(tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    CliRunner().invoke(cli, ["mapping", "init", str(DATA / "kimai.csv"), "-o", str(out)])
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["fields"]["start"] == {"column": "From"}


def test_init_drafts_a_loadable_mapping_for_unknown_headers(tmp_path: Path) -> None:
    src = tmp_path / "mine.csv"
    src.write_text("Mitarbeiter;Datum;Beginn;Dauer (h);Notiz\na@x.de;2024-03-04;09:00;1,5;n\n")
    out = tmp_path / "draft.yaml"
    result = CliRunner().invoke(cli, ["mapping", "init", str(src), "-o", str(out)])
    assert result.exit_code == 0
    assert "no shipped preset matches" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert "# guessed" in text and "Columns in the file: Mitarbeiter, Datum" in text
    loaded = load_mapping(out)
    assert loaded.mapping.fields.user is not None
    assert loaded.mapping.fields.user.column == "Mitarbeiter"
    check = CliRunner().invoke(cli, ["mapping", "check", "--mapping", str(out), str(src)])
    assert check.exit_code == 0, check.stderr
    assert "a@x.de" in check.stdout and "1.50" in check.stdout


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    out.write_text("keep")
    result = CliRunner().invoke(cli, ["mapping", "init", str(DATA / "kimai.csv"), "-o", str(out)])
    assert result.exit_code == 2 and out.read_text() == "keep"


def test_check_shows_source_next_to_mapped_rows_and_reasons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(DATA)  # the preset's lookup file harvest-users.csv
    result = CliRunner().invoke(
        cli, ["mapping", "check", "--preset", "harvest", "harvest.csv", "--timezone", "UTC"]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["row", "Date"]
    assert "Alice" in lines[1] and "alice@example.com" in lines[1] and "1.50" in lines[1]
    # issue 13: not in harvest-users.csv: the joined name is kept for the server to resolve
    assert "REJECTED" not in lines[3] and "Dana Nobody" in lines[3]
    assert "3 rows previewed: 3 mapped, 0 rejected" in result.stderr


def test_check_rows_limits_the_preview_and_shows_skipped() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "mapping",
            "check",
            "--preset",
            "clockify-us",
            str(DATA / "clockify-us.csv"),
            "--rows",
            "2",
            "--timezone",
            "UTC",
        ],
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "2024-03-04 09:00:00" in lines[1]
    assert "skipped (skip_rows)" in lines[2]


def test_check_needs_exactly_one_mapping_source() -> None:
    result = CliRunner().invoke(cli, ["mapping", "check", str(DATA / "kimai.csv")])
    assert result.exit_code == 2
    # exit 2 is also click's own usage error: the message proves which check refused
    assert "exactly one of --mapping PATH or --preset NAME" in result.output


def test_check_reads_xlsx(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["UserName", "TimeStamp", "Duration", "Comment"])
    ws.append(["a@x.com", dt.datetime(2024, 3, 4, 9, 0), 1.5, "hello"])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    result = CliRunner().invoke(
        cli, ["mapping", "check", "--preset", "7pace-npm", str(path), "--timezone", "UTC"]
    )
    assert result.exit_code == 0, result.stderr
    assert "2024-03-04 09:00:00" in result.stdout and "hello" in result.stdout
