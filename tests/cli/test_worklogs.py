"""``worklogs update/delete`` and their undo through ``runs undo``, against a sandbox."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_export import conn
from tests.cli.conftest import invoke
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

RANGE = ["--from", "2026-03-01", "--to", "2026-03-31", "--timezone", "UTC"]


pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:

        async def seed() -> None:
            async with TimetrackerClient(conn(sandbox)) as client:
                for day, comment in ((2, "one"), (3, "two"), (4, "three")):
                    await client.create_worklog(
                        {
                            "timeStamp": f"2026-03-0{day}T09:00:00Z",
                            "length": 3600,
                            "comment": comment,
                            "workItemId": 7,
                        }
                    )

        asyncio.run(seed())
        yield sandbox


def exported(box: RunningSandbox) -> list[dict[str, str]]:
    result = invoke(box, "export", *RANGE, "--format", "csv")
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run_id_of(output: str) -> str:
    line = next(x for x in output.splitlines() if x.startswith("run "))
    return line.split()[1]


def test_update_dry_run_then_apply_then_undo(box: RunningSandbox, tmp_path: Path) -> None:
    before = exported(box)
    edited = [dict(r) for r in before]
    edited[0]["comment"] = "changed"
    edited[1]["length_seconds"] = "1800"
    path = tmp_path / "edit.csv"
    write_csv(path, edited)

    dry = invoke(box, "worklogs", "update", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "comment: 'one' -> 'changed'" in dry.stdout and "length: 3600 -> 1800" in dry.stdout
    assert "would be updated: 2, unchanged 1" in dry.stdout
    assert exported(box) == before  # nothing sent

    applied = invoke(box, "worklogs", "update", str(path))
    assert applied.exit_code == 0, applied.output
    after = exported(box)
    assert after[0]["comment"] == "changed" and after[1]["length_seconds"] == "1800"
    assert after[2]["edited_utc"] == before[2]["edited_utc"]  # unchanged row not patched

    undo = invoke(box, "runs", "undo", "--yes", run_id_of(applied.stdout))
    assert undo.exit_code == 0, undo.output
    assert "restored 2" in undo.stderr
    restored = exported(box)
    assert [(r["comment"], r["length_seconds"]) for r in restored] == [
        (r["comment"], r["length_seconds"]) for r in before
    ]
    again = invoke(box, "runs", "undo", "--yes", run_id_of(applied.stdout))
    assert (
        "restored" not in again.stderr.splitlines()[0]
        and "already undone (restored)" in again.stderr
    )


def test_update_reports_unknown_ids_and_bad_cells(box: RunningSandbox, tmp_path: Path) -> None:
    rows = exported(box)[:1]
    rows.append({**rows[0], "id": "00000000-0000-0000-0000-000000000abc"})
    rows.append({**rows[0], "length_seconds": "-5"})
    path = tmp_path / "bad.csv"
    write_csv(path, rows)
    result = invoke(box, "worklogs", "update", str(path))
    assert result.exit_code == 1
    assert "not found" in result.stdout and "must be greater than 0" in result.stdout


def test_update_someone_elses_worklog_needs_admin(box: RunningSandbox, tmp_path: Path) -> None:
    rows = exported(box)[:1]
    rows[0]["comment"] = "by bob"
    path = tmp_path / "bob.csv"
    write_csv(path, rows)
    result = invoke(box, "worklogs", "update", str(path), who="bob")
    assert result.exit_code == 3, result.output


def test_delete_ids_and_undo_recreates(box: RunningSandbox, tmp_path: Path) -> None:
    before = exported(box)
    ids = [before[0]["id"], before[1]["id"]]
    missing = "00000000-0000-0000-0000-000000000def"
    refused = invoke(box, "worklogs", "delete", "--id", ids[0], input="n\n")
    assert refused.exit_code != 0 and len(exported(box)) == 3
    result = invoke(
        box, "worklogs", "delete", "--id", ids[0], "--id", ids[1], "--id", missing, "--yes"
    )
    assert result.exit_code == 1  # one id not found
    assert f"not found: {missing}" in result.stdout and "deleted: 2" in result.stdout
    assert [r["id"] for r in exported(box)] == [before[2]["id"]]

    undo = invoke(box, "runs", "undo", "--yes", run_id_of(result.stdout))
    assert undo.exit_code == 0, undo.output
    assert "re-created 2" in undo.stderr and "new ids" in undo.stderr
    after = exported(box)
    keep = ("comment", "timestamp_utc", "length_seconds", "work_item_id", "user_email")
    assert [[r[k] for k in keep] for r in after] == [[r[k] for k in keep] for r in before]
    assert {r["id"] for r in after[:2]}.isdisjoint(ids)


def test_delete_from_file_and_usage(box: RunningSandbox, tmp_path: Path) -> None:
    rows = exported(box)
    path = tmp_path / "del.csv"
    write_csv(path, rows[:1])
    assert invoke(box, "worklogs", "delete", str(path), "--dry-run").exit_code == 0
    assert len(exported(box)) == 3
    assert invoke(box, "worklogs", "delete").exit_code == 2
    assert invoke(box, "worklogs", "delete", str(path), "--id", "x").exit_code == 2
    done = invoke(box, "worklogs", "delete", str(path), "-y")
    assert done.exit_code == 0 and len(exported(box)) == 2


def test_update_row_with_an_empty_id_cell_says_no_id(box: RunningSandbox, tmp_path: Path) -> None:
    path = tmp_path / "edited.csv"
    path.write_text("id,comment\n,new text\n", encoding="utf-8")
    result = invoke(box, "worklogs", "update", str(path))
    assert result.exit_code == 1, result.output
    assert "row 2: -: no id" in result.stdout  # not a look-up of the id "nan"
    assert "nan" not in result.stdout
