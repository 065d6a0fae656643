"""``in_file_repeats`` (issue 13, ``--on-duplicate``): rows identical in every canonical field
to an earlier row of the file, and what skip / allow / fail make of them."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.dedupe import IDENTITY_COLUMNS, RepeatIndex, in_file_repeats


def frame(rows: dict[int, dict[str, object]]) -> pd.DataFrame:
    base = {
        "user": "bob@example.com",
        "timestamp": pd.Timestamp("2024-03-04 08:00", tz="UTC"),
        "length_seconds": 3600,
        "billable_seconds": pd.NA,
        "work_item_id": 12,
        "comment": "Review",
        "activity_type": None,
        "organization": None,
    }
    data = [{**base, **r} for r in rows.values()]
    out = pd.DataFrame(data, index=pd.Index(list(rows), name="source_row"))
    out["billable_seconds"] = out["billable_seconds"].astype("Int64")
    out["work_item_id"] = out["work_item_id"].astype("Int64")
    out["length_seconds"] = out["length_seconds"].astype("int64")
    return out[list(IDENTITY_COLUMNS)]


def test_skip_names_the_row_each_copy_repeats() -> None:
    f = frame({2: {}, 3: {"comment": "other"}, 4: {}, 5: {"comment": "other"}, 6: {}})
    out = in_file_repeats(f, "skip")
    assert out.repeats == {4: 2, 5: 3, 6: 2}
    assert out.skip == out.repeats and out.rejections == []


def test_allow_reports_but_skips_nothing_and_fail_rejects_the_copies() -> None:
    f = frame({2: {}, 3: {}})
    allowed = in_file_repeats(f, "allow")
    assert (allowed.repeats, allowed.skip, allowed.rejections) == ({3: 2}, {}, [])
    failed = in_file_repeats(f, "fail")
    assert failed.skip == {}
    [rej] = failed.rejections
    assert (rej.source_row, rej.stage) == (3, "duplicate")
    assert "repeats row 2" in rej.reason and "--on-duplicate" in rej.reason


@pytest.mark.parametrize(
    "change",
    [
        {"user": "Bob@example.com"},  # the user as written counts, before resolution
        {"timestamp": pd.Timestamp("2024-03-04 08:00:01", tz="UTC")},
        {"length_seconds": 3601},
        {"billable_seconds": 0},
        {"work_item_id": pd.NA},
        {"comment": "Review "},  # comments are compared as written
        {"activity_type": "Testing"},
        {"organization": "contoso"},
    ],
)
def test_any_field_that_differs_makes_rows_distinct(change: dict[str, object]) -> None:
    assert in_file_repeats(frame({2: {}, 3: change}), "skip").repeats == {}


def test_empty_cells_are_equal_to_each_other() -> None:
    f = frame({2: {"user": None, "comment": None}, 3: {"user": None, "comment": None}})
    assert in_file_repeats(f).repeats == {3: 2}


def test_copies_across_chunks_point_to_the_first_row_of_the_file() -> None:
    f = frame({2: {}, 3: {"comment": "b"}, 4: {"comment": "c"}, 5: {}, 6: {"comment": "b"}})
    index = RepeatIndex()
    first = in_file_repeats(f.loc[[2, 3]], "skip", index=index)
    second = in_file_repeats(f.loc[[4, 5, 6]], "skip", index=index)
    assert first.repeats == {}
    assert second.repeats == {5: 2, 6: 3}
    # and a copy within a later chunk of a row of an earlier chunk, twice
    third = in_file_repeats(frame({7: {}, 8: {}}), "skip", index=index)
    assert third.repeats == {7: 2, 8: 2}


def test_row_order_is_by_source_row_not_frame_order() -> None:
    f = frame({9: {}, 4: {}})
    assert in_file_repeats(f).repeats == {9: 4}


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="skip, allow, fail"):
        in_file_repeats(frame({2: {}}), "merge")


def test_field_by_field_confirmation_tells_different_rows_apart() -> None:
    # what protects against a hash collision within a frame
    from timetracker_import.core.dedupe import _same_rows

    f = frame({2: {}, 3: {}, 4: {"comment": None}, 5: {"comment": None}, 6: {"user": "x"}})
    import numpy as np

    same = _same_rows(f, np.array([1, 3, 4]), np.array([0, 2, 0]))
    assert same.tolist() == [True, True, False]


@pytest.mark.parametrize("seed", range(5))
def test_matches_a_brute_force_comparison_in_any_chunking(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    rows = {
        r: {
            "user": rnd.choice(["a", "b", None]),
            "length_seconds": rnd.choice([60, 120]),
            "work_item_id": rnd.choice([1, pd.NA]),
            "comment": rnd.choice(["x", None]),
        }
        for r in rnd.sample(range(2, 200), 60)
    }
    f = frame(rows)
    first: dict[tuple[object, ...], int] = {}
    expected: dict[int, int] = {}
    for r in sorted(rows):
        key = tuple("<NA>" if pd.isna(v) else v for v in list(f.loc[r]))
        if key in first:
            expected[r] = first[key]
        else:
            first[key] = r
    assert in_file_repeats(f).repeats == expected
    index = RepeatIndex()
    ordered = f.sort_index()
    cut = rnd.randint(1, 59)
    got = {**index.add(ordered.iloc[:cut]), **index.add(ordered.iloc[cut:])}
    assert got == expected
