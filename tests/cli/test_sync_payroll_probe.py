"""A weekly payroll sync as its admin runs it, the messages that must send them the right
way: the deletion guard's suggested share, and a totals row at the bottom of the export -
each end to end against the sandbox, checking the server's worklogs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.app.test_sync import server
from tests.cli.conftest import invoke
from timetracker_import.core.sync_plan import parse_delete_limit, passing_share
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

MAPPING = """version: 1
header: true
fields:
  user: {column: Email}
  date: {column: Date, format: "%Y-%m-%d"}
  length: {column: Hours, unit: hours}
  comment: {column: Note}
"""
WEEK = "2026-11-23..2026-11-29"


def worklogs(box: RunningSandbox) -> list[tuple[str, str, float]]:
    """(user, start, hours) of every worklog on the server, in order."""
    return sorted((email, ts, minutes / 60) for email, ts, minutes, _ in server(box).elements())


def export(path: Path, *rows: str) -> str:
    path.write_text("Email,Date,Hours,Note\n" + "".join(r + "\n" for r in rows), "utf-8")
    return str(path)


def payroll(tmp_path: Path, mapping: str = MAPPING) -> tuple[str, ...]:
    (tmp_path / "m.yaml").write_text(mapping, encoding="utf-8")
    return (
        "--mapping",
        str(tmp_path / "m.yaml"),
        "--source",
        "payroll",
        "--window",
        WEEK,
        "--prune",
        "--timezone",
        "Europe/Berlin",
        "--yes",
    )


FIVE = (
    "bob@example.com,2026-11-23,8,a",
    "bob@example.com,2026-11-24,8,b",
    "bob@example.com,2026-11-25,8,c",
    "carol@example.com,2026-11-23,7,x",
    "carol@example.com,2026-11-24,7,y",
)


def first_run(box: RunningSandbox, tmp_path: Path, *rows: str) -> tuple[Path, tuple[str, ...]]:
    """The export and the job's options after a first sync of ``rows``."""
    hours, job = tmp_path / "hours.csv", payroll(tmp_path)
    assert invoke(box, "sync", export(hours, *rows), *job).exit_code == 0
    return hours, job


def test_the_guard_suggests_a_share_that_lets_the_deletes_go(
    box: RunningSandbox, tmp_path: Path
) -> None:
    hours, job = first_run(box, tmp_path, *FIVE)
    # the corrected export removes 3 of the 5 entries; the job allows half of them
    export(hours, FIVE[0], FIVE[3])
    stopped = invoke(box, "sync", str(hours), *job, "--max-delete", "50%", "--json")
    assert stopped.exit_code == 1, stopped.stderr
    assert len(worklogs(box)) == 5  # nothing written
    assert json.loads(stopped.stdout)["guard"]["needs_all"] is False  # a share lifts it
    # it used to say "(or a share such as --max-delete 50%)": the very limit that stopped it
    said = re.search(r"or the share --max-delete (\S+)\)", stopped.stderr)
    assert said is not None, stopped.stderr
    assert said.group(1) == "60%"
    again = invoke(box, "sync", str(hours), *job, "--max-delete", said.group(1))
    assert again.exit_code == 0, again.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("carol@example.com", "2026-11-22T23:00:00Z", 7.0),
    ]


@pytest.mark.parametrize(
    ("deletes", "ledgered", "share"),
    [(3, 5, "60%"), (1, 3, "34%"), (2, 3, "67%"), (29, 100, "29%"), (5, 5, "all"), (2, 0, "all")],
)
def test_the_suggested_share_is_the_smallest_that_passes(
    deletes: int, ledgered: int, share: str
) -> None:
    assert passing_share(deletes, ledgered) == share
    assert parse_delete_limit(share).allows(deletes, ledgered)
    if share != "all":
        less = f"{int(share[:-1]) - 1}%"
        assert not parse_delete_limit(less).allows(deletes, ledgered)


