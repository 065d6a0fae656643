"""`export` walkthrough findings: a --format that contradicts the output name, and a filter
that matches nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.cli.conftest import invoke
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

RANGE = ["--from", "2026-10-01", "--to", "2026-11-30", "--timezone", "Europe/Berlin"]


pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


def run(box: RunningSandbox, *args: str) -> Result:
    return invoke(box, "export", *args)


@pytest.mark.parametrize(
    ("fmt", "name"), [("csv", "x.xlsx"), ("xlsx", "x.csv"), ("json", "x.csv"), ("xlsx", "x.dat")]
)
def test_format_contradicting_the_output_name_is_refused(
    box: RunningSandbox, tmp_path: Path, fmt: str, name: str
) -> None:
    out = tmp_path / name
    result = run(box, *RANGE, "--format", fmt, "--output", str(out))
    assert result.exit_code == 2, result.output
    assert f"--format {fmt} does not match the output name" in result.stderr
    assert not out.exists()  # nothing written under a misleading name


def test_format_agreeing_with_the_output_name_writes(box: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    result = run(box, *RANGE, "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:2] == b"PK"  # a real workbook


def test_filter_matching_nothing_says_so(box: RunningSandbox, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = run(box, *RANGE, "--user", "nobdy@example.com", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 0 worklogs" in result.stderr
    assert "check their spelling" in result.stderr


def test_export_refuses_a_work_item_below_1() -> None:
    from click.testing import CliRunner

    from timetracker_import.cli.main import cli

    result = CliRunner().invoke(cli, ["export", "--work-item", "-3"])
    assert result.exit_code == 2
    assert "-3 is not in the range x>=1" in result.output
