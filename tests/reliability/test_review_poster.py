"""Adversarial review of ``Poster`` at unit level: a scripted client and read-back, a real
journal, so that interleavings the sandbox only hits by chance happen every time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from timetracker_import.app.poster import Poster
from timetracker_import.core.planning import PlannedBatch
from timetracker_import.core.worklog_key import WorklogKey
from timetracker_import.errors import AmbiguousOutcome
from timetracker_import.journal.store import Journal

USER = "0b9e7e4c-0000-4000-8000-000000000001"
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
KEY = WorklogKey(USER, "2026-09-01T09:00:00Z", 1800, 101, "twin")
BODY = {
    "timeStamp": "2026-09-01T09:00:00Z",
    "length": 1800,
    "userId": USER,
    "workItemId": 101,
    "comment": "twin",
}


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(path))
    return path


def worklog(wid: str, created: str = "2026-11-27T10:00:00.1234567") -> dict[str, Any]:
    """A worklog as the API returns it, with the key of ``KEY``."""
    return {
        "id": wid,
        "user": {"id": USER},
        "timestamp": "2026-09-01T09:00:00Z",
        "length": 1800,
        "workItemId": 101,
        "comment": "twin",
        "createdTimestamp": created,
        "editedTimestamp": created,
    }


class ScriptedClient:
    """``post_batch`` answers from a script: an exception to raise, or a list of ids to
    return as created worklogs. Records what was sent."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.sent: list[list[dict[str, Any]]] = []

    async def post_batch(
        self,
        items: list[dict[str, Any]],
        *,
        validate_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> Any:
        self.sent.append(items)
        await asyncio.sleep(0)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return [worklog(wid) for wid in step]


def batch(no: int, rows: tuple[int, ...]) -> PlannedBatch:
    return PlannedBatch(no, rows, USER, START, START)


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal.create(fingerprint="review") as j:
        yield j


def make_poster(
    journal: Journal, client: ScriptedClient, read_back: Callable[..., Any], rows: list[int]
) -> Poster:
    keys = {r: KEY for r in rows}
    journal.record_rows(rows, keys)
    return Poster(
        client=client,  # type: ignore[arg-type]
        journal=journal,
        bodies={r: dict(BODY) for r in rows},
        keys=keys,
        timestamps={r: START for r in rows},
        read_back=read_back,
        pending=rows,
        claim_after=datetime(2026, 11, 27, 9, 59, tzinfo=UTC),
    )


def lost() -> AmbiguousOutcome:
    return AmbiguousOutcome("500 after sending", status=500)


@pytest.mark.parametrize("stored", [["w1"], ["w1", "w2"]])
async def test_concurrent_read_backs_never_claim_one_worklog_twice(
    journal: Journal, stored: list[str]
) -> None:
    """Identical rows 2 and 3 in batches 1 and 2, both ambiguous. Both read-backs answer at
    the same moment (before either claim is committed). Each worklog may be claimed by one row
    only; a row left unclaimed is re-sent."""
    client = ScriptedClient([lost(), lost(), ["w9"]])
    both_read = asyncio.Barrier(2)

    async def read_back(_: PlannedBatch) -> list[dict[str, Any]]:
        await both_read.wait()
        return [worklog(w) for w in stored]

    poster = make_poster(journal, client, read_back, [2, 3])
    journal.record_plan([batch(1, (2,)), batch(2, (3,))])
    await poster.run([batch(1, (2,)), batch(2, (3,))])
    outcomes = journal.row_outcomes()
    ids = [outcomes[2][1], outcomes[3][1]]
    assert outcomes[2][0] == outcomes[3][0] == "created"
    assert len(set(ids)) == 2, ids  # one worklog, one row
    expected = set(stored) if len(stored) == 2 else {"w1", "w9"}
    assert set(ids) == expected
    assert len(client.sent) == 2 + (2 - len(stored))  # only the unclaimed row re-sent
    assert {r.worklog_id for r in journal.created_records()} == expected


async def test_naive_created_timestamp_in_local_time_west_of_utc_is_claimed(
    journal: Journal,
) -> None:
    """The real service gives ``createdTimestamp`` in the user's local time without offset
    (API §1.6; the sandbox uses UTC, D6). For a user at UTC-5 a worklog created a minute ago
    reads as five hours old; it must still be claimed, not re-sent as a duplicate."""
    now = datetime.now(UTC)
    local = (now - timedelta(hours=5)).replace(tzinfo=None).isoformat()
    client = ScriptedClient([lost(), ["w9"]])

    async def read_back(_: PlannedBatch) -> list[dict[str, Any]]:
        return [worklog("w1", created=local)]

    poster = make_poster(journal, client, read_back, [2])
    poster.claim_after = now - timedelta(minutes=1)
    poster.created_offset_minutes = -300
    journal.record_plan([batch(1, (2,))])
    await poster.run([batch(1, (2,))])
    assert journal.row_outcomes()[2] == ("created", "w1")
    assert len(client.sent) == 1  # claimed, not re-sent


async def test_worklog_created_before_the_run_is_not_claimed(journal: Journal) -> None:
    """The cut-off still holds under both readings of a naive ``createdTimestamp``."""
    now = datetime.now(UTC)
    old = (now - timedelta(hours=7)).replace(tzinfo=None).isoformat()
    client = ScriptedClient([lost(), ["w9"]])

    async def read_back(_: PlannedBatch) -> list[dict[str, Any]]:
        return [worklog("w1", created=old)]

    poster = make_poster(journal, client, read_back, [2])
    poster.claim_after = now - timedelta(minutes=1)
    poster.created_offset_minutes = -300
    journal.record_plan([batch(1, (2,))])
    await poster.run([batch(1, (2,))])
    assert journal.row_outcomes()[2] == ("created", "w9")
    assert len(client.sent) == 2


async def test_a_batch_answer_that_does_not_match_its_rows_is_read_back_at_once(
    journal: Journal,
) -> None:
    """A client that hands back an answer naming fewer worklogs than rows (the real client
    raises AmbiguousWrite for it, issue 25): the batch is read back in this run and its rows
    claimed, not left for a resume that would count them "already existing"."""
    client = ScriptedClient([["w1"]])  # one worklog for a batch of two
    reads: list[int] = []

    async def read_back(b: PlannedBatch) -> list[dict[str, Any]]:
        reads.append(b.batch_no)
        return [worklog("w1"), worklog("w2")]

    poster = make_poster(journal, client, read_back, [2, 3])
    journal.record_plan([batch(1, (2, 3))])
    stats = await poster.run([batch(1, (2, 3))])
    assert reads == [1] and len(client.sent) == 1  # read back, nothing re-sent
    assert stats.ambiguous_batches == []
    outcomes = journal.row_outcomes()
    assert {outcomes[2], outcomes[3]} == {("created", "w1"), ("created", "w2")}
    assert {r.worklog_id for r in journal.created_records()} == {"w1", "w2"}


async def test_a_row_the_server_refuses_for_its_size_is_bisected_and_rejected(
    journal: Journal,
) -> None:
    """413 for any batch holding row 3 (issue 25 item 5): the halves are sent, row 3 alone
    is rejected with the server's reason; the others are created; no halt (it was "error",
    exit 75, on every run)."""
    from timetracker_import.errors import ApiError

    class TooLarge(ScriptedClient):
        async def post_batch(self, items: list[dict[str, Any]], **kw: Any) -> Any:
            self.sent.append(items)
            if any(i.get("comment") == "huge" for i in items):
                raise ApiError(
                    "7pace API answered 413",
                    status=413,
                    error_code="RequestTooLarge",
                    description="body too large",
                )
            return [worklog(f"w{len(self.sent)}-{n}") for n in range(len(items))]

    client = TooLarge([])
    poster = make_poster(journal, client, lambda _: [], [2, 3, 4, 5])
    poster.bodies[3] = dict(BODY, comment="huge")  # type: ignore[index]
    journal.record_plan([batch(1, (2, 3, 4, 5))])
    stats = await poster.run([batch(1, (2, 3, 4, 5))])
    assert stats.halt is None
    assert [r.source_row for r in stats.rejections] == [3]
    reason = stats.rejections[0].reason
    assert reason == (
        "the server refused this row as too large (413: body too large); shorten its comment"
    )
    assert stats.rejections[0].error_code == "RequestTooLarge"
    outcomes = journal.row_outcomes()
    assert [outcomes[r][0] for r in (2, 3, 4, 5)] == ["created", "rejected", "created", "created"]
