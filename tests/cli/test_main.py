"""The command group itself: help, version, error-to-exit-code mapping."""

from __future__ import annotations

import click
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
