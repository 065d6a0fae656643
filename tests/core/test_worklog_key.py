from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from timetracker_import.core.worklog_key import (
    WorklogKey,
    _utc_second_texts,
    key_from_row,
    key_from_worklog,
    keys_from_frame,
    normalize_comment,
    parse_api_timestamp,
)

USER = "AAAAAAAA-0000-0000-0000-000000000001"


def worklog(ts: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "w1",
        "timestamp": ts,
        "length": 1800,
        "workItemId": 42,
        "comment": "Code review",
        "user": {"id": USER},
    }
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("  Code   review\t\n done ", "Code review done"),
        ("Cafe\u0301", "Caf\u00e9"),  # decomposed e + accent -> NFC
        (float("nan"), ""),
        (pd.NA, ""),
    ],
)
def test_normalize_comment(text: object, expected: str) -> None:
    assert normalize_comment(text) == expected


def test_row_key_lowercases_user_and_truncates_to_the_second() -> None:
    ts = pd.Timestamp("2024-03-04T08:00:00.987654", tz="UTC")
    key = key_from_row(USER, ts, 1800, 42, " Code  review ")
    assert key == WorklogKey(USER.lower(), "2024-03-04T08:00:00Z", 1800, 42, "Code review")


def test_row_key_converts_other_zones_to_utc() -> None:
    ts = datetime(2024, 3, 4, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert key_from_row(USER, ts, 60, None, None).timestamp_utc == "2024-03-04T08:00:00Z"


def test_row_key_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="time zone"):
        key_from_row(USER, datetime(2024, 3, 4, 8), 60, None, None)


def test_row_key_none_and_nan_work_item_are_none() -> None:
    ts = pd.Timestamp("2024-03-04T08:00:00", tz="UTC")
    assert key_from_row(USER, ts, 60, pd.NA, "x").work_item_id is None  # type: ignore[arg-type]
    assert key_from_row(USER, ts, 60, None, "x").work_item_id is None


@pytest.mark.parametrize(
    "ts",
    [
        "2024-03-04T08:00:00Z",
        "2024-03-04T10:00:00+02:00",
        "2024-03-04T08:00:00.5Z",
        "2024-03-04T08:00:00.9999999Z",  # 7 fractional digits, as .NET sends
        "2024-03-04T03:00:00-05:00",
    ],
)
def test_worklog_key_equals_row_key_for_the_same_instant(ts: str) -> None:
    row = key_from_row(USER, pd.Timestamp("2024-03-04T08:00:00Z"), 1800, 42, "Code review")
    assert key_from_worklog(worklog(ts)) == row


def test_naive_worklog_timestamp_uses_the_given_offset() -> None:
    # naive = the user's local time; a user at UTC+01:00 writing 09:00 means 08:00 UTC
    wl = worklog("2024-03-04T09:00:00")
    assert key_from_worklog(wl, naive_offset_minutes=60).timestamp_utc == "2024-03-04T08:00:00Z"
    assert key_from_worklog(wl).timestamp_utc == "2024-03-04T09:00:00Z"


def test_worklog_key_comment_none_equals_empty_row_comment() -> None:
    wl = worklog("2024-03-04T08:00:00Z", comment=None, workItemId=None)
    row = key_from_row(USER.lower(), pd.Timestamp("2024-03-04T08:00:00Z"), 1800, None, "")
    assert key_from_worklog(wl) == row


def test_different_fields_give_different_keys() -> None:
    base = key_from_worklog(worklog("2024-03-04T08:00:00Z"))
    assert key_from_worklog(worklog("2024-03-04T08:00:01Z")) != base
    assert key_from_worklog(worklog("2024-03-04T08:00:00Z", length=1801)) != base
    assert key_from_worklog(worklog("2024-03-04T08:00:00Z", workItemId=43)) != base
    assert key_from_worklog(worklog("2024-03-04T08:00:00Z", comment="code review")) != base


def test_parse_api_timestamp_returns_aware_utc() -> None:
    parsed = parse_api_timestamp("2023-12-12T15:35:52.0292991")
    assert parsed == datetime(2023, 12, 12, 15, 35, 52, 29299, tzinfo=UTC)


def test_key_json_round_trip() -> None:
    key = key_from_worklog(worklog("2024-03-04T08:00:00Z"))
    assert WorklogKey.from_json(key.to_json()) == key
    no_item = key._replace(work_item_id=None)
    assert WorklogKey.from_json(no_item.to_json()) == no_item


