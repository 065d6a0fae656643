"""``timetracker-import mapping``: the mapping file format and the shipped presets."""

from __future__ import annotations

import json

import click


@click.group("mapping")
def mapping() -> None:
    """Mapping files: JSON Schema, shipped presets."""


@mapping.command("schema")
def schema() -> None:
    """Print the JSON Schema of mapping files (for editor validation)."""
    from timetracker_import.core.mapping import mapping_json_schema

    click.echo(json.dumps(mapping_json_schema(), indent=2))


@mapping.command("presets")
def presets() -> None:
    """List the shipped presets (use one with --preset NAME)."""
    from timetracker_import.files.mapping_loader import list_presets

    for name, description in list_presets():
        click.echo(f"{name:<22} {description}")


@mapping.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the YAML of a shipped preset (a starting point for your own mapping)."""
    from timetracker_import.files.mapping_loader import preset_text

    click.echo(preset_text(name), nl=False)
