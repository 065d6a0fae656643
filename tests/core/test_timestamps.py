"""Dates, day/month order, times of day and DST handling in Europe/Berlin."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from timetracker_import.core.timestamps import localize, parse_datetimes, parse_times_of_day


def _one(cell: object, **kw: object) -> tuple[Any, Any, Any]:
    r = parse_datetimes(pd.Series([cell], dtype=object), **kw)  # type: ignore[arg-type]
    err = r.error.iloc[0]
    return r.naive.iloc[0], r.aware.iloc[0], None if pd.isna(err) else err


@pytest.mark.parametrize(
    ("cell", "order", "expected"),
    [
        ("2026-03-04 09:30", None, "2026-03-04 09:30"),
        ("25/03/2026", None, "2026-03-25 00:00"),  # first number > 12: only DMY fits
        ("03/03/2026", None, "2026-03-03 00:00"),  # day == month: not ambiguous
        ("03/04/2026 09:30", "MDY", "2026-03-04 09:30"),
        ("03.04.2026 09:30", "DMY", "2026-04-03 09:30"),
        ("04.13.2026 1:30 PM", "MDY", "2026-04-13 13:30"),
        (dt.datetime(2026, 1, 2, 3, 4), None, "2026-01-02 03:04"),
        (dt.date(2026, 1, 2), None, "2026-01-02 00:00"),
    ],
)
def test_naive_dates(cell: object, order: str | None, expected: str) -> None:
    naive, _aware, err = _one(cell, date_order=order)
    assert err is None
    assert naive == pd.Timestamp(expected)


def test_ambiguous_day_month_is_refused_without_declared_order() -> None:
    naive, _aware, err = _one("03/04/2026")
    assert pd.isna(naive)
    assert "ambiguous" in str(err) and "date_order" in str(err)
    # a preset user has no mapping to edit: the option every reading command has comes first
    assert "--date-order DMY or MDY" in str(err)


def test_explicit_format_wins_and_names_itself_on_failure() -> None:
    assert _one("04/03/2026", formats=["%d/%m/%Y"])[0] == pd.Timestamp("2026-03-04")
    assert "%d/%m/%Y" in str(_one("2026-03-04", formats=["%d/%m/%Y"])[2])


@pytest.mark.parametrize(
    ("cell", "utc"),
    [
        ("2026-03-04T09:30:00+02:00", "2026-03-04 07:30"),
        ("2026-03-04T09:30:00Z", "2026-03-04 09:30"),
    ],
)
def test_explicit_offset_is_honoured(cell: str, utc: str) -> None:
    naive, aware, err = _one(cell)
    assert err is None and pd.isna(naive)
    assert aware == pd.Timestamp(utc, tz="UTC")


def test_unparseable_and_invalid_calendar_dates() -> None:
    assert _one("soon")[2] is not None
    assert _one("2026-11-31")[2] is not None


def test_dst_gap_in_berlin_is_rejected_with_the_fix() -> None:
    utc, err = localize(pd.Series(pd.to_datetime(["2026-03-29 02:30"])), "Europe/Berlin")
    assert pd.isna(utc.iloc[0])
    assert err.iloc[0] == (
        "02:30 does not exist in Europe/Berlin on 2026-03-29, clocks jump from 02:00 to 03:00; "
        "use 03:00"
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("earlier", "2026-10-25 00:30"), ("later", "2026-10-25 01:30")],
)
def test_dst_overlap_follows_declared_policy(policy: str, expected: str) -> None:
    utc, err = localize(pd.Series(pd.to_datetime(["2026-10-25 02:30"])), "Europe/Berlin", policy)
    assert err.isna().all()
    assert utc.iloc[0] == pd.Timestamp(expected, tz="UTC")


def test_dst_overlap_rejected_by_default() -> None:
    utc, err = localize(pd.Series(pd.to_datetime(["2026-10-25 02:30"])), "Europe/Berlin")
    assert pd.isna(utc.iloc[0])
    assert "occurs twice" in err.iloc[0] and "dst_ambiguous" in err.iloc[0]


def test_ordinary_time_converted_to_utc() -> None:
    utc, _ = localize(pd.Series(pd.to_datetime(["2026-07-01 12:00"])), "Europe/Berlin")
    assert utc.iloc[0] == pd.Timestamp("2026-07-01 10:00", tz="UTC")
    assert str(utc.dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("9:30", "09:30:00"),
        ("12:15 AM", "00:15:00"),
        ("1:05 pm", "13:05:00"),
        ("09:30:15", "09:30:15"),
        (dt.time(8, 0), "08:00:00"),
    ],
)
def test_times_of_day(cell: object, expected: str) -> None:
    out, err = parse_times_of_day(pd.Series([cell], dtype=object))
    assert err.isna().all()
    assert out.iloc[0] == pd.Timedelta(expected)


@pytest.mark.parametrize("cell", ["25:00", "13:00 PM", "x"])
def test_bad_times_of_day(cell: str) -> None:
    out, err = parse_times_of_day(pd.Series([cell], dtype=object))
    assert pd.isna(out.iloc[0]) and err.notna().all()


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2026-11-31", None, "November 2026 has 30 days"),
        ("2026-02-29 09:00", None, "February 2026 has 28 days"),
        ("2026-13-01", None, "there is no month 13"),
        ("31.09.2026", "DMY", "September 2026 has 30 days"),
        ("09/31/2026", "MDY", "September 2026 has 30 days"),
        ("2024-02-29", None, None),  # a leap day
        ("2026-12-31", None, None),
        ("31.09.2026", None, None),  # order unknown: no claim about which is the day
    ],
)
def test_calendar_problem(text: str, order: str | None, expected: str | None) -> None:
    from timetracker_import.core.timestamps import calendar_problem

    problem = calendar_problem(text, order)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem and repr(text) in problem
