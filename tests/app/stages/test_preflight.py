"""Stage ``preflight``: the two reads (approval states, the baseline of existing worklogs)
against an in-memory fake, and the pure checks on what they answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from tests.fakes import ALICE, BOB, FakeTimetracker
from timetracker_import.app.stages.preflight import (
    APPROVALS_UNREADABLE,
    BASELINE_ROLE_HINT,
    PreflightReads,
    check_existing,
    locked_rejections,
)
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.worklog_key import WorklogKey, keys_from_frame
from timetracker_import.errors import AuthError

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # a Tuesday


def frame_of(*hours: int) -> pd.DataFrame:
    """Canonical rows (2...) starting ``hours`` after START, 30 minutes each, work item 7."""
    index = pd.Index(range(2, 2 + len(hours)), name="source_row")
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime([START + timedelta(hours=h) for h in hours], utc=True),
            "length_seconds": 1800,
            "work_item_id": pd.array([7] * len(hours), dtype="Int64"),
            "comment": [f"entry {h}" for h in hours],
        },
        index=index,
    )


def forbidden() -> AuthError:
    return AuthError("forbidden", status=403)


async def test_the_baseline_is_read_over_the_rows_window_widened_by_the_query_margin() -> None:
    fake = FakeTimetracker()
    at_start = fake.add(timeStamp="2026-09-01T09:00:00Z", length=60, userId=BOB)
    fake.add(timeStamp="2026-09-01T08:59:58Z", length=60, userId=BOB)  # before the window
    at_end = fake.add(timeStamp="2026-09-01T12:00:00Z", length=60, userId=ALICE)
    reads = PreflightReads.start(fake.client, frame_of(0, 3))
    baseline = await reads.read_baseline(fake.client, self_only=False)
    assert reads.base_lo < START and reads.base_hi > START + timedelta(hours=3)
    assert {w["id"] for w in baseline} == {at_start["id"], at_end["id"]}
    approvals_call = next(arg for name, arg in fake.calls if name == "approvals")
    assert approvals_call["from_ts"] <= START.date() - timedelta(days=7)


async def test_approvals_the_token_may_not_read_give_a_note_not_a_failure() -> None:
    fake = FakeTimetracker()
    fake.fail("approvals", forbidden())
    reads = PreflightReads.start(fake.client, frame_of(0))
    notes: list[str] = []
    assert await reads.read_approvals(notes) == []
    assert notes == [APPROVALS_UNREADABLE]
    await reads.baseline


async def test_without_the_role_a_file_of_own_rows_reads_the_own_worklogs() -> None:
    fake = FakeTimetracker()
    mine = fake.add(timeStamp="2026-09-01T09:00:00Z", length=60, userId=ALICE)
    fake.add(timeStamp="2026-09-01T09:00:00Z", length=60, userId=BOB)
    fake.fail("worklogs_all", forbidden())
    reads = PreflightReads.start(fake.client, frame_of(0))
    baseline = await reads.read_baseline(fake.client, self_only=True)
    assert [w["id"] for w in baseline] == [mine["id"]]
    await reads.approvals


async def test_without_the_role_a_file_of_other_users_rows_fails_with_the_role_hint() -> None:
    fake = FakeTimetracker()
    fake.fail("worklogs_all", forbidden())
    reads = PreflightReads.start(fake.client, frame_of(0))
    with pytest.raises(AuthError) as info:
        await reads.read_baseline(fake.client, self_only=False)
    assert info.value.hint == BASELINE_ROLE_HINT
    await reads.approvals


def bobs_locked_rows(frame: pd.DataFrame, **kw: Any) -> list[Rejection]:
    """``locked_rejections`` of ``frame`` as bob's rows, his week of 2026-08-31 Approved."""
    return locked_rejections(
        frame,
        pd.Series(BOB, index=frame.index, dtype=object),
        [{"user": {"id": BOB}, "weekStartDate": "2026-08-31", "approvalState": 3}],
        labels={BOB: "bob@example.com"},
        date_header="Start",
        users=[{"id": BOB, "timeZone": 0}],
        self_id=ALICE,
        **kw,
    )


def test_rows_in_a_locked_week_are_rejected_naming_the_week_and_state() -> None:
    rejections = bobs_locked_rows(frame_of(0, 24 * 7))  # this week and next week
    (rejection,) = rejections
    assert (rejection.source_row, rejection.stage, rejection.column) == (2, "preflight", "Start")
    assert "2026-08-31 is Approved" in rejection.reason


class _CellsLost:
    """A prepared file whose cells cannot be read again (the input changed since)."""

    timezone = "Pacific/Auckland"

    def date_cells(self, rows: object) -> dict[int, str]:
        return {}


def test_a_locked_row_whose_cell_is_lost_shows_its_local_date() -> None:
    """Without the cell as written, the rejection shows the row's date in the file's zone
    (Tuesday 21:00 in Auckland), never the UTC instant (Tuesday 09:00 UTC)."""
    (rejection,) = bobs_locked_rows(frame_of(0), prepared=_CellsLost())
    assert (rejection.column, rejection.value) == ("Start", "2026-09-01")
    # Tuesday 21:00 UTC: Wednesday in Auckland
    (shifted,) = bobs_locked_rows(frame_of(12), prepared=_CellsLost())
    assert shifted.value == "2026-09-02"


def keys_of(frame: pd.DataFrame, user: str) -> dict[int, WorklogKey]:
    return keys_from_frame(frame, pd.Series(user, index=frame.index, dtype=object))


def server_twin(fake: FakeTimetracker, hour: int, user: str) -> str:
    """A worklog on the server identical to ``frame_of(hour)``'s row."""
    stamp = (START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
    added = fake.add(
        timeStamp=stamp, length=1800, userId=user, workItemId=7, comment=f"entry {hour}"
    )
    return str(added["id"])


@pytest.mark.parametrize("on_existing", ["skip", "allow", "fail"])
def test_rows_identical_to_a_worklog_there_follow_on_existing(on_existing: str) -> None:
    fake = FakeTimetracker()
    twin = server_twin(fake, 0, BOB)
    frame = frame_of(0, 1)
    check = check_existing(
        keys_of(frame, BOB),
        list(fake.store.values()),
        ours=set(),
        naive_offset_minutes=0,
        on_existing=on_existing,
    )
    assert check.baseline_ids == {twin}
    assert check.existing == ({2: twin} if on_existing == "skip" else {})
    assert [r.source_row for r in check.rejections] == ([2] if on_existing == "fail" else [])
    if on_existing == "fail":
        assert twin in check.rejections[0].reason and check.rejections[0].stage == "duplicate"


def test_a_worklog_this_run_created_is_never_existing_for_a_twin_row() -> None:
    fake = FakeTimetracker()
    ours = server_twin(fake, 0, BOB)
    frame = frame_of(0, 0)  # the row and its twin in the file
    check = check_existing(
        keys_of(frame, BOB),
        list(fake.store.values()),
        ours={ours},
        naive_offset_minutes=0,
        on_existing="skip",
    )
    assert check.existing == {}
    assert check.in_file_duplicates == {3: 2}
