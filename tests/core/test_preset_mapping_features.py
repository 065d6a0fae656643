"""The mapping features added for presets: `join` columns and `skip_rows` with `empty` or
`optional`."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.mapping import Mapping, apply_mapping
from timetracker_import.errors import MappingError

HEADERS = ["First", "Last", "Date", "Hours", "Type"]


def _chunk(rows: list[list[object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=object)
    frame.index = pd.RangeIndex(2, 2 + len(rows))
    return frame


def _mapping(**extra: object) -> Mapping:
    data: dict[str, object] = {
        "fields": {
            "user": {"column": "First", "join": ["Last"]},
            "date": {"column": "Date"},
            "length": {"column": "Hours"},
            "comment": {"value": "x"},
        }
    }
    data.update(extra)
    return Mapping.model_validate(data)


def test_join_appends_columns_with_one_space_and_skips_empty_parts() -> None:
    chunk = _chunk(
        [
            ["Alice", "Example", "2024-03-04", "1", "Regular"],
            [" Bob ", None, "2024-03-04", "1", "Regular"],
            [None, "Solo", "2024-03-04", "1", "Regular"],
            [None, None, "2024-03-04", "1", "Regular"],
        ]
    )
    out, rejections = apply_mapping(_mapping(), HEADERS, chunk)
    assert out["user"].tolist() == ["Alice Example", "Bob", "Solo"]
    # every part empty: no user, which is rejected (issue 21), not booked to the token's user
    [blank] = rejections
    assert blank.source_row == 5 and blank.reason.startswith("user is empty")


def test_join_then_lookup_is_case_insensitive() -> None:
    mapping = Mapping.model_validate(
        {
            "fields": {
                "user": {"column": "First", "join": ["Last"], "lookup": "users"},
                "date": {"column": "Date"},
                "length": {"column": "Hours"},
                "comment": {"value": "x"},
            },
            "lookups": {"users": {"file": "u.csv", "key": "Name", "value": "User"}},
        }
    )
    chunk = _chunk(
        [["ALICE", "example", "2024-03-04", "1", ""], ["Eve", "X", "2024-03-04", "1", ""]]
    )
    out, rejections = apply_mapping(
        mapping, HEADERS, chunk, lookups={"users": {"alice example": "alice@example.com"}}
    )
    # issue 13: a name the lookup lacks passes on as written (joined), for the server to
    # resolve by display name; `required: true` on the lookup rejects it instead
    assert out["user"].tolist() == ["alice@example.com", "Eve X"]
    assert rejections == []
    required = mapping.model_copy(
        update={
            "lookups": {"users": mapping.lookups["users"].model_copy(update={"required": True})}
        }
    )
    out, rejections = apply_mapping(
        required, HEADERS, chunk, lookups={"users": {"alice example": "alice@example.com"}}
    )
    assert out["user"].tolist() == ["alice@example.com"]
    assert [r.source_row for r in rejections] == [3]
    assert rejections[0].column == "First"


def test_join_column_missing_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="Surname"):
        apply_mapping(
            Mapping.model_validate(
                {
                    "fields": {
                        "user": {"column": "First", "join": ["Surname"]},
                        "date": {"column": "Date"},
                        "length": {"column": "Hours"},
                    }
                }
            ),
            HEADERS,
            _chunk([["a", "b", "2024-03-04", "1", ""]]),
        )


def test_skip_rows_empty_needs_every_listed_column_empty() -> None:
    chunk = _chunk(
        [
            ["Alice", "Example", "2024-03-04", "1", None],
            [None, None, None, "3", None],  # a totals row
            ["Alice", "Example", None, "1", None],  # not a totals row: rejected, not skipped
        ]
    )
    mapping = _mapping(skip_rows={"empty": ["First", "Date"]})
    out, rejections = apply_mapping(mapping, HEADERS, chunk)
    assert out.index.tolist() == [2]
    assert [r.source_row for r in rejections] == [4]


def test_skip_rows_optional_filter_is_unused_when_its_column_is_absent() -> None:
    mapping = _mapping(skip_rows=[{"column": "Kind", "equals": "Break", "optional": True}])
    out, _ = apply_mapping(mapping, HEADERS, _chunk([["A", "B", "2024-03-04", "1", "Break"]]))
    assert len(out) == 1
    strict = _mapping(skip_rows=[{"column": "Kind", "equals": "Break"}])
    with pytest.raises(MappingError, match="Kind"):
        apply_mapping(strict, HEADERS, _chunk([["A", "B", "2024-03-04", "1", "Break"]]))


@pytest.mark.parametrize(
    "flt",
    [{"empty": []}, {"empty": ["A"], "column": "B", "equals": "x"}, {"column": "B"}],
)
def test_skip_rows_needs_exactly_one_form(flt: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _mapping(skip_rows=flt)


def test_work_item_regex_then_lookup_as_documented() -> None:
    mapping = Mapping.model_validate(
        {
            "fields": {
                "date": {"column": "Date"},
                "length": {"column": "Hours"},
                "work_item": {"column": "First", "regex": r"([A-Z]+-\d+)", "lookup": "wi"},
            },
            "lookups": {"wi": {"file": "k.csv", "key": "Key", "value": "Id"}},
        }
    )
    chunk = _chunk(
        [
            ["WEB-101 Hero layout", "", "2024-03-04", "1", ""],
            ["no key here", "", "2024-03-04", "1", ""],
            ["OPS-9 patch", "", "2024-03-04", "1", ""],
        ]
    )
    out, rejections = apply_mapping(mapping, HEADERS, chunk, lookups={"wi": {"web-101": "2001"}})
    assert out.loc[2, "work_item_id"] == 2001
    assert pd.isna(out["work_item_id"][3])  # no match: no work item (schema needs a comment)
    # issue 13: a key the lookup lacks (OPS-9) is not rejected: no work item, the key goes
    # into the (here unmapped) comment
    assert rejections == []
    assert pd.isna(out["work_item_id"][4])
    assert out.loc[4, "comment"] == "[OPS-9]"
    assert out.loc[2, "comment"] is None
