"""Duration grammar, units and rounding."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from timetracker_import.core.durations import parse_durations, round_seconds


@pytest.mark.parametrize(
    ("cell", "unit", "seconds"),
    [
        ("1.5", "hours", 5400),
        ("1,5", "hours", 5400),
        ("1:30", "hours", 5400),
        ("1:30:00", "hours", 5400),
        ("01:30:00", "hours", 5400),
        ("1h 30m", "hours", 5400),
        ("1h30m", "hours", 5400),
        ("90m", "hours", 5400),
        ("45s", "hours", 45),
        ("PT1H30M", "hours", 5400),
        ("pt45m", "hours", 2700),
        ("90", "minutes", 5400),
        ("5400", "seconds", 5400),
        ("1:30", "seconds", 5400),  # clock form says its own unit
        (" 7,25 ", "hours", 26100),
        ("-1", "hours", -3600),
        ("0", "hours", 0),
        ("30:00", "hours", 108000),  # over 24 h parses; the mapping rejects it
        (dt.timedelta(hours=2), "hours", 7200),
        (dt.time(1, 30), "hours", 5400),
        (2.5, "hours", 9000),
        (90, "minutes", 5400),
    ],
)
def test_duration_forms(cell: object, unit: str, seconds: float) -> None:
    assert parse_durations(pd.Series([cell], dtype=object), unit).iloc[0] == seconds


@pytest.mark.parametrize("cell", ["abc", "1:75", "1.5.2", "h", None, "", True])
def test_not_durations_are_nan(cell: object) -> None:
    assert math.isnan(parse_durations(pd.Series([cell], dtype=object), "hours").iloc[0])


@pytest.mark.parametrize(
    ("seconds", "unit", "mode", "expected"),
    [
        (1.5, "exact", "nearest", 2),
        (1.4, "exact", "nearest", 1),
        (3960.0000000001, "second", "up", 3960),  # float noise must not round up
        (1199.2, "second", "up", 1200),
        (61, "minute", "down", 60),
        (61, "quarter_hour", "up", 900),
        (449, "quarter_hour", "nearest", 0),
        (450, "quarter_hour", "nearest", 900),
    ],
)
def test_rounding(seconds: float, unit: str, mode: str, expected: int) -> None:
    assert round_seconds(pd.Series([seconds]), unit, mode).iloc[0] == expected
