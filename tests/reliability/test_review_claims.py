"""Adversarial review of the ambiguous-outcome claim path (read back, claim by natural key).

Each test is a scenario found by reasoning about interleavings; it failed before its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import balanced, settings_for, write_rows
from tests.reliability.conftest import expected_worklogs, run_quick, server_worklogs
from timetracker_import.journal.store import Journal
from timetracker_import.sandbox import RunningSandbox

TWIN = {
    "User": "alice@example.com",
    "Start": "2026-09-01T09:00:00Z",
    "Minutes": 30,
    "WorkItem": 101,
    "Comment": "twin",
}


@pytest.mark.parametrize(
    "faults",
    [
        ["batch#1..2:500-after-commit"],  # both stored, both answers lost
        ["batch#1:500-after-commit", "batch#2:500"],  # one stored, one not
    ],
)
def test_identical_rows_in_two_concurrent_ambiguous_batches(
    sandbox: RunningSandbox, tmp_path: Path, faults: list[str]
) -> None:
    """Two identical rows in two batches sent together, both outcomes unknown. The two
    read-backs run concurrently; each must claim a different worklog (or none), never the
    same one twice: a row claimed with its twin's worklog would never be created."""
    sandbox.set_faults(faults)
    rows = [dict(TWIN), dict(TWIN)]
    path = write_rows(tmp_path / "in.csv", rows)
    # on_duplicate="allow": identical rows are posted (since issue 13 the default skips the
    # later copy before anything is sent, which would leave nothing to test here)
    result = run_quick(
        settings_for(sandbox, path, tmp_path, batch_size=1, concurrency=2, on_duplicate="allow")
    )
    assert balanced(result), result.summary_dict()
    assert result.exit_code == 0, result.summary_dict()
    assert server_worklogs(sandbox) == expected_worklogs(rows)
    with Journal.open(result.run_id) as journal:
        ids = [wid for _, (outcome, wid) in journal.row_outcomes().items() if outcome == "created"]
        records = journal.created_records()
    assert len(ids) == 2 and len(set(ids)) == 2, ids
    assert sorted(str(r.worklog_id) for r in records) == sorted(map(str, ids))  # undo knows both


def test_resume_does_not_match_a_reconciled_worklog_again_as_existing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Identical rows 2 and 3 in two batches. Batch 1 is stored but its answer lost, its
    read-back hits an outage, batch 2 gets a 429 beyond the cap (halt, exit 75; batch 2 stays
    planned). The resume claims the
    stored worklog for row 2; its duplicate check must not then match row 3 to that same
    worklog ("already exists"): row 3 was never created."""
    sandbox.set_faults(["batch#1:500-after-commit", "batch#2..:429=600", "worklogs#1..:503"])
    rows = [dict(TWIN), dict(TWIN)]
    path = write_rows(tmp_path / "in.csv", rows)
    # on_duplicate="allow": both twins are posted (the default since issue 13 skips row 3)
    settings = settings_for(
        sandbox, path, tmp_path, batch_size=1, concurrency=1, on_duplicate="allow"
    )
    first = run_quick(settings)
    assert first.exit_code == 75 and balanced(first), first.summary_dict()
    assert first.accounting.created == 0
    sandbox.set_faults([])
    second = run_quick(settings)
    assert second.resumed and balanced(second), second.summary_dict()
    assert second.exit_code == 0, second.summary_dict()
    assert second.accounting.created == 2 and second.accounting.already_existing == 0
    assert server_worklogs(sandbox) == expected_worklogs(rows)
