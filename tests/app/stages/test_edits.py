"""The one PATCH/DELETE executor (``stages.edits.EditExecutor``) against an in-memory fake
and a real journal: done, gone, refused, and the outcomes it did not hear, read back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.fakes import ALICE, FakeTimetracker, lost_answer
from timetracker_import.app.stages.edits import (
    EditExecutor,
    EditHooks,
    EditOutcome,
    EditState,
    EditStats,
    EditWrite,
)
from timetracker_import.core.actions import Delete, Update
from timetracker_import.errors import ApiError, AuthError
from timetracker_import.journal.store import Journal

STAMP = "2026-09-01T09:00:00Z"


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal.create(fingerprint="edits test") as j:
        yield j


@pytest.fixture
def fake() -> FakeTimetracker:
    return FakeTimetracker()


def worklog(fake: FakeTimetracker, comment: str = "old", length: int = 1800) -> str:
    return str(fake.add(timeStamp=STAMP, length=length, userId=ALICE, comment=comment)["id"])


def update(worklog_id: str, row: int = 2, **fields: Any) -> EditWrite:
    """Change ``fields`` of a worklog that holds comment "old" and length 1800."""
    before = {"comment": "old", "length": 1800}
    return EditWrite(Update(row, worklog_id, fields, {k: before[k] for k in fields}), row)


def delete(worklog_id: str) -> EditWrite:
    return EditWrite(Delete(worklog_id, {"timeStamp": STAMP, "length": 1800}))


async def execute(
    fake: FakeTimetracker, journal: Journal, writes: Sequence[EditWrite], **kw: Any
) -> EditStats:
    return await EditExecutor(fake.client, journal, concurrency=1, **kw).run(writes)


def journaled(journal: Journal) -> list[tuple[str, str | None, str]]:
    """(kind, worklog id, state) of every action in the journal."""
    return [(a.kind, a.worklog_id, a.state) for a in journal.actions()]


def requests(fake: FakeTimetracker, method: str) -> int:
    return sum(1 for name, _ in fake.calls if name == method)


async def test_an_update_and_a_delete_are_done_and_journaled(
    fake: FakeTimetracker, journal: Journal
) -> None:
    kept, dropped = worklog(fake), worklog(fake)
    stats = await execute(fake, journal, [update(kept, comment="new"), delete(dropped)])
    assert [o.state for o in stats.outcomes] == [EditState.DONE, EditState.DONE]
    assert fake.store[kept]["comment"] == "new" and dropped not in fake.store
    assert journaled(journal) == [("update", kept, "done"), ("delete", dropped, "done")]
    (updated, _) = journal.actions()
    assert updated.body == {"comment": "new"} and updated.before == {"comment": "old"}
    assert updated.edited_after == fake.store[kept]["editedTimestamp"]


async def test_a_missing_worklog_is_gone_and_a_refusal_is_failed_with_its_reason(
    fake: FakeTimetracker, journal: Journal
) -> None:
    kept = worklog(fake)
    fake.fail("patch", ApiError("bad", status=400, description="length must be positive"))
    stats = await execute(fake, journal, [update(kept, length=-1), delete("w404")])
    assert [o.state for o in stats.outcomes] == [EditState.FAILED, EditState.GONE]
    assert stats.outcomes[0].detail == "length must be positive"
    assert fake.store[kept]["length"] == 1800
    assert journaled(journal) == [("update", kept, "failed"), ("delete", "w404", "gone")]


async def test_an_update_applied_but_unanswered_is_read_back_as_done(
    fake: FakeTimetracker, journal: Journal
) -> None:
    wid = worklog(fake)
    fake.fail("patch", lost_answer(), applied=True)
    stats = await execute(fake, journal, [update(wid, comment="new")])
    assert stats.outcomes[0].state == EditState.DONE
    assert requests(fake, "patch") == 1 and requests(fake, "worklog") == 1  # not sent twice
    assert journaled(journal) == [("update", wid, "done")]


async def test_an_update_lost_before_it_was_applied_is_sent_once_more(
    fake: FakeTimetracker, journal: Journal
) -> None:
    wid = worklog(fake)
    fake.fail("patch", lost_answer())
    stats = await execute(fake, journal, [update(wid, comment="new")])
    assert stats.outcomes[0].state == EditState.DONE
    assert requests(fake, "patch") == 2 and fake.store[wid]["comment"] == "new"


async def test_an_unanswered_update_of_a_worklog_someone_else_changed_stays_unknown(
    fake: FakeTimetracker, journal: Journal
) -> None:
    wid = worklog(fake, comment="edited in 7pace meanwhile")
    fake.fail("patch", lost_answer())
    stats = await execute(fake, journal, [update(wid, comment="new")])
    assert stats.outcomes[0].state == EditState.UNKNOWN and stats.unknown
    assert requests(fake, "patch") == 1  # neither the old nor the new state: not re-sent
    assert fake.store[wid]["comment"] == "edited in 7pace meanwhile"
    assert journaled(journal) == [("update", wid, "sending")]  # open: the next run decides


async def test_a_delete_applied_but_unanswered_is_read_back_as_done(
    fake: FakeTimetracker, journal: Journal
) -> None:
    wid = worklog(fake)
    fake.fail("delete", lost_answer(), applied=True)
    stats = await execute(fake, journal, [delete(wid)])
    assert stats.outcomes[0].state == EditState.DONE and wid not in fake.store
    assert requests(fake, "delete") == 1


async def test_a_401_halts_and_the_rest_is_not_sent(
    fake: FakeTimetracker, journal: Journal
) -> None:
    first, second = worklog(fake), worklog(fake)
    fake.fail("patch", AuthError("token expired", status=401))
    stats = await execute(fake, journal, [update(first, comment="a"), update(second, comment="b")])
    assert stats.halt == "auth"
    assert [o.state for o in stats.outcomes] == [EditState.UNSENT, EditState.UNSENT]
    assert requests(fake, "patch") == 1
    assert {fake.store[w]["comment"] for w in (first, second)} == {"old"}
    details = {a.detail for a in journal.actions()}
    assert details == {"not sent: the run stopped first"}


class Recorder(EditHooks):
    """Records what the executor tells its caller, and what the fake had seen by then."""

    def __init__(self, fake: FakeTimetracker) -> None:
        self.fake = fake
        self.seen: list[tuple[str, int, int]] = []

    def before(self, writes: Sequence[EditWrite], run_id: str) -> None:
        self.seen.append(("before", len(writes), len(self.fake.calls)))

    def after(self, outcomes: Sequence[EditOutcome], run_id: str) -> None:
        self.seen.append(("after", len(outcomes), len(self.fake.calls)))


async def test_the_caller_hears_the_intents_before_any_request_and_the_outcomes_after(
    fake: FakeTimetracker, journal: Journal
) -> None:
    ids = [worklog(fake) for _ in range(3)]
    hooks = Recorder(fake)
    await execute(fake, journal, [delete(w) for w in ids], hooks=hooks)
    assert hooks.seen == [("before", 3, 0), ("after", 3, 3)]


async def test_a_delete_answered_422_entity_not_found_is_gone_not_failed(
    fake: FakeTimetracker, journal: Journal
) -> None:
    """The status of an unknown id on DELETE is undocumented (contract §2.3): the client
    counts 422 EntityNotFound as 404 after an unanswered attempt; sync's delete of a worklog
    removed by hand meanwhile must say gone too, not a failure. A PATCH's 422
    EntityNotFound may name a user or work item of the body: it stays a failure."""
    kept = worklog(fake)
    fake.fail("patch", ApiError("no such", status=422, error_code="EntityNotFound"))
    fake.fail("delete", ApiError("no such", status=422, error_code="EntityNotFound"))
    stats = await execute(fake, journal, [update(kept, comment="new"), delete("w422")])
    assert [o.state for o in stats.outcomes] == [EditState.FAILED, EditState.GONE]
    assert journaled(journal) == [("update", kept, "failed"), ("delete", "w422", "gone")]
