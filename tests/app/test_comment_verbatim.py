"""Comments reach 7pace exactly as written in the file (surrounding whitespace, a leading
TAB or CR included), while rejected-rows files and exports still neutralise formula-like text,
and the export's ``'`` comes off again when it is imported with the ``7pace-export`` preset."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from collections import Counter
from pathlib import Path

from tests.helpers import balanced, make_rows, run, server_comments, settings_for, write_rows
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.export import ExportSettings, run_export, write_export
from timetracker_import.app.importer import ImportSettings
from timetracker_import.sandbox import run_sandbox_in_thread

COMMENTS = ["=SUM(A1)\t", " @x", "\r\tstarts with CR", "  two spaces each side  ", "-1 day"]


def _rows() -> list[dict[str, object]]:
    rows = make_rows(len(COMMENTS) + 1, users=("alice@example.com",))
    for row, comment in zip(rows, COMMENTS, strict=False):
        row["Comment"] = comment
    rows[-1]["User"] = "nobody@example.com"  # rejected at resolve, comment "=SUM(A1)\t"
    rows[-1]["Comment"] = COMMENTS[0]
    return rows


def test_comments_are_stored_verbatim_and_neutralised_in_files(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", _rows())
    with run_sandbox_in_thread() as box:
        result = run(settings_for(box, path, tmp_path, rejected_path=tmp_path / "bad.csv"))
        assert result.exit_code == 1 and balanced(result)
        assert result.accounting.created == len(COMMENTS)
        assert server_comments(box) == Counter(COMMENTS)

        # The rejected-rows file keeps the original text, made safe for a spreadsheet.
        with (tmp_path / "bad.csv").open(newline="", encoding="utf-8-sig") as handle:
            rejected = list(csv.DictReader(handle))
        assert [r["Comment"] for r in rejected] == ["'=SUM(A1)\t"]

        # The export neutralises too; the 7pace-export preset takes the ' off again.
        exported = tmp_path / "export.csv"
        settings = ExportSettings(
            timezone="UTC", first=dt.date(2026, 8, 1), last=dt.date(2026, 9, 30)
        )
        connection = ConnectionSettings(url=box.url, token=Secret(box.tokens["alice@example.com"]))
        write_export(asyncio.run(run_export([(None, connection)], settings)), str(exported), "csv")
    with exported.open(newline="", encoding="utf-8-sig") as handle:
        texts = Counter(r["comment"] for r in csv.DictReader(handle))
    assert texts["'=SUM(A1)\t"] == 1 and texts["' @x"] == 0 and texts[" @x"] == 1
    assert texts["'\r\tstarts with CR"] == 1 and texts["-1 day"] == 0

    with run_sandbox_in_thread() as fresh:
        again = settings_for(fresh, exported, tmp_path)
        again = ImportSettings(
            path=exported, connection=again.connection, preset="7pace-export", timezone="UTC"
        )
        result = run(again)
        assert result.exit_code == 0, result.accounting
        assert server_comments(fresh) == Counter(COMMENTS)
