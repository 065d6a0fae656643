"""Issue 13 end to end: a Harvest export imports into a sandbox whose users have matching
display names, with no lookup file at all; `mapping init` with a connection pre-fills the
users it can match. The sandbox runs the built-in demo seed (Alice Admin, Bob Builder,
Carol Coder, ...); the file is tests/data/presets/harvest-sandbox.csv: rows 2-4 and 6 are
distinct, row 5 repeats row 3, row 6 names "Carol Codr" (a typo)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "presets" / "harvest-sandbox.csv"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(SAMPLE, tmp_path / "harvest.csv")
    monkeypatch.chdir(tmp_path)  # no harvest-users.csv here
    return tmp_path


def stored(box: RunningSandbox) -> list[tuple[str, str, int, int | None, str]]:
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        emails = dict(conn.execute("SELECT id, email FROM users"))
        rows = conn.execute("SELECT user_id, ts_text, length, work_item_id, comment FROM worklogs")
        return sorted((emails[u], ts, n, wi, c) for u, ts, n, wi, c in rows)


def test_harvest_imports_by_display_name_without_a_lookup_file(
    box: RunningSandbox, work: Path
) -> None:
    dry = invoke(
        box,
        "import",
        "harvest.csv",
        "--preset",
        "harvest",
        "--timezone",
        "UTC",
        "--dry-run",
        "--json",
    )
    assert dry.exit_code == 1, dry.stderr
    assert stored(box) == []
    result = invoke(
        box, "import", "harvest.csv", "--preset", "harvest", "--timezone", "UTC", "--yes", "--json"
    )
    assert result.exit_code == 1, result.stderr  # the typo row only
    doc = json.loads(result.stdout)
    counts = doc["counts"]
    assert (counts["rows"], counts["created"], counts["rejected"], counts["skipped"]) == (
        5,
        3,
        1,
        1,
    )
    assert counts["balanced"] is True
    assert doc["in_file_duplicates"] == [{"source_row": 5, "same_as_row": 3}]
    [rej] = doc["rejections"]
    assert rej["source_row"] == 6 and rej["stage"] == "resolve"
    assert (
        "unknown user 'Carol Codr'; did you mean 'carol@example.com' (Carol Coder)?"
        in (rej["reason"])
    )
    assert "identical rows within the file (skipped, --on-duplicate skip): 5 (= row 3)" in (
        result.stderr
    )
    # Bob's 0.75 h weekly sync once, not twice; "1,5" read as 1.5 h
    assert stored(box) == [
        ("alice@example.com", "2026-03-02T00:00:00Z", 9000, 2001, "Hero layout #2001"),
        ("bob@example.com", "2026-03-02T00:00:00Z", 2700, None, "Weekly sync"),
        ("carol@example.com", "2026-03-03T00:00:00Z", 5400, 2002, "Footer links #2002"),
    ]
    # the journal says why row 5 was skipped
    with sqlite3.connect(Path(doc["run_dir"]) / "journal.sqlite") as conn:
        outcome = conn.execute("SELECT outcome, reason FROM row WHERE source_row = 5").fetchone()
    assert outcome == ("skipped", "repeats row 3 (identical in every field)")
    # the import says, as validate does, that the names went to the server without a lookup
    notes = "\n".join(doc["notes"])
    assert "lookup 'users':" in notes and "harvest-users.csv not found" in notes
    assert "user: 4 value(s) not in lookup 'users' (passed on as written" in notes
    assert "note: user: 4 value(s) not in lookup 'users'" in result.stderr


def test_on_duplicate_allow_imports_both_copies(box: RunningSandbox, work: Path) -> None:
    result = invoke(
        box,
        "import",
        "harvest.csv",
        "--preset",
        "harvest",
        "--timezone",
        "UTC",
        "--yes",
        "--json",
        "--on-duplicate",
        "allow",
    )
    doc = json.loads(result.stdout)
    assert (doc["counts"]["created"], doc["counts"]["skipped"]) == (4, 0)
    assert doc["on_duplicate"] == "allow"
    assert [w[1:3] for w in stored(box)].count(("2026-03-02T00:00:00Z", 2700)) == 2


def test_init_with_a_connection_prefills_the_users_it_matches(
    box: RunningSandbox, work: Path
) -> None:
    result = invoke(box, "mapping", "init", "harvest.csv", "-o", "m.yaml", "--url", box.url)
    assert result.exit_code == 0, result.stderr
    assert "3 matched to a 7pace user; 1 not matched (marked FILL IN): 'Carol Codr'" in (
        result.stderr
    )
    lines = (work / "harvest-users.csv").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == [
        "Name,User,note",
        "Alice Admin,alice@example.com,matched on the server",
        "Bob Builder,bob@example.com,matched on the server",
        "Carol Coder,carol@example.com,matched on the server",
    ]
    assert lines[4].startswith("Carol Codr,,FILL IN: unknown user 'Carol Codr'; did you mean")
    # fill in the one left, and everything imports
    (work / "harvest-users.csv").write_text(
        "\n".join([*lines[:4], "Carol Codr,carol@example.com,"]) + "\n", encoding="utf-8"
    )
    imported = invoke(
        box, "import", "harvest.csv", "--mapping", "m.yaml", "--timezone", "UTC", "--yes", "--json"
    )
    assert imported.exit_code == 0, imported.stderr
    assert json.loads(imported.stdout)["counts"]["created"] == 4
    # a second init does not overwrite the lookup file the user filled in
    again = invoke(box, "mapping", "init", "harvest.csv", "-o", "m2.yaml")
    assert "harvest-users.csv exists; left as it is" in again.stderr
    assert "Carol Codr,carol@example.com," in (work / "harvest-users.csv").read_text()
