"""core.jira: Log Work cells read from the right, issue rows exploded into worklog rows."""

from __future__ import annotations

import pandas as pd
import pytest

from timetracker_import.core.jira import (
    OUTPUT_HEADERS,
    LogWorkError,
    Worklog,
    explode_worklogs,
    find_layout,
    parse_log_work,
)
from timetracker_import.errors import InputError

# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # the comment keeps its own separators and spaces (export-formats.md §5)
        (
            " Fixed; retested ;20240304093000+0100;Alice Example;5400",
            Worklog(" Fixed; retested ", "20240304093000+0100", "Alice Example", 5400),
        ),
        ("a;b;c;d;e;06/Mar/24 10:00;bob;60", Worklog("a;b;c;d;e", "06/Mar/24 10:00", "bob", 60)),
        (
            "Line one\nline; two;04/Mar/24 9:00 AM;bob;1",
            Worklog("Line one\nline; two", "04/Mar/24 9:00 AM", "bob", 1),
        ),
        # shorter forms fill from the right
        ("20240304093000+0100;;5400", Worklog(None, "20240304093000+0100", None, 5400)),
        ("Alice Example;5400", Worklog(None, None, "Alice Example", 5400)),
        ("Review;;;5400", Worklog("Review", None, None, 5400)),
        ("5400", Worklog(None, None, None, 5400)),
        (" 04/Mar/24 09:12 ; alice ; 60 ", Worklog(None, "04/Mar/24 09:12", "alice", 60)),
        ("   ;  ;  ;0", Worklog(None, None, None, 0)),  # 0 is kept: validate rejects it
        # Excel may hold a bare number
        (5400, Worklog(None, None, None, 5400)),
        (5400.0, Worklog(None, None, None, 5400)),
    ],
)
def test_cells_read_from_the_right(cell: object, expected: Worklog) -> None:
    assert parse_log_work(cell) == expected


@pytest.mark.parametrize("cell", [None, "", "   ", float("nan")])
def test_empty_cells_are_no_worklog(cell: object) -> None:
    assert parse_log_work(cell) is None


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("Fixed the bug", "must be whole seconds, got 'Fixed the bug'"),
        ("Forgot;06/Mar/24 11:00;alice;1h", "got '1h'"),
        ("Review;04/Mar/24;bob;", "the time spent (the last part) is empty"),
        ("x;y;z;1.5", "got '1.5'"),
        ("x;y;z;-60", "got '-60'"),
        ("x;y;z;٣", "got '٣'"),  # an Arabic-Indic digit is no ASCII number
        (-5, "must not be negative"),
        (1.5, "expected comment;date;author;seconds"),
        (True, "expected comment;date;author;seconds"),
    ],
)
def test_malformed_cells_say_why(cell: object, message: str) -> None:
    with pytest.raises(LogWorkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_log_work(cell)


def test_other_separator() -> None:
    assert parse_log_work("c|d|a|9", separator="|") == Worklog("c", "d", "a", 9)


# --------------------------------------------------------------------------- layout

HEADERS = ["\ufeffSummary", "Issue key", "Issue id", "Log Work", "Labels", "log  work", "Log Work"]


def test_layout_finds_every_log_work_column() -> None:
    layout = find_layout(HEADERS)
    assert layout.log_work == (3, 5, 6)
    assert (layout.issue_key, layout.issue_id, layout.summary) == (1, 2, 0)


def test_layout_without_issue_columns_is_still_usable() -> None:
    layout = find_layout(["Log Work", "Log Work"])
    assert layout.log_work == (0, 1)
    assert (layout.issue_key, layout.issue_id, layout.summary) == (None, None, None)


def test_not_a_jira_export_names_the_expected_headers() -> None:
    with pytest.raises(InputError) as info:
        find_layout(["Issue key", "Summary", "Time Spent"], source="x.csv")
    text = str(info.value)
    assert "x.csv is not a Jira issue export" in text
    assert "'Issue key', 'Summary', 'Time Spent'" in text  # what was found
    assert "one 'Log Work' column per worklog" in text  # what was expected


# --------------------------------------------------------------------------- explode


def chunk(rows: dict[int, list[object]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=range(len(HEADERS)))
    frame.index.name = "source_row"
    return frame.astype(object).where(frame.notna(), None)


def test_one_row_per_worklog_in_column_order() -> None:
    raw = chunk(
        {
            2: ["Hero", "WEB-1", "101", "A;04/Mar/24 09:00;alice;60", "x", None, "B;;;120"],
            3: ["Empty", "WEB-2", "102", None, None, "  ", None],
            5: ["Footer", "WEB-3", 103, None, None, "20240305100000+0100;;600", None],
        }
    )
    out = explode_worklogs(raw, find_layout(HEADERS))
    assert len(OUTPUT_HEADERS) == len(out.rows[0])
    assert out.rows == [
        ["WEB-1", "101", "Hero", "alice", "04/Mar/24 09:00", 60, "A", 2],
        ["WEB-1", "101", "Hero", None, None, 120, "B", 2],
        ["WEB-3", 103, "Footer", None, "20240305100000+0100", 600, None, 5],
    ]
    assert (out.issues, out.without_worklogs, out.rejections) == (3, 1, [])


def test_a_bad_cell_rejects_the_whole_issue_row() -> None:
    raw = chunk(
        {
            2: [
                "Hero",
                "WEB-1",
                "101",
                "Good;04/Mar/24 09:00;alice;60",
                None,
                "Bad;x;y;1h",
                "Worse",
            ],
            3: ["Ok", "WEB-2", "102", "Fine;;;30", None, None, None],
        }
    )
    out = explode_worklogs(raw, find_layout(HEADERS))
    assert out.rows == [["WEB-2", "102", "Ok", None, None, 30, "Fine", 3]]  # no WEB-1 rows
    [rej] = out.rejections
    assert (rej.source_row, rej.stage, rej.column, rej.value) == (
        2,
        "read",
        "Log Work",
        "Bad;x;y;1h",
    )
    assert rej.reason.startswith(
        "Log Work #2: the time spent (the last part) must be whole seconds, got '1h'; "
        "Log Work #3: the time spent (the last part) must be whole seconds, got 'Worse'"
    )
    assert "comment;date;author;seconds" in rej.reason
    assert (out.issues, out.without_worklogs) == (2, 0)
