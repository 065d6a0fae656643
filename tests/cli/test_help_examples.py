"""Every ``--help`` has an Examples section, and every example parses with the command's
real options (a renamed option cannot leave a stale example behind)."""

from __future__ import annotations

import io
import shlex
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from timetracker_import.cli.examples import EXAMPLES
from timetracker_import.cli.main import cli


def all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, ctx: click.Context, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, click.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())

    walk(cli, click.Context(cli, info_name="timetracker-import"), "")
    return found


def example_args(line: str) -> list[str]:
    """The arguments of an example line: comment and shell redirections left out."""
    words = shlex.split(line.split("  #")[0])
    assert words[0] in ("timetracker-import", "import-worklogs"), line
    args, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in ("<", ">"):
            skip = True
        else:
            args.append(word)
    return args


def parse(args: list[str]) -> click.Command:
    """Parse ``args`` down to the command they name, running no command."""
    ctx = cli.make_context("timetracker-import", list(args))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
    ctx.close()  # what the options set up (a copy of stdin) is removed
    return command


def test_every_command_has_examples_in_its_help() -> None:
    runner = CliRunner()
    commands = all_commands()
    assert len(commands) > 40
    for path, _ in commands:
        result = runner.invoke(cli, [*path.split(), "--help"])
        assert result.exit_code == 0, path
        assert "\n  Examples:\n    timetracker-import" in result.output, f"{path!r} has no Examples"
    from timetracker_import.cli.legacy import import_worklogs

    legacy = runner.invoke(import_worklogs, ["--help"])
    assert "\n  Examples:\n    import-worklogs -f" in legacy.output


def test_every_example_parses_with_the_real_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    paths = {path for path, _ in all_commands()} | {"import-worklogs"}
    assert set(EXAMPLES) <= paths, set(EXAMPLES) - paths  # no examples of a gone command
    for path, lines in EXAMPLES.items():
        for line in lines:
            args = example_args(line)
            if path == "import-worklogs":
                from timetracker_import.cli.legacy import import_worklogs

                import_worklogs.make_context("import-worklogs", args).close()
                continue
            for word in args:  # files the commands require to exist
                if word.endswith((".csv", ".xlsx")) and not word.startswith("-"):
                    Path(word).touch()
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"User,Hours\n")))
            command = parse(args)
            assert command.name in args, line


def test_completion_is_served_for_bash(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(
        cli,
        [],
        prog_name="timetracker-import",
        env={
            "_TIMETRACKER_IMPORT_COMPLETE": "bash_complete",
            "COMP_WORDS": "timetracker-import runs pr",
            "COMP_CWORD": "2",
        },
    )
    assert result.output.strip() == "plain,prune"
