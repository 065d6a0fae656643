"""Stage ``execute`` for creates: the poster (``app.poster``) with the bodies, keys and
read-back of ``stages.execute``, against an in-memory fake and a real journal. Every row
ends created or rejected; an answer lost after the server stored the batch creates nothing
twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.fakes import ALICE, BOB, FakeTimetracker, lost_answer
from timetracker_import.app.poster import Poster
from timetracker_import.app.stages.execute import LazyBodies, read_back_for
from timetracker_import.app.stages.plan import plan_creates
from timetracker_import.core.planning import PlannedBatch
from timetracker_import.core.worklog_key import keys_from_frame
from timetracker_import.errors import AuthError
from timetracker_import.journal.store import Journal

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal.create(fingerprint="stage test") as j:
        yield j


def canonical(users: list[str], work_items: list[int] | None = None) -> pd.DataFrame:
    """Rows 2... of 30 minutes, an hour apart."""
    index = pd.Index(range(2, 2 + len(users)), name="source_row")
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                [START + timedelta(hours=i) for i in range(len(users))], utc=True
            ),
            "length_seconds": 1800,
            "billable_seconds": pd.array([None] * len(users), dtype="Int64"),
            "work_item_id": pd.array(work_items or [100] * len(users), dtype="Int64"),
            "comment": [f"row {r}" for r in index],
            "user": users,
        },
        index=index,
    )


async def post_all(
    fake: FakeTimetracker,
    journal: Journal,
    frame: pd.DataFrame,
    *,
    batch_size: int = 500,
    self_only: bool = False,
) -> tuple[Poster, list[PlannedBatch]]:
    """Plan, journal and post every row of ``frame`` the way ``run_import`` does."""
    user_ids = frame["user"]
    keys = keys_from_frame(frame, user_ids)
    journal.record_rows([int(r) for r in frame.index], keys)
    plan = plan_creates(
        frame,
        user_ids,
        stored=[],
        pending=frame.index,
        batch_size=batch_size,
        first_batch_no=journal.next_batch_no(),
    )
    journal.record_plan(plan.new)
    poster = Poster(
        client=fake.client,
        journal=journal,
        bodies=LazyBodies(frame, user_ids, {}),
        keys=keys,
        timestamps=frame["timestamp"],
        read_back=read_back_for(fake.client, self_only=self_only),
        pending=frame.index,
        claim_after=datetime.fromisoformat(journal.info().started_at) - timedelta(minutes=5),
        concurrency=2,
    )
    await poster.run(plan.batches)
    return poster, plan.batches


def stored_comments(fake: FakeTimetracker) -> list[str]:
    return sorted(str(w["comment"]) for w in fake.store.values())


async def test_every_row_is_created_once_and_journaled(journal: Journal) -> None:
    fake = FakeTimetracker()
    frame = canonical([ALICE, BOB, ALICE, BOB, ALICE])
    poster, batches = await post_all(fake, journal, frame, batch_size=2)
    assert len(batches) == len([c for c in fake.calls if c[0] == "post_batch"]) == 3
    assert stored_comments(fake) == [f"row {r}" for r in range(2, 7)]
    outcomes = journal.row_outcomes()
    assert {r: o for r, (o, _) in outcomes.items()} == dict.fromkeys(range(2, 7), "created")
    assert {wid for _, wid in outcomes.values()} == set(fake.store)
    assert poster.stats.halt is None and poster.stats.ambiguous_batches == []
    body = fake.calls[0][1][0]
    assert body["timeStamp"].endswith("Z") and body["length"] == 1800 and "userId" in body


async def test_a_refused_batch_is_bisected_down_to_the_bad_row(journal: Journal) -> None:
    fake = FakeTimetracker()
    fake.unknown_work_items = {999}
    frame = canonical([ALICE] * 4, work_items=[100, 100, 999, 100])
    poster, _ = await post_all(fake, journal, frame)
    assert stored_comments(fake) == ["row 2", "row 3", "row 5"]
    (rejection,) = poster.stats.rejections
    assert (rejection.source_row, rejection.stage) == (4, "server")
    assert rejection.error_code == "EntityNotFound"
    assert journal.row_outcomes()[4][0] == "rejected"
    assert poster.stats.split_batches >= 1


@pytest.mark.parametrize("self_only", [True, False])
async def test_a_batch_stored_but_unanswered_is_read_back_and_claimed_not_resent(
    journal: Journal, self_only: bool
) -> None:
    fake = FakeTimetracker()
    fake.fail("post_batch", lost_answer(), applied=True)
    frame = canonical([ALICE] * 3)
    poster, _ = await post_all(fake, journal, frame, self_only=self_only)
    assert stored_comments(fake) == ["row 2", "row 3", "row 4"]  # no duplicate
    assert len([c for c in fake.calls if c[0] == "post_batch"]) == 1
    assert ("worklogs" if self_only else "worklogs_all") in {name for name, _ in fake.calls}
    assert {o for o, _ in journal.row_outcomes().values()} == {"created"}
    assert poster.stats.ambiguous_batches == []


async def test_a_batch_lost_before_it_was_stored_is_sent_again(journal: Journal) -> None:
    fake = FakeTimetracker()
    fake.fail("post_batch", lost_answer())
    frame = canonical([ALICE] * 2)
    await post_all(fake, journal, frame)
    assert stored_comments(fake) == ["row 2", "row 3"]
    assert len([c for c in fake.calls if c[0] == "post_batch"]) == 2


async def test_a_401_halts_and_leaves_the_rows_pending_for_the_next_run(
    journal: Journal,
) -> None:
    fake = FakeTimetracker()
    fake.fail("post_batch", AuthError("token expired", status=401))
    frame = canonical([ALICE] * 3)
    poster, _ = await post_all(fake, journal, frame)
    assert poster.stats.halt == "auth" and fake.store == {}
    assert {o for o, _ in journal.row_outcomes().values()} == {"pending"}
