"""The committed demo inputs read as documented and match their generator byte for byte."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from timetracker_import.files.readers import open_table

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "maker"),
    [
        ("payroll_hours.xlsx", "make_payroll"),
        ("timesheet_eu.csv", "make_eu"),
        ("legacy_npm.csv", "make_npm"),
    ],
)
def test_generator_reproduces_committed_file(tmp_path: Path, name: str, maker: str) -> None:
    out = tmp_path / name
    getattr(generator(), maker)(out)
    assert out.read_bytes() == (SAMPLES / name).read_bytes(), (
        f"sample_data/{name} is stale: run .venv/bin/python sample_data/make_samples.py"
    )


def test_payroll_workbook() -> None:
    table = open_table(SAMPLES / "payroll_hours.xlsx")
    assert table.sheet == "Hours"
    assert table.headers == [
        "Employee Email",
        "Date",
        "Start",
        "Hours",
        "Billable Hours",
        "Work Item",
        "Activity",
        "Notes",
    ]
    frame = table.read_all()
    assert len(frame) == 40 and list(frame.index[[0, -1]]) == [2, 41]
    assert set(frame[0]) == {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    }
    assert set(frame[6]) == {"Development", "Testing", "Meetings", "Documentation"}
    good_dates = frame[1].drop(index=33)
    assert all(isinstance(d, dt.datetime) for d in good_dates)
    assert all(dt.datetime(2026, 10, 1) <= d < dt.datetime(2026, 12, 1) for d in good_dates)
    assert all(isinstance(t, dt.time) for t in frame[2])
    items = [i for i in frame[5] if i is not None]
    assert all(1000 <= i <= 1010 for i in items)
    # The deliberate mistakes documented in sample_data/README.md
    assert frame.loc[9, 3] == 0
    assert frame.loc[21, 5] is None and frame.loc[21, 7] is None
    assert frame.loc[33, 1] == "2026-11-31"


def test_eu_timesheet() -> None:
    table = open_table(SAMPLES / "timesheet_eu.csv")
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ";")
    assert table.headers == [
        "Mitarbeiter",
        "Datum",
        "Beginn",
        "Dauer (h)",
        "Projekt-Nr",
        "Tätigkeit",
        "Bemerkung",
    ]
    frame = table.read_all()
    assert len(frame) == 30
    assert frame.loc[7, 1] == "31.09.2026"
    assert frame.loc[19, 3] == "2 Std."
    assert any("," in h for h in frame[3])  # decimal commas
    assert any(";" in str(n) for n in frame[6])  # a quoted delimiter in a comment


def test_legacy_npm() -> None:
    table = open_table(SAMPLES / "legacy_npm.csv")
    assert (table.encoding, table.delimiter) == ("utf-8", ",")
    assert table.headers == [
        "UserName",
        "TimeStamp",
        "Duration",
        "BillableDuration",
        "ActivityType",
        "Comment",
        "WorkItem",
    ]
    frame = table.read_all()
    assert len(frame) == 20
    assert frame.loc[5, 0] is None
    assert frame.loc[8, 6] == "ABC-12"
    assert frame.loc[15, 2] == "-1.5"
    stamps = [dt.datetime.strptime(s, "%m/%d/%Y %H:%M") for s in frame[1]]
    assert all(dt.datetime(2026, 10, 1) <= s < dt.datetime(2026, 12, 1) for s in stamps)
