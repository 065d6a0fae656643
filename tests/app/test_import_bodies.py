"""The column-wise request bodies of ``import`` equal the row-wise reference ``_body``."""

from __future__ import annotations

import pandas as pd

from timetracker_import.app.stages.execute import bodies_of as _bodies
from timetracker_import.app.stages.execute import body_of as _body


def _frame() -> pd.DataFrame:
    index = pd.Index([2, 3, 5, 8, 9], name="source_row")
    return pd.DataFrame(
        {
            "user": ["a", "b", "c", "d", "e"],
            "timestamp": pd.to_datetime(
                [
                    "2026-09-01T06:00:00.999Z",  # fraction: floored like strftime
                    "1969-12-31T23:59:59.5Z",  # before the epoch: still floored
                    "2024-02-29T23:00:00+02:00",  # offset: converted to UTC
                    "2026-01-01T00:00:00Z",
                    "2026-03-29T01:30:00Z",
                ],
                utc=True,
                format="ISO8601",
            ),
            "length_seconds": pd.Series([900, 60, 3600, 1, 7200], dtype="int64", index=index),
            "billable_seconds": pd.Series([900, None, 0, 5, 100], dtype="Int64", index=index),
            "work_item_id": pd.Series([100, None, 7, None, 3], dtype="Int64", index=index),
            "comment": ["x", "  ", None, "only comment", "é ünï"],
            "activity_type": [None] * 5,
        },
        index=index,
    )


def test_bodies_match_the_row_wise_reference() -> None:
    frame = _frame()
    user_ids = pd.Series(["u1", "u2", "u3", "u4", "u5"], index=frame.index)
    activity = {3: "at-3", 8: "", 9: None}
    expected = {
        int(row): _body(rec, user_ids[row], activity.get(row))
        for row, rec in zip(frame.index, frame.to_dict("records"), strict=True)
    }
    got = _bodies(frame, user_ids, activity)
    assert got == expected
    assert got[2]["timeStamp"] == "2026-09-01T06:00:00Z"
    assert got[3]["timeStamp"] == "1969-12-31T23:59:59Z"
    assert got[5]["timeStamp"] == "2024-02-29T21:00:00Z"
    # billable given: sent, equal to the length (row 2) or not; not given: left out (row 3)
    assert got[2]["billableLength"] == 900 and got[5]["billableLength"] == 0
    assert "billableLength" not in got[3]
    assert list(got) == [2, 3, 5, 8, 9]


def test_bodies_of_an_empty_frame() -> None:
    frame = _frame().iloc[:0]
    assert _bodies(frame, pd.Series([], dtype=object), {}) == {}
