"""``core.schema.plainly_valid`` clears a frame without pandera: whatever it passes, the pandera
model ``ValidWorklog`` must pass too, and every rule breach must go to pandera."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.schema import plainly_valid, validate_worklogs
from timetracker_import.core.schema_models import ValidWorklog


def _frame(**changes: object) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user": pd.Series(["a@x", None, "b@x"], dtype=object).array,
            "timestamp": pd.to_datetime(["2026-03-02T08:00Z"] * 3, utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "length_seconds": [900, 1800, 60],
            "billable_seconds": pd.array([None, 0, 60], dtype="Int64"),
            "work_item_id": pd.array([7, None, 9], dtype="Int64"),
            "comment": pd.Series([None, "note", ""], dtype=object).array,
            "activity_type": pd.Series([None, "dev", None], dtype=object).array,
            "organization": pd.Series([None, None, "org"], dtype=object).array,
        },
        index=pd.Index([2, 3, 4], dtype="int64", name="source_row"),
    )
    for column in ("user", "comment", "activity_type", "organization"):
        frame[column] = frame[column].astype(object)  # as the mapping makes them
    for column, value in changes.items():
        if isinstance(value, tuple):  # (row position, value)
            at, cell = value
            frame.iloc[at, frame.columns.get_loc(column)] = cell  # type: ignore[index]
        else:
            frame[column] = value  # type: ignore[call-overload]
    return frame


def _pandera_passes(frame: pd.DataFrame) -> bool:
    try:
        ValidWorklog.validate(frame, lazy=True)
    except Exception:
        return False
    return True


def test_a_clean_frame_is_cleared_without_pandera_and_pandera_agrees() -> None:
    frame = _frame()
    assert plainly_valid(frame) and _pandera_passes(frame)
    assert plainly_valid(frame.iloc[:0]) and _pandera_passes(frame.iloc[:0])


@pytest.mark.parametrize(
    "changes",
    [
        {"length_seconds": (0, 0)},
        {"length_seconds": (1, -5)},
        {"billable_seconds": (2, -1)},
        {"work_item_id": (0, 0)},
        {"work_item_id": (2, -3)},
        {"comment": (1, None)},  # no work item, no comment
        {"comment": (1, " \t ")},  # whitespace only
        {"timestamp": (0, pd.NaT)},
        {"length_seconds": [900.0, 1800.0, 60.0]},  # another dtype
        {"user": ["a", "b", "c"]},  # pandas' str dtype, not object
        {"extra": [1, 2, 3]},  # strict: no other column
    ],
)
def test_every_breach_goes_to_pandera(changes: dict[str, object]) -> None:
    frame = _frame(**changes)
    if _pandera_passes(frame):
        assert plainly_valid(frame)
    else:
        assert not plainly_valid(frame), changes


def test_a_frame_with_a_breach_still_gets_pandera_s_rejections() -> None:
    frame = _frame(length_seconds=[900, 0, 60])
    valid, problems = validate_worklogs(frame)
    assert list(valid.index) == [2, 4]
    assert [(p.source_row, p.stage) for p in problems] == [(3, "validate")]
    assert "length must be greater than 0" in problems[0].reason


def test_a_missing_column_goes_to_pandera() -> None:
    frame = _frame().drop(columns=["organization"])
    assert not plainly_valid(frame)
    with pytest.raises(AssertionError, match="does not fit ValidWorklog"):
        validate_worklogs(frame)
