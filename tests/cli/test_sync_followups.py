"""A payroll feed's sync in the situations an admin meets after the first weeks: the undo of
a run made under another key spec, a locked week's rejection, and an export none of whose
rows can be used under a job that always allows some deletes - each end to end against the
sandbox, checking the server's worklogs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.cli.test_sync_payroll_probe import (
    FIVE,
    MAPPING,
    export,
    first_run,
    payroll,
    worklogs,
)
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

WITH_IDS = "ID,Email,Date,Hours,Note\n"


def test_undo_of_a_run_without_ids_keeps_the_feeds_entries_with_ids_in_step(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """One feed synced with its entry ids one week and without them the next: both key
    specs hold the same worklogs. Undoing the second run put bob's 8 h and carol's entry
    back on the server, but only the second run's entries learnt it: the entries with ids
    still said 6 h (and had forgotten carol's entry), so the next sync with ids called the
    undo's restore an edit made in 7pace."""
    job = payroll(tmp_path)
    hours = tmp_path / "hours.csv"
    week_with_ids = (
        WITH_IDS + "1,bob@example.com,2026-11-23,8,a\n2,bob@example.com,2026-11-24,8,b\n"
        "3,carol@example.com,2026-11-23,7,c\n"
    )
    hours.write_text(week_with_ids, encoding="utf-8")
    assert invoke(box, "sync", str(hours), *job, "--key", "ID").exit_code == 0
    original = worklogs(box)
    # without ids: the same entries (each key spec now holds them), bob's Tuesday
    # corrected to 6 h and a new Wednesday
    export(
        hours,
        FIVE[0],
        "bob@example.com,2026-11-24,6,b",
        "bob@example.com,2026-11-25,2,n",
        "carol@example.com,2026-11-23,7,c",
    )
    second = invoke(box, "sync", str(hours), *job, "--json")
    assert second.exit_code == 0, second.stderr
    # without ids again: carol's entry removed (pruned)
    export(hours, FIVE[0], "bob@example.com,2026-11-24,6,b", "bob@example.com,2026-11-25,2,n")
    third = invoke(box, "sync", str(hours), *job, "--json")
    assert third.exit_code == 0, third.stderr
    assert [h for _, _, h in worklogs(box)] == [8.0, 6.0, 2.0]
    for run in (third, second):  # last run first
        undone = invoke(box, "runs", "undo", "--yes", json.loads(run.stdout)["run_id"])
        assert undone.exit_code == 0, undone.stderr
    assert worklogs(box) == original
    # the file with ids again, bob's Tuesday now 5 h
    hours.write_text(week_with_ids.replace("24,8,b", "24,5,b"), encoding="utf-8")
    keyed = invoke(box, "sync", str(hours), *job, "--key", "ID")
    assert keyed.exit_code == 0, keyed.stderr
    assert "edited in 7pace" not in keyed.stderr
    assert "created 0, updated 1, unchanged 2" in keyed.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-23T23:00:00Z", 5.0),
        ("carol@example.com", "2026-11-22T23:00:00Z", 7.0),
    ]
    # and without ids once more: nothing doubled, nothing lost
    export(hours, FIVE[0], "bob@example.com,2026-11-24,5,b", "carol@example.com,2026-11-23,7,c")
    plain = invoke(box, "sync", str(hours), *job)
    assert plain.exit_code == 0, plain.stderr
    assert "created 0, updated 0, unchanged 3" in plain.stderr
    assert len(worklogs(box)) == 3


DOTTED = MAPPING.replace('"%Y-%m-%d"', '"%d.%m.%Y"')  # 06.10.2026


@pytest.mark.parametrize("command", ["import", "sync"])
def test_a_row_in_a_locked_week_names_its_date_as_written(
    box: RunningSandbox, tmp_path: Path, command: str
) -> None:
    """bob's week of 2026-10-05 is Submitted (the demo seed). His row dated 06.10.2026
    (Berlin) was rejected as "[Date: '2026-10-05T22:00:00+00:00']": a UTC instant of the
    evening before, which no cell of the file holds, so the admin could not find the row
    by searching for it."""
    (tmp_path / "m.yaml").write_text(DOTTED, encoding="utf-8")
    hours = tmp_path / "hours.csv"
    hours.write_text(
        "Email,Date,Hours,Note\nbob@example.com,06.10.2026,8,a\nbob@example.com,20.10.2026,8,b\n",
        encoding="utf-8",
    )
    options = ["--mapping", str(tmp_path / "m.yaml"), "--timezone", "Europe/Berlin", "--yes"]
    if command == "sync":
        options += ["--source", "payroll", "--window", "2026-10-01..2026-10-31"]
    result = invoke(box, command, str(hours), *options, "--json")
    assert result.exit_code == 1, result.stderr
    (rejection,) = json.loads(result.stdout)["rejections"]
    assert rejection["source_row"] == 2 and rejection["stage"] == "preflight"
    assert rejection["column"] == "Date" and rejection["value"] == "06.10.2026"
    assert "week of 2026-10-05 is Submitted for bob@example.com" in rejection["reason"]
    assert "[Date: '06.10.2026']" in result.stderr
    assert "T22:00:00" not in result.stderr
    assert worklogs(box) == [("bob@example.com", "2026-10-19T22:00:00Z", 8.0)]


def test_a_job_with_a_standing_limit_does_not_prune_with_a_file_it_cannot_read(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A weekly job always passes --max-delete 30%. After an exporter update every date
    reads 11/24/2026: every row is rejected, and bob's and carol's rejected rows keep
    their worklogs - but dave, who has no row this week, lost his entry: the standing
    limit counted as the explicit allowance an unreadable file needs."""
    hours, job = first_run(box, tmp_path, *FIVE, "dave@example.com,2026-11-26,4,d")
    before = worklogs(box)
    # 2026-11-23 -> 11/23/2026
    export(hours, *[re.sub(r"(2026)-(\d\d)-(\d\d)", r"\2/\3/\1", r) for r in FIVE])
    stopped = invoke(box, "sync", str(hours), *job, "--max-delete", "30%", "--json")
    assert stopped.exit_code == 1, stopped.stderr
    assert worklogs(box) == before  # dave's 4 h stay
    guard = json.loads(stopped.stdout)["guard"]
    assert not guard["allowed"] and guard["deletes"] == 1 and guard["needs_all"] is True
    assert "none of the file's 5 row(s) could be used" in guard["reason"]
    assert "run again with --max-delete all;" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    # a count does not lift it either; allowing every deletion does
    counted = invoke(box, "sync", str(hours), *job, "--max-delete", "1")
    assert counted.exit_code == 1 and worklogs(box) == before
    allowed = invoke(box, "sync", str(hours), *job, "--max-delete", "all")
    assert allowed.exit_code == 1  # the rejected rows
    assert worklogs(box) == [w for w in before if w[0] != "dave@example.com"]