def test_a_totals_row_is_named_and_the_fix_it_names_lets_the_sync_prune(
    box: RunningSandbox, tmp_path: Path
) -> None:
    hours, job = first_run(box, tmp_path, *FIVE[:3])
    # next week's export drops bob's Wednesday and ends with the payroll tool's sum
    export(hours, FIVE[0], FIVE[1], "Total,,16,")
    checked = invoke(box, "validate", str(hours), "--mapping", str(tmp_path / "m.yaml"))
    assert checked.exit_code == 1
    # it used to say only "date is empty; 7pace needs when the work started"
    assert "this looks like the file's totals row ('Total' in Email)" in checked.stderr
    fix = re.search(r"`(skip_rows: [^`]+)`", checked.stderr)
    assert fix is not None and fix.group(1) == "skip_rows: {column: Email, equals: [Total]}"
    frozen = invoke(box, "sync", str(hours), *job)
    assert frozen.exit_code == 1 and "totals row" in frozen.stderr
    assert len(worklogs(box)) == 3  # the rejected row froze the deletes, as documented
    job = payroll(tmp_path, MAPPING + fix.group(1) + "\n")
    done = invoke(box, "sync", str(hours), *job)
    assert done.exit_code == 0, done.stderr
    assert "skipped 1; deleted 1" in done.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-23T23:00:00Z", 8.0),
    ]


@pytest.mark.parametrize("word", ["Grand Total:", "TOTAL", "Totals"])
def test_the_suggested_skip_rows_filter_reads_back_as_the_cell(
    box: RunningSandbox, tmp_path: Path, word: str
) -> None:
    """The hint's filter is pasted into a YAML mapping: a word YAML would misread ("Grand
    Total:" is a mapping key) is quoted, so the filter matches the cell it names."""
    hours, _ = first_run(box, tmp_path, *FIVE[:3])
    export(hours, FIVE[0], FIVE[1], f"{word},,16,")
    checked = invoke(box, "validate", str(hours), "--mapping", str(tmp_path / "m.yaml"))
    assert checked.exit_code == 1
    fix = re.search(r"`skip_rows: ([^`]+)`", checked.stderr)
    assert fix is not None, checked.stderr
    assert yaml.safe_load(fix.group(1)) == {"column": "Email", "equals": [word]}


