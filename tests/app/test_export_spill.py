"""A large export goes through a temporary file (``RowSpill``) and is written row by row:
the same rows, order, counts and bytes as in memory, and the file is gone afterwards."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from tests.app import test_export as base
from tests.app.test_export import OCT_NOV, box
from timetracker_import.app.export import ExportSettings, run_export, write_export
from timetracker_import.sandbox.server import RunningSandbox

__all__ = ["box"]  # the module fixture: a sandbox seeded with the legacy sample


def export(box: RunningSandbox, spill_after: int, **kw: Any) -> Any:
    settings = ExportSettings(timezone="Europe/Berlin", spill_after=spill_after, **OCT_NOV, **kw)
    return asyncio.run(run_export([(None, base.conn(box))], settings))


def test_the_file_gives_the_rows_of_memory(box: RunningSandbox) -> None:
    memory = export(box, 100_000, windows=7, page_size=3)
    spilled = export(box, 2, windows=7, page_size=3)
    assert memory.spill is None and spilled.spill is not None
    folder = Path(spilled.spill._dir.name)
    assert folder.is_dir()
    assert spilled.count == memory.count == len(memory.rows) > 5
    assert list(spilled.iter_rows()) == memory.rows
    spilled.close()
    assert not folder.exists()
    assert spilled.rows == []  # closed before reading: nothing left to read


def test_two_organizations_count_the_same_through_the_file(box: RunningSandbox) -> None:
    settings = ExportSettings(timezone="UTC", spill_after=1, **OCT_NOV)
    pair = [("b-org", base.conn(box)), ("a-org", base.conn(box, "dave"))]
    spilled = asyncio.run(run_export(pair, settings))
    memory = asyncio.run(run_export(pair, ExportSettings(timezone="UTC", **OCT_NOV)))
    assert spilled.per_organization == memory.per_organization
    assert set(spilled.per_organization) == {"a-org", "b-org"}
    assert spilled.rows == memory.rows
    spilled.close()


def test_json_and_ndjson_are_written_row_by_row_as_before(
    box: RunningSandbox, tmp_path: Path
) -> None:
    result = export(box, 3)
    rows = result.rows  # read once into memory: the reference
    objects = [
        {
            c: (v.isoformat() if hasattr(v, "isoformat") else v)
            for c in result.columns
            for v in [row.get(c)]
        }
        for row in rows
    ]
    for fmt, expected in (
        ("json", json.dumps(objects, indent=2, ensure_ascii=False) + "\n"),
        ("ndjson", "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)),
    ):
        again = export(box, 3)
        write_export(again, str(tmp_path / f"out.{fmt}"), fmt)
        assert (tmp_path / f"out.{fmt}").read_text(encoding="utf-8") == expected
        out = io.StringIO()
        write_export(again, "-", fmt, stdout=out)
        assert out.getvalue() == expected
        again.close()
    empty = export(box, 3, users=("nobody@example.com",))
    out = io.StringIO()
    write_export(empty, "-", "json", stdout=out)
    assert out.getvalue() == "[]\n" == json.dumps([], indent=2) + "\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_commands_json_counts_a_large_export(
    box: RunningSandbox, tmp_path: Path, monkeypatch: Any
) -> None:
    """``export --json`` after a large export (written through the temporary file): the
    count of worklogs written, not of the rows left after the file was removed (it said 0
    for every export over 100,000 worklogs)."""
    from click.testing import CliRunner

    from timetracker_import.app import export as export_module
    from timetracker_import.cli.main import cli

    monkeypatch.setattr(export_module, "SPILL_AFTER", 2)
    out = tmp_path / "out.csv"
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens["alice@example.com"]}
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-30",
            "--timezone",
            "UTC",
            "-o",
            str(out),
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert summary["worklogs"] == len(lines) - 1 > 2  # the header, then one line a worklog
