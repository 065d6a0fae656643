"""Diff of an edited export row against the server worklog."""

from __future__ import annotations

import pytest

from timetracker_import.core.roundtrip import (
    RowError,
    patch_body,
    patch_for_row,
)

SERVER = {
    "id": "w1",
    "timestamp": "2026-03-04T09:00:00Z",
    "length": 3600,
    "billableLength": None,
    "workItemId": 5,
    "comment": "old",
    "activityType": {"id": "dev-id", "name": "Development"},
    "user": {"id": "bob-id", "email": "bob@example.com"},
}
USERS = {"bob@example.com": "bob-id", "carol@example.com": "carol-id"}
TYPES = {"development": "dev-id", "testing": "test-id"}


def diff(**row: object) -> dict[str, object]:
    return patch_body(patch_for_row(row, SERVER, user_ids=USERS, activity_type_ids=TYPES))


def test_unchanged_row_gives_empty_patch() -> None:
    assert (
        diff(
            id="w1",
            timestamp_utc="2026-03-04T10:00:00+01:00",
            length_seconds="3600",
            length_hours="1.0",
            work_item_id="5",
            comment="old",
            activity_type="DEVELOPMENT",
            user_email="Bob@example.com",
            billable_seconds="",
        )
        == {}
    )


def test_only_changed_fields_are_sent() -> None:
    body = diff(
        id="w1",
        length_seconds="1800",
        comment="new",
        activity_type="Testing",
        timestamp_utc="2026-03-04T09:30:00Z",
        billable_seconds="0",
    )
    assert body == {
        "length": 1800,
        "comment": "new",
        "activityTypeId": "test-id",
        "timeStamp": "2026-03-04T09:30:00Z",
        "billableLength": 0,
    }


def test_hours_used_when_seconds_missing_and_quote_removed() -> None:
    assert diff(length_hours="1,5") == {"length": 5400}
    assert diff(comment="'-minus") == {"comment": "-minus"}
    assert diff(user_email="carol@example.com") == {"userId": "carol-id"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"length_seconds": "1.5"}, "whole number"),
        ({"length_seconds": "0"}, "greater than 0"),
        ({"activity_type": "Nope"}, "unknown activity type"),
        ({"user_email": "x@y"}, "unknown user"),
        ({"timestamp_utc": "yesterday"}, "not a date-time"),
    ],
)
def test_bad_cells(row: dict[str, object], message: str) -> None:
    with pytest.raises(RowError, match=message):
        diff(**row)


def test_changes_keep_the_old_values_and_recreation_uses_the_one_model() -> None:
    from timetracker_import.core.worklog import ServerWorklog

    changes = patch_for_row(
        {"length_seconds": 60, "comment": "x"}, SERVER, user_ids=USERS, activity_type_ids=TYPES
    )
    assert {c.field: c.old for c in changes} == {"length": 3600, "comment": "old"}
    body = ServerWorklog.from_api(SERVER).recreate_body()
    assert body == {
        "timeStamp": "2026-03-04T09:00:00Z",
        "length": 3600,
        "workItemId": 5,
        "comment": "old",
        "activityTypeId": "dev-id",
        "userId": "bob-id",
    }
