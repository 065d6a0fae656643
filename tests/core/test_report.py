"""The report model from fixed inputs, compared with golden JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from timetracker_import.core.rejections import Rejection
from timetracker_import.core.report import (
    SELF_USER,
    Report,
    ReportBuilder,
    ReportSettings,
    iso_week,
    reason_kind,
    source_cells,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
H = 3600


def canonical(
    rows: Sequence[tuple[int, str | None, str, float, str | None, int | None]],
) -> pd.DataFrame:
    """A canonical frame from (source_row, user, start UTC, hours, activity, work item)."""
    frame = pd.DataFrame(
        {
            "user": pd.Series([r[1] for r in rows], dtype=object),
            "timestamp": pd.to_datetime([r[2] for r in rows], utc=True).as_unit("ns"),
            "length_seconds": pd.Series([round(r[3] * H) for r in rows], dtype="int64"),
            "billable_seconds": pd.Series(
                [round(r[3] * H) if r[4] == "Development" else None for r in rows], dtype="Int64"
            ),
            "work_item_id": pd.Series([r[5] for r in rows], dtype="Int64"),
            "comment": pd.Series([None] * len(rows), dtype=object),
            "activity_type": pd.Series([r[4] for r in rows], dtype=object),
            "organization": pd.Series([None] * len(rows), dtype=object),
        }
    )
    frame.index = pd.Index([r[0] for r in rows], name="source_row", dtype="int64")
    return frame


ALICE, BOB = "alice@example.com", "bob@example.com"

CHUNK_1 = [
    # alice: Wednesday 2024-01-03 with 25 h in three rows, two of which overlap
    (2, ALICE, "2024-01-03T00:00:00Z", 10, "Development", 101),
    (3, ALICE, "2024-01-03T09:00:00Z", 8, "Development", 101),  # overlaps row 2 by 1 h
    (4, ALICE, "2024-01-03T17:00:00Z", 7, "Meeting", 102),
    # alice: Saturday work
    (5, ALICE, "2024-01-06T08:00:00Z", 3, None, 103),
    # the token's own user
    (6, None, "2024-01-08T08:00:00Z", 8, "Development", None),
]
CHUNK_2 = [
    # bob: 13 h a day, Monday to Friday of 2024-W02 -> 65 h week, five days over 12 h
    *[(10 + d, BOB, f"2024-01-{8 + d:02d}T06:00:00Z", 13, "Development", 200) for d in range(5)],
    # bob: touching intervals do not overlap
    (20, BOB, "2024-01-15T08:00:00Z", 2, "Meeting", 201),
    (21, BOB, "2024-01-15T10:00:00Z", 2, "Meeting", 201),
]

REJECTIONS_1 = [
    Rejection(7, "validate", "Duration", "-5", "length must be > 0, got '-5'"),
    Rejection(8, "validate", "Duration", "0", "length must be > 0, got '0'"),
    Rejection(9, "map", "Date", "31.02.2024", "'31.02.2024' is not a date (expected DD.MM.YYYY)"),
]
REJECTIONS_2 = [
    Rejection(30, "validate", "Duration", "0", "length must be > 0, got '0'; user is missing"),
    Rejection(31, "server", None, None, "work item 999 does not exist", "WorkItemNotFound"),
    Rejection(32, "server", None, None, "work item 998 does not exist", "WorkItemNotFound"),
]
SOURCE_VALUES = {
    7: {"Date": "2024-01-02", "Duration": "-5", "User": ALICE},
    9: {"Date": "31.02.2024", "Duration": "2", "User": BOB},
}
ACCOUNTING = {"rows": 18, "valid": 12, "rejected": 6, "unprocessed": 0}
META = {"command": "validate", "input": "worklogs.csv", "generated_at": "2024-02-01T12:00:00Z"}


def sample_report(settings: ReportSettings | None = None) -> Report:
    """The report of the fixed inputs above (also used by the renderer tests)."""
    builder = ReportBuilder(settings or ReportSettings(max_examples_per_reason=2))
    builder.add_rows(canonical(CHUNK_1))
    builder.add_rejections(REJECTIONS_1, SOURCE_VALUES)
    builder.add_rows(canonical(CHUNK_2))
    builder.add_rejections(REJECTIONS_2)
    builder.add_flags(locked_week_rows=[12, 13], duplicate_rows=[40], rounding_drift_seconds=-42)
    return builder.build(ACCOUNTING, META)


def check_golden(name: str, data: object) -> None:
    """Compare with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 to create it"
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


def test_report_matches_golden() -> None:
    check_golden("report_sample.json", sample_report().to_dict())


def test_report_in_berlin_time_matches_golden() -> None:
    settings = ReportSettings(
        timezone="Europe/Berlin",
        day_threshold_hours=8,
        week_threshold_hours=40,
        max_examples_per_reason=1,
    )
    check_golden("report_sample_berlin.json", sample_report(settings).to_dict())


