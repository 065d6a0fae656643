"""``split_repeated_cells``: one row per repeated ``Log Work`` cell, read from the right."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.mapping import split_repeated_cells
from timetracker_import.errors import MappingError

HEADERS = ["Issue key", "Log Work", "Summary", "Log Work", "Log Work"]
PARTS = ["comment", "date", "author", "seconds"]


def chunk(rows: dict[int, list[object]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=range(len(HEADERS)))


def test_every_occurrence_split_from_the_right() -> None:
    raw = chunk(
        {
            2: ["WEB-1", " Fixed; retested ;20240304093000+0100;Alice Example;5400", "s",
                "Review;;;1800", None],
            3: ["WEB-2", None, "s", "", "20240305100000+0100;;600"],
            5: ["WEB-3", None, "s", None, None],
        }
    )  # fmt: skip
    out = split_repeated_cells(raw, HEADERS, ["log work"], PARTS)
    assert out.to_dict("records") == [
        {"source_row": 2, "part_no": 1, "comment": " Fixed; retested ",
         "date": "20240304093000+0100", "author": "Alice Example", "seconds": "5400"},
        {"source_row": 2, "part_no": 2, "comment": "Review", "date": None, "author": None,
         "seconds": "1800"},
        {"source_row": 3, "part_no": 1, "comment": None, "date": "20240305100000+0100",
         "author": None, "seconds": "600"},
    ]  # fmt: skip


def test_short_cell_fills_from_the_right() -> None:
    raw = chunk({2: ["K", "Alice Example;5400", "", None, None]})
    out = split_repeated_cells(raw, HEADERS, ["Log Work"], PARTS)
    row = out.iloc[0]
    assert (row["comment"], row["date"], row["author"], row["seconds"]) == (
        None, None, "Alice Example", "5400",
    )  # fmt: skip


def test_letters_without_header_and_missing_columns() -> None:
    raw = pd.DataFrame({0: ["a|b"], 1: ["c|d"]}, index=[1])
    out = split_repeated_cells(raw, ["A", "B"], ["b"], ["x", "y"], separator="|", has_header=False)
    assert out[["source_row", "x", "y"]].values.tolist() == [[1, "c", "d"]]
    with pytest.raises(MappingError, match="none of the columns 'Log Work'"):
        split_repeated_cells(raw, ["A", "B"], ["Log Work"], ["x"])
