"""The same file imported again with one row corrected.

`import` is not `sync`: it adds rows and changes no worklog, so the corrected row is created
beside the worklog the first import made, and that slot then counts twice. That was said
nowhere ("would be created 1"); the summary and `--json` now name the row and the worklog it
sits beside, and the commands that replace or fix worklogs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import invoke
from tests.helpers import server_comments
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

HEADER = "User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags"
ROWS = [
    "Bob,bob@example.com,,P,,Standup #101,No,2024-03-05,09:00:00,2024-03-05,09:15:00,00:15:00,",
    "Bob,bob@example.com,,P,,Review #101,Yes,2024-03-05,12:15:00,2024-03-05,13:15:00,01:00:00,",
    "Carol,carol@example.com,,P,,Tests #101,No,2024-03-05,12:15:00,2024-03-05,13:00:00,00:45:00,",
]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\ufeff" + "\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _import(box: RunningSandbox, path: Path, *extra: str) -> dict[str, Any]:
    result = invoke(
        box, "import", str(path), "--preset", "toggl", "--timezone", "UTC", "--json", *extra
    )
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    doc["stderr"] = result.stderr
    return doc


def _beside(doc: dict[str, Any]) -> list[str]:
    return [n for n in doc["notes"] if "start at the same second as a worklog" in n]


def test_a_corrected_row_imported_again_is_said_to_land_beside_the_old_worklog(
    box: RunningSandbox, tmp_path: Path
) -> None:
    first = _import(box, _write(tmp_path / "week.csv", ROWS), "--yes")
    assert first["counts"]["created"] == 3
    # the same file again: every row already exists, nothing to say
    again = _import(box, tmp_path / "week.csv", "--dry-run")
    assert again["counts"]["already_existing"] == 3
    assert _beside(again) == []
    allowed = _import(box, tmp_path / "week.csv", "--dry-run", "--on-existing", "allow")
    assert allowed["counts"]["created"] == 3 and _beside(allowed) == []  # identical, not beside

    # Bob's review really took 1.5 h: the export is corrected and imported again
    fixed = [ROWS[0], ROWS[1].replace("13:15:00,01:00:00", "13:45:00,01:30:00"), ROWS[2]]
    report = tmp_path / "out" / "dry.json"
    dry = _import(
        box, _write(tmp_path / "week-fixed.csv", fixed), "--dry-run", "--report", str(report)
    )
    assert (dry["counts"]["created"], dry["counts"]["already_existing"]) == (1, 2)
    [note] = _beside(dry)
    assert note.startswith("1 row(s) start at the same second as a worklog of the same user")
    assert "row 3 (bob@example.com, 2024-03-05T12:15:00Z: 1.50 h beside worklog " in note
    assert "of 1.00 h)" in note
    assert "`timetracker-import sync`" in note and "`timetracker-import worklogs update`" in note
    assert note in dry["stderr"].replace("note: ", "")  # the summary prints it too
    # carol's row at the same second is another user's: not named
    assert "carol" not in note
    # the report, a scheduled run's evidence, carries the notes the summary printed
    assert note in json.loads(report.read_text(encoding="utf-8"))["notes"]

    # import does what it says: the slot now holds both worklogs
    page = tmp_path / "real.html"
    real = _import(box, tmp_path / "week-fixed.csv", "--yes", "--report", str(page))
    assert len(_beside(real)) == 1
    html = page.read_text(encoding="utf-8")
    assert '<section id="notes"><h2>Notes</h2>' in html and "beside worklog" in html
    assert server_comments(box)["Review #101"] == 2
