"""User mistakes found in the UX walkthrough: each gives a clear message and exit code,
never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from timetracker_import.api import client as client_module
from timetracker_import.api.retry import RetryPolicy
from timetracker_import.app.importer import ImportResult
from timetracker_import.cli.importer import render_summary
from timetracker_import.cli.main import cli
from timetracker_import.core.outcomes import Counts

MAPPING = """\
version: 1
timezone: Europe/Berlin
fields:
  user: {column: User}
  date: {column: Date}
  start: {column: Start}
  length: {column: Hours, unit: hours}
  comment: {column: Notes}
"""


def _write_csv(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "hours.csv"
    data.write_text(
        "User,Date,Start,Hours,Notes\nalice@example.com,2026-11-16,09:00,1.5,x\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def test_utf16_encoding_on_a_file_without_bom_is_an_input_error(tmp_path: Path) -> None:
    data, mapping = _write_csv(tmp_path)
    result = CliRunner().invoke(
        cli, ["validate", str(data), "--mapping", str(mapping), "--encoding", "utf-16"]
    )
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "cannot read the file as utf-16" in result.output
    assert "utf-16-le" in result.output  # the fix: name the byte order


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting is refused


def test_unreachable_server_names_host_and_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One attempt, so the test does not sit through the backoff.
    monkeypatch.setattr(client_module, "RetryPolicy", lambda: RetryPolicy(max_attempts=1))
    port = _closed_port()
    monkeypatch.setenv("TIMETRACKER_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("TIMETRACKER_TOKEN", "ux-token-0123456789-WXYZ")
    result = CliRunner().invoke(cli, ["me"])
    assert result.exit_code == 75, result.output
    assert f"cannot connect to 127.0.0.1:{port} (Connection refused)" in result.output
    assert "ClientConnectorError" not in result.output
    assert "check the URL" in result.output
    assert "WXYZ" not in result.output


def test_interrupted_summary_has_no_dangling_colon(tmp_path: Path) -> None:
    result = ImportResult(
        run_id="RUN",
        run_dir=tmp_path,
        dry_run=False,
        resumed=False,
        accounting=Counts(rows=3, created=1, already_existing=0, rejected=0, unprocessed=2),
        exit_code=130,
        rejections=[],
        existing={},
        in_file_duplicates={},
        halt_reason="interrupted",
        halt_message=None,
        ambiguous_batches=[],
        rejected_path=None,
        user_rejected_path=None,
        created_csv=None,
        summary_path=tmp_path / "summary.json",
        report_path=None,
    )
    lines = render_summary(result).splitlines()
    assert "interrupted" in lines
    assert not any(line.rstrip().endswith(":") for line in lines)


def test_auth_login_with_stdin_closed_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["auth", "login", "--url", "http://127.0.0.1:9"], input="")
    assert result.exit_code == 2, result.output
    assert "no token entered" in result.output
    assert "Aborted" not in result.output


def test_auth_login_ctrl_c_at_the_prompt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import click

    def interrupted_prompt(*args: object, **kwargs: object) -> str:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.Abort() from None  # what click.prompt does on Ctrl-C

    monkeypatch.setattr(click, "prompt", interrupted_prompt)
    result = CliRunner().invoke(cli, ["auth", "login", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 130, result.output
