"""The one sequencer (``app.stages.sequence``) and import's create planner, against the
in-memory fake: how a run stops (before writing: the awaited step is cancelled; while
writing: the writers stop and the run finishes), the setup reads, and a plan made from the
reads alone."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.fakes import ALICE, BOB, FakeTimetracker
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.stages.plan import CreatePlanner, CreateRows
from timetracker_import.app.stages.resolve import ResolvedRows
from timetracker_import.app.stages.sequence import Sequencer
from timetracker_import.core.actions import Update
from timetracker_import.core.key_table import KeyTable
from timetracker_import.core.zone import ZoneChoice
from timetracker_import.errors import AuthError, Interrupted

CONNECTION = ConnectionSettings(url="http://127.0.0.1:9", token=Secret("sequence-token"))
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # a Tuesday


def sequencer(**kw: object) -> Sequencer:
    return Sequencer(CONNECTION, what="import", **kw)  # type: ignore[arg-type]


def in_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are installed from the main thread only")


async def test_a_signal_before_writing_cancels_the_step_and_the_run_is_interrupted() -> None:
    in_main_thread()
    fake = FakeTimetracker()
    seq = sequencer()
    reached = []
    before = signal.getsignal(signal.SIGTERM)

    async def body(client: object) -> str:
        seq.start_setup(fake.client)
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the run: it is never fatal here
        await asyncio.sleep(5)
        reached.append("after the sleep")
        return "finished"

    with pytest.raises(Interrupted) as info:
        await asyncio.wait_for(seq.run(fake.factory, body), 2)
    assert info.value.exit_code == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in str(info.value)
    assert info.value.hint == "nothing was sent; run the same command again"
    assert reached == []
    assert (fake.opened, fake.closed) == (1, 1)  # the client is closed all the same
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


async def test_a_stop_while_writing_stops_the_writers_and_the_run_finishes() -> None:
    fake = FakeTimetracker()
    seq = sequencer()
    stopped = asyncio.Event()

    async def body(client: object) -> str:
        with seq.writing(stopped.set):
            asyncio.get_running_loop().call_later(0.01, seq.stop, signal.SIGINT)
            await asyncio.wait_for(stopped.wait(), 2)  # the writers were told, not cancelled
        return "finished resumably"

    assert await seq.run(fake.factory, body) == "finished resumably"
    assert seq.stop_signal == signal.SIGINT and seq.stopped


async def test_a_stop_before_writing_begins_stops_the_writers_as_they_start() -> None:
    fake = FakeTimetracker()
    seq = sequencer()
    told: list[str] = []

    async def body(client: object) -> str:
        try:
            await seq.step(asyncio.sleep(5))
        except asyncio.CancelledError:
            told.append("step cancelled")
        with seq.writing(lambda: told.append("writers stopped")):
            pass
        with pytest.raises(asyncio.CancelledError):  # a later step never starts
            await seq.step(asyncio.sleep(5))
        return "finished"

    async def stop_soon() -> None:
        await asyncio.sleep(0.01)
        seq.stop()

    stopper = asyncio.ensure_future(stop_soon())
    assert await seq.run(fake.factory, body) == "finished"
    await stopper
    assert told == ["step cancelled", "writers stopped"]


async def test_a_second_stop_does_not_cancel_the_run_finishing_the_first() -> None:
    """Import catches the cancelled step and writes its summary; a second Ctrl-C meanwhile
    must not cancel that (the step around it)."""
    fake = FakeTimetracker()
    seq = sequencer()

    async def body(client: object) -> str:
        try:
            await seq.step(asyncio.sleep(5))
        except asyncio.CancelledError:
            seq.stop(signal.SIGINT)  # the second one
            await asyncio.sleep(0.02)  # the summary being written
            return "summary written"
        return "not stopped"

    loop = asyncio.get_running_loop()
    loop.call_later(0.01, seq.stop, signal.SIGTERM)
    assert await seq.run(fake.factory, body) == "summary written"
    assert seq.stop_signal == signal.SIGTERM  # the first one decides the exit code


async def test_the_cancel_event_stops_like_ctrl_c() -> None:
    fake = FakeTimetracker()
    cancel = threading.Event()
    seq = sequencer(cancel=cancel)

    async def body(client: object) -> str:
        threading.Timer(0.02, cancel.set).start()
        await asyncio.sleep(5)
        return "not stopped"

    with pytest.raises(Interrupted) as info:
        await asyncio.wait_for(seq.run(fake.factory, body, nothing_sent="nothing written"), 2)
    assert info.value.exit_code == 130
    assert str(info.value).startswith("import interrupted")
    assert info.value.hint == "nothing written"


async def test_the_setup_reads_go_out_once_and_the_zone_is_checked_against_me() -> None:
    fake = FakeTimetracker(time_zone=120)  # the token's user is at UTC+2
    seq = sequencer()
    notes: list[str] = []

    async def body(client: object) -> object:
        seq.start_setup(fake.client)
        seq.start_setup(fake.client)  # already on the wire: not sent again
        return await seq.setup(
            fake.client, zone=ZoneChoice.of("UTC", "--timezone"), naive_times=3, notes=notes
        )

    setup = await seq.run(fake.factory, body)
    assert [name for name, _ in fake.calls] == ["me", "users", "activityTypes"]
    assert setup.me_offset == 120 and len(setup.users) == 3  # type: ignore[attr-defined]
    (note,) = notes
    assert "the token's 7pace user is at UTC+02:00 today (me.timeZone)" in note


async def test_retries_the_client_reports_reach_the_run() -> None:
    fake = FakeTimetracker()
    reasons: list[str] = []
    seq = sequencer(retried=reasons.append)

    async def body(client: object) -> None:
        fake.on_retry(SimpleNamespace(reason="429"))

    await seq.run(fake.factory, body)
    assert reasons == ["429"]


# -- the create planner ------------------------------------------------------------------


def create_rows(*hours: int, user: str = BOB) -> CreateRows:
    index = pd.Index(range(2, 2 + len(hours)), name="source_row")
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([START + timedelta(hours=h) for h in hours], utc=True),
            "length_seconds": 1800,
            "work_item_id": pd.array([7] * len(hours), dtype="Int64"),
            "comment": [f"entry {h}" for h in hours],
        },
        index=index,
    )
    user_ids = pd.Series(user, index=index, dtype=object)
    resolved = ResolvedRows(
        user_ids=user_ids,
        activity_type_ids={},
        rejections=[],
        self_id=ALICE,
        self_only=user == ALICE,
        naive_offset=0,
        labels={BOB: "bob@example.com"},
    )
    return CreateRows(frame, user_ids, resolved, KeyTable.from_frame(frame, user_ids))


def planner(**kw: object) -> CreatePlanner:
    given: dict[str, object] = {
        "users": [{"id": BOB, "timeZone": 0}],
        "date_header": "Start",
        "on_existing": "skip",
        "batch_size": 2,
        "stored": [],
        "first_batch_no": 1,
        "ours": set(),
    }
    given.update(kw)
    return CreatePlanner(**given)  # type: ignore[arg-type]


def twin(fake: FakeTimetracker, hour: int) -> str:
    stamp = (START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
    added = fake.add(
        timeStamp=stamp, length=1800, userId=BOB, workItemId=7, comment=f"entry {hour}"
    )
    return str(added["id"])


async def test_the_create_plan_leaves_out_locked_and_existing_rows_and_batches_the_rest() -> None:
    next_week = 24 * 7
    fake = FakeTimetracker(
        approvals=[{"user": {"id": BOB}, "weekStartDate": "2026-09-07", "approvalState": 3}]
    )
    there = twin(fake, 1)
    rows = create_rows(0, 1, 2, 3, next_week)
    create = planner()
    reads = await create.read_server(fake.client, rows)
    calls = len(fake.calls)
    plan = create.plan(rows, reads)
    assert len(fake.calls) == calls  # the plan reads nothing: it is made from the reads
    assert [r.source_row for r in plan.locked] == [6]  # the week of 2026-09-07 is Approved
    assert plan.existing == {3: there}
    assert plan.baseline_ids == {there}
    assert sorted(plan.pending) == [2, 4, 5]
    planned = sorted(r for b in plan.creates.batches for r in b.source_rows)
    assert planned == [2, 4, 5]  # every row to send once, in batches of at most 2
    assert all(len(b.source_rows) <= 2 for b in plan.creates.batches)
    assert [b.batch_no for b in plan.creates.new] == [1, 2]
    assert create.plan(rows, reads) == plan  # the same reads, the same plan


async def test_every_row_locked_the_baseline_and_its_errors_do_not_matter() -> None:
    fake = FakeTimetracker(
        approvals=[{"user": {"id": BOB}, "weekStartDate": "2026-08-31", "approvalState": 3}]
    )
    fake.fail("worklogs_all", AuthError("forbidden", status=403))  # no role to read it
    create = planner()
    rows = create_rows(0, 1)
    reads = await create.read_server(fake.client, rows)
    assert reads.baseline is None
    assert create.prefetched is not None and create.prefetched.baseline.done()  # reaped
    plan = create.plan(rows, reads)
    assert [r.source_row for r in plan.locked] == [2, 3]
    assert not plan.pending and not plan.creates.batches


async def test_a_worklog_this_run_created_is_not_existing_for_the_create_plan() -> None:
    fake = FakeTimetracker()
    ours = twin(fake, 0)
    create = planner(ours={ours})
    rows = create_rows(0)
    plan = create.plan(rows, await create.read_server(fake.client, rows))
    assert plan.existing == {} and sorted(plan.pending) == [2]


# -- the edit planners (worklogs update / delete) ----------------------------------------


async def test_the_update_plan_patches_only_what_differs_from_the_reads() -> None:
    from timetracker_import.app.worklogs import UpdatePlanner

    fake = FakeTimetracker()
    kept = twin(fake, 0)
    changed = twin(fake, 1)
    rows = [
        (2, {"id": kept, "comment": "entry 0"}),  # as the server holds it
        (3, {"id": changed, "comment": "entry 1, corrected", "length_seconds": "1800"}),
        (4, {"id": "", "comment": "no id"}),
        (5, {"id": "999999", "comment": "gone"}),
    ]
    editor = UpdatePlanner()
    reads = await editor.read_server(fake.client, rows)
    calls = len(fake.calls)
    plan = editor.plan(rows, reads)
    assert len(fake.calls) == calls  # made from the reads alone
    (write,) = plan.writes
    assert isinstance(write.action, Update)
    assert (write.worklog_id, write.action.fields) == (changed, {"comment": "entry 1, corrected"})
    assert write.action.before == {"comment": "entry 1"}  # what undo puts back
    assert plan.unchanged == [kept] and plan.not_found == ["999999"]
    assert [i.error for i in plan.items] == [None, None, "no id", "not found"]


async def test_the_delete_plan_keeps_each_worklog_as_it_was_for_undo() -> None:
    from timetracker_import.app.worklogs import DeletePlanner

    fake = FakeTimetracker()
    there = twin(fake, 0)
    deleter = DeletePlanner()
    ids = [there, "999999"]
    plan = deleter.plan(ids, await deleter.read_server(fake.client, ids))
    (write,) = plan.writes
    assert write.worklog_id == there and write.action.before["comment"] == "entry 0"
    assert plan.not_found == ["999999"]


async def test_a_failed_or_stopped_preflight_read_leaves_no_read_running() -> None:
    """A resumed run sends the preflight reads from the planner: when the approvals read
    fails (or the step is cancelled), the baseline read still on the wire is cancelled and
    collected, not left running after the client is closed."""
    fake = FakeTimetracker()
    fake.fail("approvals", AuthError("unauthorized", status=401))
    started = asyncio.Event()

    async def slow_baseline(**_: object) -> list[object]:
        started.set()
        await asyncio.sleep(5)
        return []

    fake.worklogs_all = slow_baseline  # type: ignore[method-assign,assignment]
    create = planner()
    with pytest.raises(AuthError):
        await create.read_server(fake.client, create_rows(0, 1))
    assert started.is_set()
    assert create.prefetched is not None and create.prefetched.baseline.cancelled()
