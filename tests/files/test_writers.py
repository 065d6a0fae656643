"""CSV/XLSX writing: round trips, formula neutralisation, atomic replacement."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tests.files.golden import assert_golden
from timetracker_import.errors import InputError
from timetracker_import.files.readers import open_table
from timetracker_import.files.writers import (
    TableWriter,
    check_parent,
    neutralise_cell,
    write_table,
    write_text_atomic,
)

HEADERS = ["User", "Start", "Length", "Comment", "Amount", "Billable"]
ROWS: list[list[Any]] = [
    [
        "alice@example.com",
        dt.datetime(2026, 11, 2, 9, 30),
        dt.timedelta(hours=26, minutes=5),
        'Grüße; "quoted", comma',
        -12.5,
        True,
    ],
    [
        '=HYPERLINK("http://evil")',
        dt.datetime(2026, 11, 3, 14, 0),
        dt.timedelta(minutes=45),
        "-1+1",
        -3,
        False,
    ],
    [None, None, None, "multi\nline", 0, None],
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 123", "'+49 30 123"),
        ("-rm", "'-rm"),
        ("-1.5", "-1.5"),
        ("+2", "+2"),
        ("-0,25", "-0,25"),
        ("-1+2", "'-1+2"),
        ("-1.5e3", "'-1.5e3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (-1, -1),
        (-2.5, -2.5),
        (0, 0),
        (None, None),
        (True, True),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1)),
    ],
)
def test_neutralise_cell(value: Any, expected: Any) -> None:
    result = neutralise_cell(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter", "read_delimiter"),
    [
        ("out.csv", "utf-8", None, ","),
        ("out.csv", "utf-8-sig", ";", ";"),
        ("out.tsv", "utf-8", None, "\t"),
        ("out.txt", "utf-16", "\t", "\t"),
        ("out.txt", "utf-16-le", "\t", "\t"),
        ("out.csv", "utf-16-be", None, ","),
        ("out.csv", "cp1252", "|", "|"),
    ],
)
def test_csv_round_trip(
    tmp_path: Path, name: str, encoding: str, delimiter: str | None, read_delimiter: str
) -> None:
    path = tmp_path / name
    write_table(path, HEADERS, ROWS, encoding=encoding, delimiter=delimiter)
    table = open_table(path, encoding=None if encoding != "cp1252" else "cp1252")
    assert table.delimiter == read_delimiter
    assert table.headers == HEADERS
    frame = table.read_all()
    assert list(frame.loc[2]) == [
        "alice@example.com",
        "2026-11-02 09:30:00",
        "26:05:00",
        'Grüße; "quoted", comma',
        "-12.5",
        "true",
    ]
    assert list(frame.loc[3]) == [
        '\'=HYPERLINK("http://evil")',
        "2026-11-03 14:00:00",
        "0:45:00",
        "'-1+1",
        "-3",
        "false",
    ]
    assert list(frame.loc[4]) == [None, None, None, "multi\nline", "0", None]


def test_csv_bytes_golden(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_table(path, HEADERS, ROWS)
    assert_golden("reader_writer_table.csv", path.read_bytes())


def test_xlsx_round_trip_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_table(path, HEADERS, ROWS)
    frame = open_table(path).read_all()
    assert list(frame.loc[2]) == [
        "alice@example.com",
        dt.datetime(2026, 11, 2, 9, 30),
        dt.timedelta(hours=26, minutes=5),
        'Grüße; "quoted", comma',
        -12.5,
        True,
    ]
    assert list(frame.loc[3]) == [
        '\'=HYPERLINK("http://evil")',
        dt.datetime(2026, 11, 3, 14),
        dt.timedelta(minutes=45),
        "'-1+1",
        -3,
        False,
    ]
    assert list(frame.loc[4]) == [None, None, None, "multi\nline", 0, None]


def test_xlsx_text_is_never_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_table(path, ["=bad header", "n"], [["=1+1", -1], ["SUM(A1)", 2.5]])
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    assert (ws["A1"].value, ws["A1"].data_type) == ("'=bad header", "s")
    assert (ws["A2"].value, ws["A2"].data_type) == ("'=1+1", "s")
    assert (ws["B2"].value, ws["B2"].data_type) == (-1, "n")
    assert ws["A3"].data_type == "s"


def test_xlsx_date_formats(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    values = [
        dt.datetime(2026, 11, 2, 9, 30),
        dt.date(2026, 11, 2),
        dt.time(9, 30),
        dt.timedelta(hours=30),
    ]
    write_table(path, ["a", "b", "c", "d"], [values])
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    formats = [ws.cell(2, c).number_format for c in range(1, 5)]
    assert formats == ["yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd", "hh:mm:ss", "[h]:mm:ss"]
    assert all(ws.cell(2, c).is_date for c in range(1, 5))


def test_aware_datetime_written_as_iso_text(tmp_path: Path) -> None:
    stamp = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for name in ("a.csv", "a.xlsx"):
        write_table(tmp_path / name, ["t"], [[stamp]])
        assert open_table(tmp_path / name).read_all().loc[2, 0] == "2026-11-02T09:30:00+01:00"


def test_pandas_and_numpy_values(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "f": [np.float64(1.5), np.nan],
            "t": [pd.Timestamp("2026-11-02 09:30"), pd.NaT],
            "d": [pd.Timedelta(minutes=90), pd.NaT],
        }
    )
    rows = list(frame.itertuples(index=False))
    write_table(tmp_path / "p.csv", list(frame.columns), rows)
    write_table(tmp_path / "p.xlsx", list(frame.columns), rows)
    assert open_table(tmp_path / "p.csv").read_all().values.tolist() == [
        ["1", "1.5", "2026-11-02 09:30:00", "1:30:00"],
    ]
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines()[2] == ",,,"
    assert open_table(tmp_path / "p.xlsx").read_all().values.tolist() == [
        [1, 1.5, dt.datetime(2026, 11, 2, 9, 30), dt.timedelta(minutes=90)],
    ]


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_table_writer_streams_chunks(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with TableWriter(path, ["i", "sq"]) as writer:
        for start in range(0, 30, 10):
            writer.write_rows([i, i * i] for i in range(start, start + 10))
        assert not path.exists()  # nothing visible before the end
    assert writer.rows_written == 30
    frame = open_table(path).read_all()
    assert len(frame) == 30 and list(frame.index[:2]) == [2, 3]
    assert list(frame.loc[31]) in (["29", "841"], [29, 841])


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx"])
def test_crash_leaves_no_half_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_table(path, ["old"], [["kept"]])
    before = path.read_bytes()

    def rows() -> Iterator[list[Any]]:
        yield ["first"]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_table(path, ["new"], rows())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left


def test_new_file_has_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "perm.csv"
    write_table(path, ["a"], [[1]])
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    ("name", "match"),
    [("old.xls", "write .xlsx instead"), ("out.json", "use .csv"), ("noext", "use .csv")],
)
def test_refused_targets(tmp_path: Path, name: str, match: str) -> None:
    with pytest.raises(InputError) as info:
        write_table(tmp_path / name, ["a"], [])
    assert match in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_encoding_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown encoding"):
        write_table(tmp_path / "out.csv", ["a"], [], encoding="nope")
    assert list(tmp_path.iterdir()) == []


def test_missing_folders_are_created_and_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    # issue 21: `--report out/x.html` (or a rejected file, an export) with no out/ yet
    write_table(tmp_path / "out" / "deeper" / "t.csv", ["a"], [[1]])
    assert (tmp_path / "out" / "deeper" / "t.csv").read_bytes() == b"a\r\n1\r\n"
    write_text_atomic(tmp_path / "other" / "r.html", "<p>")
    assert (tmp_path / "other" / "r.html").read_text(encoding="utf-8") == "<p>"
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"plain is a file, not a folder"):
        write_table(tmp_path / "plain" / "sub" / "t.csv", ["a"], [])
    with pytest.raises(InputError, match=r"plain is a file, not a folder"):
        check_parent(tmp_path / "plain" / "t.csv")
