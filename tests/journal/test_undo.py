from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from timetracker_import.core.planning import PlannedBatch
from timetracker_import.errors import ApiError, AuthError
from timetracker_import.journal.store import CreatedRecord, Journal
from timetracker_import.journal.undo import plan_undo, run_undo, same_edited_timestamp

T0 = datetime(2026, 10, 5, 8, tzinfo=UTC)


def record(wid: str, edited: str | None = "2026-10-05T08:00:01.1234567") -> CreatedRecord:
    return CreatedRecord(wid, 2, 1, "2026-10-05T08:00:02", edited, None)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("2023-12-12T15:35:52.0292991", "2023-12-12T15:35:52.0292991", True),
        ("2023-12-12T15:35:52.0292991", "2023-12-12T15:35:52.03", True),  # precision dropped
        ("2018-06-29T05:36:21.3890636", "2018-06-29T05:36:21.39", True),
        ("2023-12-12T15:35:52.0292991", "2023-12-12T15:35:52.04", False),
        ("2023-12-12T15:35:52.0292991", "2023-12-12T15:40:00.0000001", False),
        ("2023-12-12T15:35:52", "2023-12-12T15:35:52", True),
        ("2023-12-12T15:35:52Z", "2023-12-12T15:35:52", False),
        ("2023-12-12T15:35:52.5", None, False),
    ],
)
def test_same_edited_timestamp(a: str, b: str | None, same: bool) -> None:
    assert same_edited_timestamp(a, b) is same


def test_plan_undo_deletes_unchanged_skips_edited_reports_gone() -> None:
    records = [record("w1"), record("w2"), record("w3"), record("w4", edited=None)]
    current: dict[str, Mapping[str, Any] | None] = {
        "w1": {"id": "w1", "editedTimestamp": "2026-10-05T08:00:01.12"},
        "w2": {"id": "w2", "editedTimestamp": "2026-10-06T09:00:00.5"},
        "w3": None,
        "w4": {"id": "w4", "editedTimestamp": "anything"},  # nothing recorded: delete
    }
    plan = plan_undo(records, current)
    assert plan.delete == ["w1", "w4"]
    assert [i for i, _ in plan.skipped_edited] == ["w2"]
    assert "edited since the import" in plan.skipped_edited[0][1]
    assert plan.already_gone == ["w3"]


class FakeServer:
    """Worklogs by id; delete refuses ids in ``refuse``."""

    def __init__(self, worklogs: dict[str, dict[str, Any]], refuse: set[str] | None = None) -> None:
        self.worklogs = worklogs
        self.refuse = refuse or set()
        self.deletes: list[str] = []

    async def fetch(self, wid: str) -> Mapping[str, Any] | None:
        return self.worklogs.get(wid)

    async def delete(self, wid: str) -> bool:
        self.deletes.append(wid)
        if wid in self.refuse:
            raise ApiError("week is locked", status=409, error_code="ApprovalStateFailed")
        return self.worklogs.pop(wid, None) is not None


def journal_with_created() -> Journal:
    journal = Journal.create(fingerprint="fp")
    journal.record_rows([2, 3, 4, 5])
    journal.record_plan([PlannedBatch(1, (2, 3, 4, 5), "u", T0, T0)])
    journal.mark_sending(1)
    journal.mark_created(1, [(2, "w2", "e2"), (3, "w3", "e3"), (4, "w4", "e4"), (5, "w5", "e5")])
    return journal


async def test_run_undo_is_idempotent_and_journals_each_step() -> None:
    server = FakeServer(
        {
            "w2": {"id": "w2", "editedTimestamp": "e2"},
            "w3": {"id": "w3", "editedTimestamp": "edited-later"},
            "w4": {"id": "w4", "editedTimestamp": "e4"},
        }
    )
    with journal_with_created() as journal:
        dry = await run_undo(
            journal, fetch_worklog=server.fetch, delete_worklog=server.delete, dry_run=True
        )
        assert dry.deleted == ["w2", "w4"] and server.deletes == []
        assert journal.undo_log() == []

        first = await run_undo(journal, fetch_worklog=server.fetch, delete_worklog=server.delete)
        assert first.deleted == ["w2", "w4"]
        assert [i for i, _ in first.skipped_edited] == ["w3"]
        assert first.already_gone == ["w5"]
        assert set(server.worklogs) == {"w3"}  # exactly the unchanged created ones went

        second = await run_undo(journal, fetch_worklog=server.fetch, delete_worklog=server.delete)
        assert second.deleted == []
        assert sorted(second.already_gone) == ["w2", "w4", "w5"]
        assert [i for i, _ in second.skipped_edited] == ["w3"]
        assert server.deletes == ["w2", "w4"]  # nothing deleted twice
        actions = [a for _, a, _ in journal.undo_log()]
        assert actions.count("deleted") == 2
        assert second.to_dict()["dry_run"] is False


async def test_run_undo_goes_on_after_a_refused_delete_and_stops_on_auth() -> None:
    server = FakeServer(
        {w: {"id": w, "editedTimestamp": f"e{w[1]}"} for w in ("w2", "w3", "w4", "w5")},
        refuse={"w3"},
    )
    with journal_with_created() as journal:
        report = await run_undo(journal, fetch_worklog=server.fetch, delete_worklog=server.delete)
        assert report.deleted == ["w2", "w4", "w5"]
        assert report.failed == [("w3", "week is locked")]
        assert ("w3", "failed", "week is locked") in journal.undo_log()

    async def unauthorized(wid: str) -> bool:
        raise AuthError("token rejected", status=401)

    server2 = FakeServer({"w2": {"id": "w2", "editedTimestamp": "e2"}})
    journal = Journal.create(fingerprint="fp2")
    journal.record_rows([2])
    journal.mark_created(None, [(2, "w2", "e2")])
    with pytest.raises(AuthError):
        await run_undo(journal, fetch_worklog=server2.fetch, delete_worklog=unauthorized)
    journal.close()
