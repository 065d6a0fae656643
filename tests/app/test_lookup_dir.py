"""Issue 22 item 5: lookup files are found where the docs say, never in the current
directory: beside the mapping file (--mapping), beside the input file (--preset), or in
--lookup-dir. The cron trap: a scheduled run without `cd` rejected every row."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from timetracker_import.app.validate import ValidateSettings, run_validate
from timetracker_import.cli.main import cli

HARVEST = (
    "Date,Client,Project,Project Code,Task,Notes,Hours,Billable?,Invoiced?,Approved?,"
    "First Name,Last Name,Roles,Employee?\r\n"
    "2026-03-02,,Internal,,Meetings,Weekly sync,1.0,No,No,No,Bo,Builder,,Yes\r\n"
)


def _users(folder: Path, user: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harvest-users.csv").write_text(f"Name,User\nBo Builder,{user}\n", encoding="utf-8")


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """data/export.csv + data/harvest-users.csv (bob); the current directory elsewhere,
    with a harvest-users.csv of its own (carol) that must not be read."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "export.csv").write_text(HARVEST, encoding="utf-8")
    _users(tmp_path / "data", "bob@example.com")
    _users(tmp_path / "elsewhere", "carol@example.com")
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path


def _users_of(result: object) -> set[str]:
    return set(result.seconds_per_user)  # type: ignore[attr-defined]


def test_a_preset_reads_its_lookups_beside_the_input_file(layout: Path) -> None:
    result = run_validate(ValidateSettings(path=layout / "data" / "export.csv", preset="harvest"))
    assert result.missing_lookup_files == {}
    assert result.lookup_files == {"users": str(layout / "data" / "harvest-users.csv")}
    assert _users_of(result) == {"bob@example.com"}


def test_lookup_dir_wins(layout: Path) -> None:
    _users(layout / "lookups", "alice@example.com")
    result = run_validate(
        ValidateSettings(
            path=layout / "data" / "export.csv", preset="harvest", lookup_dir=layout / "lookups"
        )
    )
    assert _users_of(result) == {"alice@example.com"}


def test_a_mapping_file_reads_its_lookups_beside_itself(layout: Path) -> None:
    from timetracker_import.files.mapping_loader import preset_text

    (layout / "conf").mkdir()
    (layout / "conf" / "m.yaml").write_text(preset_text("harvest"), encoding="utf-8")
    _users(layout / "conf", "dave@example.com")
    result = run_validate(
        ValidateSettings(
            path=layout / "data" / "export.csv", mapping_path=layout / "conf" / "m.yaml"
        )
    )
    assert _users_of(result) == {"dave@example.com"}


def test_a_missing_lookup_names_the_folder_it_looked_in(layout: Path) -> None:
    (layout / "data" / "harvest-users.csv").unlink()
    result = run_validate(ValidateSettings(path=layout / "data" / "export.csv", preset="harvest"))
    assert result.missing_lookup_files == {"users": str(layout / "data" / "harvest-users.csv")}
    assert _users_of(result) == {"Bo Builder"}  # passed on, not carol from the cwd


def test_mapping_check_takes_lookup_dir(layout: Path) -> None:
    _users(layout / "lookups", "erin@example.com")
    export = str(layout / "data" / "export.csv")
    result = CliRunner().invoke(
        cli,
        [
            "mapping",
            "check",
            "--preset",
            "harvest",
            export,
            "--lookup-dir",
            str(layout / "lookups"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "erin@example.com" in result.stdout
    plain = CliRunner().invoke(cli, ["mapping", "check", "--preset", "harvest", export])
    assert "bob@example.com" in plain.stdout and "carol" not in plain.stdout


def test_a_lookup_of_a_column_the_file_lacks_is_not_reported_missing(tmp_path: Path) -> None:
    # Clockify's Issue Key column is optional: without it jira-keys.csv is not needed
    data = Path(__file__).resolve().parents[1] / "data" / "fidelity"
    sample = tmp_path / "c.csv"
    sample.write_bytes((data / "clockify-us-days-under-13.csv").read_bytes())
    result = run_validate(ValidateSettings(path=sample, preset="clockify-us", timezone="UTC"))
    assert result.valid == 5 and result.missing_lookup_files == {}
    with_key = tmp_path / "k.csv"
    with_key.write_bytes((data / "clockify-eu-issue-key.csv").read_bytes())
    result = run_validate(ValidateSettings(path=with_key, preset="clockify-eu", timezone="UTC"))
    assert result.missing_lookup_files == {"work_items": str(tmp_path / "jira-keys.csv")}
