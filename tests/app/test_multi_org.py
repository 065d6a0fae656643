"""``app.multi_org``: an import split by organization against two sandboxes (two profiles),
with rows of an unknown organization and rows without one; totals balance; a re-run is a
no-op per organization."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import MAPPING, make_rows
from timetracker_import.api.settings import resolve_connection
from timetracker_import.app.importer import ImportSettings
from timetracker_import.app.multi_org import (
    RoutePlan,
    plan_routes,
    routed_mapping,
    run_planned,
    worst_exit_code,
)
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

ROUTED_MAPPING = MAPPING + "  organization: {column: Organization, optional: true}\n"
ROUTED_MAPPING += "skip_rows: [{column: Comment, equals: TOTAL}]\n"
# Organization of each row: two profiles (any case), an unknown one, empty (default).
ORGS = ["east", "west", "mars", "", "East", "west", "", "MARS", "west", "west"]


@pytest.fixture
def boxes() -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    with run_sandbox_in_thread() as east, run_sandbox_in_thread() as west:
        yield east, west


def write_profiles(config_home: Path, **urls_tokens: tuple[str, str]) -> Path:
    folder = config_home / "timetracker-import"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.toml"
    path.write_text(
        "".join(
            f'[profiles.{n}]\nurl = "{u}"\ntoken = "{t}"\n' for n, (u, t) in urls_tokens.items()
        )
    )
    path.chmod(0o600)
    return path


def comments(box: RunningSandbox) -> Counter[str]:
    assert box.db is not None
    with sqlite3.connect(box.db) as conn:
        return Counter(str(c) for (c,) in conn.execute("SELECT comment FROM worklogs"))


def write_file(path: Path) -> Path:
    rows: list[dict[str, Any]] = make_rows(len(ORGS))
    for row, org in zip(rows, ORGS, strict=True):
        row["Organization"] = org
    rows[8]["Minutes"] = "abc"  # a west row the mapping rejects: counted once, in west's run
    rows[9]["Comment"] = "TOTAL"  # the user's own filter: skipped, counted once
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def plan_inputs(
    tmp_path: Path, boxes: tuple[RunningSandbox, RunningSandbox]
) -> tuple[ImportSettings, RunningSandbox, RunningSandbox]:
    east, west = boxes
    alice = "alice@example.com"
    write_profiles(
        tmp_path / "config",
        east=(east.url, east.tokens[alice]),
        west=(west.url, west.tokens[alice]),
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(ROUTED_MAPPING, encoding="utf-8")
    # The command line's connection: east's server, but no profile.
    default = resolve_connection(url=east.url, env={"TIMETRACKER_TOKEN": east.tokens[alice]})
    settings = ImportSettings(
        path=write_file(tmp_path / "orgs.csv"), connection=default, mapping_path=mapping
    )
    return settings, east, west


def _plan(settings: ImportSettings, env: dict[str, str] | None = None) -> RoutePlan:
    plan = plan_routes(settings, env=env or {})
    assert plan is not None
    return plan


def test_routes_rows_to_profiles_rejects_unknown_and_balances(
    plan_inputs: tuple[ImportSettings, RunningSandbox, RunningSandbox],
) -> None:
    settings, east, west = plan_inputs
    # A single-server variable must not redirect a named organization's profile.
    plan = _plan(settings, env={"TIMETRACKER_URL": east.url})
    by_name = {r.name: r for r in plan.routes}
    assert set(by_name) == {None, "east", "west"}
    assert by_name["west"].connection.url == west.url
    assert by_name[None].rows == (5, 8)  # source rows (header = row 1)
    assert by_name["east"].rows == (2, 6)
    assert by_name["west"].rows == (3, 7, 10)

    result = run_planned(plan)
    assert result.exit_code == 1
    t = result.total
    assert (t.rows, t.created, t.already_existing, t.rejected, t.unprocessed, t.skipped) == (
        10,
        6,
        0,
        3,
        0,
        1,
    )
    assert t.rows == t.created + t.already_existing + t.rejected + t.unprocessed + t.skipped
    assert {r.source_row for r in result.unknown} == {4, 9}
    assert all(
        "[profiles.mars]" in r.reason or "[profiles.MARS]" in r.reason for r in result.unknown
    )
    assert all(r.column == "Organization" for r in result.unknown)
    # each server holds exactly its rows; nothing of mars anywhere
    east_rows = {c for c in comments(east) if c.startswith("row-")}
    west_rows = {c for c in comments(west) if c.startswith("row-")}
    assert east_rows == {"row-0", "row-3", "row-4", "row-6"}
    assert west_rows == {"row-1", "row-5"}
    counts = {o.route.name: o.counts() for o in result.outcomes}
    assert counts["west"] == {
        "rows": 3,
        "created": 2,
        "already_existing": 0,
        "rejected": 1,
        "unprocessed": 0,
    }
    assert result.unknown_rejected_path is not None
    text = result.unknown_rejected_path.read_text(encoding="utf-8")
    assert "mars" in text and "MARS" in text and "row-2" in text and "row-1," not in text
    summary = result.summary_dict()
    assert [o["name"] for o in summary["organizations"]] == [None, "east", "west"]
    assert summary["counts"]["balanced"] is True

    # A re-run creates nothing: each organization's baseline finds its rows.
    before = (comments(east), comments(west))
    again = run_planned(_plan(settings))
    assert (comments(east), comments(west)) == before
    assert again.total.created == 0 and again.total.already_existing == 6
    assert again.total.is_balanced() and again.exit_code == 1


def _org_file(path: Path, orgs: list[str]) -> Path:
    rows = make_rows(len(orgs))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "Organization"])
        writer.writeheader()
        writer.writerows([{**r, "Organization": o} for r, o in zip(rows, orgs, strict=True)])
    return path


def test_no_routing_without_organizations_or_for_the_default_profile(
    plan_inputs: tuple[ImportSettings, RunningSandbox, RunningSandbox], tmp_path: Path
) -> None:
    settings, _, _ = plan_inputs
    plain = ImportSettings(
        path=_org_file(tmp_path / "plain.csv", ["", "", ""]),
        connection=settings.connection,
        mapping_path=settings.mapping_path,
    )
    assert plan_routes(plain) is None
    # rows naming the default connection's own profile: an ordinary single import
    own = ImportSettings(
        path=_org_file(tmp_path / "own.csv", ["EAST", "", "east"]),
        connection=resolve_connection(profile="east", env={}),
        mapping_path=settings.mapping_path,
    )
    assert plan_routes(own) is None
    # ... but another organization's name makes it a routed import
    other = ImportSettings(
        path=_org_file(tmp_path / "other.csv", ["east", "west"]),
        connection=own.connection,
        mapping_path=settings.mapping_path,
    )
    plan = plan_routes(other, env={})
    assert plan is not None and [r.name for r in plan.routes] == [None, "west"]


def test_routed_mapping_keeps_the_users_filters() -> None:
    from timetracker_import.app.multi_org import Route

    route = Route(None, None, (2,), skip_values=("west",), skip_empty=True)  # type: ignore[arg-type]
    data = routed_mapping({"skip_rows": [{"column": "C", "equals": "x"}]}, "Org", route)
    assert data["skip_rows"][0] == {"column": "C", "equals": "x"}
    assert data["skip_rows"][1]["equals"] == ["west"]
    assert data["skip_rows"][2] == {"empty": ["Org"], "optional": True}


def test_worst_exit_code_orders_by_severity() -> None:
    assert worst_exit_code([]) == 0
    assert worst_exit_code([0, 1, 75]) == 75
    assert worst_exit_code([1, 75, 3]) == 3
    assert worst_exit_code([4, 130]) == 130
    assert worst_exit_code([0, 143]) == 143 and worst_exit_code([75, 129]) == 129
    assert worst_exit_code([75, 76, 1]) == 76 and worst_exit_code([76, 2]) == 2


def test_mapping_file_carries_loaded_lookups_under_stable_names() -> None:
    from timetracker_import.app.multi_org import mapping_file
    from timetracker_import.files.mapping_loader import load_mapping

    data = {
        "fields": {
            "user": {"column": "Who", "lookup": "people"},
            "timestamp": {"column": "Start"},
            "length": {"column": "Hours", "unit": "hours"},
        },
        "lookups": {
            "people": {"file": "../elsewhere/people.csv", "key": "alias", "value": "email"}
        },
    }
    table = {"ann": "ann@example.com", "bo": "bo@example.com"}
    with mapping_file(data, {"people": table}) as path:
        loaded = load_mapping(path)
    assert loaded.lookups == {"people": table}
    assert loaded.mapping.lookups["people"].file == "lookup-people.csv"


def test_an_unknown_user_in_a_routed_run_names_the_users_own_mapping(
    plan_inputs: tuple[ImportSettings, RunningSandbox, RunningSandbox], tmp_path: Path
) -> None:
    # Each route reads a temporary copy of the mapping: the reason named that copy (deleted
    # when the run ends) as the file to put `map:` in.
    settings, _east, _west = plan_inputs
    rows = make_rows(2)
    rows[0]["User"] = "E1042"  # no such user, nothing close to it
    with (tmp_path / "one.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "Organization"])
        writer.writeheader()
        writer.writerows(
            [{**r, "Organization": o} for r, o in zip(rows, ["west", ""], strict=True)]
        )
    result = run_planned(_plan(replace(settings, path=tmp_path / "one.csv")))
    [rejection] = [r for o in result.outcomes if o.result for r in o.result.rejections]
    assert rejection.reason.endswith(
        f"on fields.user in {settings.mapping_path}, or add the person to the organization"
    )
    assert "timetracker-routes-" not in rejection.reason
