"""Each shipped preset against composed sample files (tests/data/presets/): valid and
rejected counts, and the canonical frame + rejections compared with golden files under
tests/golden/presets/ (refresh with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from timetracker_import.app.validate import iter_mapped_chunks
from timetracker_import.files.mapping_loader import LoadedMapping, load_preset
from timetracker_import.files.readers import open_table

DATA = Path(__file__).resolve().parents[1] / "data" / "presets"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "presets"


def run_preset(preset: str, path: Path) -> tuple[pd.DataFrame, list[str], int]:
    """(canonical frame, rejection lines, raw row count) of a file under a preset, with the
    preset's lookup files taken from tests/data/presets."""
    base = load_preset_with_data(preset)
    table = open_table(path, has_header=base.mapping.header)
    frames, lines, rows = [], [], 0
    for chunk in iter_mapped_chunks(table, base, timezone="Europe/Berlin", chunk_rows=3):
        frames.append(chunk.canonical)
        rows += len(chunk.raw)
        lines += [
            f"{r.source_row}\t{r.stage}\t{r.column}\t{r.value}\t{r.reason}"
            for r in chunk.rejections
        ]
    return pd.concat(frames), lines, rows


def load_preset_with_data(preset: str) -> LoadedMapping:
    cwd = Path.cwd()
    os.chdir(DATA)  # presets read their lookup files from the current directory
    try:
        return load_preset(preset)
    finally:
        os.chdir(cwd)


def check_golden(name: str, frame: pd.DataFrame, rejections: list[str]) -> None:
    text = (
        frame.to_csv(lineterminator="\n")
        + "# rejections\n"
        + "".join(line + "\n" for line in rejections)
    )
    path = GOLDEN / f"{name}.csv"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


# (preset, sample file, valid, rejected, skipped). Since issue 13 a value a lookup lacks is
# not rejected offline: a Harvest/BambooHR user passes on to server resolution, a Tempo key
# goes into the comment (the work item left empty).
CASES = [
    ("toggl", "toggl-report.csv", 3, 2, 0),
    ("toggl", "toggl-data-export.csv", 2, 1, 0),
    ("toggl-2025", "toggl-2025.csv", 2, 1, 0),
    ("clockify-us", "clockify-us.csv", 2, 1, 1),
    ("clockify-us", "clockify-old.csv", 1, 0, 0),
    ("clockify-eu", "clockify-eu.csv", 2, 1, 1),
    ("harvest", "harvest.csv", 3, 0, 0),
    ("harvest", "harvest-eu.csv", 3, 0, 0),  # a row without notes: "Project / Task"
    ("tempo", "tempo.csv", 3, 0, 0),
    ("kimai", "kimai.csv", 2, 1, 0),
    ("bamboohr-hours", "bamboohr-hours.csv", 3, 1, 0),
]


@pytest.mark.parametrize(("preset", "sample", "valid", "rejected", "skipped"), CASES)
def test_preset_sample(preset: str, sample: str, valid: int, rejected: int, skipped: int) -> None:
    frame, rejections, rows = run_preset(preset, DATA / sample)
    assert (len(frame), len(rejections), rows - len(frame) - len(rejections)) == (
        valid,
        rejected,
        skipped,
    )
    check_golden(Path(sample).stem, frame, rejections)


def _kimai_xlsx(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    headers = ["Date", "From", "To", "Duration", "Currency", "Price", "Name", "User", "E-mail"]
    headers += ["Customer", "Project", "Activity", "Description", "Billable"]
    ws.append(headers)
    rows = [
        (
            dt.datetime(2024, 3, 4),
            "09:00",
            "10:30",
            dt.timedelta(hours=1, minutes=30),
            "Hero #2001",
        ),
        (dt.datetime(2024, 3, 5), "13:00", "13:45", dt.timedelta(minutes=45), "Review"),
        (dt.datetime(2024, 3, 6), "08:00", "09:00", 1.25, "Decimal duration"),
    ]
    for day, start, end, length, text in rows:
        ws.append(
            [
                day,
                start,
                end,
                length,
                "EUR",
                120,
                "Alice Example",
                "alice",
                "alice@example.com",
                "Acme GmbH",
                "Website",
                "Development",
                text,
                True,
            ]
        )
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd"
        if isinstance(length, dt.timedelta):
            ws.cell(ws.max_row, 4).number_format = "[hh]:mm"
    # The totals row as a file saved by Excel reads: the SUBTOTAL formulas' cached values
    # under Duration and Price, every other cell empty.
    ws.append([None, None, None, dt.timedelta(hours=3, minutes=30), None, 360])
    ws.cell(ws.max_row, 4).number_format = "[hh]:mm"
    wb.save(path)


def _tempo_xlsx(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "Issue Key",
            "Issue summary",
            "Hours",
            "Work date",
            "Username",
            "Full name",
            "Work Description",
            "Epic Link",
            "Country",
            "Epic Link",
        ]
    )
    ws.append(
        [
            "WEB-101",
            "Hero",
            1.5,
            dt.datetime(2024, 3, 4, 9, 0),
            "alice",
            "Alice Example",
            "Hero grid",
            "WEB-100",
            "DE",
            "WEB-100",
        ]
    )
    ws.append(
        [
            "WEB-102",
            "Footer",
            0.25,
            dt.datetime(2024, 3, 5),
            "bob",
            "Bob Jones",
            "Footer links",
            "",
            "DE",
            "",
        ]
    )
    ws.append(
        [
            "OPS-7",
            "Server",
            2,
            dt.datetime(2024, 3, 5, 14, 0),
            "bob",
            "Bob Jones",
            "Patching",
            "",
            "DE",
            "",
        ]
    )
    wb.save(path)


