"""Issue 21 in the mapping: start + end give the true length (across midnight, days and
DST), billable yes/no columns, blank users, fallbacks for empty fields, and messages that
name only what is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from timetracker_import.core.mapping import Mapping, apply_mapping, effective_mapping
from timetracker_import.errors import MappingError

HEADERS = ["Email", "Start date", "Start time", "End date", "End time", "Billable", "Notes"]


def _chunk(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=range(2, 2 + len(rows)), dtype=object)


def _mapping(**extra: Any) -> Mapping:
    fields = {
        "user": "Email",
        "date": "Start date",
        "start": "Start time",
        "end_date": "End date",
        "end": "End time",
        "comment": "Notes",
    }
    fields.update(extra.pop("fields", {}))
    return Mapping.model_validate({"fields": fields, **extra})


def _row(start_day: str, start: str, end_day: str | None, end: str, **cells: Any) -> list[object]:
    return [
        cells.get("email", "a@x"),
        start_day,
        start,
        end_day,
        end,
        cells.get("billable"),
        cells.get("notes", "work"),
    ]


def test_an_entry_across_midnight_counts_the_hours_of_both_days() -> None:
    frame, rej = apply_mapping(
        _mapping(max_hours=48),
        HEADERS,
        _chunk([_row("2024-03-07", "09:00", "2024-03-08", "11:15")]),
        timezone="UTC",
    )
    assert rej == []
    assert frame["length_seconds"].tolist() == [26 * 3600 + 15 * 60]
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-03-07 09:00", tz="UTC")]


def test_an_entry_longer_than_max_hours_is_rejected_with_the_split_command() -> None:
    frame, [rej] = apply_mapping(
        _mapping(),
        HEADERS,
        _chunk([_row("2024-03-07", "09:00", "2024-03-08", "11:15")]),
        timezone="UTC",
    )
    assert frame.empty and rej.column == "End time"
    assert "over 24 hours" in rej.reason and "convert split-days" in rej.reason


def test_the_length_follows_the_clock_across_a_dst_change() -> None:
    # Berlin, 2026-03-29: clocks jump from 02:00 to 03:00, so 01:00 -> 04:00 is 2 hours;
    # 2026-10-25 they go back, so 01:00 -> 04:00 is 4 hours.
    rows = [
        _row("2026-03-29", "01:00", "2026-03-29", "04:00"),
        _row("2026-10-25", "01:00", "2026-10-25", "04:00"),
        _row("2026-03-28", "22:00", "2026-03-29", "06:00"),
    ]
    frame, rej = apply_mapping(_mapping(), HEADERS, _chunk(rows), timezone="Europe/Berlin")
    assert rej == []
    assert frame["length_seconds"].tolist() == [2 * 3600, 4 * 3600, 7 * 3600]


def test_an_end_before_the_start_on_the_same_day_is_rejected_not_read_as_23_hours() -> None:
    mapping = _mapping(fields={"end_date": None})
    data = mapping.model_dump(exclude_none=True)
    mapping = Mapping.model_validate(data)
    chunk = _chunk([_row("2024-03-07", "09:00", None, "08:00")])
    frame, [rej] = apply_mapping(mapping, HEADERS, chunk, timezone="UTC")
    assert frame.empty and rej.column == "End time" and rej.value == "08:00"
    assert "end is before start on the same day" in rej.reason
    assert "end_before_start: next_day" in rej.reason and "fields.end_date" in rej.reason
    # the mapping may say that times wrap (night shifts): then it is the next morning
    wraps = Mapping.model_validate({**data, "end_before_start": "next_day"})
    frame, rejections = apply_mapping(wraps, HEADERS, chunk, timezone="UTC")
    assert rejections == [] and frame["length_seconds"].tolist() == [23 * 3600]


def test_an_end_date_before_the_start_and_an_empty_end_date() -> None:
    rows = [
        _row("2024-03-07", "09:00", "2024-03-06", "10:00"),  # a day before
        _row("2024-03-07", "09:00", None, "10:30"),  # empty end date: the start's day
        _row("2024-03-07", "09:00", "2024-03-07", "09:00"),  # no length
    ]
    frame, rej = apply_mapping(_mapping(), HEADERS, _chunk(rows), timezone="UTC")
    assert frame["length_seconds"].to_dict() == {3: 5400}
    reasons = {r.source_row: r.reason for r in rej}
    assert reasons[2] == "end is before start; check the times"
    assert reasons[4].startswith("end equals start: the entry has no length")


def test_full_date_times_as_start_and_end() -> None:
    mapping = Mapping.model_validate(
        {"fields": {"user": "Email", "start": "Start date", "end": "End date", "comment": "Notes"}}
    )
    rows = [
        _row("2024-03-07 22:00", "", "2024-03-08 01:30", ""),
        _row("2024-03-07 22:00", "", "2024-03-07 21:00", ""),
    ]
    frame, [rej] = apply_mapping(mapping, HEADERS, _chunk(rows), timezone="UTC")
    assert frame["length_seconds"].to_dict() == {2: 3.5 * 3600}
    assert rej.source_row == 3 and rej.reason == "end is before start; check the times"


def test_end_date_needs_date_start_and_end() -> None:
    with pytest.raises(ValueError, match="fields.end_date"):
        Mapping.model_validate(
            {"fields": {"timestamp": "Start date", "end_date": "End date", "length": "Notes"}}
        )


# --------------------------------------------------------------------------- billable


def test_a_billable_column_gives_the_whole_length_or_zero() -> None:
    mapping = _mapping(fields={"billable": {"column": "Billable", "map": {"Billed": "yes"}}})
    rows = [
        _row("2024-03-07", "09:00", "2024-03-07", "10:00", billable="Yes"),
        _row("2024-03-07", "11:00", "2024-03-07", "11:30", billable="no"),
        _row("2024-03-07", "12:00", "2024-03-07", "12:15", billable=None),
        _row("2024-03-07", "13:00", "2024-03-07", "13:45", billable="Billed"),
        _row("2024-03-07", "14:00", "2024-03-07", "14:45", billable="maybe"),
        _row("2024-03-07", "15:00", "2024-03-07", "15:45", billable=True),  # an Excel cell
    ]
    frame, [rej] = apply_mapping(mapping, HEADERS, _chunk(rows), timezone="UTC")
    assert frame["billable_seconds"].tolist() == [3600, 0, pd.NA, 2700, 2700]
    assert rej.source_row == 6 and rej.column == "Billable" and rej.value == "maybe"
    assert "billable must be Yes or No" in rej.reason and "map:" in rej.reason


def test_billable_and_billable_length_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="fields.billable"):
        _mapping(fields={"billable": "Billable", "billable_length": {"column": "Billable"}})


# --------------------------------------------------------------------------- users


def test_a_blank_user_is_rejected_unless_the_mapping_says_default_me() -> None:
    rows = [
        _row("2024-03-07", "09:00", "2024-03-07", "10:00", email=" "),
        _row("2024-03-07", "09:00", "2024-03-07", "10:00", email="b@x"),
    ]
    frame, [rej] = apply_mapping(_mapping(), HEADERS, _chunk(rows), timezone="UTC")
    assert list(frame.index) == [3]
    assert rej.source_row == 2 and rej.column == "Email"
    assert rej.reason.startswith("user is empty") and "default: me" in rej.reason
    me = _mapping(fields={"user": {"column": "Email", "default": "me"}})
    frame, rejections = apply_mapping(me, HEADERS, _chunk(rows), timezone="UTC")
    assert rejections == [] and frame["user"].tolist() == [None, "b@x"]


def test_without_a_user_field_every_row_is_the_token_user() -> None:
    frame, rej = apply_mapping(
        _mapping(fields={"user": None}),
        HEADERS,
        _chunk([_row("2024-03-07", "09:00", "2024-03-07", "10:00")]),
        timezone="UTC",
    )
    assert rej == [] and frame["user"].tolist() == [None]


# --------------------------------------------------------------------------- fallbacks


def test_a_comment_fallback_fills_rows_without_notes() -> None:
    headers = ["Date", "Hours", "Project", "Task", "Notes"]
    mapping = Mapping.model_validate(
        {
            "fields": {
                "date": "Date",
                "length": "Hours",
                "comment": {
                    "column": "Notes",
                    "fallback": {"column": "Project", "join": ["Task"], "separator": " / "},
                },
            }
        }
    )
    rows: list[list[object]] = [
        ["2024-03-04", "1", "Internal", "Meetings", None],
        ["2024-03-04", "1", "Internal", None, ""],
        ["2024-03-04", "1", "Internal", "Meetings", "Notes win"],
        ["2024-03-04", "1", None, None, None],
    ]
    frame, rej = apply_mapping(mapping, headers, _chunk(rows), timezone="UTC")
    assert rej == []
    assert frame["comment"].to_dict() == {
        2: "Internal / Meetings",
        3: "Internal",
        4: "Notes win",
        5: None,  # nothing at all: validation rejects it (7pace needs a comment or work item)
    }


def test_a_fallback_replaces_an_optional_column_the_file_lacks() -> None:
    spec = {
        "column": "Issue Key",
        "optional": True,
        "lookup": "keys",
        "fallback": {"column": "Notes", "regex": r"#(\d+)"},
    }
    data = {
        "fields": {"date": "Date", "length": "Hours", "comment": "Notes", "work_item": spec},
        "lookups": {"keys": {"file": "k.csv", "key": "Key", "value": "Id"}},
    }
    mapping = Mapping.model_validate(data)
    without = ["Date", "Hours", "Notes"]
    assert effective_mapping(mapping, without, True).fields.work_item.column == "Notes"  # type: ignore[union-attr]
    frame, _ = apply_mapping(mapping, without, _chunk([["2024-03-04", "1", "fix #12"]]))
    assert frame["work_item_id"].tolist() == [12]
    # with the column: its key through the lookup; an empty cell falls back to the notes;
    # a key the lookup lacks goes into the comment, not to the fallback
    with_key = ["Date", "Hours", "Notes", "Issue Key"]
    rows: list[list[object]] = [
        ["2024-03-04", "1", "a #12", "WEB-1"],
        ["2024-03-04", "1", "b #13", None],
        ["2024-03-04", "1", "c #14", "OPS-9"],
    ]
    frame, rej = apply_mapping(mapping, with_key, _chunk(rows), lookups={"keys": {"web-1": "2001"}})
    assert rej == []
    assert frame["work_item_id"].tolist() == [2001, 13, pd.NA]
    assert frame["comment"].tolist() == ["a #12", "b #13", "[OPS-9] c #14"]


def test_a_fallback_names_its_key_path_in_mapping_errors() -> None:
    with pytest.raises(ValueError, match=r"fields\.comment\.fallback\.lookup"):
        Mapping.model_validate(
            {
                "fields": {
                    "date": "Date",
                    "length": "Hours",
                    "comment": {"column": "Notes", "fallback": {"column": "X", "lookup": "no"}},
                }
            }
        )


# --------------------------------------------------------------------------- messages


def test_the_missing_column_message_names_only_what_the_file_lacks() -> None:
    # the Azure DevOps query preset on an export without Changed Date: Completed Work is
    # there and must not be listed as missing
    mapping = Mapping.model_validate(
        {
            "fields": {
                "date": {"column": "Changed Date", "optional": True},
                "length": "Completed Work",
                "work_item": "ID",
                "comment": "Title",
            }
        }
    )
    headers = ["ID", "Work Item Type", "Title", "Completed Work"]
    with pytest.raises(MappingError) as caught:
        effective_mapping(mapping, headers, True)
    message = str(caught.value)
    assert "no column for the start time" in message
    assert "'Changed Date' (fields.date)" in message
    assert "looks for 'Completed Work'" not in message
    assert "--date YYYY-MM-DD" in (caught.value.hint or "")


def test_on_duplicate_key_needs_a_key() -> None:
    with pytest.raises(ValueError, match="on_duplicate_key"):
        _mapping(on_duplicate_key="last")
    assert _mapping(key="Notes", on_duplicate_key="last").on_duplicate_key == "last"


def _day_rows(cells: Sequence[Sequence[object]], fields: dict[str, Any], zone: str) -> Any:
    mapping = Mapping.model_validate({"fields": {"user": "Who", "comment": "What", **fields}})
    return apply_mapping(
        mapping, ["Who", "What", "Day", "Start", "Hours"], _chunk(cells), timezone=zone
    )


def test_a_date_without_a_time_starts_at_the_first_instant_of_a_day_that_skips_midnight() -> None:
    # Harvest, BambooHR, Azure DevOps and the old importer's Date without Start book a day,
    # not a time. In America/Santiago the clocks jumped from 00:00 to 01:00 on 2024-09-08:
    # every such row of that day was rejected, told to "use 01:00" in a file with no time.
    fields = {"date": "Day", "length": {"column": "Hours", "unit": "hours"}}
    frame, rej = _day_rows(
        [["a@x", "x", "2024-09-08", None, "7.5"], ["a@x", "y", "2024-09-07", None, "1"]],
        fields,
        "America/Santiago",
    )
    assert rej == []
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2024-09-08 01:00", tz="America/Santiago").tz_convert("UTC"),
        pd.Timestamp("2024-09-07 00:00", tz="America/Santiago").tz_convert("UTC"),
    ]
    # where the clocks go back to midnight (Havana, 2024-11-03) the day starts at the first
    # of the two 00:00s, instead of being rejected as ambiguous
    frame, rej = _day_rows([["a@x", "x", "2024-11-03", None, "1"]], fields, "America/Havana")
    assert rej == []
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-11-03 04:00", tz="UTC")]
    # an empty Start is the same day start; a written 00:00 is still a time that does not exist
    fields["start"] = "Start"
    frame, rej = _day_rows(
        [["a@x", "x", "2024-09-08", None, "1"], ["a@x", "y", "2024-09-08", "00:00", "1"]],
        fields,
        "America/Santiago",
    )
    assert frame.index.tolist() == [2]
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-09-08 04:00", tz="UTC")]
    [bad] = rej
    assert bad.source_row == 3 and "00:00 does not exist in America/Santiago" in bad.reason
