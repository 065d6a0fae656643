"""Stage ``resolve``: names in the file as 7pace ids, from the server's ``me``, ``users``
and ``activityTypes`` answers (here those of an in-memory fake)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.fakes import ALICE, BOB, TEST, FakeTimetracker
from tests.helpers import make_rows, offline_settings, write_csv
from timetracker_import.app.stages.prepare import prepare
from timetracker_import.app.stages.resolve import ResolvedRows, resolve_rows


def resolved(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    fake: FakeTimetracker | None = None,
    *,
    mapping_lines: str = "",
) -> ResolvedRows:
    """Prepare ``rows`` (MAPPING plus ``mapping_lines``) and resolve them against the setup
    reads of ``fake``."""
    settings = offline_settings(write_csv(tmp_path / "in.csv", rows), tmp_path)
    assert settings.mapping_path is not None
    with settings.mapping_path.open("a", encoding="utf-8") as mapping:
        mapping.write(mapping_lines)
    prepared = prepare(settings)
    fake = fake or FakeTimetracker()

    async def setup_reads() -> tuple[Any, ...]:
        return await asyncio.gather(fake.me(), fake.users(), fake.activity_types())

    me, users, activity_types = asyncio.run(setup_reads())
    return resolve_rows(
        prepared.canonical,
        me=me,
        users=users,
        activity_types=activity_types,
        user_header=prepared.user_header,
        activity_header=prepared.activity_header,
    )


def test_emails_become_user_ids(tmp_path: Path) -> None:
    result = resolved(tmp_path, make_rows(2))
    assert result.user_ids.to_dict() == {2: ALICE, 3: BOB}
    assert result.rejections == [] and result.self_id == ALICE
    assert not result.self_only  # bob's row needs the other users' endpoints
    assert result.labels[BOB] == "bob@example.com"


def test_rows_of_the_token_user_only_are_self_only(tmp_path: Path) -> None:
    result = resolved(tmp_path, make_rows(3, users=("alice@example.com",)))
    assert result.self_only and set(result.user_ids) == {ALICE}


def test_an_unknown_user_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["User"] = "alcie@example.com"
    result = resolved(tmp_path, rows)
    (rejection,) = result.rejections
    assert (rejection.source_row, rejection.stage, rejection.column) == (3, "resolve", "User")
    assert "did you mean 'alice@example.com'" in rejection.reason


def test_the_users_time_zone_comes_from_me(tmp_path: Path) -> None:
    assert resolved(tmp_path, make_rows(1), FakeTimetracker(time_zone=-300)).naive_offset == -300


def test_activity_type_names_become_ids_and_empty_ones_stay_the_default(
    tmp_path: Path,
) -> None:
    rows = make_rows(3)
    for row, activity in zip(rows, ("testing", "", "Knitting"), strict=True):
        row["Activity"] = activity
    result = resolved(tmp_path, rows, mapping_lines="  activity_type: {column: Activity}\n")
    assert result.activity_type_ids == {2: TEST}  # row 3: the user's default, sent as none
    (rejection,) = result.rejections
    assert (rejection.source_row, rejection.column) == (4, "Activity")
    assert "Knitting" in rejection.reason
