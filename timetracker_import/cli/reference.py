"""Generate docs/cli.md, the command reference, from the commands' own ``--help``.

Run ``make docs`` (``python -m timetracker_import.cli.reference > docs/cli.md``);
tests/test_docs.py fails when the committed file is out of date, so a new command or option
cannot ship undocumented.
"""

from __future__ import annotations

import click

from timetracker_import.cli.main import cli

HEADER = """# Command reference

Generated from `--help` by `make docs`; do not edit by hand.
"""


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    # Apply the command's context_settings (e.g. -h/--help) as click's own make_context does,
    # so the text does not depend on which context first asked for the help option.
    settings: dict[str, object] = {"terminal_width": 100, "max_content_width": 100}
    settings.update(command.context_settings)
    return click.Context(command, info_name=name, parent=parent, **settings)  # type: ignore[arg-type]


def _walk(command: click.Command, ctx: click.Context | None, path: list[str]) -> list[str]:
    sections = []
    title = " ".join(path)
    with _context(command, path[-1], ctx) as sub:
        text = command.get_help(sub)
        sections.append(f"## `{title}`\n\n```text\n{text}\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(sub):
                child = command.get_command(sub, name)
                if child is not None and not child.hidden:
                    sections.extend(_walk(child, sub, [*path, name]))
    return sections


def render_reference() -> str:
    """The whole reference as Markdown: every command and subcommand's help text, then the
    legacy ``import-worklogs`` entry point."""
    from timetracker_import.cli.legacy import import_worklogs

    sections = [
        *_walk(cli, None, ["timetracker-import"]),
        *_walk(import_worklogs, None, ["import-worklogs"]),
    ]
    return HEADER + "\n" + "\n".join(sections)


if __name__ == "__main__":
    click.echo(render_reference(), nl=False)