def test_a_source_keyed_by_the_slot_never_adopts_a_source_keyed_by_an_id(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Department A's export has an entry id (--key ID), department B's has none; B's file
    holds one of A's entries and a different figure for another. B used to adopt A's
    worklogs (the ledger looked for other sources under B's own key spec only) and set
    A's 8 h to 6 h, exit 0 - and with --prune could later delete them."""
    job = payroll(tmp_path)
    ids = tmp_path / "a.csv"
    ids.write_text(
        "ID,Email,Date,Hours,Note\n1,bob@example.com,2026-11-23,8,a\n"
        "2,bob@example.com,2026-11-24,8,b\n3,carol@example.com,2026-11-23,7,c\n",
        encoding="utf-8",
    )
    dept_a = [*job[:3], "dept-a", *job[4:]]
    assert invoke(box, "sync", str(ids), *dept_a, "--key", "ID").exit_code == 0
    before = worklogs(box)
    slots = export(tmp_path / "b.csv", FIVE[0], "bob@example.com,2026-11-24,6,b")
    dept_b = [*job[:3], "dept-b", *job[4:]]
    stopped = invoke(box, "sync", slots, *dept_b)
    assert stopped.exit_code == 1, stopped.stderr
    assert "belongs to source 'dept-a'" in stopped.stderr
    assert worklogs(box) == before  # A's 8 h stay 8 h
    # continuing A's feed from the file without ids is the documented way
    continued = invoke(box, "sync", slots, *dept_a)
    assert continued.exit_code == 0, continued.stderr
    assert ("bob@example.com", "2026-11-23T23:00:00Z", 6.0) in worklogs(box)
    assert len(worklogs(box)) == 3


def test_an_export_with_ids_one_week_and_without_the_next_stays_equal_to_the_file(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """One payroll feed, exported with its entry ids (--key ID) one run and without them
    the next: each key spec has its own ledger entries of the same worklogs. A write made
    under one used to look like an edit made in 7pace under the other: the 6 h correction
    became a conflict when the ids came back, and carol's entry, pruned under the ids, was
    'deleted in 7pace after sync wrote it' and not re-created when she came back - 7 h
    missing, exit 1, a message sending the admin to look for a person who deleted it."""
    job = payroll(tmp_path)
    hours = tmp_path / "hours.csv"
    with_ids = "ID,Email,Date,Hours,Note\n"
    hours.write_text(
        with_ids + "1,bob@example.com,2026-11-23,8,a\n2,bob@example.com,2026-11-24,8,b\n"
        "3,carol@example.com,2026-11-23,7,c\n",
        encoding="utf-8",
    )
    assert invoke(box, "sync", str(hours), *job, "--key", "ID").exit_code == 0
    # the same week without ids: bob's Tuesday corrected to 6 h
    export(hours, FIVE[0], "bob@example.com,2026-11-24,6,b", "carol@example.com,2026-11-23,7,c")
    assert invoke(box, "sync", str(hours), *job).exit_code == 0
    # with ids again: bob's Tuesday now 5 h, carol's entry removed
    hours.write_text(
        with_ids + "1,bob@example.com,2026-11-23,8,a\n2,bob@example.com,2026-11-24,5,b\n",
        encoding="utf-8",
    )
    keyed = invoke(box, "sync", str(hours), *job, "--key", "ID")
    assert keyed.exit_code == 0, keyed.stderr
    assert "edited in 7pace" not in keyed.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-23T23:00:00Z", 5.0),
    ]
    # without ids again, carol's entry is back in the file
    export(hours, FIVE[0], "bob@example.com,2026-11-24,5,b", "carol@example.com,2026-11-23,7,c")
    back = invoke(box, "sync", str(hours), *job)
    assert back.exit_code == 0, back.stderr
    assert "deleted in 7pace" not in back.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-23T23:00:00Z", 5.0),
        ("carol@example.com", "2026-11-22T23:00:00Z", 7.0),
    ]


def test_a_typoed_date_holds_its_users_entries_not_their_new_days(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A corrected export with a typo'd date (2026-10-24 for 2026-11-24) freezes bob's whole
    period: his worklogs are neither updated nor deleted. His new Wednesday, on a day where
    nothing of anyone's lies, used to be held too ("a rejected row shares their slot", which
    it did not): 3 h missing from the week although no rejected row could be that entry."""
    hours, job = first_run(box, tmp_path, FIVE[0], FIVE[1])
    export(
        hours,
        "bob@example.com,2026-11-23,7,a",  # corrected 8 -> 7: frozen, kept at 8
        "bob@example.com,2026-10-24,6,b",  # the typo
        "bob@example.com,2026-11-25,3,c",  # new
    )
    result = invoke(box, "sync", str(hours), *job)
    assert result.exit_code == 1, result.stderr  # the rejected row
    assert "rows 3: created 1, updated 0, unchanged 0, rejected 1, unprocessed 1" in (result.stderr)
    assert "held row 2: a rejected row of this user" in result.stderr
    assert "shares their slot" not in result.stderr
    assert worklogs(box) == [
        ("bob@example.com", "2026-11-22T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-23T23:00:00Z", 8.0),
        ("bob@example.com", "2026-11-24T23:00:00Z", 3.0),
    ]
    # the typo fixed: the week ends equal to the file
    export(
        hours,
        "bob@example.com,2026-11-23,7,a",
        "bob@example.com,2026-11-24,6,b",
        "bob@example.com,2026-11-25,3,c",
    )
    fixed = invoke(box, "sync", str(hours), *job)
    assert fixed.exit_code == 0, fixed.stderr
    assert "created 0, updated 2, unchanged 1" in fixed.stderr
    assert [h for _, _, h in worklogs(box)] == [7.0, 6.0, 3.0]


def test_an_invisible_character_in_the_user_cell_names_the_same_person(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A cell copied from a web page carries a zero width space (or a word joiner, a byte
    order mark): the row was rejected as "unknown user '<ZWSP>bob@example.com'; did you
    mean 'bob@example.com'?" - two names that look the same - and froze bob's slot."""
    hours, job = first_run(box, tmp_path, FIVE[0], FIVE[1])
    cells = ("\u200bbob@example.com", "Bob@Example.com\u2060", "\ufeffbob@example.com\u00a0")
    rows = [
        f"{who},2026-11-{day},{h},{note}"
        for who, day, h, note in zip(cells, (23, 24, 25), (8, 6, 1), "abc", strict=True)
    ]
    result = invoke(box, "sync", export(hours, *rows), *job)
    assert result.exit_code == 0, result.stderr
    assert "created 1, updated 1, unchanged 1, rejected 0" in result.stderr
    assert [h for _, _, h in worklogs(box)] == [8.0, 6.0, 1.0]
