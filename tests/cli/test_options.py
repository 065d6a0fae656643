"""Shared input options: the same spelling works for every command that reads a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from timetracker_import.cli.main import cli

MAPPING = """\
version: 1
timezone: UTC
fields:
  user: {column: User}
  timestamp: {column: Start}
  length: {column: Minutes, unit: minutes}
  comment: {column: Comment}
"""


@pytest.mark.parametrize("spelling", ["\\t", "tab", "TAB"])
def test_delimiter_tab_spellings(tmp_path: Path, spelling: str) -> None:
    # A header with a comma inside a cell: only a TAB delimiter reads it as 4 columns.
    data = tmp_path / "in.txt"
    data.write_text(
        "User\tStart\tMinutes\tComment\n"
        "alice@example.com\t2026-11-02T09:00:00Z\t30\tcode review, part 1\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    for command in (["validate"], ["mapping", "check"]):
        result = CliRunner().invoke(
            cli,
            [*command, str(data), "--mapping", str(mapping), "--delimiter", spelling],
        )
        assert result.exit_code == 0, result.output
        assert "code review, part 1" in result.output or command == ["validate"]
