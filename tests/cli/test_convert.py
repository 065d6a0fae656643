"""`convert jira`: a Jira issue export (CSV or XLSX, repeated Log Work columns) becomes one
row per worklog; the result validates with --preset jira-worklogs. Expected files are golden
(tests/golden/jira_*; refresh with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from tests.files.golden import assert_golden
from timetracker_import.cli.main import cli
from timetracker_import.files.readers import open_table

DATA = Path(__file__).resolve().parents[1] / "data" / "presets"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
# Composed from export-formats.md §5: the fixture's header with three Log Work columns and a
# Labels column after them; a quoted multi-line description (so rows are 2, 3, 5, 6, 7, 8);
# a comment holding ';'; short cells; a comment starting with '-'; an issue without
# worklogs; an issue with an unreadable cell ('1h'); a zero-second worklog.
SAMPLE = DATA / "jira-issues.csv"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(SAMPLE, tmp_path / SAMPLE.name)
    shutil.copy(DATA / "jira-keys.csv", tmp_path / "jira-keys.csv")
    monkeypatch.chdir(tmp_path)  # the preset reads jira-keys.csv beside the converted file
    return tmp_path


def test_csv_export_converts_to_one_row_per_worklog(work: Path) -> None:
    code, err = run("convert", "jira", "jira-issues.csv")
    assert code == 1  # one issue row has an unreadable Log Work cell
    assert (
        "jira-issues.csv: 6 issue rows, 7 worklogs written to jira-issues.worklogs.csv; "
        "1 rejected, 1 without worklogs" in err
    )
    assert "row 7: Log Work #2: the time spent (the last part) must be whole seconds" in err
    assert "validate --preset jira-worklogs jira-issues.worklogs.csv" in err
    assert_golden("jira_issues.worklogs.csv", (work / "jira-issues.worklogs.csv").read_bytes())
    assert_golden("jira_issues.rejected.csv", (work / "jira-issues.rejected.csv").read_bytes())


def test_the_rejected_row_converts_once_fixed(work: Path) -> None:
    run("convert", "jira", "jira-issues.csv")
    rejected = work / "jira-issues.rejected.csv"
    rejected.write_text(rejected.read_text(encoding="utf-8").replace(";1h,", ";3600,"), "utf-8")
    code, err = run("convert", "jira", str(rejected), "-o", "fixed.csv")
    assert code == 0, err
    rows = list(csv.reader((work / "fixed.csv").open(encoding="utf-8")))
    # both worklogs of the issue, which were held back together, and nothing else
    assert [(r[0], r[5], r[6]) for r in rows[1:]] == [
        ("WEB-101", "900", "Good one"),
        ("WEB-101", "3600", "Forgot the seconds"),
    ]


def test_xlsx_export_gives_the_same_worklogs(work: Path) -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        records = list(csv.reader(fh))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Jira"
    for i, record in enumerate(records):
        cells: list[object] = [c if c != "" else None for c in record]
        if i:
            cells[2] = int(record[2])  # Issue id as a number cell, as Excel keeps it
        sheet.append(cells)
    book.save(work / "jira.xlsx")

    code, err = run("convert", "jira", "jira.xlsx", "--sheet", "Jira")
    assert code == 1, err
    assert (work / "jira.rejected.xlsx").exists()
    out = open_table(work / "jira.worklogs.xlsx")
    got = [
        ["" if v is None else str(v) for v in row]
        for chunk in out.chunks()
        for row in chunk.itertuples(index=False, name=None)
    ]
    golden = list(csv.reader((GOLDEN / "jira_issues.worklogs.csv").open(encoding="utf-8")))
    assert out.headers == golden[0]
    assert [row[:-1] for row in got] == [row[:-1] for row in golden[1:]]
    # Excel has no multi-line record that pushes later rows down: rows are 2..7 there
    assert [row[-1] for row in got] == ["2", "2", "3", "3", "3", "4", "7"]


def test_clean_export_exits_0_and_writes_no_rejected_file(work: Path) -> None:
    src = work / "clean.csv"
    src.write_text(
        "Summary,Issue key,Log Work,Log Work\n"
        'Hero,WEB-101,"Fixed;04/Mar/24 9:00 AM;alice@example.com;5400",\n',
        encoding="utf-8",
    )
    code, err = run("convert", "jira", str(src), "-o", "out.xlsx")
    assert code == 0, err
    assert "1 issue rows, 1 worklogs written to out.xlsx; 0 rejected" in err
    assert not (work / "clean.rejected.csv").exists()
    [chunk] = list(open_table(work / "out.xlsx").chunks())
    assert chunk.iloc[0].tolist() == [
        "WEB-101",
        None,
        "Hero",
        "alice@example.com",
        "04/Mar/24 9:00 AM",
        5400,
        "Fixed",
        2,
    ]


def test_not_a_jira_export_exits_2_and_names_the_expected_headers(work: Path) -> None:
    code, err = run("convert", "jira", str(DATA / "tempo.csv"), "-o", "x.csv")
    assert code == 2
    assert "tempo.csv is not a Jira issue export with worklogs: no 'Log Work' column" in err
    assert "expected the headers 'Issue key', 'Summary' and one 'Log Work' column" in err
    assert not (work / "x.csv").exists()


def test_unreadable_input_exits_2(work: Path) -> None:
    code, err = run("convert", "jira", "missing.csv")
    assert (code, "file not found" in err) == (2, True)
    (work / "bad.csv").write_bytes(b"Log Work\n\xff\xfe\xfa;1\n")
    code, err = run("convert", "jira", "bad.csv", "--encoding", "utf-8")
    assert code == 2 and "error:" in err


def test_output_must_not_overwrite_the_input(work: Path) -> None:
    code, err = run("convert", "jira", "jira-issues.csv", "-o", "jira-issues.csv")
    assert code == 2 and "must differ from the input" in err


def test_converted_file_validates_with_the_preset(work: Path) -> None:
    run("convert", "jira", "jira-issues.csv")
    result = CliRunner().invoke(
        cli,
        [
            "validate",
            "--preset",
            "jira-worklogs",
            "--timezone",
            "Europe/Berlin",
            "--json",
            "jira-issues.worklogs.csv",
        ],
    )
    assert result.exit_code == 1, result.stderr
    import json

    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["valid"], doc["rejected"]) == (7, 4, 3)
    reasons = {r["source_row"]: r["reason"] for r in doc["rejections"]}
    assert set(reasons) == {4, 5, 8}
    # "date;;600": no author; issue 21: rejected, not booked to the token's own user
    assert reasons[4].startswith("user is empty")
    assert "timestamp is empty" in reasons[5]  # "Alice;5400": no date in the cell
    assert "greater than 0" in reasons[8]  # a 0-second worklog
    # issue 13: WEB-103 is not in jira-keys.csv: row 7 is valid without a work item, the key
    # kept in its comment, and the JSON says so
    assert doc["lookup_misses"] == [
        {
            "field": "work_item",
            "lookup": "work_items",
            "value": "WEB-103",
            "outcome": "key in comment",
            "rows": 1,
            "first_rows": [7],
        }
    ]
    # 1:30 (+0100) + 0:30 + 0:05 + 1:00 (row 7) of valid time
    assert doc["total_seconds"] == 5400 + 1800 + 300 + 3600
    assert doc["seconds_per_user"] == {
        "alice@example.com": 5400,
        "bob@example.com": 2100,
        "carol@example.com": 3600,
    }


def test_preset_reads_every_documented_date_form_and_strips_the_guard(work: Path) -> None:
    from timetracker_import.app.validate import iter_mapped_chunks
    from timetracker_import.files.mapping_loader import load_preset

    src = work / "w.csv"
    src.write_text(
        "Issue Key,Issue id,Summary,Author,Started,Time Spent (seconds),Comment,Source Row\n"
        "WEB-101,1,s,a@x.com,20240304093000+0100,60,'-5 min fix,2\n"
        "WEB-101,1,s,a@x.com,04/Mar/24 09:12,60,'=cmd,3\n"
        "web-102,1,s,a@x.com,4/Mar/24 2:30 PM,60,x,4\n"
        "WEB-102,1,s,a@x.com,2024-03-04 09:00,60,x,5\n",
        encoding="utf-8",
    )
    [chunk] = list(
        iter_mapped_chunks(open_table(src), load_preset("jira-worklogs"), timezone="UTC")
    )
    canon = chunk.canonical
    assert [t.strftime("%Y-%m-%d %H:%M") for t in canon["timestamp"]] == [
        "2024-03-04 08:30",
        "2024-03-04 09:12",
        "2024-03-04 14:30",
    ]
    assert canon["comment"].tolist() == ["-5 min fix", "=cmd", "x"]
    assert canon["work_item_id"].tolist() == [2001, 2001, 2002]
    [rej] = chunk.rejections  # an ISO date is no Jira Log Work form
    assert rej.source_row == 5 and "declared format" in rej.reason


def test_mapping_init_points_raw_exports_at_convert(work: Path) -> None:
    code, err = run("mapping", "init", "jira-issues.csv", "-o", "m.yaml")
    assert code == 0
    assert "this is a Jira issue export" in err
    assert "run `timetracker-import convert jira jira-issues.csv` first" in err
    assert "--preset jira-worklogs" in err
    assert not (work / "m.yaml").exists()


@pytest.mark.parametrize("preset", ["jira-worklogs", "auto"])
def test_validate_on_a_raw_jira_export_says_convert_jira(work: Path, preset: str) -> None:
    # issue 21: the fix is a command, not "fix the header name"
    code, err = run("validate", "--preset", preset, "jira-issues.csv")
    assert code == 2
    first, hint = err.splitlines()[:2]
    assert first.startswith("error: ")
    assert hint.startswith("  hint: jira-issues.csv is a Jira issue export (columns Issue key")
    assert "run `timetracker-import convert jira jira-issues.csv` first" in hint
    assert "--preset jira-worklogs" in hint


# -- split-days (issue 21 item 1): tests/data/fidelity/toggl-across-midnight.csv holds a
# 26.25 h entry (row 2), a night shift (3), a short one (4), a blank user (5), a night across
# the spring DST change (6) and an end typed before its start (7).

FIDELITY = Path(__file__).resolve().parents[1] / "data" / "fidelity"


def test_split_days_cuts_entries_at_local_midnight(tmp_path: Path) -> None:
    source = tmp_path / "toggl.csv"
    shutil.copy(FIDELITY / "toggl-across-midnight.csv", source)
    # validate first: the 26.25 h entry is over max_hours and the message names the command
    result = CliRunner().invoke(
        cli, ["validate", "--preset", "toggl", str(source), "--timezone", "Europe/Berlin"]
    )
    assert result.exit_code == 1
    assert "row 2 [End time: '11:15:00']: end - start is over 24 hours" in result.stderr
    assert "convert split-days" in result.stderr
    code, err = run(
        "convert",
        "split-days",
        str(source),
        "--preset",
        "toggl",
        "--timezone",
        "Europe/Berlin",
        "-o",
        str(tmp_path / "out" / "days.csv"),
    )
    assert code == 1, err
    assert "6 rows, 4 converted into 7 worklogs (3 cut at midnight in Europe/Berlin), " in err
    assert "2 rejected, 0 skipped" in err
    assert "next: timetracker-import validate --preset split-days" in err
    with open(tmp_path / "out" / "days.csv", encoding="utf-8", newline="") as fh:
        got = [
            (
                r["source_row"],
                r["part"],
                r["timestamp_utc"],
                int(r["length_seconds"]),
                r["billable_seconds"],
            )
            for r in csv.DictReader(fh)
        ]
    assert got == [
        ("2", "1/2", "2024-03-07T08:00:00Z", 15 * 3600, str(15 * 3600)),
        ("2", "2/2", "2024-03-07T23:00:00Z", 11 * 3600 + 900, str(11 * 3600 + 900)),
        ("3", "1/2", "2024-03-08T21:00:00Z", 2 * 3600, "0"),
        ("3", "2/2", "2024-03-08T23:00:00Z", 6 * 3600, "0"),
        ("4", "1/1", "2024-03-09T08:00:00Z", 900, "0"),
        ("6", "1/2", "2026-03-28T21:00:00Z", 2 * 3600, str(2 * 3600)),
        ("6", "2/2", "2026-03-28T23:00:00Z", 5 * 3600, str(5 * 3600)),  # clocks go forward
    ]
    assert_golden("toggl_across_midnight.days.csv", (tmp_path / "out" / "days.csv").read_bytes())
    rejected = (tmp_path / "toggl.rejected.csv").read_text(encoding="utf-8-sig")
    assert "user is empty" in rejected and "end is before start" in rejected
    # the result reads back with its preset (recognised by --preset auto too)
    check = CliRunner().invoke(
        cli, ["validate", "--preset", "auto", str(tmp_path / "out" / "days.csv"), "--json"]
    )
    assert check.exit_code == 0, check.stderr
    assert check.stderr.startswith("recognised preset split-days")
    import json

    assert json.loads(check.stdout)["total_seconds"] == (26.25 + 8 + 0.25 + 7) * 3600


def test_split_days_keeps_max_hours_per_day(tmp_path: Path) -> None:
    source = tmp_path / "toggl.csv"
    shutil.copy(FIDELITY / "toggl-across-midnight.csv", source)
    mapping = CliRunner().invoke(cli, ["mapping", "show", "toggl"]).stdout
    (tmp_path / "m.yaml").write_text("max_hours: 12\n" + mapping, encoding="utf-8")
    code, err = run(
        "convert",
        "split-days",
        str(source),
        "--mapping",
        str(tmp_path / "m.yaml"),
        "--timezone",
        "Europe/Berlin",
    )
    assert code == 1
    assert "row 2: a day's part of this entry is 15 hours, over max_hours 12" in err
