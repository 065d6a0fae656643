from datetime import UTC, datetime
from typing import Any

import pytest

from timetracker_import.app.undo import undo_actions
from timetracker_import.core.planning import PlannedBatch
from timetracker_import.core.worklog import same_edited_timestamp
from timetracker_import.errors import ApiError, AuthError
from timetracker_import.journal.actions import PlannedWrite, Settled
from timetracker_import.journal.store import CreatedRecord, Journal

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


class FakeClient:
    """The part of the API client undo uses: worklogs by id; deletes of ids in ``refuse``
    are refused; ``unauthorized`` makes every call a 401."""

    def __init__(
        self,
        worklogs: dict[str, dict[str, Any]],
        refuse: set[str] | None = None,
        unauthorized: bool = False,
    ) -> None:
        self.worklogs = worklogs
        self.refuse = refuse or set()
        self.unauthorized = unauthorized
        self.deletes: list[str] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.creates: list[dict[str, Any]] = []

    def _check(self) -> None:
        if self.unauthorized:
            raise AuthError("token rejected", status=401)

    async def worklog(self, wid: str) -> dict[str, Any]:
        self._check()
        if wid not in self.worklogs:
            raise ApiError("not found", status=404, error_code="EntityNotFound")
        return dict(self.worklogs[wid])

    async def delete_worklog(self, wid: str) -> None:
        self._check()
        self.deletes.append(wid)
        if wid in self.refuse:
            raise ApiError("week is locked", status=409, error_code="ApprovalStateFailed")
        if self.worklogs.pop(wid, None) is None:
            raise ApiError("not found", status=404, error_code="EntityNotFound")

    async def patch_worklog(self, wid: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        self.patches.append((wid, body))
        self.worklogs[wid].update(
            {k.lower() if k == "timeStamp" else k: v for k, v in body.items()}
        )
        self.worklogs[wid]["editedTimestamp"] = "undone"
        return dict(self.worklogs[wid])

    async def create_worklog(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        new = {
            "id": f"new{len(self.creates)}",
            "timestamp": body["timeStamp"],
            "length": body["length"],
            "user": {"id": body.get("userId")},
            "editedTimestamp": "created",
        }
        self.creates.append(body)
        self.worklogs[new["id"]] = new
        return new


def journal_with_created() -> Journal:
    journal = Journal.create(fingerprint="fp")
    journal.record_rows([2, 3, 4, 5])
    journal.record_plan([PlannedBatch(1, (2, 3, 4, 5), "u", T0, T0)])
    journal.mark_sending(1)
    journal.mark_created(1, [(2, "w2", "e2"), (3, "w3", "e3"), (4, "w4", "e4"), (5, "w5", "e5")])
    return journal


async def test_undo_of_an_import_is_idempotent_and_journals_each_step() -> None:
    client = FakeClient(
        {
            "w2": {"id": "w2", "editedTimestamp": "e2"},
            "w3": {"id": "w3", "editedTimestamp": "edited-later"},
            "w4": {"id": "w4", "editedTimestamp": "e4"},
        }
    )
    with journal_with_created() as journal:
        dry = await undo_actions(journal, client, dry_run=True)  # type: ignore[arg-type]
        assert sorted(dry.deleted) == ["w2", "w4"] and client.deletes == []
        assert journal.undo_log() == []

        first = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert sorted(first.deleted) == ["w2", "w4"]
        assert [i for i, _ in first.skipped_edited] == ["w3"]
        assert "edited since the run" in first.skipped_edited[0][1]
        assert first.already_gone == ["w5"]
        assert set(client.worklogs) == {"w3"}  # exactly the unchanged created ones went

        second = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert second.deleted == []
        assert sorted(second.already_gone) == ["w2", "w4", "w5"]
        assert [i for i, _ in second.skipped_edited] == ["w3"]
        assert sorted(client.deletes) == ["w2", "w4"]  # nothing deleted twice
        actions = [a for _, a, _ in journal.undo_log()]
        assert actions.count("deleted") == 2
        assert second.to_dict()["dry_run"] is False


async def test_undo_goes_on_after_a_refused_delete_and_stops_on_auth() -> None:
    client = FakeClient(
        {w: {"id": w, "editedTimestamp": f"e{w[1]}"} for w in ("w2", "w3", "w4", "w5")},
        refuse={"w3"},
    )
    with journal_with_created() as journal:
        report = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert sorted(report.deleted) == ["w2", "w4", "w5"]
        assert [(i, w) for i, w in report.failed] == [("w3", "week is locked")]
        assert ("w3", "failed", "week is locked") in journal.undo_log()

    journal = Journal.create(fingerprint="fp2")
    journal.record_rows([2])
    journal.mark_created(None, [(2, "w2", "e2")])
    with pytest.raises(AuthError):
        await undo_actions(journal, FakeClient({}, unauthorized=True))  # type: ignore[arg-type]
    journal.close()


class RacingClient(FakeClient):
    """A worklog someone deletes between undo's read and its DELETE, on a server that
    answers an unknown id with 422 EntityNotFound (undocumented either way: contract §2.3)."""

    async def delete_worklog(self, wid: str) -> None:
        if wid == "w4":
            self.worklogs.pop(wid, None)
            raise ApiError("no such", status=422, error_code="EntityNotFound")
        await super().delete_worklog(wid)


async def test_undo_counts_a_delete_answered_422_entity_not_found_as_already_gone() -> None:
    client = RacingClient(
        {w: {"id": w, "editedTimestamp": f"e{w[1]}"} for w in ("w2", "w3", "w4", "w5")}
    )
    with journal_with_created() as journal:
        report = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert report.failed == []
        assert sorted(report.deleted) == ["w2", "w3", "w5"] and report.already_gone == ["w4"]


BEFORE = {
    "id": "d1",
    "timestamp": "2026-11-02T09:00:00Z",
    "length": 3600,
    "comment": "kept",
    "workItemId": 7,
    "user": {"id": "u1"},
    "editedTimestamp": "e0",
}


def journal_with_edits(update_state: str, delete_state: str) -> Journal:
    journal = Journal.create(fingerprint="fp3")
    ids = journal.intend(
        [
            PlannedWrite("update", "p1", {"length": 3600}, {"length": 7200}, 2, "k1"),
            PlannedWrite("delete", "d1", BEFORE, None, None, "k2"),
        ]
    )
    journal.settle([Settled(ids[0], update_state), Settled(ids[1], delete_state)])
    return journal


async def test_undo_restores_updates_and_recreates_deletes_once() -> None:
    client = FakeClient(
        {
            "p1": {
                "id": "p1",
                "timestamp": "2026-11-02T09:00:00Z",
                "length": 7200,
                "user": {"id": "u1"},
                "editedTimestamp": "e1",
            }
        }
    )
    with journal_with_edits("done", "done") as journal:
        report = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert report.restored == ["p1"] and client.patches == [("p1", {"length": 3600})]
        assert [old for old, _ in report.recreated] == ["d1"]
        assert client.creates == [
            {
                "timeStamp": "2026-11-02T09:00:00Z",
                "length": 3600,
                "comment": "kept",
                "workItemId": 7,
                "userId": "u1",
            }
        ]
        again = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert again.restored == [] and again.recreated == []
        assert len(client.creates) == 1 and len(client.patches) == 1
        assert {w for w, _ in again.skipped} == {"p1", "d1"}


async def test_undo_of_unknown_outcomes_reads_the_server() -> None:
    # killed between request and answer: the PATCH never landed, the DELETE did not either
    client = FakeClient(
        {
            "p1": {
                "id": "p1",
                "timestamp": "2026-11-02T09:00:00Z",
                "length": 3600,
                "user": {"id": "u1"},
                "editedTimestamp": "e0",
            },
            "d1": dict(BEFORE),
        }
    )
    with journal_with_edits("sending", "sending") as journal:
        report = await undo_actions(journal, client)  # type: ignore[arg-type]
        assert report.restored == [] and report.recreated == []
        assert dict(report.skipped) == {
            "p1": "the update never took effect",
            "d1": "the delete never took effect; it still exists",
        }
        assert client.patches == [] and client.creates == []


async def test_an_action_a_later_run_resolved_is_undone_by_what_it_found() -> None:
    # run 1 was killed during its DELETE; run 2 found the worklog still there, settled run
    # 1's action as not applied, and deleted it itself: undoing both re-creates it ONCE
    from timetracker_import.journal.actions import Resolution, settle_elsewhere

    run1 = journal_with_edits("done", "sending")
    run2 = Journal.create(fingerprint="fp4")
    ids = run2.intend([PlannedWrite("delete", "d1", BEFORE, None, None, "k2")])
    run2.settle([Settled(ids[0], "done")])
    assert (
        settle_elsewhere(run1.directory, [Resolution("delete", "d1", "failed")], run2.run_id) == 1
    )
    client = FakeClient({})
    try:
        second = await undo_actions(run2, client)  # type: ignore[arg-type]
        first = await undo_actions(run1, client)  # type: ignore[arg-type]
    finally:
        run1.close()
        run2.close()
    assert [o for o, _ in second.recreated] == ["d1"]
    assert first.recreated == [] and len(client.creates) == 1