@pytest.mark.parametrize(
    ("preset", "builder", "name", "valid", "rejected", "skipped"),
    [("kimai", _kimai_xlsx, "kimai-xlsx", 3, 0, 1), ("tempo", _tempo_xlsx, "tempo-xlsx", 3, 0, 0)],
)
def test_preset_xlsx(
    tmp_path: Path, preset: str, builder, name: str, valid: int, rejected: int, skipped: int
) -> None:
    path = tmp_path / f"{name}.xlsx"
    builder(path)
    frame, rejections, rows = run_preset(preset, path)
    assert (len(frame), len(rejections), rows - len(frame) - len(rejections)) == (
        valid,
        rejected,
        skipped,
    )
    check_golden(name, frame, rejections)


def test_kimai_csv_strips_only_the_formula_guard() -> None:
    frame, _, _ = run_preset("kimai", DATA / "kimai.csv")
    assert frame.loc[3, "comment"] == "=SUM(A1)"
    assert frame.loc[2, "comment"] == "Hero layout #2001"


def test_kimai_strips_the_guard_it_puts_before_any_text_containing_dde(tmp_path: Path) -> None:
    # Kimai's StringHelper::sanitizeDDE writes "' " before a text that starts with = - @ +
    # TAB CR LF *or contains "DDE" anywhere, in any case*: "Added ...", "hidden", "ladder".
    # The preset took the guard off only before the first kind, so "' Added login page"
    # landed in 7pace with Kimai's quote and space in front.
    header = (DATA / "kimai.csv").read_text(encoding="utf-8").splitlines()[0]
    cells = "2024-03-04,09:00,10:30,1:30,EUR,1,1,1,,A,a,alice@example.com,,C,P,Development"
    descriptions = [
        "' Added login page",  # "Added" holds "dde"
        "' fixed the hidden menu",
        "' DDE (x)",
        "' \tTAB first",
        "' quoted by me, not Kimai",  # no payload, no "dde": not Kimai's guard, kept
        "Added without a guard",  # an older export: nothing to take off
    ]
    lines = [header] + [f'{cells},"{d}",1,,timesheet,work,,,,' for d in descriptions]
    path = tmp_path / "kimai-dde.csv"
    path.write_text("\n".join(lines).replace("\\t", "\t") + "\n", encoding="utf-8")
    frame, rejections, _ = run_preset("kimai", path)
    assert rejections == []
    assert list(frame["comment"]) == [
        "Added login page",
        "fixed the hidden menu",
        "DDE (x)",
        "\tTAB first",
        "' quoted by me, not Kimai",
        "Added without a guard",
    ]


def test_harvest_joins_first_and_last_name_through_the_alias_file() -> None:
    frame, rejections, _ = run_preset("harvest", DATA / "harvest.csv")
    assert frame.loc[3, "user"] == "bob@example.com"
    # not in harvest-users.csv: the joined name goes on to server resolution
    assert frame.loc[4, "user"] == "Dana Nobody"
    assert rejections == []


def test_preset_lookup_file_missing_passes_names_on_and_keeps_other_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 13: without harvest-users.csv nothing is rejected for the lookup; the names go
    # on as written, and a real mistake (an empty Hours cell) is still reported on its own
    monkeypatch.chdir(tmp_path)
    loaded = load_preset("harvest")
    assert loaded.lookups == {"users": {}}
    assert loaded.missing_lookups == ("users",)
    source = (DATA / "harvest.csv").read_text(encoding="utf-8").splitlines()
    source[2] = source[2].replace(",3.25,", ",,")
    path = tmp_path / "harvest-broken.csv"
    path.write_text("\n".join(source) + "\n", encoding="utf-8")
    chunk = next(iter_mapped_chunks(open_table(path), loaded, timezone="UTC"))
    assert chunk.canonical["user"].tolist() == ["Alice Example", "Dana Nobody"]
    [rej] = chunk.rejections
    assert (rej.source_row, rej.column) == (3, "Hours")
    assert "lookup" not in rej.reason


def test_clockify_never_guesses_day_month_order() -> None:
    # 03/04/2024 is March 4 under US settings and 3 April under EU settings.
    us, _, _ = run_preset("clockify-us", DATA / "clockify-us.csv")
    eu, _, _ = run_preset("clockify-eu", DATA / "clockify-us.csv")
    assert us["timestamp"][2].month == 3
    assert eu["timestamp"][2].month == 4
