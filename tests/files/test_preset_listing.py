"""`mapping presets` shows each preset's whole one-line description."""

from __future__ import annotations

import pytest

from timetracker_import.files.mapping_loader import list_presets

PRESETS = list_presets()


@pytest.mark.parametrize(("name", "description"), PRESETS, ids=[name for name, _ in PRESETS])
def test_description_is_complete(name: str, description: str) -> None:
    # An unquoted " #" in YAML starts a comment and silently cuts the description short.
    assert description, f"{name} has no description"
    assert description.count("(") == description.count(")"), description
