"""`--date-order` and `--lookup-dir` on `validate`, `import` and `sync` (issue 22 item 5).

The bug this guards: `import` (and so `sync`) ignored both, because the prepare stage did not
pass them to the mapping loader (`validate` honoured them): a preset's users were read beside
the input file although --lookup-dir named another folder, and dates were read in the
mapping's order although --date-order said otherwise."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.library import Connection, export_worklogs
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")

HARVEST = (
    "Date,Client,Project,Project Code,Task,Notes,Hours,Billable?,Invoiced?,Approved?,"
    "First Name,Last Name,Roles,Employee?\r\n"
    "2026-03-02,,Internal,,Meetings,Weekly sync,1.0,No,No,No,Bo,Builder,,Yes\r\n"
)
#: declares month/day: 03/04/2026 is March 4 unless --date-order DMY says April 3
MDY_MAPPING = """\
version: 1
date_order: MDY
timezone: UTC
fields:
  user: {column: Email}
  date: {column: Day}
  start: {column: Start}
  length: {column: Hours, unit: hours}
  comment: {column: Notes}
"""
MDY_FILE = "Email,Day,Start,Hours,Notes\nbob@example.com,03/04/2026,09:00,1.5,standup\n"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """data/export.csv with data/harvest-users.csv (bob), lookups/harvest-users.csv
    (carol); the current directory is a third folder."""
    for folder, user in (("data", "bob@example.com"), ("lookups", "carol@example.com")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "harvest-users.csv").write_text(
            f"Name,User\nBo Builder,{user}\n", encoding="utf-8"
        )
    (tmp_path / "data" / "export.csv").write_text(HARVEST, encoding="utf-8")
    (tmp_path / "data" / "mdy.csv").write_text(MDY_FILE, encoding="utf-8")
    (tmp_path / "data" / "mdy.yaml").write_text(MDY_MAPPING, encoding="utf-8")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def _worklogs(box: RunningSandbox) -> list[dict[str, object]]:
    conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
    out = export_worklogs(
        conn, first=dt.date(2026, 2, 1), last=dt.date(2026, 5, 31), timezone="UTC"
    )
    return out.rows


def test_import_reads_a_presets_lookups_from_lookup_dir(layout: Path, box: RunningSandbox) -> None:
    result = invoke(
        box,
        "import",
        str(layout / "data" / "export.csv"),
        "--preset",
        "harvest",
        "--timezone",
        "UTC",
        "--lookup-dir",
        str(layout / "lookups"),
        "--yes",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["created"] == 1
    assert [w["user_email"] for w in _worklogs(box)] == ["carol@example.com"]


def test_import_without_lookup_dir_reads_beside_the_input(
    layout: Path, box: RunningSandbox
) -> None:
    result = invoke(
        box,
        "import",
        str(layout / "data" / "export.csv"),
        "--preset",
        "harvest",
        "--timezone",
        "UTC",
        "--yes",
    )
    assert result.exit_code == 0, result.stderr
    assert [w["user_email"] for w in _worklogs(box)] == ["bob@example.com"]


def test_import_takes_date_order(layout: Path, box: RunningSandbox) -> None:
    result = invoke(
        box,
        "import",
        str(layout / "data" / "mdy.csv"),
        "--mapping",
        str(layout / "data" / "mdy.yaml"),
        "--date-order",
        "DMY",
        "--yes",
    )
    assert result.exit_code == 0, result.stderr
    assert [str(w["date"]) for w in _worklogs(box)] == ["2026-04-03"]


def test_sync_takes_both(layout: Path, box: RunningSandbox) -> None:
    result = invoke(
        box,
        "sync",
        str(layout / "data" / "export.csv"),
        "--preset",
        "harvest",
        "--timezone",
        "UTC",
        "--lookup-dir",
        str(layout / "lookups"),
        "--yes",
    )
    assert result.exit_code == 0, result.stderr
    dated = invoke(
        box,
        "sync",
        str(layout / "data" / "mdy.csv"),
        "--mapping",
        str(layout / "data" / "mdy.yaml"),
        "--date-order",
        "dmy",
        "--yes",
    )
    assert dated.exit_code == 0, dated.stderr
    found = sorted((str(w["date"]), w["user_email"]) for w in _worklogs(box))
    assert found == [("2026-03-02", "carol@example.com"), ("2026-04-03", "bob@example.com")]


def test_validate_takes_both(layout: Path, box: RunningSandbox) -> None:
    result = invoke(
        box,
        "validate",
        str(layout / "data" / "export.csv"),
        "--preset",
        "harvest",
        "--lookup-dir",
        str(layout / "lookups"),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert set(json.loads(result.stdout)["seconds_per_user"]) == {"carol@example.com"}
    result = invoke(
        box,
        "validate",
        str(layout / "data" / "mdy.csv"),
        "--mapping",
        str(layout / "data" / "mdy.yaml"),
        "--date-order",
        "YMD",
    )
    assert result.exit_code == 1  # 03/04/2026 is no year/month/day date
