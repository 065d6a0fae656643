"""The round trip through the real commands: import the sample workbook, export it, import
that export into a fresh sandbox, export again; the two exports are identical apart from ids
and created/edited timestamps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

REPO = Path(__file__).resolve().parents[2]
VOLATILE = ("id", "created_utc", "edited_utc")
# The sample's days (October-November 2026), as inclusive local days.
RANGE = ["--from", "2026-09-01", "--to", "2026-12-31", "--timezone", "Europe/Berlin"]


pytestmark = pytest.mark.usefixtures("cli_env")


def cli_run(box: RunningSandbox, *args: str) -> tuple[int, str, str]:
    result = invoke(box, *args)
    return result.exit_code, result.stdout, result.stderr


def import_json(box: RunningSandbox, path: Path, preset: str) -> dict[str, int]:
    code, out, err = cli_run(
        box,
        "import",
        str(path),
        "--preset",
        preset,
        "--timezone",
        "Europe/Berlin",
        "--yes",
        "--json",
    )
    assert code in (0, 1), err
    counts: dict[str, int] = json.loads(out)["counts"]
    assert counts["unprocessed"] == 0, counts
    return counts


def export_csv(box: RunningSandbox, path: Path) -> list[dict[str, str]]:
    code, _, err = cli_run(box, "export", *RANGE, "--output", str(path), "--quiet")
    assert code == 0, err
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def stable(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]


def test_import_export_import_export_via_cli(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    with run_sandbox_in_thread() as first:
        counts = import_json(first, REPO / "sample_data/payroll_hours.xlsx", "payroll-demo")
        assert counts["created"] > 20 and counts["rejected"] > 0  # the sample's mistakes
        exported = export_csv(first, a)
        assert len(exported) == counts["created"] == first.stats()["worklogs"]
    with run_sandbox_in_thread() as fresh:
        again = import_json(fresh, a, "7pace-export")
        assert (again["created"], again["rejected"]) == (len(exported), 0)
        reexported = export_csv(fresh, b)

    assert a.read_text().splitlines()[0] == b.read_text().splitlines()[0]  # same columns
    assert all(r["id"] for r in reexported)
    # Same timestamps in the same order; rows sharing a timestamp are ordered by their
    # (random) ids, so the rows themselves are compared as multisets.
    assert [r["timestamp_utc"] for r in exported] == [r["timestamp_utc"] for r in reexported]
    key = lambda row: sorted(row.items())  # noqa: E731
    assert sorted(stable(exported), key=key) == sorted(stable(reexported), key=key)
