"""Preflight locks by the user's local week (issue 14, part 4), end to end.

The demo seed's alice is at UTC+1 (``me.timeZone`` 60). 7pace locks by the user's own week
(``weekStartDate`` is user-local); the sandbox locks by the UTC week (D21). So with alice's
week of 2026-10-05 Submitted:

- Monday 2026-10-05 00:30 local (Sunday 23:30 UTC) is in the locked week: the preflight
  refuses it. The old UTC reading let it through, and the sandbox (UTC week 09-28) stored it;
- Monday 2026-10-12 00:30 local (Sunday 23:30 UTC) is in alice's open week: the preflight lets
  it through; the sandbox, by the UTC week, refuses it with ApprovalStateFailed, and that
  refusal is isolated to the row (the other rows of its batch are created).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from tests.helpers import balanced, make_rows, settings_for, write_rows
from tests.reliability.conftest import expected_worklogs, run_quick, server_worklogs
from timetracker_import.sandbox import run_sandbox_in_thread


def _seed() -> dict[str, object]:
    text = resources.files("timetracker_import.sandbox").joinpath("seeds/demo.yaml").read_text()
    data = yaml.safe_load(text)
    data["approval_weeks"].append(
        {"user": "alice@example.com", "week_start": "2026-10-05", "state": "Submitted"}
    )
    return data


def test_preflight_by_local_week_and_the_servers_refusal_mapped_to_the_row(
    tmp_path: Path,
) -> None:
    rows = make_rows(4, users=("alice@example.com",))  # September: open weeks
    locked_local = {
        "User": "alice@example.com",
        "Start": "2026-10-04T23:30:00Z",
        "Minutes": 30,
        "WorkItem": 5,
        "Comment": "monday-0030-locked-week",
    }
    open_local = {
        "User": "alice@example.com",
        "Start": "2026-10-11T23:30:00Z",
        "Minutes": 30,
        "WorkItem": 5,
        "Comment": "monday-0030-open-week",
    }
    data = [*rows, locked_local, open_local]
    path = write_rows(tmp_path / "in.csv", data)
    with run_sandbox_in_thread(seed=_seed()) as box:
        result = run_quick(settings_for(box, path, tmp_path, batch_size=10))
        assert result.exit_code == 1, result.summary_dict()
        assert balanced(result)
        assert (result.accounting.created, result.accounting.rejected) == (4, 2)
        by_row = {r.source_row: r for r in result.rejections}
        # row 6: the local week 2026-10-05 is Submitted, refused before anything was sent
        assert by_row[6].stage == "preflight"
        assert "week of 2026-10-05 is Submitted for alice@example.com" in by_row[6].reason
        # row 7: the preflight found alice's week open; the server's refusal is on that row
        assert by_row[7].stage != "preflight"
        assert by_row[7].error_code == "ApprovalStateFailed", by_row[7]
        assert server_worklogs(box) == expected_worklogs(rows)
