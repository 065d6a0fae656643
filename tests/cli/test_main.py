"""The command group itself: help, version, error-to-exit-code mapping."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from timetracker_import import __version__
from timetracker_import.cli.main import LazyGroup, report_error
from timetracker_import.errors import AuthError, InputError, TimetrackerError


def test_version_prints_package_version() -> None:
    from timetracker_import.cli.main import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def _group_with(command: click.Command) -> click.Group:
    group = LazyGroup(name="t")
    group.add_command(command)
    return group


def test_timetracker_error_becomes_message_and_exit_code() -> None:
    @click.command()
    def boom() -> None:
        raise InputError("cannot read x.csv", hint="try --encoding cp1252")

    result = CliRunner().invoke(_group_with(boom), ["boom"])
    assert result.exit_code == 2
    assert "error: cannot read x.csv" in result.output
    assert "--encoding cp1252" in result.output
    assert "Traceback" not in result.output


def test_int_return_value_is_exit_code() -> None:
    @click.command()
    def partial() -> int:
        return 1

    assert CliRunner().invoke(_group_with(partial), ["partial"]).exit_code == 1


def test_auth_error_exit_code_is_3() -> None:
    assert report_error(AuthError("token expired", status=401)) == 3
    assert isinstance(AuthError("x"), TimetrackerError)


def test_api_error_exit_code_follows_transience() -> None:
    from timetracker_import.errors import ApiError, TransientApiError

    assert report_error(ApiError("refused", status=409, transient=False)) == 2
    assert report_error(ApiError("server down", status=503, transient=True)) == 75
    assert report_error(TransientApiError("budget spent", transient=False)) == 75
    assert report_error(AuthError("forbidden", status=403, transient=False)) == 3


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        (["--help"], ("pandas", "numpy", "pandera", "aiohttp", "pydantic")),
        (["runs", "list"], ("pandas", "numpy", "pandera", "hypothesis")),
        (["runs", "show", "no-such-run"], ("pandas", "numpy", "pandera", "aiohttp")),
    ],
)
def test_commands_that_do_not_need_the_heavy_libraries_do_not_import_them(
    argv: list[str], absent: tuple[str, ...], tmp_path: Path
) -> None:
    """Start-up is part of what a user waits for: pandas, pandera (and through it
    hypothesis) and aiohttp stay off the path of commands that never use them."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import sys, json\n"
        "from timetracker_import.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr)\n"
    )
    env = dict(os.environ, TIMETRACKER_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not loaded & set(absent), (argv, sorted(loaded & set(absent)))


@pytest.mark.parametrize(
    ("hours", "loaded"),
    [
        # every row clean: core.schema clears the frame without importing pandera
        ("8", ["False", "False"]),
        # a row to reject: pandera names the failure, still without hypothesis
        ("0", ["False", "True"]),
    ],
)
def test_an_import_does_not_load_hypothesis_through_pandera(
    tmp_path: Path, hours: str, loaded: list[str]
) -> None:
    import os
    import subprocess
    import sys

    csv = tmp_path / "h.csv"
    csv.write_text(
        f"User,Date,Hours,Note\nbob@example.com,2026-11-02,8,x\nbob@example.com,2026-11-03,{hours},y\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\ntimezone: UTC\nfields:\n  user: {column: User}\n  date: {column: Date}\n"
        "  length: {column: Hours, unit: hours}\n  comment: {column: Note}\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\n"
        "from timetracker_import import validate\n"
        f"r = validate({str(csv)!r}, mapping={str(mapping)!r})\n"
        f"assert r.valid == {1 if hours == '0' else 2}, r\n"
        "print('hypothesis' in sys.modules, 'pandera' in sys.modules)\n"
    )
    env = dict(os.environ, TIMETRACKER_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.split() == loaded, done.stderr


def test_the_console_entry_keeps_exit_codes_and_output_when_it_skips_the_teardown(
    tmp_path: Path,
) -> None:
    """``run`` leaves with os._exit after the command: exit codes, stdout and stderr must
    be exactly what the command produced (nothing lost in a buffer)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, TIMETRACKER_STATE_DIR=str(tmp_path / "state"))
    ok = subprocess.run(
        [sys.executable, "-m", "timetracker_import", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0 and "version" in ok.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "timetracker_import",
            "validate",
            str(tmp_path / "none.csv"),
            "--preset",
            "toggl",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: "), bad.stderr
    csv = tmp_path / "h.csv"
    csv.write_text(
        "Email,Start date,Start time,End time,Description\n"
        + "".join(
            f"bob@example.com,2026-11-{d:02d},09:00:00,10:00:00,x{d}\n" for d in range(1, 29)
        ),
        encoding="utf-8",
    )
    big = subprocess.run(
        [
            sys.executable,
            "-m",
            "timetracker_import",
            "validate",
            str(csv),
            "--preset",
            "toggl",
            "--timezone",
            "UTC",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert big.returncode == 0, big.stderr
    assert json.loads(big.stdout)["valid"] == 28  # the whole JSON document arrived
