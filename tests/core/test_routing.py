"""route_by_organization: split a canonical frame per profile."""

from __future__ import annotations

import pandas as pd

from timetracker_import.core.routing import UNROUTED, route_by_organization


def frame(orgs: list[object]) -> pd.DataFrame:
    index = pd.Index(range(2, 2 + len(orgs)), name="source_row")
    return pd.DataFrame({"organization": orgs, "length_seconds": 60}, index=index)


def test_routes_by_profile_name_ignoring_case() -> None:
    routed = route_by_organization(frame(["East", " west", "EAST", "mars"]), ["east", "west"])
    assert list(routed["east"].index) == [2, 4]
    assert list(routed["west"].index) == [3]
    assert list(routed[UNROUTED].index) == [5]


def test_mapping_default_and_empty_cells() -> None:
    routed = route_by_organization(
        frame(["Contoso Ltd", None, "", float("nan")]), {"contoso ltd": "work"}, default="home"
    )
    assert list(routed["work"].index) == [2]
    assert list(routed["home"].index) == [3, 4, 5]
    no_default = route_by_organization(frame([None]), ["a"])
    assert list(no_default[UNROUTED].index) == [2]


def test_without_column_everything_goes_to_default() -> None:
    plain = frame(["x"]).drop(columns="organization")
    assert list(route_by_organization(plain, ["a"], default="a")["a"].index) == [2]
    assert route_by_organization(plain.iloc[:0], ["a"]) == {}
