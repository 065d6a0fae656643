"""The performance paths of the mapping give exactly what cell-by-cell parsing gives.

Columns with few distinct texts are parsed once per distinct value (``text_uniques`` +
``spread``); dates try the format that fitted the previous chunk first and are remembered
per distinct text across the chunks of a run (``DateMemo``); the comment-or-work-item check
looks only at rows without a work item; text columns hold None without a final clean-up
pass. None of that may change a result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timetracker_import.core import durations, mapping, timestamps
from timetracker_import.core.schema import validate_worklogs

DURATIONS = ["1.5", " 2 ", "1:30", "90m", "PT1H", "x", "", "  ", "1,5", "-1", "25", "1:75"]
DATES = [
    "2026-03-04 09:30",
    "03/04/2026 09:30",
    "13/04/2026 10:00",
    "04.13.2026",
    "2026-03-04T09:30:00+02:00",
    " 2026-03-04   09:30 ",
    "31/02/2026",
    "nonsense",
    "",
    "2026-03-29 02:30",
]
TIMES = ["9:30", "09:30:00", "9:30 PM", "12:00 am", "25:00", "x", "", " 7:05 "]
TEXTS = ["  alice ", "Bob", "", "   ", "1234", "+5", "12a", "-3", "bob"]


def column(pool: list[str], picks: list[int], with_none: bool) -> pd.Series:
    """A column of at least 64 rows (so factorizing is used) drawn from ``pool``."""
    cells: list[object] = [pool[i % len(pool)] for i in picks]
    if with_none:
        cells[::5] = [None] * len(cells[::5])
    index = pd.Index(range(2, 2 + len(cells)), name="source_row")
    return pd.Series(cells, index=index, dtype=object)


picks = st.lists(st.integers(0, 50), min_size=64, max_size=200)


@settings(max_examples=40, deadline=None)
@given(picks, st.booleans(), st.sampled_from(["hours", "minutes", "seconds"]))
def test_durations_per_unique_equal_per_cell(p: list[int], none: bool, unit: str) -> None:
    values = column(DURATIONS, p, none)
    assert durations.text_uniques(values) is not None  # the fast path is taken
    pd.testing.assert_series_equal(
        durations.parse_durations(values, unit), durations._parse_duration_cells(values, unit)
    )
    seconds, blank = durations.parse_durations_and_blanks(values, unit)
    pd.testing.assert_series_equal(seconds, durations.parse_durations(values, unit))
    pd.testing.assert_series_equal(blank, mapping._text(values).isna(), check_names=False)


def test_blanks_of_excel_cells_match_text_cleanup() -> None:
    import datetime as dt

    values = pd.Series([1.5, None, "  ", "", dt.timedelta(hours=1), "2", np.nan, 0], dtype=object)
    seconds, blank = durations.parse_durations_and_blanks(values)
    assert list(blank) == [False, True, True, True, False, False, True, False]
    pd.testing.assert_series_equal(seconds, durations.parse_durations(values))


@settings(max_examples=40, deadline=None)
@given(
    picks,
    st.booleans(),
    st.sampled_from([None, "DMY", "MDY", "YMD"]),
    st.sampled_from([None, ["%d/%m/%Y %H:%M"], ["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]]),
    st.booleans(),
)
def test_datetimes_per_unique_equal_per_cell(
    p: list[int], none: bool, order: str | None, formats: list[str] | None, with_time: bool
) -> None:
    values = column(DATES, p, none)
    fast = timestamps.parse_datetimes(
        values, formats=formats, date_order=order, with_time=with_time
    )
    slow = timestamps._parse_datetime_cells(values, formats, order, with_time)
    _assert_same_times(fast, slow)


def _assert_same_times(a: timestamps.ParsedTimes, b: timestamps.ParsedTimes) -> None:
    pd.testing.assert_series_equal(a.naive, b.naive)
    pd.testing.assert_series_equal(a.aware, b.aware)
    pd.testing.assert_series_equal(a.error, b.error)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(picks, min_size=2, max_size=4),
    st.booleans(),
    st.sampled_from([None, "DMY", "MDY"]),
    st.sampled_from([None, ["%d/%m/%Y %H:%M"]]),
)
def test_datetimes_with_memo_across_chunks_equal_without(
    chunks: list[list[int]], none: bool, order: str | None, formats: list[str] | None
) -> None:
    # One memo for a whole run, as iter_mapped_chunks uses it: texts parsed in an earlier
    # chunk (in other company) must come back exactly as a fresh parse gives them.
    memo = timestamps.DateMemo()
    for p in chunks:
        values = column(DATES, p, none)
        remembered = timestamps.parse_datetimes(
            values, formats=formats, date_order=order, memo=memo
        )
        fresh = timestamps.parse_datetimes(values, formats=formats, date_order=order)
        _assert_same_times(remembered, fresh)
    assert memo.parsed  # the memo was used, not bypassed


def test_date_memo_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timestamps, "MEMO_MAX_TEXTS", 40)
    memo = timestamps.DateMemo()
    first = pd.Series([f"2026-03-{d:02d} 09:30" for d in range(1, 29)] * 3, dtype=object)
    second = pd.Series([f"2026-04-{d:02d} 10:00" for d in range(1, 29)] * 3, dtype=object)
    timestamps.parse_datetimes(first, memo=memo)
    (stored,) = memo.parsed.values()
    assert len(stored.texts) == 28
    again = timestamps.parse_datetimes(second, memo=memo)
    (stored,) = memo.parsed.values()
    assert sorted(stored.texts) == sorted(set(second))  # 28 + 28 > 40: only the newest
    assert again.naive.iloc[0] == pd.Timestamp("2026-04-01 10:00")


@settings(max_examples=30, deadline=None)
@given(picks, st.booleans())
def test_times_of_day_per_unique_equal_per_cell(p: list[int], none: bool) -> None:
    values = column(TIMES, p, none)
    fast = timestamps.parse_times_of_day(values)
    slow = timestamps._times_of_day_cells(values)
    pd.testing.assert_series_equal(fast[0], slow[0])
    pd.testing.assert_series_equal(fast[1], slow[1])


@settings(max_examples=30, deadline=None)
@given(picks, st.booleans())
def test_text_and_work_items_per_unique_equal_per_cell(p: list[int], none: bool) -> None:
    values = column(TEXTS, p, none)
    text = mapping._text(values)
    pd.testing.assert_series_equal(text, mapping._text_cells(values))
    assert all(v is None or (type(v) is str and v == v.strip() and v) for v in text)
    pd.testing.assert_series_equal(mapping._work_item_numbers(text), mapping._work_item_cells(text))


def test_text_uniques_refuses_mixed_cells_and_distinct_columns() -> None:
    # 1, 1.0 and True hash alike: they must never be merged into one unique.
    mixed = pd.Series([1, 1.0, True, "1"] * 40, dtype=object)
    assert durations.text_uniques(mixed) is None
    np.testing.assert_array_equal(
        durations.parse_durations(mixed).to_numpy()[:4], [3600.0, 3600.0, np.nan, 3600.0]
    )
    distinct = pd.Series([f"comment {i}" for i in range(20_000)], dtype=object)
    assert durations.text_uniques(distinct) is None
    sequential = pd.Series([str(1000 + i % 500) for i in range(20_000)], dtype=object)
    found = durations.text_uniques(sequential)
    assert found is not None and len(found[1]) == 500


def test_remembered_date_format_does_not_leak_into_another_file() -> None:
    # Even a memo shared (wrongly) across two files only changes the order formats are tried.
    memo = timestamps.DateMemo()
    first = pd.Series(["03/04/2026 10:00"] * 300, dtype=object)
    other = pd.Series(["2026-05-06 07:15"] * 300, dtype=object)
    a = timestamps.parse_datetimes(first, date_order="MDY", memo=memo)
    assert memo.fitted == {("MDY", True): "%m/%d/%Y %H:%M"}
    b = timestamps.parse_datetimes(other, date_order="MDY", memo=memo)
    assert a.naive.iloc[0] == pd.Timestamp("2026-03-04 10:00")
    assert b.naive.iloc[0] == pd.Timestamp("2026-05-06 07:15")
    assert a.error.isna().all() and b.error.isna().all()


def _frame(comments: list[object], items: list[object]) -> pd.DataFrame:
    n = len(comments)
    frame = pd.DataFrame(
        {
            "user": pd.Series([None] * n, dtype=object),
            "timestamp": pd.Series(pd.Timestamp("2026-03-04", tz="UTC"), index=range(n)).astype(
                "datetime64[ns, UTC]"
            ),
            "length_seconds": pd.Series([3600] * n, dtype="int64"),
            "billable_seconds": pd.Series([pd.NA] * n, dtype="Int64"),
            "work_item_id": pd.Series(items, dtype="Int64"),
            "comment": pd.Series(comments, dtype=object),
            "activity_type": pd.Series([None] * n, dtype=object),
            "organization": pd.Series([None] * n, dtype=object),
        }
    )
    frame.index = pd.Index(range(2, 2 + n), name="source_row")
    return frame


@pytest.mark.parametrize(
    ("comment", "item", "rejected"),
    [("  ", None, True), (None, None, True), ("", None, True), ("fix", None, False)]
    + [("  ", 7, False), (None, 7, False)],
)
def test_comment_or_work_item_still_enforced(comment: object, item: object, rejected: bool) -> None:
    frame = _frame([comment, "ok"], [item, None])
    valid, problems = validate_worklogs(frame)
    assert [p.source_row for p in problems] == ([2] if rejected else [])
    assert list(valid.index) == ([3] if rejected else [2, 3])


TEXT_HEADERS = ["Who", "Last", "When", "Hours", "Note", "Kind", "Org"]


@pytest.mark.parametrize("rows", [5, 200])  # cell by cell, and per distinct value
def test_text_columns_hold_none_never_nan(rows: int) -> None:
    # apply_mapping no longer converts NaN to None at the end: every text path must give None.
    model = mapping.Mapping.model_validate(
        {
            "fields": {
                "user": {"column": "Who", "join": ["Last"], "lookup": "people"},
                "timestamp": {"column": "When"},
                "length": {"column": "Hours"},
                "comment": {"column": "Note", "regex": r"#(\d+)"},
                "activity_type": {"column": "Kind", "map": {"dev": "Development"}},
                "organization": {"column": "Org", "default": "contoso"},
            },
            "lookups": {"people": {"file": "p.csv", "key": "a", "value": "b"}},
        }
    )
    pool = [
        ["ann", "lee", "2026-03-04 09:00", "1", "fix #12", "dev", None],
        [None, None, "2026-03-04 10:00", "1", "no number", "  ", "fabrikam"],
        ["bob", None, "2026-03-04 11:00", "1", None, None, "  "],
        ["  ", "  ", "2026-03-04 12:00", "2", "   ", "qa", None],
    ]
    chunk = pd.DataFrame([pool[i % len(pool)] for i in range(rows)], dtype=object)
    chunk.index = pd.RangeIndex(2, 2 + rows, name="source_row")
    lookups = {"people": {"ann lee": "ann@example.com", "bob": "bob@example.com"}}
    out, _ = mapping.apply_mapping(model, TEXT_HEADERS, chunk, lookups=lookups, timezone="UTC")
    assert len(out)
    for name in ("user", "comment", "activity_type", "organization"):
        assert out[name].dtype == object
        assert all(v is None or type(v) is str for v in out[name]), name
    assert None in out["comment"].tolist()  # "no number" has no match: None, not NaN


def test_absent_text_fields_are_none() -> None:
    model = mapping.Mapping.model_validate(
        {"fields": {"timestamp": {"column": "When"}, "length": {"column": "Hours"}}}
    )
    chunk = pd.DataFrame([["2026-03-04 09:00", "1"]] * 70, dtype=object)
    chunk.index = pd.RangeIndex(2, 72, name="source_row")
    out, _ = mapping.apply_mapping(model, ["When", "Hours"], chunk)
    for name in ("user", "comment", "activity_type", "organization"):
        assert out[name].tolist() == [None] * 70, name


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["", " ", "\t", "\u00a0", "\x1f", "a\x00", "\x00", " x ", "\tlead"]),
            st.text(max_size=6),
        ),
        max_size=80,
    )
)
def test_verbatim_text_fast_path_equals_cell_rule(cells: list[str | None]) -> None:
    # The regex over NUL-joined cells must find exactly the cells str.strip() calls blank.
    values = pd.Series(cells, dtype=object)
    got = mapping._verbatim_text(values).tolist()
    assert got == [c if c is not None and c.strip() else None for c in cells]
