"""Adversarial review of ``worklogs update`` and its undo (``runs undo``) under faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import cli_env
from tests.cli.conftest import invoke as cli_run
from tests.cli.test_worklogs import box, exported, run_id_of, write_csv
from timetracker_import.sandbox.server import RunningSandbox

__all__ = ["box", "cli_env"]  # fixtures
pytestmark = pytest.mark.usefixtures("cli_env")


def test_undo_restores_an_update_whose_answer_was_lost(box: RunningSandbox, tmp_path: Path) -> None:
    """The PATCH is applied but answered 500 (an unknown outcome, not a refusal). The run
    reads the worklog back, finds the new value and counts the update as done; undo puts
    the old value back."""
    before = exported(box)
    edited = [dict(r) for r in before]
    edited[0]["comment"] = "changed"
    path = tmp_path / "edit.csv"
    write_csv(path, edited)
    # workLogs/{id} is read once per row (calls 1-3), the PATCH is call 4
    box.set_faults(["worklogs#4:500-after-commit"])
    applied = cli_run(box, "worklogs", "update", str(path))
    assert box.stats()["fired"] == {"worklogs#4:500-after-commit": 1}
    assert applied.exit_code == 0, applied.output
    assert "updated: 1" in applied.output
    box.set_faults([])
    assert exported(box)[0]["comment"] == "changed"  # it was applied
    undo = cli_run(box, "runs", "undo", "--yes", run_id_of(applied.stdout))
    assert undo.exit_code == 0, undo.output
    assert [r["comment"] for r in exported(box)] == [r["comment"] for r in before]


def test_undo_of_a_delete_never_recreates_twice(box: RunningSandbox, tmp_path: Path) -> None:
    """Undo of a delete run re-creates the worklog; that POST is stored but answered 500.
    Undo again must not POST it a second time (two copies), and says why it skipped it."""
    before = exported(box)
    deleted = cli_run(box, "worklogs", "delete", "--id", before[0]["id"], "--yes")
    assert deleted.exit_code == 0, deleted.output
    run_id = run_id_of(deleted.stdout)
    box.set_faults(["worklogs#1:500-after-commit"])  # the re-creating POST
    first = cli_run(box, "runs", "undo", "--yes", run_id)
    assert box.stats()["fired"] == {"worklogs#1:500-after-commit": 1}
    assert first.exit_code != 0, first.output
    box.set_faults([])
    second = cli_run(box, "runs", "undo", "--yes", run_id)
    assert "answer was lost" in second.output, second.output
    comments = sorted(r["comment"] for r in exported(box))
    assert comments == sorted(r["comment"] for r in before)  # "one" is back exactly once
