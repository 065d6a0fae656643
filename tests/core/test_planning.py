from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timetracker_import.core.planning import (
    PlannedBatch,
    plan_batches,
    read_back_window,
    split_in_half,
)

T0 = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


def frame(items: list[tuple[int, str | None, datetime]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": [u for _, u, _ in items], "timestamp": pd.to_datetime([t for *_, t in items])},
        index=pd.Index([r for r, _, _ in items], name="source_row"),
    )


def test_groups_by_user_then_time() -> None:
    rows = frame(
        [
            (2, "b", T0 + timedelta(hours=3)),
            (3, "a", T0 + timedelta(hours=2)),
            (4, "b", T0),
            (5, "a", T0 + timedelta(hours=1)),
            (6, "a", T0 + timedelta(hours=5)),
        ]
    )
    plan = plan_batches(rows, max_size=2, max_mixed_span=timedelta(0))
    assert [(b.user_id, b.source_rows) for b in plan] == [
        ("b", (4, 2)),
        ("a", (5, 3)),
        ("a", (6,)),
    ]
    assert [b.batch_no for b in plan] == [1, 2, 3]
    assert plan[0].window_from == T0 and plan[0].window_to == T0 + timedelta(hours=3)


def test_small_remainders_of_several_users_are_packed_when_close() -> None:
    rows = frame(
        [
            (2, "a", T0),
            (3, "b", T0 + timedelta(hours=1)),
            (4, "c", T0 + timedelta(days=30)),
        ]
    )
    plan = plan_batches(rows, max_size=500)
    assert [(b.user_id, b.source_rows) for b in plan] == [(None, (2, 3)), ("c", (4,))]


def test_none_user_is_its_own_group() -> None:
    rows = frame([(2, None, T0), (3, None, T0 + timedelta(minutes=1)), (4, "a", T0)])
    plan = plan_batches(rows, max_size=2, max_mixed_span=timedelta(0))
    assert {b.source_rows: b.user_id for b in plan} == {(2, 3): None, (4,): "a"}


@pytest.mark.parametrize("size", [0, 501])
def test_rejects_bad_sizes(size: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 500"):
        plan_batches(frame([(2, "a", T0)]), max_size=size)


def test_empty_frame_gives_empty_plan() -> None:
    assert plan_batches(frame([])) == []


def test_split_in_half_with_and_without_timestamps() -> None:
    stamps = {r: T0 + timedelta(minutes=r) for r in range(2, 7)}
    batch = PlannedBatch(7, (2, 3, 4, 5, 6), "a", stamps[2], stamps[6])
    left, right = split_in_half(batch, 20, stamps)
    assert (left.batch_no, left.source_rows, left.parent) == (20, (2, 3), 7)
    assert (right.batch_no, right.source_rows, right.parent) == (21, (4, 5, 6), 7)
    assert (left.window_from, left.window_to) == (stamps[2], stamps[3])
    assert (right.window_from, right.window_to) == (stamps[4], stamps[6])
    wide_left, _ = split_in_half(batch, 20)
    assert (wide_left.window_from, wide_left.window_to) == (stamps[2], stamps[6])
    with pytest.raises(ValueError, match="cannot be split"):
        split_in_half(PlannedBatch(1, (2,), "a", T0, T0), 2)


def test_read_back_window_is_widened_by_one_second() -> None:
    batch = PlannedBatch(1, (2,), "a", T0, T0 + timedelta(hours=1))
    assert read_back_window(batch) == (
        T0 - timedelta(seconds=1),
        T0 + timedelta(hours=1, seconds=1),
    )


def test_json_round_trip() -> None:
    batch = PlannedBatch(3, (2, 9), None, T0, T0 + timedelta(hours=1), parent=1)
    assert PlannedBatch.from_json(batch.to_json()) == batch


row_items = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(0, 60 * 24 * 40)),
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(row_items, st.integers(1, 25), st.integers(0, 20))
def test_plan_covers_every_row_once_within_size(
    items: list[tuple[str | None, int]], max_size: int, span_days: int
) -> None:
    rows = frame([(i + 2, user, T0 + timedelta(minutes=m)) for i, (user, m) in enumerate(items)])
    span = timedelta(days=span_days)
    plan = plan_batches(rows, max_size=max_size, max_mixed_span=span)
    planned = [r for b in plan for r in b.source_rows]
    assert sorted(planned) == list(rows.index)
    assert all(1 <= len(b) <= max_size for b in plan)
    assert [b.batch_no for b in plan] == list(range(1, len(plan) + 1))
    stamps = dict(zip(rows.index, pd.to_datetime(rows["timestamp"]), strict=True))
    users = {
        r: (u if isinstance(u, str) else None)
        for r, u in zip(rows.index, rows["user_id"], strict=True)
    }
    for b in plan:
        batch_stamps = [stamps[r] for r in b.source_rows]
        assert b.window_from == min(batch_stamps) and b.window_to == max(batch_stamps)
        batch_users = {users[r] for r in b.source_rows}
        if len(batch_users) > 1:
            assert b.user_id is None and b.window_to - b.window_from <= span
        else:
            assert b.user_id == batch_users.pop()
    # deterministic, also when the input comes in another order
    assert plan_batches(rows.iloc[::-1], max_size=max_size, max_mixed_span=span) == plan


def test_mixed_span_boundary_and_sub_second_windows_are_exact() -> None:
    span = timedelta(hours=1)
    late = T0 + span + timedelta(microseconds=250)
    rows = frame([(2, "a", T0), (3, "b", T0 + span), (4, "c", late)])
    plan = plan_batches(rows, max_size=10, max_mixed_span=span)
    # exactly the span still packs; a quarter millisecond more does not
    assert [b.source_rows for b in plan] == [(2, 3), (4,)]
    assert plan[0].window_from == T0 and plan[0].window_to == T0 + span
    assert plan[1].window_from == plan[1].window_to == late
    assert plan[1].window_from.tzinfo is not None
    assert plan[1].to_json()["window_from"] == late.isoformat()
