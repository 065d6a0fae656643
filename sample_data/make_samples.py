"""Regenerate the demo inputs in sample_data/ (deterministic: same bytes on every run).

    .venv/bin/python sample_data/make_samples.py

The content is invented. Users, activity types and work items match the sandbox demo seed
(alice/bob/carol/dave@example.com; Development, Testing, Meetings, Documentation; work items
1000..1010). Each file carries a few deliberate mistakes at fixed rows, listed in
``MISTAKES`` and in README.md, so validation has something to report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
USERS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
ACTIVITIES = ["Development", "Testing", "Meetings", "Documentation"]
NOTES = {
    "Development": [
        "Implement export filter",
        "Fix paging bug",
        "Refactor login form",
        "Code review",
        "API client retries",
        "Pair programming",
    ],
    "Testing": [
        "Regression run",
        "Test plan for release 4.2",
        "Verify bug fixes",
        "Exploratory testing, checkout",
    ],
    "Meetings": ["Daily stand-up", "Sprint planning", "Retro", "Customer call"],
    "Documentation": ["Update user guide", "Release notes", "API reference, examples"],
}
GERMAN_NOTES = [
    "Fehlerbehebung Login",
    "Code-Review; Rückfragen geklärt",
    "Abstimmung mit Kunde",
    "Tests für Export",
    "Doku überarbeitet",
    "Daily",
    "Sprint-Planung",
    'Änderungen "Schnellerfassung" umgesetzt',
]
FIXED_ZIP_TIME = (2026, 11, 1, 0, 0, 0)

# data row index (0-based, header excluded) -> what is wrong; source_row = index + 2
MISTAKES = {
    "payroll_hours.xlsx": {
        7: "zero duration",
        19: "no notes and no work item",
        31: "unknown date (2026-11-31 does not exist)",
    },
    "timesheet_eu.csv": {5: "impossible date 31.09.2026", 17: "duration '2 Std.' is not a number"},
    "legacy_npm.csv": {6: "WorkItem 'ABC-12' is not an integer", 13: "negative Duration -1.5"},
}


def workdays(rng: random.Random, count: int) -> list[dt.date]:
    """``count`` dates in Oct-Nov 2026, mostly weekdays, sorted."""
    days = [dt.date(2026, 10, 1) + dt.timedelta(d) for d in range(61)]
    weekdays = [d for d in days if d.weekday() < 5]
    picked = [rng.choice(weekdays) for _ in range(count - 1)]
    picked.append(dt.date(2026, 11, 7))  # one Saturday: people do work weekends
    return sorted(picked)


def entries(rng: random.Random, count: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for day in workdays(rng, count):
        activity = rng.choice(ACTIVITIES)
        hours = rng.choice([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
        out.append(
            {
                "user": rng.choice(USERS),
                "date": day,
                "start": dt.time(rng.randrange(8, 16), rng.choice([0, 15, 30, 45])),
                "hours": hours,
                "billable": hours if activity != "Meetings" else rng.choice([0.0, None]),
                "work_item": rng.randrange(1000, 1011) if rng.random() < 0.85 else None,
                "activity": activity,
                "notes": rng.choice(NOTES[activity]),
            }
        )
    return out


def deterministic_zip(data: bytes) -> bytes:
    """Re-pack an xlsx with fixed member timestamps and document dates."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-11-01T00:00:00Z", content
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, content)
    return out.getvalue()


def make_payroll(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    rng = random.Random(20261101)
    rows = entries(rng, 40)
    mistakes = MISTAKES[path.name]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Hours"
    headers = [
        "Employee Email",
        "Date",
        "Start",
        "Hours",
        "Billable Hours",
        "Work Item",
        "Activity",
        "Notes",
    ]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, e in enumerate(rows):
        if i == 7:
            e["hours"], e["billable"] = 0, 0
        if i == 19:
            e["work_item"], e["notes"] = None, None
        date: object = "2026-11-31" if i == 31 else e["date"]
        ws.append(
            [
                e["user"],
                date,
                e["start"],
                e["hours"],
                e["billable"],
                e["work_item"],
                e["activity"],
                e["notes"],
            ]
        )
        r = ws.max_row
        ws.cell(r, 2).number_format = "yyyy-mm-dd"
        ws.cell(r, 3).number_format = "hh:mm"
        ws.cell(r, 4).number_format = "0.00"
        ws.cell(r, 5).number_format = "0.00"
    assert set(mistakes) == {7, 19, 31}
    for col, width in zip("ABCDEFGH", [22, 12, 8, 8, 14, 10, 15, 30], strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(deterministic_zip(buf.getvalue()))


def make_eu(path: Path) -> None:
    rng = random.Random(20261102)
    rows = entries(rng, 30)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["Mitarbeiter", "Datum", "Beginn", "Dauer (h)", "Projekt-Nr", "Tätigkeit", "Bemerkung"]
    )
    for i, e in enumerate(rows):
        day = e["date"]
        assert isinstance(day, dt.date)
        date = "31.09.2026" if i == 5 else day.strftime("%d.%m.%Y")
        hours = "2 Std." if i == 17 else f"{e['hours']:g}".replace(".", ",")
        start = e["start"]
        assert isinstance(start, dt.time)
        writer.writerow(
            [
                e["user"],
                date,
                start.strftime("%H:%M"),
                hours,
                e["work_item"] or "",
                e["activity"],
                rng.choice(GERMAN_NOTES),
            ]
        )
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


def make_npm(path: Path) -> None:
    rng = random.Random(20261103)
    rows = entries(rng, 20)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "UserName",
            "TimeStamp",
            "Duration",
            "BillableDuration",
            "ActivityType",
            "Comment",
            "WorkItem",
        ]
    )
    for i, e in enumerate(rows):
        day, start = e["date"], e["start"]
        assert isinstance(day, dt.date) and isinstance(start, dt.time)
        stamp = dt.datetime.combine(day, start).strftime("%m/%d/%Y %H:%M")
        user = "" if i == 3 else e["user"]  # empty: the worklog goes to the token's user
        duration = "-1.5" if i == 13 else f"{e['hours']:g}"
        billable = e["billable"]
        billable_text = "" if billable is None or billable == e["hours"] else f"{billable:g}"
        item = "ABC-12" if i == 6 else (e["work_item"] or "")
        writer.writerow([user, stamp, duration, billable_text, e["activity"], e["notes"], item])
    path.write_bytes(out.getvalue().encode("utf-8"))


def main() -> None:
    make_payroll(HERE / "payroll_hours.xlsx")
    make_eu(HERE / "timesheet_eu.csv")
    make_npm(HERE / "legacy_npm.csv")
    for name, mistakes in MISTAKES.items():
        for index, what in mistakes.items():
            print(f"{name}: row {index + 2}: {what}")


if __name__ == "__main__":
    main()
