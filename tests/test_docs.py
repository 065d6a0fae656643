"""The docs stay in step with the code."""

from __future__ import annotations

import re
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
    for heading in (
        "## Set up",
        "## `validate`",
        "## Mappings and presets",
        "## `import`",
        "## Exit codes",
    ):
        assert heading in readme, heading
    assert "make demo" in readme and "make test" in readme


REPO = DOCS.parent
CANONICAL = "https://github.com/timetracker-import/timetracker-import"
RAW = "https://raw.githubusercontent.com/timetracker-import/timetracker-import/main/"
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_links_are_absolute_and_point_at_files_of_this_repository() -> None:
    """PyPI shows the README without the repository around it: relative links would break."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = _LINK.findall(readme)
    assert len(targets) > 10
    for target in targets:
        assert target.startswith(("https://", "#")), f"relative link in README: {target}"
        for prefix in (f"{CANONICAL}/blob/main/", f"{CANONICAL}/tree/main/", RAW):
            if target.startswith(prefix):
                assert (REPO / target[len(prefix) :]).exists(), target


def _markdown_files() -> list[Path]:
    return [
        REPO / "README.md",
        REPO / "CHANGELOG.md",
        REPO / "sample_data" / "README.md",
        *sorted(DOCS.glob("*.md")),
    ]


def test_docs_stand_alone() -> None:
    """No link or reference outside the repository, no internal issue numbers."""
    for path in _markdown_files():
        text = path.read_text(encoding="utf-8")
        assert "shared/docs" not in text and "../shared" not in text, path
        for outside in ("export-formats.md", "7pace-api.md", "style.md"):  # not in the repository
            assert outside not in text, (path, outside)
        assert not re.search(r"\bissues? #?\d+", text, re.IGNORECASE), path
        for target in _LINK.findall(text):
            if target.startswith(("https://", "http://", "#", "mailto:")):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(REPO), f"{path.name}: {target} leaves the repository"
            assert resolved.exists(), f"{path.name}: {target} does not exist"


def test_the_version_is_in_one_place_and_in_the_changelog() -> None:
    from timetracker_import import __version__

    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '\nversion = "' not in pyproject  # read from timetracker_import.__version__
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{__version__}]" in changelog
    assert "## Version policy" in changelog
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
