"""Stage ``plan``: the create planner. Rows become batches per user in time order; a
resumed run keeps the batches it journaled and plans only the rows they do not cover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from tests.fakes import ALICE, BOB
from timetracker_import.app.stages.plan import plan_creates
from timetracker_import.core.actions import Create
from timetracker_import.core.planning import PlannedBatch

START = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


def rows(users: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """A canonical frame (rows 2...) of 15-minute entries an hour apart, and its user ids."""
    index = pd.Index(range(2, 2 + len(users)), name="source_row")
    stamps = [START + timedelta(hours=i) for i in range(len(users))]
    frame = pd.DataFrame(
        {"timestamp": pd.to_datetime(stamps, utc=True), "length_seconds": 900}, index=index
    )
    return frame, pd.Series(users, index=index, dtype=object)


def test_rows_are_batched_per_user_and_numbered_from_the_first_free_number() -> None:
    frame, users = rows([ALICE, BOB, ALICE, BOB, ALICE])
    plan = plan_creates(
        frame, users, stored=[], pending=frame.index, batch_size=2, first_batch_no=7
    )
    assert [b.batch_no for b in plan.batches] == list(range(7, 7 + len(plan.batches)))
    assert plan.new == plan.batches
    for batch in plan.batches:
        assert len(batch.source_rows) <= 2
        assert len({users[r] for r in batch.source_rows}) == 1  # one user a batch
        assert batch.user_id == users[batch.source_rows[0]]
    planned = sorted(r for b in plan.batches for r in b.source_rows)
    assert planned == [2, 3, 4, 5, 6]  # every row once
    assert plan.actions == [Create(b.source_rows, b.batch_no) for b in plan.batches]


def test_a_resumed_run_keeps_its_batches_and_plans_only_the_rest() -> None:
    frame, users = rows([ALICE] * 4)
    stored = [PlannedBatch(1, (2, 3), ALICE, START, START + timedelta(hours=1))]
    plan = plan_creates(
        frame, users, stored=stored, pending={3, 4, 5}, batch_size=500, first_batch_no=2
    )
    assert [b.source_rows for b in plan.new] == [(4, 5)]
    assert plan.new[0].batch_no == 2
    assert plan.batches == [stored[0], plan.new[0]]  # batch 1 still has row 3 to send


def test_batches_with_nothing_pending_are_left_out() -> None:
    frame, users = rows([ALICE] * 2)
    stored = [PlannedBatch(1, (2, 3), ALICE, START, START + timedelta(hours=1))]
    plan = plan_creates(
        frame, users, stored=stored, pending=set(), batch_size=500, first_batch_no=2
    )
    assert plan.new == [] and plan.batches == [] and plan.actions == []
