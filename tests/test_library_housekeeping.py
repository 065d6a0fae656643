"""The library's "Housekeeping and administration" section, called as a program would: typed
results, nothing printed, problems as the error tree (the commands that print them are
tested in tests/cli/)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from timetracker_import import library
from timetracker_import.app.importer import ImportResult
from timetracker_import.core.outcomes import RunKind
from timetracker_import.errors import UsageError
from timetracker_import.sandbox import RunningSandbox

ADMIN = "alice@example.com"


def connect(box: RunningSandbox) -> library.Connection:
    return library.Connection(url=box.url, token=box.tokens[ADMIN])


def write_hours(path: Path) -> Path:
    path.write_text(
        "Email,Date,Start,End,Work item,Notes\n"
        "alice@example.com,2026-11-02,09:00,10:30,101,Planning\n"
        "alice@example.com,2026-11-02,11:00,12:00,102,Review\n",
        encoding="utf-8",
    )
    return path


MAPPING = {
    "version": 1,
    "fields": {
        "user": {"column": "Email"},
        "date": {"column": "Date"},
        "start": {"column": "Start"},
        "end": {"column": "End"},
        "work_item": {"column": "Work item"},
        "comment": {"column": "Notes"},
    },
}


def test_runs_worklogs_and_reads_through_the_library(
    box: RunningSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = connect(box)
    hours = write_hours(tmp_path / "hours.csv")
    run = library.import_file(hours, mapping=MAPPING, connection=conn, timezone="UTC")
    assert isinstance(run, ImportResult) and run.counts.created == 2

    details = library.run_details(run.run_id)
    assert details.summary.run_id == run.run_id and details.summary.kind is RunKind.IMPORT
    assert details.actions == {("create", "done"): 2}
    assert details.rejections == [] and details.undo_log == []
    assert library.runs_directory() in details.summary.directory.parents

    exported = library.export_worklogs(
        conn, first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30), timezone="UTC"
    )
    ids = [str(r["id"]) for r in exported.rows]
    assert len(ids) == 2
    listed = tmp_path / "ids.csv"
    with listed.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id"], [ids[0]]])
    assert library.worklog_ids(listed) == [ids[0]]
    assert library.worklog_ids(ids=["7"]) == ["7"]
    with pytest.raises(UsageError):
        library.worklog_ids(listed, ids=["7"])  # exactly one of them

    would = library.delete_worklogs([ids[0], "999999"], connection=conn, dry_run=True)
    assert (would.done, would.not_found, would.exit_code) == ([ids[0]], ["999999"], 1)
    gone = library.delete_worklogs([ids[0]], connection=conn)
    assert gone.done == [ids[0]] and gone.run_id is not None
    assert library.run_details(gone.run_id).summary.kind is RunKind.DELETE

    me = library.me(conn)
    assert me["user"]["uniqueName"] == ADMIN
    assert ADMIN in {u.get("uniqueName") for u in library.users(conn)}
    assert library.activity_types(conn)["activityTypes"]

    roles = library.roles(conn, output=tmp_path / "roles.csv")
    assert roles.columns[:2] == ["name", "email"] and roles.rows
    assert (tmp_path / "roles.csv").read_text(encoding="utf-8").startswith("name,email,")
    weeks = library.approvals(conn, first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 31))
    assert "weekStart" in weeks.columns

    # dry runs and runs that are still undoable are kept; a dry run prunes nothing
    pruned = library.prune_runs(0, dry_run=True)
    assert {p.run_id for p in pruned} >= {run.run_id, gone.run_id}
    assert not any(p.removed for p in pruned if p.run_id == run.run_id)
    assert capsys.readouterr() == ("", "")  # the library prints nothing


def test_the_week_is_checked_before_anything_is_sent() -> None:
    assert library.parse_week("2026-01-05") == dt.date(2026, 1, 5)
    with pytest.raises(UsageError, match="Tuesday"):
        library.parse_week("2026-01-06")


def test_a_missing_ledger_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no ledger at"):
        library.ledger_overview(tmp_path / "none.sqlite")
    with pytest.raises(UsageError, match="no ledger at"):
        library.export_ledger(tmp_path / "out.csv", ledger=tmp_path / "none.sqlite")


def test_an_export_format_that_contradicts_the_output_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    # nothing listens on port 9: a request would fail with a connection error instead
    conn = library.Connection(url="http://127.0.0.1:9", token="unused-token-0000")
    with pytest.raises(UsageError, match="does not match"):
        library.export_worklogs(conn, output=tmp_path / "out.xlsx", fmt="csv")
    assert library.choose_export_format(None, "out.ndjson") == "ndjson"


def test_mapping_init_helpers(repo_root: Path, tmp_path: Path) -> None:
    sample = repo_root / "tests" / "data" / "presets" / "clockify-eu.csv"
    choice = library.choose_preset(sample)
    assert choice.preset == "clockify-eu"
    assert library.preset_text("clockify-eu").startswith(("#", "version", "description"))
    written = library.write_mapping_file(tmp_path / "new" / "m.yaml", "version: 1\n")
    assert written.read_text(encoding="utf-8") == "version: 1\n"
    shown = library.preview(sample, preset="clockify-eu", rows=3, timezone="UTC")
    assert shown.mapping_source == "preset clockify-eu"
    assert [r.skipped for r in shown.rows] == [False, True, False]


def test_prune_removes_old_frame_copies_no_unfinished_run_reads(state_dir: Path) -> None:
    import os

    import pandas as pd
    from click.testing import CliRunner

    from timetracker_import.app.dataframes import frame_file
    from timetracker_import.cli.main import cli
    from timetracker_import.journal.store import Journal

    old = frame_file(pd.DataFrame({"A": [1]}))
    (old.parent / f"{old.stem}.rejected.csv").write_text("x\n", encoding="utf-8")
    resumable = frame_file(pd.DataFrame({"A": [2]}))
    young = frame_file(pd.DataFrame({"A": [3]}))
    journal = Journal.create(fingerprint="fp", input_path=resumable)  # open: resumable
    journal.close()
    month_ago = dt.datetime.now().timestamp() - 31 * 86400
    for path in (old, old.parent / f"{old.stem}.rejected.csv", resumable):
        os.utime(path, (month_ago, month_ago))
    planned = library.prune_frames(30 * 86400, dry_run=True)
    assert {(f.name, f.removed) for f in planned} == {
        (old.name, True),
        (f"{old.stem}.rejected.csv", True),
        (resumable.name, False),
    }
    assert old.exists()  # a dry run removes nothing
    result = CliRunner().invoke(cli, ["runs", "prune", "--older-than", "30d"])
    assert result.exit_code == 0, result.stderr
    assert "removed 2 DataFrame copy file(s)" in result.stderr and "kept 1" in result.stderr
    assert not old.exists() and resumable.exists() and young.exists()
