"""``approvals list|submit|revoke`` against the demo sandbox (seeded approval weeks)."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import Result

from tests.cli.conftest import invoke
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def run(box: RunningSandbox, *args: str, who: str = "alice") -> Result:
    return invoke(box, "approvals", *args, who=who)


def weeks(box: RunningSandbox, *args: str) -> list[dict[str, str]]:
    result = run(box, "list", "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_list_filters_by_range_and_state(box: RunningSandbox) -> None:
    everything = weeks(box)
    assert {(w["user"], w["weekStart"], w["state"]) for w in everything} == {
        ("bob@example.com", "2026-10-05", "submitted"),
        ("bob@example.com", "2026-10-12", "approved"),
        ("carol@example.com", "2026-10-05", "closed"),
        ("carol@example.com", "2026-10-19", "reopened"),
    }
    approved = weeks(box, "--state", "approved")
    assert [w["weekStart"] for w in approved] == ["2026-10-12"]
    ranged = weeks(box, "--from", "2026-10-13", "--to", "2026-10-19")
    assert sorted(w["weekStart"] for w in ranged) == ["2026-10-12", "2026-10-19"]


def test_list_needs_approval_manager(box: RunningSandbox) -> None:
    result = run(box, "list", who="dave")
    assert result.exit_code == 3


def test_submit_and_revoke(box: RunningSandbox) -> None:
    ok = run(box, "submit", "2026-11-02", "--manager", "alice@example.com", who="bob")
    assert ok.exit_code == 0, ok.output
    mine = [w for w in weeks(box) if w["weekStart"] == "2026-11-02"]
    assert mine == [
        {**mine[0], "user": "bob@example.com", "state": "submitted", "manager": "alice@example.com"}
    ]
    again = run(box, "submit", "2026-11-02", "--manager", "alice@example.com", who="bob")
    assert again.exit_code != 0 and "ApprovalStateFailed" in again.stderr
    assert run(box, "revoke", "2026-11-02", who="bob").exit_code == 0
    assert not [w for w in weeks(box) if w["weekStart"] == "2026-11-02"]
    not_submitted = run(box, "revoke", "2026-10-12", who="bob")  # approved, not submitted
    assert not_submitted.exit_code != 0 and "ApprovalStateFailed" in not_submitted.stderr


def test_submit_usage_and_permission_errors(box: RunningSandbox) -> None:
    tuesday = run(box, "submit", "2026-11-03", "--manager", "alice@example.com", who="bob")
    assert tuesday.exit_code == 2 and "2026-11-02" in tuesday.stderr
    unknown = run(box, "submit", "2026-11-02", "--manager", "zed@example.com", who="bob")
    assert unknown.exit_code == 2
    erin = run(box, "submit", "2026-11-02", "--manager", "alice@example.com", who="erin")
    assert erin.exit_code == 3
