from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from timetracker_import.core.resolve import (
    ActivityTypeDirectory,
    UserDirectory,
    resolve_activity_types,
    resolve_users,
    unknown_user_fix,
)

SELF = "5e1f0000-0000-0000-0000-000000000000"
USERS: list[dict[str, Any]] = [
    {
        "id": "id-bob",
        "uniqueName": "bob@example.com",
        "email": "bob@example.com",
        "name": "Bob Builder",
        "displayName": "Bob Builder",
    },
    {
        "id": "id-ann",
        "uniqueName": "CORP\\ann",
        "email": "ann@example.com",
        "name": "Ann Example",
        "displayName": None,
    },
    {
        "id": "id-b2",
        "uniqueName": "bob2@example.com",
        "email": "bob2@example.com",
        "name": "Bob Builder",
        "displayName": "Bob Builder",
    },
    {
        "id": "id-odd",
        "uniqueName": "odd@example.com",
        "email": "odd@example.com",
        "name": "ann@example.com",
    },  # a name that looks like someone else's email
]


def users_frame(values: Sequence[Any]) -> pd.DataFrame:
    index = pd.Index(range(2, 2 + len(values)), name="source_row")
    return pd.DataFrame({"user": pd.Series(values, index=index, dtype=object)})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob@example.com", "id-bob"),
        ("  BOB@Example.COM ", "id-bob"),
        ("corp\\ANN", "id-ann"),
        ("Ann   Example", "id-ann"),
        ("ann@example.com", "id-ann"),  # identifiers win over names
        ("id-b2", "id-b2"),
    ],
)
def test_lookup_matches_identifiers_and_names(value: str, expected: str) -> None:
    assert UserDirectory.from_users(USERS).lookup(value) == (expected, None)


def test_ambiguous_display_name_names_both_users() -> None:
    user_id, reason = UserDirectory.from_users(USERS).lookup("bob builder")
    assert user_id is None
    assert reason is not None
    assert "'bob@example.com' (Bob Builder)" in reason
    assert "'bob2@example.com' (Bob Builder)" in reason
    assert "more than one user" in reason
    # a Harvest name or an employee number cannot become an e-mail in the export: the fix
    # is the mapping's (its lookup file here), not "write the email address instead"
    fix = unknown_user_fix(lookup_file="/data/harvest-users.csv")
    _, reason = UserDirectory.from_users(USERS, unknown_fix=fix).lookup("bob builder")
    assert reason is not None and reason.endswith(
        "say which: add the value with its 7pace user (e-mail or uniqueName) to the lookup "
        "file /data/harvest-users.csv"
    )


def test_unknown_user_gets_a_suggestion() -> None:
    _, reason = UserDirectory.from_users(USERS).lookup("bob@exmple.com")
    assert reason is not None
    assert reason.startswith(
        "unknown user 'bob@exmple.com'; did you mean 'bob@example.com' (Bob Builder)"
    )
    assert reason.endswith("?")


def test_unknown_user_without_close_match_says_how_to_fix() -> None:
    # a login or an employee number: the fix is the mapping's own (unknown_user_fix)
    fix = unknown_user_fix(lookup_file="/data/harvest-users.csv")
    _, reason = UserDirectory.from_users(USERS, unknown_fix=fix).lookup("101")
    assert reason == (
        "unknown user '101'; no 7pace user has this e-mail, uniqueName or display name: add "
        "the value with its 7pace user (e-mail or uniqueName) to the lookup file "
        "/data/harvest-users.csv, or add the person to the organization"
    )
    _, reason = UserDirectory.from_users(USERS, unknown_fix=fix).lookup("zed@elsewhere.org")
    assert reason is not None and "no 7pace user has this e-mail or uniqueName" in reason
    assert reason.endswith("to the lookup file /data/harvest-users.csv")


def test_the_unknown_user_fix_names_what_exists_for_the_mapping() -> None:
    # The reason used to send everyone to `mapping init`'s lookup template, which only a
    # preset with a user lookup (harvest, bamboohr-hours) gets: for toggl, clockify, kimai or
    # the old importer's format it wrote no file to fill in.
    preset = unknown_user_fix(preset="toggl")
    assert "`map: {'Jane D': jane@example.com}` on fields.user" in preset
    assert "`timetracker-import mapping show toggl > my.yaml`, then --mapping my.yaml" in preset
    assert "mapping init" not in preset
    assert unknown_user_fix(mapping_file="conf/m.yaml").endswith("on fields.user in conf/m.yaml")
    _, reason = UserDirectory.from_users(USERS).lookup("101")  # no mapping known
    assert reason is not None and "mapping init" not in reason
    assert "`map: {'Jane D': jane@example.com}` on fields.user in the mapping" in reason


