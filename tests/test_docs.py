"""The docs stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from timetracker_import.cli.main import COMMANDS
from timetracker_import.cli.reference import render_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_is_up_to_date() -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "docs/cli.md is stale: run `make docs`"


def test_every_command_is_in_the_reference_and_the_readme() -> None:
    reference = (DOCS / "cli.md").read_text(encoding="utf-8")
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"## `timetracker-import {name}`" in reference
        assert f"timetracker-import {name}" in readme or f"`{name}" in readme, (
            f"README never mentions the `{name}` command"
        )


def test_readme_keeps_the_sections_users_need() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for heading in ("## Set up", "## `validate`", "## Mappings and presets", "## `import`",
                    "## Exit codes"):  # fmt: skip
        assert heading in readme, heading
    assert "make demo" in readme and "make test" in readme
