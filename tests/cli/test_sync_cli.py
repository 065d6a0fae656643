"""``sync`` and ``ledger`` as a user runs them: the HR scenario of issue 12 with the
``7pace-npm`` preset, the ``--json`` shape, confirmation, ``ledger show|export|rebuild`` and
the library function."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

HR = "UserName,TimeStamp,Duration,Comment\n{rows}"
BOB_8 = "bob@example.com,11/02/2026 09:00,8,Payroll\n"
BOB_6 = "bob@example.com,11/02/2026 09:00,6,Payroll\n"
CAROL = "carol@example.com,11/02/2026 09:00,7.5,Payroll\n"
#: the old importer's format has no zone: an unattended sync must declare one
NPM = ("--preset", "7pace-npm", "--timezone", "UTC")


def hours(box: RunningSandbox, email: str) -> list[float]:
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        rows = conn.execute(
            "SELECT w.length FROM worklogs w JOIN users u ON u.id = w.user_id WHERE u.email = ?"
            " ORDER BY w.length",
            (email,),
        ).fetchall()
    return [length / 3600 for (length,) in rows]


def write(path: Path, *rows: str) -> str:
    path.write_text(HR.format(rows="".join(rows)), encoding="utf-8")
    return str(path)


def test_the_hr_scenario_ends_with_six_hours(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8, CAROL)
    first = invoke(box, "import", hr, *NPM, "--yes")
    assert first.exit_code == 0, first.stderr
    write(tmp_path / "hr.csv", BOB_6, CAROL)  # HR corrects bob to 6 h and re-exports
    result = invoke(box, "sync", hr, *NPM, "--yes")
    assert result.exit_code == 0, result.stderr
    assert hours(box, "bob@example.com") == [6.0]  # not 8 + 6 = 14
    assert hours(box, "carol@example.com") == [7.5]
    assert "rows 2: created 0, updated 1, unchanged 1" in result.stderr
    assert "times in UTC (from --timezone)" in result.stderr
    assert "length 8 h -> 6 h" in result.stderr
    # the nightly job runs again: nothing to do
    again = invoke(box, "sync", hr, *NPM, "--yes", "--json")
    doc = json.loads(again.stdout)
    assert doc["counts"]["unchanged"] == 2 and doc["counts"]["updated"] == 0
    assert hours(box, "bob@example.com") == [6.0]


def test_json_shape_and_exit_code_of_a_conflict(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8)
    done = invoke(box, "sync", hr, *NPM, "--yes", "--json")
    assert done.exit_code == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) >= {"run_id", "dry_run", "exit_code", "counts"}
    assert set(doc["counts"]) >= {
        "rows",
        "created",
        "updated",
        "unchanged",
        "deleted",
        "conflicts",
        "rejected",
        "unprocessed",
        "skipped",
    }
    assert doc["timezone"]["name"] == "UTC" and doc["timezone"]["source"] == "--timezone"
    assert doc["source"] == "hr.csv" and doc["period"] is None
    assert doc["counts"]["created"] == 1 and doc["exit_code"] == 0 and doc["dry_run"] is False
    # edited in 7pace, then corrected in the file: a conflict is a rejection (exit 1)
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        conn.execute("UPDATE worklogs SET length = 3600, edited_key = edited_key + 1")
    write(tmp_path / "hr.csv", BOB_6)
    conflict = invoke(box, "sync", hr, *NPM, "--yes", "--json")
    assert conflict.exit_code == 1
    doc = json.loads(conflict.stdout)
    assert doc["counts"]["conflicts"] == 1 and doc["exit_code"] == 1
    assert "edited in 7pace" in conflict.stderr
    assert hours(box, "bob@example.com") == [1.0]


def test_a_real_sync_needs_yes_without_a_terminal(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8)
    result = invoke(box, "sync", hr, "--preset", "7pace-npm")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert hours(box, "bob@example.com") == []


def test_bad_window_and_key_are_one_line_errors(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8)
    bad = invoke(box, "sync", hr, *NPM, "--yes", "--window", "2026-11")
    assert bad.exit_code == 2 and "error: --window '2026-11' is not a period" in bad.stderr
    assert "month:previous" in bad.stderr
    assert "Traceback" not in bad.stderr
    key = invoke(box, "sync", hr, *NPM, "--yes", "--key", "Entry")
    assert key.exit_code == 2 and "error: the key: column 'Entry' not found" in key.stderr


def test_an_unattended_sync_never_guesses_the_zone(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8)  # naive times, no zone in the preset
    result = invoke(box, "sync", hr, "--preset", "7pace-npm", "--yes")
    assert result.exit_code == 2
    assert (
        "sync will not guess the time zone: 1 time(s) in the file have no offset" in result.stderr
    )
    assert "hint: add --timezone" in result.stderr and "Traceback" not in result.stderr
    assert hours(box, "bob@example.com") == []


def test_ledger_show_export_and_rebuild(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8, CAROL)
    ledger = tmp_path / "ci-cache" / "ledger.sqlite"
    assert invoke(box, "import", hr, *NPM, "--yes").exit_code == 0
    empty = invoke(box, "ledger", "show", "--ledger", str(ledger))
    assert empty.exit_code == 2 and "no ledger at" in empty.stderr
    rebuilt = invoke(box, "ledger", "rebuild", hr, *NPM, "--ledger", str(ledger))
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert ledger.stat().st_mode & 0o777 == 0o600
    shown = invoke(box, "ledger", "show", "--ledger", str(ledger), "--json")
    doc = json.loads(shown.stdout)
    assert doc["scopes"][0]["entries"] == 2 and doc["scopes"][0]["source"] == "hr.csv"
    out = tmp_path / "ledger.csv"
    exported = invoke(box, "ledger", "export", "--ledger", str(ledger), "-o", str(out))
    assert exported.exit_code == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(r["worklog_id"] for r in rows)
    text = ledger.read_bytes()
    assert box.tokens["alice@example.com"].encode() not in text  # no token in the ledger
    # with the rebuilt ledger, a sync of the same file writes nothing
    calls = box.stats()["calls"]
    result = invoke(box, "sync", hr, *NPM, "--yes", "--ledger", str(ledger))
    assert result.exit_code == 0 and "unchanged 2" in result.stderr
    assert box.stats()["calls"].get("batch", 0) == calls.get("batch", 0)


def test_the_library_function(box: RunningSandbox, tmp_path: Path) -> None:
    from timetracker_import import Connection, sync_file

    hr = write(tmp_path / "hr.csv", BOB_8)
    conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
    mapping = {
        "version": 1,
        "timezone": "UTC",
        "date_order": "MDY",
        "fields": {
            "user": "UserName",
            "timestamp": "TimeStamp",
            "length": {"column": "Duration", "unit": "hours"},
            "comment": "Comment",
        },
    }
    result = sync_file(hr, connection=conn, mapping=mapping, dry_run=True)
    assert result.counts.to_dict()["created"] == 1 and result.dry_run
    result = sync_file(hr, connection=conn, mapping=mapping, ledger_path=tmp_path / "l.sqlite")
    assert result.exit_code == 0 and result.counts.created == 1
    assert hours(box, "bob@example.com") == [8.0]


def test_runs_list_show_and_undo_of_a_sync(box: RunningSandbox, tmp_path: Path) -> None:
    hr = write(tmp_path / "hr.csv", BOB_8, CAROL)
    assert invoke(box, "sync", hr, *NPM, "--yes").exit_code == 0
    write(tmp_path / "hr.csv", BOB_6)
    done = invoke(
        box, "sync", hr, *NPM, "--yes", "--prune", "--window", "2026-11-02..2026-11-02", "--json"
    )
    run_id = json.loads(done.stdout)["run_id"]
    assert hours(box, "bob@example.com") == [6.0] and hours(box, "carol@example.com") == []
    listed = invoke(box, "runs", "list")
    assert "rows 1: created 0, updated 1, unchanged 0" in listed.stdout
    assert "deleted 1" in listed.stdout
    shown = json.loads(invoke(box, "runs", "show", run_id, "--json").stdout)
    assert shown["counts"]["updated"] == 1 and shown["counts"]["deleted"] == 1
    undone = invoke(box, "runs", "undo", "--yes", run_id, "--json")
    assert undone.exit_code == 0, undone.stderr
    assert "restored 1" in undone.stderr and "re-created 1" in undone.stderr
    assert hours(box, "bob@example.com") == [8.0] and hours(box, "carol@example.com") == [7.5]


def test_one_sync_per_ledger(box: RunningSandbox, tmp_path: Path) -> None:
    from timetracker_import.journal.lock import ledger_lock

    hr = write(tmp_path / "hr.csv", BOB_8)
    ledger = tmp_path / "ledger.sqlite"
    with ledger_lock(ledger):  # the nightly job is still running
        busy = invoke(box, "sync", hr, *NPM, "--yes", "--ledger", str(ledger))
        # a dry run writes nothing and is not held up
        dry = invoke(box, "sync", hr, *NPM, "--dry-run", "--ledger", str(ledger))
    assert busy.exit_code == 75, busy.stderr
    assert "error:" in busy.stderr and "Traceback" not in busy.stderr
    assert dry.exit_code == 0, dry.stderr
    assert hours(box, "bob@example.com") == []
    done = invoke(box, "sync", hr, *NPM, "--yes", "--ledger", str(ledger))
    assert done.exit_code == 0 and hours(box, "bob@example.com") == [8.0]