def test_keys_from_frame_skips_rows_without_user() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-04T08:00:00Z", "2024-03-05T08:00:00Z"]),
            "length_seconds": [60, 120],
            "work_item_id": pd.array([7, None], dtype="Int64"),
            "comment": [None, "x"],
        },
        index=pd.Index([2, 3], name="source_row"),
    )
    keys = keys_from_frame(frame, pd.Series({2: USER, 3: None}))
    assert list(keys) == [2]
    assert keys[2] == WorklogKey(USER.lower(), "2024-03-04T08:00:00Z", 60, 7, "")


def _mixed_frame() -> pd.DataFrame:
    stamps = pd.Series(
        [
            "2024-03-04T08:00:00.999999Z",  # sub-second: floored, not rounded
            "1969-12-31T23:59:59.500Z",  # before the epoch: still floored
            "2024-03-31T01:30:00.25+01:00",  # another offset: converted to UTC
            "2200-01-01T00:00:00Z",
        ]
    )
    return pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(
                pd.to_datetime(stamps, utc=True, format="ISO8601")
            ).tz_convert("Europe/Berlin"),
            "length_seconds": [60, 120, 900, 1],
            "work_item_id": pd.array([7, None, 9, None], dtype="Int64"),
            "comment": ["  a \t b ", None, "Cafe\u0301", float("nan")],
        },
        index=pd.Index([5, 3, 9, 11], name="source_row"),
    )


def test_keys_from_frame_column_wise_equals_key_from_row() -> None:
    frame = _mixed_frame()
    assert _utc_second_texts(frame["timestamp"]) is not None  # the column-wise path is taken
    users = pd.Series({5: USER, 3: " Bob-ID ", 9: USER, 11: pd.NA})
    keys = keys_from_frame(frame, users)
    expected = {
        row: key_from_row(
            str(users[row]),
            frame["timestamp"][row],
            int(frame["length_seconds"][row]),
            frame["work_item_id"][row],
            frame["comment"][row],
        )
        for row in (5, 3, 9)
    }
    assert keys == expected
    # the stored key text (journal JSON) is pinned, not just equal to the per-row path
    assert keys[5].timestamp_utc == "2024-03-04T08:00:00Z"
    assert keys[3] == WorklogKey("bob-id", "1969-12-31T23:59:59Z", 120, None, "")
    assert keys[9].timestamp_utc == "2024-03-31T00:30:00Z"
    assert keys[9].comment == "Caf\u00e9"


def test_keys_from_frame_naive_timestamps_still_refused() -> None:
    frame = _mixed_frame()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="no time zone"):
        keys_from_frame(frame, pd.Series({5: USER, 3: USER, 9: USER, 11: USER}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11/2/2026, 9:30:00 AM", "2026-11-02T09:30:00"),
        ("11/2/2026 9:30 PM", "2026-11-02T21:30:00"),
        ("11/2/2026,\u202f12:05:09\u202fAM", "2026-11-02T00:05:09"),
        ("3/4/2024 13:05", "2024-03-04T13:05:00"),
        ("2026-11-03", "2026-11-03T00:00:00"),
        ("2018-06-29T05:36:21.3912345", "2018-06-29T05:36:21.391234"),
    ],
)
def test_naive_forms_the_service_returns_as_sent_are_read(text: str, expected: str) -> None:
    from timetracker_import.core.worklog_key import parse_timestamp_text

    parsed = parse_timestamp_text(text)
    assert parsed.tzinfo is None and parsed.isoformat() == expected


@pytest.mark.parametrize("text", ["13/2/2026 9:00 AM", "11/2/2026 13:00 PM", "yesterday", ""])
def test_unreadable_timestamps_are_a_value_error(text: str) -> None:
    from timetracker_import.core.worklog_key import parse_timestamp_text

    with pytest.raises(ValueError):
        parse_timestamp_text(text)


def test_export_reads_worklogs_the_old_importer_wrote() -> None:
    from timetracker_import.core.export import instant_or_none as export_parse

    us_style, date_only = export_parse("11/2/2026, 9:30:00 AM"), export_parse("2026-11-03")
    assert us_style is not None and us_style.isoformat() == "2026-11-02T09:30:00+00:00"
    assert date_only is not None and date_only.isoformat() == "2026-11-03T00:00:00+00:00"
