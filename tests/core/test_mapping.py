"""The mapping model (errors with key paths) and apply_mapping features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from timetracker_import.core.mapping import Mapping, apply_mapping, mapping_json_schema
from timetracker_import.core.schema import validate_worklogs
from timetracker_import.errors import MappingError
from timetracker_import.files.mapping_loader import mapping_from_dict

BASE: dict[str, Any] = {"fields": {"date": "Date", "start": "Start", "length": "Hours"}}


def _with(**fields: Any) -> dict[str, Any]:
    return {"fields": {**BASE["fields"], **fields}}


@pytest.mark.parametrize(
    ("data", "key_path"),
    [
        (_with(length={"column": "Hours", "unit": "days"}), "fields.length.unit"),
        (_with(user={"colum": "x"}), "fields.user.colum"),
        (_with(user={"column": "x", "value": "y"}), "fields.user"),
        (_with(user={"column": "x", "lookup": "nope"}), "fields.user.lookup"),
        (_with(comment={"column": "x", "regex": "(a"}), "fields.comment.regex"),
        (_with(comment={"column": "x", "unit": "hours"}), "fields.comment.unit"),
        ({"fields": {"length": "Hours"}}, "fields.timestamp"),
        ({"fields": {"timestamp": "T"}}, "fields.length"),
        ({"fields": {"timestamp": "T", "date": "D", "length": "L"}}, "fields.date"),
        ({**BASE, "timezone": "Mars/Olympus"}, "timezone"),
        ({**BASE, "date_order": "DDMM"}, "date_order"),
        ({**BASE, "rounding": {"unit": "minute", "mode": "sideways"}}, "rounding.mode"),
        ({**BASE, "header": False}, "fields.date.column"),
        ({**BASE, "colour": "red"}, "colour"),
    ],
)
def test_mapping_errors_carry_key_path(data: dict[str, Any], key_path: str) -> None:
    with pytest.raises(MappingError) as info:
        mapping_from_dict(data, source="m.yaml")
    assert info.value.key_path == key_path
    assert key_path in str(info.value) and "m.yaml" in str(info.value)


def test_json_schema_comes_from_the_model() -> None:
    schema = mapping_json_schema()
    assert schema["additionalProperties"] is False
    assert "fields" in schema["properties"]


HEADERS = ["Employee", "Date", "Start", "Hours", "Notes", "Tag", "Notes"]


def _chunk(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=range(2, 2 + len(rows)), dtype=object)


def _apply(
    extra: dict[str, Any], rows: Sequence[Sequence[object]], **top: Any
) -> tuple[pd.DataFrame, list]:
    m = Mapping.model_validate({"date_order": "DMY", **top, "fields": {**BASE["fields"], **extra}})
    return apply_mapping(
        m,
        HEADERS,
        _chunk(rows),
        lookups=top.pop("_lookups", None) or {"jira": {"abc-1": "1234"}},
        timezone="Europe/Berlin",
    )


ROW: list[object] = ["a@x", "04.03.2026", "09:00", "1,5", "fix #12", "dev", "second notes"]


def test_headers_match_case_and_space_insensitively_and_by_occurrence() -> None:
    frame, rej = _apply(
        {"user": " employee ", "comment": {"column": "NOTES", "occurrence": 2}}, [ROW]
    )
    assert rej == []
    assert frame.loc[2, "user"] == "a@x"
    assert frame.loc[2, "comment"] == "second notes"
    assert frame.loc[2, "timestamp"] == pd.Timestamp("2026-03-04 08:00", tz="UTC")
    assert frame.loc[2, "length_seconds"] == 5400


def test_regex_map_default_and_constant() -> None:
    frame, rej = _apply(
        {
            "work_item": {"column": "Notes", "regex": r"#(\d+)"},
            "activity_type": {"column": "Tag", "map": {"DEV": "Development"}, "default": "General"},
            "organization": {"value": "contoso"},
        },
        [ROW, [*ROW[:5], None, ROW[6]]],
    )
    assert rej == []
    assert frame["work_item_id"].tolist() == [12, 12]
    assert frame["activity_type"].tolist() == ["Development", "General"]
    assert frame["organization"].tolist() == ["contoso", "contoso"]


def _jira_lookup(required: bool) -> Mapping:
    return Mapping.model_validate(
        {
            "fields": {
                **BASE["fields"],
                "work_item": {"column": "Tag", "lookup": "jira"},
                "comment": {"column": "Notes", "occurrence": 2},
            },
            "lookups": {
                "jira": {"file": "x.csv", "key": "Key", "value": "Id", "required": required}
            },
            "date_order": "DMY",
        }
    )


def test_lookup_hit_and_miss_required() -> None:
    # required: true keeps the old rule: a key without an entry rejects the row
    rows = [[*ROW[:5], "ABC-1", ROW[6]], [*ROW[:5], "ABC-2", ROW[6]]]
    frame, rej = apply_mapping(
        _jira_lookup(True),
        HEADERS,
        _chunk(rows),
        lookups={"jira": {"abc-1": "1234"}},
        timezone="UTC",
    )
    assert frame["work_item_id"].tolist() == [1234]
    assert [(r.source_row, r.column, r.value) for r in rej] == [(3, "Tag", "ABC-2")]
    assert "lookup 'jira'" in rej[0].reason


def test_work_item_lookup_miss_keeps_the_key_in_the_comment() -> None:
    # issue 13: a key the lookup lacks leaves the work item empty, the key goes in the comment
    from timetracker_import.core.mapping import KEY_IN_COMMENT, LookupMisses

    rows = [[*ROW[:5], "ABC-1", ROW[6]], [*ROW[:5], "ABC-2", ROW[6]], [*ROW[:5], "ABC-2", None]]
    misses = LookupMisses()
    frame, rej = apply_mapping(
        _jira_lookup(False),
        HEADERS,
        _chunk(rows),
        lookups={"jira": {"abc-1": "1234"}},
        timezone="UTC",
        misses=misses,
    )
    assert rej == []
    assert frame["work_item_id"].tolist()[0] == 1234
    assert pd.isna(frame["work_item_id"].tolist()[1])
    assert frame["comment"].tolist() == [ROW[6], f"[ABC-2] {ROW[6]}", "[ABC-2]"]
    [miss] = misses.in_order()
    assert (miss.field, miss.lookup, miss.value, miss.outcome, miss.rows, miss.count) == (
        "work_item",
        "jira",
        "ABC-2",
        KEY_IN_COMMENT,
        [3, 4],
        2,
    )


def test_missing_column_is_a_mapping_error_listing_headers() -> None:
    with pytest.raises(MappingError) as info:
        _apply({"user": "Mitarbeiter"}, [ROW])
    assert info.value.key_path == "fields.user.column"
    assert "'Employee'" in str(info.value)


def test_map_stage_rejections_name_original_header_and_value() -> None:
    rows = [
        ROW,
        [*ROW[:1], "31.02.2026", *ROW[2:]],
        [*ROW[:3], "lots", *ROW[4:]],
        [*ROW[:3], "25", *ROW[4:]],
    ]
    frame, rej = _apply({}, rows)
    assert list(frame.index) == [2]
    got = {r.source_row: (r.stage, r.column, r.value) for r in rej}
    assert got == {
        3: ("map", "Date", "31.02.2026"),
        4: ("map", "Hours", "lots"),
        5: ("map", "Hours", "25"),
    }
    assert "over 24 hours" in rej[2].reason


def test_max_hours_configurable_and_dst_gap_blames_start() -> None:
    frame, rej = _apply({}, [[*ROW[:3], "25", *ROW[4:]]], max_hours=48)
    assert rej == [] and frame["length_seconds"].tolist() == [90000]
    frame, rej = _apply({}, [[ROW[0], "29.03.2026", "02:30", *ROW[3:]]])
    assert rej[0].column == "Start" and "clocks jump from 02:00 to 03:00" in rej[0].reason


def test_start_end_with_date_crosses_midnight_only_when_the_mapping_says_so() -> None:
    data = {
        "date_order": "DMY",
        "fields": {"date": "Date", "start": "Start", "end": "Hours", "comment": "Notes"},
    }
    chunk = _chunk([[*ROW[:2], "22:00", "02:30", *ROW[4:]]])
    # issue 21: an end before the start on the same day is no longer read as +24 h
    frame, rej = apply_mapping(Mapping.model_validate(data), HEADERS, chunk, timezone="UTC")
    assert frame.empty and rej[0].column == "Hours"
    assert "end is before start on the same day" in rej[0].reason
    night = Mapping.model_validate({**data, "end_before_start": "next_day"})
    frame, rej = apply_mapping(night, HEADERS, chunk, timezone="UTC")
    assert rej == [] and frame["length_seconds"].tolist() == [4.5 * 3600]


def test_skip_rows_counted_out_not_rejected() -> None:
    frame, rej = _apply(
        {}, [ROW, [*ROW[:5], "Break", ROW[6]]], skip_rows={"column": "Tag", "equals": "break"}
    )
    assert list(frame.index) == [2] and rej == []


def test_date_alone_means_start_of_day_and_rounding_policy() -> None:
    m = Mapping.model_validate(
        {
            "date_order": "DMY",
            "rounding": {"unit": "quarter_hour", "mode": "up"},
            "fields": {"date": "Date", "length": "Hours"},
        }
    )
    frame, _ = apply_mapping(m, HEADERS, _chunk([[*ROW[:3], "0:20", *ROW[4:]]]), timezone="UTC")
    assert frame.loc[2, "timestamp"] == pd.Timestamp("2026-03-04", tz="UTC")
    assert frame.loc[2, "length_seconds"] == 1800


def test_pandera_rejections_for_7pace_rules() -> None:
    rows = [
        ROW,
        [*ROW[:3], "0", *ROW[4:]],
        [*ROW[:4], None, ROW[5], None],
        [*ROW[:3], "-1", *ROW[4:]],
    ]
    frame, rej = _apply(
        {"comment": "Notes", "work_item": {"column": "Tag", "default": None}},
        [r[:5] + [None] + r[6:] for r in rows],
    )
    assert rej == []
    hours = {int(r): rows[r - 2][3] for r in frame.index}
    valid, problems = validate_worklogs(
        frame, {"length_seconds": ("Hours", hours), "comment": ("Notes", {})}
    )
    assert list(valid.index) == [2]
    got = sorted((p.source_row, p.stage, p.column, p.value) for p in problems)
    assert got == [
        (3, "validate", "Hours", "0"),
        (4, "validate", "Notes", None),
        (5, "validate", "Hours", "-1"),
    ]
    assert "7pace requires length > 0" in problems[0].reason or any(
        "7pace requires length > 0" in p.reason for p in problems
    )


def test_comment_keeps_its_whitespace_while_other_fields_are_trimmed() -> None:
    rows = [
        [" a@x\t", *ROW[1:4], "=SUM(A1)\t", " dev ", ROW[6]],
        [*ROW[:4], " @x", *ROW[5:]],
        [*ROW[:4], "\r\tline one\n", *ROW[5:]],
        [*ROW[:4], " \t ", *ROW[5:]],  # only whitespace: no comment
    ]
    frame, rej = _apply({"user": "Employee", "comment": "Notes", "activity_type": "Tag"}, rows)
    assert frame["comment"].tolist() == ["=SUM(A1)\t", " @x", "\r\tline one\n", None]
    assert frame.loc[2, "user"] == "a@x" and frame.loc[2, "activity_type"] == "dev"
    # The whitespace-only comment counts as empty for "comment or work item required".
    valid, rejected = validate_worklogs(frame)
    assert list(valid.index) == [2, 3, 4]
    assert [r.source_row for r in rejected] == [5]


def test_comment_map_and_lookup_match_ignoring_surrounding_whitespace() -> None:
    rows = [[*ROW[:4], " holiday ", *ROW[5:]], [*ROW[:4], " other ", *ROW[5:]]]
    frame, rej = _apply({"comment": {"column": "Notes", "map": {"Holiday": "Vacation"}}}, rows)
    assert rej == []
    assert frame["comment"].tolist() == ["Vacation", " other "]


def test_comment_from_an_excel_number_cell_is_text() -> None:
    frame, rej = _apply({"comment": "Notes"}, [[*ROW[:4], 42.0, *ROW[5:]]])
    assert rej == [] and frame.loc[2, "comment"] == "42"


def test_lookup_misses_count_every_row_but_name_the_first_ten() -> None:
    from timetracker_import.core.mapping import PASSED_ON, LookupMisses

    misses = LookupMisses()
    misses.add("user", "users", PASSED_ON, pd.Series(["Eve"] * 8, index=range(2, 10)))
    misses.add("user", "users", PASSED_ON, pd.Series(["Eve"] * 17, index=range(10, 27)))
    [miss] = misses.in_order()
    assert miss.count == 25 and miss.rows == list(range(2, 12))
    assert miss.to_dict()["rows"] == 25 and miss.to_dict()["first_rows"] == list(range(2, 12))


def test_work_item_with_a_zero_fraction_is_the_number() -> None:
    """A work item column that pandas or a spreadsheet wrote as floats ("101.0", where the
    column has an empty cell) was rejected as "not a whole number"; "101.5" still is."""
    rows = [[*ROW[:5], tag, *ROW[6:]] for tag in ("101.0", "0102.00", "103", "101.5")]
    frame, rej = _apply({"work_item": "Tag"}, rows)
    assert frame["work_item_id"].tolist() == [101, 102, 103]
    assert [(r.source_row, r.value) for r in rej] == [(5, "101.5")]
    assert "whole number" in rej[0].reason


def test_work_item_beyond_32_bits_is_too_large() -> None:
    """7pace's numbers are 32-bit (the sandbox refuses a larger workItemId, contract S22):
    such a work item passed validate and cost the import a batch split down to the row
    before the server refused it; it is the mapping's rejection, as a 19-digit one is."""
    tags = ("2147483647", "2147483648", "3000000000.0", "123456789012345678")
    frame, rej = _apply({"work_item": "Tag"}, [[*ROW[:5], tag, *ROW[6:]] for tag in tags])
    assert frame["work_item_id"].tolist() == [2147483647]
    assert [(r.source_row, r.value) for r in rej] == [
        (3, "2147483648"),
        (4, "3000000000.0"),
        (5, "123456789012345678"),
    ]
    assert all("too large" in r.reason for r in rej)
