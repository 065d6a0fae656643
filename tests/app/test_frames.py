"""DataFrames in (``app.dataframes``) and out (``app.frames``): the CSV a frame becomes,
the rejections with their original cells (header-less and cp1252 files too), every input
row once for an import split by organization, exported worklogs and the runs."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pandas as pd
import pytest

from tests.app.test_multi_org import boxes, plan_inputs
from timetracker_import.app.dataframes import frame_file, frame_text
from timetracker_import.app.frames import read_rejected_cells, rejections_frame
from timetracker_import.app.importer import ImportSettings
from timetracker_import.app.multi_org import plan_routes, run_planned
from timetracker_import.core.rejections import Rejection
from timetracker_import.library import validate
from timetracker_import.sandbox import RunningSandbox

__all__ = ["boxes", "plan_inputs"]  # fixtures (state_dir, autouse, is in tests/conftest.py)

MAPPING = {
    "version": 1,
    "timezone": "UTC",
    "fields": {
        "user": {"column": "User"},
        "timestamp": {"column": "Start"},
        "length": {"column": "Length"},
        "work_item": {"column": "Item"},
        "comment": {"column": "Comment"},
    },
}


INDEX = ["x", "y", "z"]


def test_cells_are_written_as_an_export_has_them() -> None:
    frame = pd.DataFrame(
        {
            "Item": [101.0, None, 7.0],  # ids with a gap: float in pandas
            "Hours": [1.5, 2.0, None],  # real fractions stay
            "Length": pd.to_timedelta(["1:30:00", "26:00:00", None]),
            "Start": pd.to_datetime(
                pd.Series(["2026-11-02 09:00", "2026-11-03 00:00", None], index=INDEX)
            ),
            "Day": pd.to_datetime(pd.Series(["2026-11-02", None, "2026-11-04"], index=INDEX)),
            "Zoned": pd.to_datetime(
                pd.Series(["2026-11-02 09:00", None, None], index=INDEX)
            ).dt.tz_localize("Europe/Berlin"),
            "Date": [dt.date(2026, 1, 2), None, dt.date(2026, 1, 3)],
            "At": [dt.time(9, 30), None, None],
            "Text": ["a,b", None, 'say "hi"'],
        },
        index=INDEX,  # the index is left out
    )
    assert frame_text(frame).splitlines() == [
        "Item,Hours,Length,Start,Day,Zoned,Date,At,Text",
        '101,1.5,1:30:00,2026-11-02T09:00:00,2026-11-02,2026-11-02T09:00:00+01:00,2026-01-02,09:30:00,"a,b"',
        ",2,26:00:00,2026-11-03T00:00:00,,,,,",
        '7,,,,2026-11-04,,2026-01-03,,"say ""hi"""',
    ]


def test_the_same_frame_is_the_same_private_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    first = frame_file(frame, tmp_path / "frames")
    assert frame_file(frame.copy(), tmp_path / "frames") == first
    assert frame_file(frame.assign(a=[1, 3]), tmp_path / "frames") != first
    assert first.name.startswith("frame-") and first.suffix == ".csv"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700


def test_row_numbers_follow_the_csv(state_dir: Path) -> None:
    frame = pd.DataFrame(
        {
            "User": ["bob@example.com", "", "carol@example.com"],
            "Start": ["2026-09-01T09:00:00Z", "2026-09-01T10:00:00Z", "nope"],
            "Length": ["1:00:00", "1:00:00", "1:00:00"],
            "Item": [5.0, 6.0, None],
            "Comment": ["x", "y", "z"],
        },
        index=[10, 20, 30],
    )
    result = validate(frame, mapping=MAPPING)
    assert result.rows_frame().index.tolist() == [2]
    assert [r.source_row for r in result.rejections] == [3, 4]
    rejected = result.rejections_frame()
    assert rejected.index.tolist() == [3, 4]
    assert rejected.loc[4, "Start"] == "nope" and rejected.loc[3, "Comment"] == "y"
    assert result.rejected_path is not None
    assert result.rejected_path.parent == state_dir / "frames"


def test_rejections_of_a_headerless_cp1252_file(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes("bob@example.com;2026-09-01 09:00;Caf\xe9;abc\n".encode("cp1252"))
    path.write_bytes(
        path.read_bytes() + "carol@example.com;2026-09-01 10:00;Na\xefve;1\n".encode("cp1252")
    )
    mapping = {
        "version": 1,
        "header": False,
        "timezone": "UTC",
        "fields": {
            "user": {"column": "A"},
            "timestamp": {"column": "B"},
            "comment": {"column": "C"},
            "length": {"column": "D", "unit": "hours"},
        },
    }
    result = validate(path, mapping=mapping, encoding="cp1252")
    assert result.rejected == 1 and result.rejected_path is not None
    frame = result.rejections_frame()
    assert list(frame.columns[-4:]) == ["A", "B", "C", "D"]
    assert frame.loc[1, "C"] == "Caf\xe9" and frame.loc[1, "D"] == "abc"
    assert frame.loc[1, "stage"] == "map" and frame.loc[1, "column"] == "D"


def test_input_headers_clashing_with_ours_get_a_suffix(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "reason,stage,source_row,x,source_row,stage,reason\nmine,s1,99,1,2,map,bad\n",
        encoding="utf-8",
    )
    headers, cells = read_rejected_cells(path)
    assert headers == ["reason", "stage", "source_row", "x"] and cells == {
        2: ["mine", "s1", "99", "1"]
    }
    frame = rejections_frame([Rejection(2, "map", "x", "1", "bad")], [path])
    assert list(frame.columns) == [
        "stage",
        "column",
        "value",
        "reason",
        "error_code",
        "reason (input)",
        "stage (input)",
        "source_row (input)",
        "x",
    ]
    assert frame.loc[2, "reason (input)"] == "mine" and frame.loc[2, "reason"] == "bad"


def test_keep_rows_false_keeps_none(state_dir: Path) -> None:
    from timetracker_import.errors import UsageError

    frame = pd.DataFrame(
        {
            "User": ["bob@example.com"],
            "Start": ["2026-09-01T09:00:00Z"],
            "Length": ["1:00:00"],
            "Item": [1],
            "Comment": ["x"],
        }
    )
    result = validate(frame, mapping=MAPPING, keep_rows=False)
    assert result.valid == 1
    with pytest.raises(UsageError, match="kept no rows"):
        result.rows_frame()


def test_a_routed_import_gives_every_row_once(
    plan_inputs: tuple[ImportSettings, RunningSandbox, RunningSandbox],
) -> None:
    settings, _east, _west = plan_inputs
    plan = plan_routes(settings, env={})
    assert plan is not None
    result = run_planned(plan)
    rows = result.rows_frame()
    assert rows.index.tolist() == list(range(2, 12))  # every data row once
    assert rows["outcome"].value_counts().to_dict() == {"created": 6, "rejected": 3, "skipped": 1}
    assert rows.loc[11, "outcome"] == "skipped"  # the user's own TOTAL row
    assert rows.loc[[4, 9], "stage"].tolist() == ["resolve", "resolve"]  # no profile
    assert all("has no profile" in r for r in rows.loc[[4, 9], "reason"])
    assert rows.loc[rows["outcome"] == "created", "worklog_id"].notna().all()
    rejected = result.rejections_frame()
    assert rejected.index.tolist() == [4, 9, 10]
    assert rejected.loc[4, "Organization"] == "mars" and rejected.loc[9, "Organization"] == "MARS"
    assert rejected.loc[10, "Minutes"] == "abc"
