"""core.split_days: cut entries at local midnight (convert split-days)."""

from __future__ import annotations

import pandas as pd

from timetracker_import.core.split_days import day_parts, share_billable, split_rows

UTC = pd.Timestamp


def test_an_entry_within_a_day_is_one_part() -> None:
    start = UTC("2024-03-07 08:00", tz="UTC")
    assert day_parts(start, 3600, "Europe/Berlin") == [(start, 3600)]


def test_an_entry_over_three_days_is_cut_at_each_local_midnight() -> None:
    # Berlin (UTC+1): 2024-03-07 09:00 to 2024-03-09 02:00 local
    start = UTC("2024-03-07 08:00", tz="UTC")
    parts = day_parts(start, (15 + 24 + 2) * 3600, "Europe/Berlin")
    assert [(p.isoformat(), n / 3600) for p, n in parts] == [
        ("2024-03-07T08:00:00+00:00", 15.0),
        ("2024-03-07T23:00:00+00:00", 24.0),
        ("2024-03-08T23:00:00+00:00", 2.0),
    ]


def test_a_dst_night_has_the_hours_the_clock_shows() -> None:
    # 2026-03-28 22:00 to 2026-03-29 06:00 in Berlin: 2 h before midnight, 5 h after
    # (the clocks jump from 02:00 to 03:00)
    start = UTC("2026-03-28 21:00", tz="UTC")
    parts = day_parts(start, 7 * 3600, "Europe/Berlin")
    assert [n / 3600 for _, n in parts] == [2.0, 5.0]
    assert parts[1][0] == UTC("2026-03-28 23:00", tz="UTC")  # local midnight, UTC+1


def test_billable_is_shared_in_proportion_and_adds_up() -> None:
    assert share_billable(100, [1, 1, 1]) == [33, 34, 33]
    assert sum(share_billable(7, [5, 3, 9, 1])) == 7
    assert share_billable(0, [10, 20]) == [0, 0]


def test_split_rows_keep_every_field_and_name_the_part() -> None:
    frame = pd.DataFrame(
        {
            "user": [None, "bob@example.com"],
            "timestamp": pd.to_datetime(["2024-03-07 22:00Z", "2024-03-08 09:00Z"], utc=True),
            "length_seconds": [4 * 3600, 3600],
            "billable_seconds": pd.array([4 * 3600, None], dtype="Int64"),
            "work_item_id": pd.array([12, None], dtype="Int64"),
            "comment": ["night", "day"],
            "activity_type": ["Development", None],
            "organization": [None, None],
        },
        index=pd.Index([2, 3], name="source_row"),
    )
    rows = split_rows(frame, "UTC")
    assert rows == [
        (2, [2, "1/2", None, "2024-03-07T22:00:00Z", 7200, 7200, 12, "Development", "night", None]),
        (2, [2, "2/2", None, "2024-03-08T00:00:00Z", 7200, 7200, 12, "Development", "night", None]),
        (
            3,
            [
                3,
                "1/1",
                "bob@example.com",
                "2024-03-08T09:00:00Z",
                3600,
                None,
                None,
                None,
                "day",
                None,
            ],
        ),
    ]