def test_grid_totals_add_up() -> None:
    report = sample_report()
    grid = report.grid
    assert grid.weeks == ("2024-W01", "2024-W02", "2024-W03")
    by_user = {row.user: row for row in grid.rows}
    assert by_user[ALICE].seconds == (28 * H, 0, 0)
    assert by_user[BOB].seconds == (0, 65 * H, 4 * H)
    assert by_user[SELF_USER].seconds == (0, 8 * H, 0)
    assert grid.week_totals == (28 * H, 73 * H, 4 * H)
    assert grid.total_seconds == report.totals.seconds == 105 * H
    assert report.totals.rows == 12
    assert report.totals.billable_seconds == (10 + 8 + 8 + 65) * H


def test_flags() -> None:
    report = sample_report()
    over24 = report.flag("day_over_24h")
    assert over24 is not None and over24.count == 1
    assert over24.items[0].text == f"{ALICE} worked 25.00 h on 2024-01-03 (Wed)"
    assert over24.items[0].source_rows == (2, 3, 4)
    over12 = report.flag("day_over_threshold")
    assert over12 is not None and over12.count == 5
    assert over12.title == "Days over 12 h"
    week = report.flag("week_over_threshold")
    assert week is not None and [i.text for i in week.items] == [
        f"{BOB} worked 65.00 h in 2024-W02"
    ]
    overlap = report.flag("overlap")
    assert overlap is not None and overlap.count == 1
    assert overlap.items[0].source_rows == (2, 3)
    assert overlap.items[0].seconds == 1 * H
    weekend = report.flag("weekend")
    assert weekend is not None and [i.period for i in weekend.items] == ["2024-01-06"]
    locked = report.flag("locked_week")
    assert locked is not None and locked.count == 2
    drift = report.flag("rounding_drift")
    assert drift is not None and drift.seconds == -42


def test_timezone_moves_work_to_the_local_day() -> None:
    rows = [(2, ALICE, "2024-01-07T23:30:00Z", 1, None, None)]  # Sunday UTC, Monday in Berlin
    utc = ReportBuilder()
    utc.add_rows(canonical(rows))
    berlin = ReportBuilder(ReportSettings(timezone="Europe/Berlin"))
    berlin.add_rows(canonical(rows))
    assert utc.build({}).grid.weeks == ("2024-W01",)
    assert berlin.build({}).grid.weeks == ("2024-W02",)
    assert utc.build({}).flag("weekend").count == 1  # type: ignore[union-attr]
    assert berlin.build({}).flag("weekend").count == 0  # type: ignore[union-attr]


def test_rejections_group_by_kind_and_keep_few_examples() -> None:
    report = sample_report()
    groups = {(g.stage, g.column, g.kind): g for g in report.rejections}
    length = groups[("validate", "Duration", "length must be > 0, got …")]
    assert length.count == 3
    assert [e.source_row for e in length.examples] == [7, 8]  # capped at 2
    assert dict(length.examples[0].source)["User"] == ALICE
    server = groups[("server", None, "WorkItemNotFound")]
    assert server.count == 2
    assert report.rejected_rows == 6


@pytest.mark.parametrize(
    ("reason", "value", "kind"),
    [
        ("length must be > 0", None, "length must be > 0"),
        ("length must be <= 24 h, got 25.5 h", "25.5", "length must be <= 24 h, got … h"),
        ("user 'x@y' not found in row 12", None, "user … not found in row …"),
        ("bad date 2024-01-02; length must be > 0", None, "bad date …"),
        (
            "length must be greater than 0 (7pace requires length > 0)",
            "0",
            "length must be greater than 0 (7pace requires length > 0)",
        ),
        (
            "'2026-11-31' is not a date/time (e.g. 2026-03-04 09:30)",
            "2026-11-31",
            "… is not a date/time (e.g. 2026-03-04 09:30)",
        ),
        ("too long (got 25.5 h)", None, "too long (got … h)"),
        ("need at least 2 cells, got 1", None, "need at least 2 cells, got …"),
    ],
)
def test_reason_kind(reason: str, value: str | None, kind: str) -> None:
    assert reason_kind(reason, value) == kind


def test_iso_week_at_year_boundary() -> None:
    from datetime import date

    assert iso_week(date(2024, 12, 30)) == "2025-W01"
    assert iso_week(date(2021, 1, 3)) == "2020-W53"


def test_empty_report() -> None:
    report = ReportBuilder().build({"rows": 0})
    assert report.totals.rows == 0 and report.grid.weeks == ()
    assert all(f.count == 0 for f in report.flags)
    json.dumps(report.to_dict())


def test_source_cells_from_a_raw_chunk() -> None:
    raw = pd.DataFrame({0: ["a", "b", "c"], 1: ["1", None, "3"], 2: ["x", "y", "z"]})
    raw.index = pd.Index([2, 3, 5], name="source_row")
    cells = source_cells(raw, ["Name", "Hours", "Name"], [5, 2, 5, 99])
    assert cells == {5: {"Name": "c", "Hours": "3"}, 2: {"Name": "a", "Hours": "1"}}
