"""``timetracker-import import`` with an Organization column: per-organization runs through
profiles, JSON ``organizations``, the per-organization confirmation prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tests.app.test_multi_org import ROUTED_MAPPING, comments, write_file, write_profiles
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

ALICE = "alice@example.com"


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[RunningSandbox, RunningSandbox, list[str], dict[str, str]]]:
    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        write_profiles(
            tmp_path / "config",
            east=(east.url, east.tokens[ALICE]),
            west=(west.url, west.tokens[ALICE]),
        )
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(ROUTED_MAPPING, encoding="utf-8")
        args = ["import", str(write_file(tmp_path / "orgs.csv")), "--mapping", str(mapping)]
        # the command line's connection (rows without organization): east's server
        env = {"TIMETRACKER_URL": east.url, "TIMETRACKER_TOKEN": east.tokens[ALICE]}
        yield east, west, args, env


def test_import_routes_by_organization_with_json(
    setup: tuple[RunningSandbox, RunningSandbox, list[str], dict[str, str]], tmp_path: Path
) -> None:
    east, west, args, env = setup
    rejected = tmp_path / "all-rejected.csv"
    result = CliRunner().invoke(
        cli, [*args, "--yes", "--json", "--rejected", str(rejected)], env=env
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    orgs = {o["name"]: o for o in data["organizations"]}
    assert set(orgs) == {None, "east", "west"}
    assert orgs["west"]["url"] == f"{west.url}/api/rest"
    assert (orgs["west"]["rows"], orgs["west"]["created"], orgs["west"]["rejected"]) == (3, 2, 1)
    assert orgs["east"]["run_id"] and orgs["east"]["run_id"] != orgs["west"]["run_id"]
    c = data["counts"]
    assert (c["rows"], c["created"], c["rejected"], c["skipped"], c["balanced"]) == (
        10,
        6,
        3,
        1,
        True,
    )
    assert "[profiles.mars]" in result.stderr and "total: rows 10" in result.stderr
    assert {k for k in comments(west) if k.startswith("row-")} == {"row-1", "row-5"}
    assert {k for k in comments(east) if k.startswith("row-")} == {
        "row-0",
        "row-3",
        "row-4",
        "row-6",
    }
    # --rejected holds every rejected row of the file, once: 2 unknown + 1 bad minutes
    lines = rejected.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 3 and any("abc" in line for line in lines)

    again = CliRunner().invoke(cli, [*args, "--yes", "--json"], env=env)
    assert again.exit_code == 1, again.output
    c2 = json.loads(again.stdout)["counts"]
    assert (c2["created"], c2["already_existing"], c2["balanced"]) == (0, 6, True)


def test_prompt_shows_each_organization_and_no_answer_sends_nothing(
    setup: tuple[RunningSandbox, RunningSandbox, list[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    east, west, args, env = setup
    # CliRunner's stdin is no terminal: pretend one so that the prompt is asked
    tty = SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(
        "timetracker_import.cli.importer.sys",
        SimpleNamespace(stdin=tty, stderr=SimpleNamespace(isatty=lambda: False)),
    )
    before = (comments(east), comments(west))
    result = CliRunner().invoke(cli, args, env=env, input="n\n")
    assert result.exit_code == 2, result.output
    assert "west: 3 row(s) (0.50 h)" in result.stderr  # 2 valid rows of 15 minutes
    assert "default connection: 2 row(s) (0.50 h)" in result.stderr
    assert "2 row(s) of unknown organizations: rejected" in result.stderr
    assert (comments(east), comments(west)) == before


def test_file_without_other_organizations_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning routes and the import share one read of the file when nothing is routed."""
    import timetracker_import.files.readers as readers

    path = write_file(tmp_path / "orgs.csv")
    text = path.read_text(encoding="utf-8").splitlines()
    # every Organization cell empty: the command line's connection takes all rows
    path.write_text(
        "\n".join([text[0], *(",".join(line.split(",")[:-1]) + "," for line in text[1:])]),
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(ROUTED_MAPPING, encoding="utf-8")
    opened: list[Path] = []
    real_open = readers.open_table

    def counting_open(file: Path, **kwargs: object) -> readers.RawTable:
        opened.append(Path(file))
        return real_open(file, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(readers, "open_table", counting_open)
    with run_sandbox_in_thread() as box:
        env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens[ALICE]}
        args = ["import", str(path), "--mapping", str(mapping), "--yes", "--json"]
        result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1, result.output  # row 10's "abc" minutes
    assert "organizations" not in json.loads(result.stdout)
    assert opened == [path]
