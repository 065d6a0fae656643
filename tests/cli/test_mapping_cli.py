"""`timetracker-import mapping schema|presets|show`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from timetracker_import.cli.main import cli


def test_schema_is_json_schema_of_mapping() -> None:
    result = CliRunner().invoke(cli, ["mapping", "schema"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["title"] == "timetracker-import mapping"
    assert {"fields", "date_order", "rounding"} <= set(doc["properties"])


def test_presets_lists_shipped_files_with_descriptions() -> None:
    result = CliRunner().invoke(cli, ["mapping", "presets"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"7pace-npm", "7pace-npm-letters", "payroll-demo"} <= set(names)
    assert "old npm importer" in result.stdout


def test_every_preset_is_a_valid_mapping() -> None:
    from timetracker_import.files.mapping_loader import list_presets, load_preset

    for name, _ in list_presets():
        fields = load_preset(name).mapping.fields
        # A length column, or start + end (the Toggl presets) to derive it from.
        assert fields.length is not None or fields.end is not None


def test_show_prints_yaml_and_unknown_exits_2() -> None:
    ok = CliRunner().invoke(cli, ["mapping", "show", "7pace-npm-letters"])
    assert ok.exit_code == 0 and "header: false" in ok.stdout
    bad = CliRunner().invoke(cli, ["mapping", "show", "nope"])
    assert bad.exit_code == 2 and "7pace-npm" in bad.stderr
