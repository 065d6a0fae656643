"""Pure export helpers: inclusive-day translation, windows, layout, order, flags."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timetracker_import.core.export import (
    EXPORT_COLUMNS,
    ExportFilter,
    RowBuilder,
    build_rows,
    chunked,
    day_range,
    export_columns,
    export_row,
    flatten_flags,
    format_query_instant,
    instant_or_none,
    sort_key,
    split_windows,
)

BERLIN = "Europe/Berlin"


def wl(wid: str, ts: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": wid,
        "timestamp": ts,
        "length": 5400,
        "billableLength": None,
        "workItemId": 42,
        "comment": "c",
        "user": {
            "email": "bob@example.com",
            "uniqueName": "bob@example.com",
            "name": "Bob",
            "displayName": "Bob B",
        },
        "activityType": {"name": "Development"},
        "createdTimestamp": "2026-03-04T10:00:00.1234567",
        "editedTimestamp": "2026-03-04T10:00:00.1234567",
        "flags": {"isFromApi": True, "isManuallyEntered": True, "isChanged": False},
    }
    base.update(extra)
    return base


def test_day_range_translates_inclusive_days_to_strict_bounds() -> None:
    r = day_range(date(2026, 3, 2), date(2026, 3, 8), BERLIN, today=date(2026, 1, 1))
    assert r.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert r.end == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
    assert r.query_from == datetime(2026, 3, 1, 22, 59, 59, tzinfo=UTC)
    assert format_query_instant(r.query_to) == "2026-03-08T23:00:00Z"


def test_day_range_edges_are_inclusive_of_first_and_last_day() -> None:
    r = day_range(date(2026, 3, 2), date(2026, 3, 2), "UTC", today=date(2026, 1, 1))
    assert r.contains(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    assert r.contains(datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC))
    assert not r.contains(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    assert not r.contains(datetime(2026, 3, 1, 23, 59, 59, 500000, tzinfo=UTC))


def test_day_range_over_dst_change_uses_local_midnights() -> None:
    r = day_range(date(2026, 3, 29), date(2026, 3, 29), BERLIN, today=date(2026, 1, 1))
    assert r.end - r.start == timedelta(hours=23)


def test_day_range_defaults_and_errors() -> None:
    r = day_range(None, None, "UTC", today=date(2026, 3, 31))
    assert (r.first, r.last) == (date(2026, 3, 2), date(2026, 3, 31))
    with pytest.raises(ValueError, match="after"):
        day_range(date(2026, 3, 5), date(2026, 3, 4), "UTC", today=date(2026, 3, 31))


def test_split_windows_cover_exactly_without_overlap() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=10, seconds=7)
    windows = split_windows(start, end, 7)
    assert len(windows) == 7
    assert windows[0][0] == start and windows[-1][1] == end
    for (_, b), (c, _) in zip(windows, windows[1:], strict=False):
        assert b == c
    assert split_windows(start, start, 3) == []
    assert len(split_windows(start, start + timedelta(seconds=2), 10)) == 2


def test_chunked_dedupes_and_limits() -> None:
    ids = list(range(1, 251)) + [1, 2]
    chunks = chunked(ids, 100)
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[0][0] == 1 and chunks[-1][-1] == 250


def test_parse_api_timestamp_variants() -> None:
    assert instant_or_none("2026-03-04T10:00:00Z") == datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert instant_or_none("2026-03-04T10:00:00") == datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert instant_or_none("2026-03-04T12:00:00+02:00") == datetime(2026, 3, 4, 10, tzinfo=UTC)
    seven_digits = instant_or_none("2026-03-04T10:00:00.1234567")
    two_digits = instant_or_none("2026-03-04T10:00:00.39")
    assert seven_digits is not None and seven_digits.microsecond == 123456
    assert two_digits is not None and two_digits.microsecond == 390000
    assert instant_or_none(None) is None


def test_export_row_layout_and_local_time() -> None:
    row = export_row(wl("a", "2026-03-04T23:30:00Z", billableLength=0), ZoneInfo(BERLIN))
    assert list(row) == list(EXPORT_COLUMNS)
    assert row["date"] == date(2026, 3, 5) and row["start"] == time(0, 30)
    assert row["timestamp_utc"] == "2026-03-04T23:30:00Z"
    assert row["length_hours"] == 1.5 and row["billable_seconds"] == 0
    assert row["user_email"] == "bob@example.com" and row["user_name"] == "Bob B"
    assert row["created_utc"] == "2026-03-04T10:00:00.123456Z"
    assert row["flags"] == "isManuallyEntered;isFromApi"
    assert (
        export_row(wl("a", "2026-03-04T10:00:00Z"), ZoneInfo("UTC"), organization="x")[
            "organization"
        ]
        == "x"
    )


def test_flatten_flags() -> None:
    assert flatten_flags(None) == ""
    assert flatten_flags({"isBillable": True, "isTracked": True, "zNew": True}) == (
        "isTracked;isBillable;zNew"
    )


def test_build_rows_filters_dedupes_and_orders() -> None:
    days = day_range(date(2026, 3, 4), date(2026, 3, 4), "UTC", today=date(2026, 1, 1))
    logs = [
        wl("b", "2026-03-04T10:00:00Z"),
        wl("a", "2026-03-04T10:00:00Z"),
        wl("c", "2026-03-04T09:59:59.5Z"),
        wl("a", "2026-03-04T10:00:00Z"),  # boundary duplicate from a second window
        wl("d", "2026-03-03T23:59:59.9Z"),  # inside the widened query, outside the days
        wl("e", "2026-03-05T00:00:00Z"),
        wl("f", "2026-03-04T11:00:00Z", activityType={"name": "Testing"}),
        wl("g", "2026-03-04T11:00:00Z", user={"email": "carol@example.com"}),
        wl("h", "2026-03-04T11:00:00Z", workItemId=7),
    ]
    rows = build_rows({None: logs}, ExportFilter.build(days), ZoneInfo("UTC"))
    assert [r["id"] for r in rows] == ["c", "a", "b", "f", "g", "h"]
    flt = ExportFilter.build(
        days, users=["BOB@example.com"], activity_types=["development"], work_items=[42]
    )
    assert [r["id"] for r in build_rows({None: logs}, flt, ZoneInfo("UTC"))] == ["c", "a", "b"]


def test_multi_org_rows_keep_same_ids_apart() -> None:
    days = day_range(date(2026, 3, 4), date(2026, 3, 4), "UTC", today=date(2026, 1, 1))
    rows = build_rows(
        {"B": [wl("x", "2026-03-04T10:00:00Z")], "A": [wl("x", "2026-03-04T10:00:00Z")]},
        ExportFilter.build(days),
        ZoneInfo("UTC"),
    )
    assert [(r["organization"], r["id"]) for r in rows] == [("A", "x"), ("B", "x")]
    assert export_columns(True)[:2] == ["id", "organization"]


def test_parse_api_timestamp_suffixes() -> None:
    want = datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert instant_or_none("2026-03-04T10:00:00z") == want
    assert instant_or_none(" 2026-03-04T10:00:00Z ") == want
    assert instant_or_none("2026-03-04T10:00:00.5z") == want.replace(microsecond=500000)
    assert instant_or_none("2026-03-04T11:00:00.25+01:00") == want.replace(microsecond=250000)
    with pytest.raises(ValueError):
        instant_or_none("yesterday")


_stamps = st.sampled_from(
    [
        "2026-03-04T10:00:00Z",
        "2026-03-04T10:00:00",
        "2026-03-04T23:30:00.1234567",
        "2026-03-04T12:00:00+02:00",
        "2026-03-03T23:59:59.9Z",
        "2026-03-05T00:00:00z",
        "2026-03-05T00:30:00+01:00",
    ]
)
_worklogs = st.builds(
    lambda wid, ts, created, flags, user, billable: wl(
        wid,
        ts,
        createdTimestamp=created,
        editedTimestamp=created,
        flags=flags,
        user={"email": user, "name": user},
        billableLength=billable,
    ),
    st.sampled_from(["a", "b", "c", "d"]),
    _stamps,
    st.none() | _stamps,
    st.none()
    | st.dictionaries(st.sampled_from(["isTracked", "isChanged", "zNew", "aX"]), st.booleans()),
    st.sampled_from(["bob@example.com", "carol@example.com"]),
    st.none() | st.integers(0, 9000),
)


@settings(max_examples=150, deadline=None)
@given(
    by_org=st.dictionaries(st.sampled_from([None, "A", "B"]), st.lists(_worklogs, max_size=8)),
    zone=st.sampled_from(["UTC", BERLIN, "America/New_York"]),
    users=st.sampled_from([(), ("BOB@example.com",)]),
)
def test_build_rows_equals_row_by_row_reference(
    by_org: dict[str | None, list[dict[str, object]]], zone: str, users: tuple[str, ...]
) -> None:
    """build_rows parses each timestamp once and memoises; the result must be what laying out
    each kept, first-seen worklog with export_row and sorting by sort_key gives."""
    days = day_range(date(2026, 3, 4), date(2026, 3, 4), zone, today=date(2026, 1, 1))
    flt = ExportFilter.build(days, users=users)
    seen: set[tuple[str | None, object]] = set()
    expected = []
    for org, logs in by_org.items():
        for log in logs:
            if (org, log["id"]) in seen or not flt.keep(log):
                continue
            seen.add((org, log["id"]))
            expected.append(export_row(log, ZoneInfo(zone), organization=org))
    expected.sort(key=sort_key)
    assert build_rows(by_org, flt, ZoneInfo(zone)) == expected


def test_row_builder_page_by_page_equals_all_at_once() -> None:
    days = day_range(date(2026, 3, 4), date(2026, 3, 4), "UTC", today=date(2026, 1, 1))
    flt = ExportFilter.build(days)
    a = [wl("b", "2026-03-04T10:00:00Z"), wl("a", "2026-03-04T10:00:00Z")]
    b = [wl("a", "2026-03-04T10:00:00Z"), wl("c", "2026-03-04T09:00:00Z")]  # "a" again
    c = [wl("a", "2026-03-04T08:00:00Z"), wl("z", "2026-03-05T08:00:00Z")]  # other org; z out
    builder = RowBuilder(flt, ZoneInfo(BERLIN))
    for org, page in ((None, a), ("X", c), (None, b)):
        builder.add(org, page)
    assert builder.received == 6
    rows = builder.rows()
    assert rows == build_rows({None: a + b, "X": c}, flt, ZoneInfo(BERLIN))
    assert [(r.get("organization"), r["id"]) for r in rows] == [
        ("X", "a"),
        (None, "c"),
        (None, "a"),
        (None, "b"),
    ]