DEMO = [
    {"id": f"id-{n}", "email": f"{n}@example.com", "displayName": f"{n.title()} {last}"}
    for n, last in (("alice", "Admin"), ("bob", "Builder"), ("carol", "Coder"), ("dave", "Product"))
]


def test_did_you_mean_only_for_close_names_not_a_shared_domain() -> None:
    directory = UserDirectory.from_users(DEMO)
    # issue 21: Mallory was offered carol, alice and bob, because of @example.com
    assert directory.suggest("mallory@example.com") == []
    assert directory.suggest("Mallory") == []
    _, reason = directory.lookup("mallory@example.com")
    assert reason is not None and "did you mean" not in reason
    assert directory.suggest("carl@example.com") == ["'carol@example.com' (Carol Coder)"]
    assert directory.suggest("Bo Builder") == ["'bob@example.com' (Bob Builder)"]
    assert directory.suggest("alice.admin@example.com") == ["'alice@example.com' (Alice Admin)"]


def test_aliases_point_to_users_and_bad_aliases_are_reported() -> None:
    directory = UserDirectory.from_users(USERS, {"Bobby": "bob@example.com", "X": "nobody"})
    assert directory.lookup("bobby") == ("id-bob", None)
    user_id, reason = directory.lookup("x")
    assert user_id is None and reason is not None and "alias 'x'" in reason


def test_resolve_users_empty_is_self_and_rejections_carry_row_and_column() -> None:
    frame = users_frame(
        ["bob@example.com", None, "  ", "nobody@x.org", "BOB@example.com", float("nan")]
    )
    ids, rejections = resolve_users(
        frame, UserDirectory.from_users(USERS), self_user_id=SELF, column_header="E-Mail"
    )
    assert ids.tolist() == ["id-bob", SELF, SELF, None, "id-bob", SELF]
    assert list(ids.index) == list(frame.index)
    assert len(rejections) == 1
    rej = rejections[0]
    assert (rej.source_row, rej.stage, rej.column, rej.value) == (
        5,
        "resolve",
        "E-Mail",
        "nobody@x.org",
    )


def test_resolve_users_looks_up_each_distinct_value_once() -> None:
    calls: list[str] = []

    class Counting(UserDirectory):
        def lookup(self, value: str) -> tuple[str | None, str | None]:
            calls.append(value)
            return super().lookup(value)

    base = UserDirectory.from_users(USERS)
    directory = Counting(base.users, base.by_identifier, base.by_name, base.aliases)
    resolve_users(
        users_frame(["bob@example.com"] * 50 + ["ann@example.com"] * 50),
        directory,
        self_user_id=SELF,
    )
    assert sorted(calls) == ["ann@example.com", "bob@example.com"]


PAYLOAD = {
    "enabled": True,
    "systemDefaultActivityTypeId": "at-dev",
    "activityTypes": [
        {"color": "ffffff", "name": "[Not Set]", "id": "00000000-0000-0000-0000-000000000000"},
        {"color": "46aee8", "name": "Development", "id": "at-dev"},
        {"color": "aaaaaa", "name": "Code Review", "id": "at-review"},
    ],
}


def activity_frame(values: list[object]) -> pd.DataFrame:
    index = pd.Index(range(2, 2 + len(values)), name="source_row")
    return pd.DataFrame({"activity_type": pd.Series(values, index=index, dtype=object)})


def test_activity_types_by_name_case_insensitive_empty_is_none() -> None:
    directory = ActivityTypeDirectory.from_payload({"data": PAYLOAD})
    assert directory.system_default_id == "at-dev"
    ids, rejections = resolve_activity_types(
        activity_frame([" development", None, "CODE review", "Codereview", ""]),
        directory,
        column_header="Activity",
    )
    assert ids.tolist() == ["at-dev", None, "at-review", None, None]
    assert len(rejections) == 1
    assert rejections[0].source_row == 5 and rejections[0].column == "Activity"
    assert "did you mean 'Code Review'?" in rejections[0].reason


def test_activity_types_disabled_rejects_any_value() -> None:
    directory = ActivityTypeDirectory.from_payload({**PAYLOAD, "enabled": False})
    ids, rejections = resolve_activity_types(activity_frame(["Development", None]), directory)
    assert ids.tolist() == [None, None]
    assert [r.source_row for r in rejections] == [2]
    assert "switched off" in rejections[0].reason


def test_duplicate_activity_type_names_are_ambiguous() -> None:
    payload = {"activityTypes": [{"name": "Dev", "id": "1"}, {"name": "dev", "id": "2"}]}
    type_id, reason = ActivityTypeDirectory.from_payload(payload).lookup("DEV")
    assert type_id is None and reason is not None and "more than one" in reason


def test_missing_activity_column_gives_all_none() -> None:
    directory = ActivityTypeDirectory.from_payload(PAYLOAD)
    ids, rejections = resolve_activity_types(users_frame(["a"]), directory)
    assert ids.tolist() == [None] and rejections == []
