"""The preflight reads (approval locks and the baseline of existing worklogs) go out together;
these pin that overlapping them changes no outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_rows, run, server_comments, settings_for, write_rows
from timetracker_import.errors import AuthError
from timetracker_import.sandbox import RunningSandbox

LOCKED = [  # bob's week of 2026-10-05 is Submitted, carol's Closed (demo seed)
    {
        "User": "bob@example.com",
        "Start": "2026-10-06T09:00:00Z",
        "Minutes": 30,
        "WorkItem": 5,
        "Comment": "locked-bob",
    },
    {
        "User": "carol@example.com",
        "Start": "2026-10-07T09:00:00Z",
        "Minutes": 30,
        "WorkItem": 5,
        "Comment": "locked-carol",
    },
]


def test_every_row_locked_ignores_a_refused_baseline(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # The baseline read is already in flight when the lock check rejects every row: its 403
    # (which would stop an import of other users' rows) must not matter then.
    sandbox.set_faults(["worklogs-all:403"])
    path = write_rows(tmp_path / "in.csv", LOCKED)
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 1 and result.accounting.rejected == 2
    assert {r.stage for r in result.rejections} == {"preflight"}
    assert sandbox.stats()["calls"].get("batch", 0) == 0


def test_refused_baseline_still_stops_an_import_of_other_users(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(["worklogs-all:403"])
    path = write_rows(tmp_path / "in.csv", make_rows(4) + LOCKED)
    with pytest.raises(AuthError, match="other users' worklogs") as caught:
        run(settings_for(sandbox, path, tmp_path))
    assert caught.value.status == 403
    assert sandbox.stats()["calls"].get("batch", 0) == 0
    assert sum(server_comments(sandbox).values()) == 0


def test_refused_approvals_read_halts_before_posting(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # approvals fail with 401 while the baseline is in flight: the run stops (the baseline is
    # cancelled or its answer dropped) and nothing is posted
    sandbox.set_faults(["approvals:401"])
    path = write_rows(tmp_path / "in.csv", make_rows(4))
    with pytest.raises(AuthError):
        run(settings_for(sandbox, path, tmp_path))
    assert sandbox.stats()["calls"].get("batch", 0) == 0


def test_prefetched_reads_do_not_matter_when_every_row_fails_to_resolve(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # On a fresh run the preflight reads go out with the setup reads, before any row is
    # resolved; when no row survives resolving, their failures must not surface.
    sandbox.set_faults(["approvals:401", "worklogs-all:403"])
    rows = make_rows(3)
    for row in rows:
        row["User"] = "nobody@example.com"
    path = write_rows(tmp_path / "in.csv", rows)
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 1 and result.accounting.rejected == 3
    assert {r.stage for r in result.rejections} == {"resolve"}
    assert sandbox.stats()["calls"].get("batch", 0) == 0


def test_each_preflight_read_is_sent_once(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(30) + LOCKED)
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.accounting.created == 30 and result.accounting.rejected == 2
    calls = sandbox.stats()["calls"]
    assert calls["approvals"] == 1 and calls["worklogs-all"] == 1 and calls["batch"] == 1
