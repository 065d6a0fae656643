"""An unknown user's rejection names the fix that exists for the mapping in use.

It used to say, for every mapping, "map it to one in a lookup file (`mapping init FILE -o
mapping.yaml` writes one listing the file's users to fill in)": only presets with a user
lookup (harvest, bamboohr-hours) get such a file; for toggl, clockify, kimai, tempo or the
old importer's format `mapping init` writes none, and the stranger was left with nothing to
fill in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.helpers import write_csv
from timetracker_import.sandbox.server import RunningSandbox

pytestmark = pytest.mark.usefixtures("cli_env")


def _reason(box: RunningSandbox, *args: str) -> str:
    result = invoke(box, "import", *args, "--dry-run", "--timezone", "UTC", "--json")
    assert result.exit_code == 1, result.stderr
    [rejection] = json.loads(result.stdout)["rejections"]
    assert rejection["stage"] == "resolve"
    return str(rejection["reason"])


def test_a_preset_without_a_user_lookup_names_map_in_a_copy_of_the_preset(
    box: RunningSandbox, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "old.csv",
        [{"UserName": "Mallory", "TimeStamp": "03/04/2024 09:15", "Duration": "1", "Comment": "x"}],
    )
    reason = _reason(box, str(path), "--preset", "7pace-npm")
    assert reason.startswith("unknown user 'Mallory'; no 7pace user has this e-mail")
    assert "mapping init" not in reason
    assert "`map: {'Jane D': jane@example.com}` on fields.user" in reason
    assert "`timetracker-import mapping show 7pace-npm > my.yaml`, then --mapping my.yaml" in (
        reason
    )


def test_a_preset_with_a_user_lookup_names_its_file_where_it_is_looked_for(
    box: RunningSandbox, tmp_path: Path
) -> None:
    row = {"Date": "2024-03-04", "Project": "P", "Task": "T", "Notes": "n", "Hours": "1"}
    row |= {"Billable?": "No", "First Name": "Zed", "Last Name": "Quorx"}
    path = write_csv(tmp_path / "harvest.csv", [row])
    reason = _reason(box, str(path), "--preset", "harvest")
    assert reason.endswith(
        f"add the value with its 7pace user (e-mail or uniqueName) to the lookup file "
        f"{tmp_path / 'harvest-users.csv'}, or add the person to the organization"
    )


def test_a_mapping_file_without_a_user_lookup_names_itself(
    box: RunningSandbox, tmp_path: Path
) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nfields:\n  user: {column: Who}\n  timestamp: {column: When}\n"
        "  length: {column: Hours, unit: hours}\n  comment: {column: What}\n",
        encoding="utf-8",
    )
    path = write_csv(
        tmp_path / "f.csv",
        [{"Who": "E1042", "When": "2024-03-04 09:00", "Hours": "1", "What": "x"}],
    )
    reason = _reason(box, str(path), "--mapping", str(mapping))
    assert reason.endswith(f"on fields.user in {mapping}, or add the person to the organization")
