import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from timetracker_import.core.planning import PlannedBatch, split_in_half
from timetracker_import.core.rejections import Rejection
from timetracker_import.core.worklog_key import WorklogKey
from timetracker_import.journal.store import (
    Journal,
    JournalError,
    find_resumable,
    fingerprint,
    list_runs,
    new_run_id,
    runs_root,
    safe_base_url,
)

T0 = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
FP = fingerprint("ab" * 32, "fields: {}\n", {"batch_size": 500})


def batch(no: int, rows: tuple[int, ...]) -> PlannedBatch:
    return PlannedBatch(no, rows, "u1", T0, T0 + timedelta(hours=len(rows)))


def new_journal(**kwargs: object) -> Journal:
    args: dict[str, object] = {
        "fingerprint": FP,
        "input_path": "/data/hours.csv",
        "mapping_name": "default",
        "options": {"batch_size": 500},
        "base_url": "https://org.timehub.7pace.com/api/rest",
    }
    args.update(kwargs)
    journal = Journal.create(**args)  # type: ignore[arg-type]
    journal.record_rows(range(2, 8))
    journal.record_plan([batch(1, (2, 3, 4)), batch(2, (5, 6, 7))])
    return journal


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_runs_root_follows_the_env_var(state_dir: Path) -> None:
    assert runs_root() == state_dir / "runs"


def test_run_id_is_sortable_utc_time_plus_suffix() -> None:
    run_id = new_run_id(datetime(2026, 11, 27, 17, 15, tzinfo=UTC))
    assert run_id.startswith("20261127T171500Z-") and len(run_id) == len("20261127T171500Z-3f2a")
    assert new_run_id(datetime(2026, 11, 27, 17, 15, 1, tzinfo=UTC)) > run_id


def test_directories_0700_and_files_0600(state_dir: Path) -> None:
    old = os.umask(0o022)  # a permissive umask must not leak into the modes
    try:
        with new_journal() as journal:
            journal.mark_sending(1)
            journal.mark_created(1, [(2, "w2", "2026-10-05T08:00:00Z")])
            journal.write_created_csv()
            journal.write_summary()
            directory = journal.directory
            assert mode(runs_root()) == 0o700
            assert mode(directory) == 0o700
            files = sorted(p.name for p in directory.iterdir())
            assert {"journal.sqlite", "created.csv", "summary.json"} <= set(files)
            for path in directory.iterdir():
                assert mode(path) == 0o600, path.name
    finally:
        os.umask(old)


def test_token_never_stored() -> None:
    secret = "s3cr3t-pat-value"
    with new_journal(
        base_url=f"https://user:{secret}@org.timehub.7pace.com/api/rest?token={secret}",
        options={"batch_size": 500, "token": secret, "api_password": secret},
    ) as journal:
        journal.write_summary()
        info = journal.info()
        assert info.base_url == "https://org.timehub.7pace.com/api/rest"
        assert journal.options == {"batch_size": 500}
        directory = journal.directory
    for path in directory.iterdir():
        assert secret.encode() not in path.read_bytes(), path.name


def test_safe_base_url_keeps_port_and_path() -> None:
    assert safe_base_url("http://127.0.0.1:8080/api/rest/") == "http://127.0.0.1:8080/api/rest/"


def test_fingerprint_is_stable_and_sensitive() -> None:
    base = fingerprint("AB" * 32, "m", {"a": 1, "b": "x"})
    assert base == fingerprint("ab" * 32, "m", {"b": "x", "a": 1})
    assert base == fingerprint("ab" * 32, "m", {"a": 1, "b": "x", "token": "t"})
    assert base != fingerprint("ac" * 32, "m", {"a": 1, "b": "x"})
    assert base != fingerprint("ab" * 32, "m2", {"a": 1, "b": "x"})
    assert base != fingerprint("ab" * 32, "m", {"a": 2, "b": "x"})
    # pinned format: a change here silently stops resuming runs started with an older version
    empty_sha = hashlib.sha256(b"").hexdigest()
    canonical = f'{{"file_sha256":"{"00" * 32}","mapping_sha256":"{empty_sha}","options":{{}}}}'
    assert fingerprint("00" * 32, "", {}) == hashlib.sha256(canonical.encode()).hexdigest()


def test_happy_path_accounting_and_outputs() -> None:
    with new_journal() as journal:
        journal.mark_rejections([Rejection(4, "resolve", "User", "x", "unknown user 'x'")])
        journal.mark_existing({3: "w-old"})
        journal.mark_sending(1)
        journal.mark_created(1, [(2, "w2", "e2")], {2: {"length": 60}})
        journal.mark_skipped([7], "filtered")
        acc = journal.accounting()
        assert (acc.rows, acc.created, acc.already_existing, acc.rejected) == (6, 1, 1, 1)
        assert (acc.skipped, acc.unprocessed, acc.posted_batches) == (1, 2, 1)
        assert acc.is_balanced()
        assert journal.pending_rows() == [5, 6]
        assert journal.rejections() == [Rejection(4, "resolve", "User", "x", "unknown user 'x'")]
        record = journal.created_records()[0]
        assert (record.worklog_id, record.source_row, record.edited_ts) == ("w2", 2, "e2")
        assert record.body == {"length": 60}
        csv_text = journal.write_created_csv().read_text()
        assert csv_text == "source_row,worklog_id\n2,w2\n"
        counts = journal.finish("complete")
        summary = json.loads(journal.write_summary({"exit_code": 1}).read_text())
        assert summary["status"] == "complete" and summary["exit_code"] == 1
        assert summary["counts"] == counts.to_dict()
        assert summary["counts"]["balanced"] is True


def test_created_row_cannot_be_overwritten() -> None:
    with new_journal() as journal:
        journal.mark_created(None, [(2, "w2", None)])
        with pytest.raises(JournalError, match="already created"):
            journal.mark_rejected([2], "server", "boom")
        with pytest.raises(JournalError, match="already created as w2"):
            journal.mark_created(None, [(2, "w-other", None)])
        # the same id again (a reconciliation finding it) is fine
        journal.mark_created(None, [(2, "w2", None)])
        assert journal.row_outcomes()[2] == ("created", "w2")


def test_unknown_rows_and_batches_are_refused_and_rolled_back() -> None:
    with new_journal() as journal:
        with pytest.raises(JournalError, match="row 99"):
            journal.mark_created(1, [(2, "w2", None), (99, "w99", None)])
        # nothing of that transaction stuck: batch not done, row 2 still pending
        assert journal.batch_state(1) == ("planned", 0)
        assert journal.row_outcomes()[2] == ("pending", None)
        assert journal.created_records() == []
        with pytest.raises(JournalError, match="batch 42"):
            journal.mark_sending(42)


def test_crash_between_sending_and_created_leaves_batch_in_flight() -> None:
    journal = new_journal()
    run_id = journal.run_id
    journal.mark_sending(1)
    # the response arrives, the write of the result starts... and the process dies
    conn = journal._conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE batch SET state = 'done' WHERE batch_no = 1")
    conn.execute("UPDATE row SET outcome = 'created', worklog_id = 'w2' WHERE source_row = 2")
    conn.close()  # without COMMIT

    reopened = Journal.open(run_id)
    assert [b.batch_no for b in reopened.in_flight_batches()] == [1]
    assert reopened.batch_state(1) == ("sending", 1)
    assert reopened.row_outcomes()[2] == ("pending", None)
    assert reopened.pending_rows() == [2, 3, 4, 5, 6, 7]
    assert find_resumable(FP) == run_id
    reopened.close()


def test_hard_process_crash_after_mark_sending(state_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from datetime import UTC, datetime
        from timetracker_import.core.planning import PlannedBatch
        from timetracker_import.journal.store import Journal
        t = datetime(2026, 10, 5, 8, tzinfo=UTC)
        j = Journal.create(fingerprint={FP!r})
        j.record_rows([2, 3])
        j.record_plan([PlannedBatch(1, (2, 3), "u1", t, t)])
        j.mark_sending(1)
        print(j.run_id, flush=True)
        j._conn.execute("BEGIN IMMEDIATE")
        j._conn.execute("UPDATE batch SET state = 'done'")
        os._exit(9)
        """
    )
    env = dict(os.environ, TIMETRACKER_STATE_DIR=str(state_dir))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 9, proc.stderr
    run_id = proc.stdout.strip()
    with Journal.open(run_id) as journal:
        assert journal.batch_state(1) == ("sending", 1)
        assert [b.source_rows for b in journal.in_flight_batches()] == [(2, 3)]
        assert journal.info().status == "open"


def test_ambiguous_split_and_failed_batches() -> None:
    with new_journal() as journal:
        journal.mark_sending(2)
        journal.mark_ambiguous(2, "timeout after sending")
        assert [b.batch_no for b in journal.in_flight_batches()] == [2]
        journal.mark_planned(2)
        assert journal.in_flight_batches() == []
        journal.mark_sending(1)
        journal.mark_failed(1, "422 WorkItemIdOrCommentRequired")
        first_no = journal.next_batch_no()
        assert first_no == 3
        halves = split_in_half(journal.batch(1), first_no)
        journal.mark_split(1, halves)
        assert [b.source_rows for b in journal.batches("planned")] == [(5, 6, 7), (2,), (3, 4)]
        assert journal.batch(4).parent == 1
        assert journal.batch_state(1)[0] == "split"
        acc = journal.accounting()
        assert acc.split_batches == 1 and acc.planned_batches == 3
        with pytest.raises(JournalError, match="not a half"):
            journal.mark_split(2, [batch(9, (5,))])


def test_plan_round_trips_and_is_not_duplicated() -> None:
    with new_journal() as journal:
        journal.record_plan([batch(1, (2, 3, 4))])  # resume records the same plan again
        assert journal.batches() == [batch(1, (2, 3, 4)), batch(2, (5, 6, 7))]


def test_row_keys_round_trip() -> None:
    key = WorklogKey("u1", "2026-10-05T08:00:00Z", 60, None, "c")
    with new_journal() as journal:
        journal.record_rows([2], {2: key})
        journal.record_rows([2])  # registering again keeps the key
        assert journal.row_keys() == {2: key}


def test_find_resumable_and_list_runs() -> None:
    first = new_journal(run_id="20260101T000000Z-aaaa")
    first.finish("complete")
    second = new_journal(run_id="20260102T000000Z-bbbb")
    second.finish("halted")
    third = new_journal(run_id="20260103T000000Z-cccc", fingerprint="other")
    for journal in (first, second, third):
        journal.close()
    assert find_resumable(FP) == "20260102T000000Z-bbbb"
    assert find_resumable("other") == "20260103T000000Z-cccc"
    assert find_resumable("nothing") is None
    runs = list_runs()
    assert [r.run_id for r in runs] == [
        "20260101T000000Z-aaaa",
        "20260102T000000Z-bbbb",
        "20260103T000000Z-cccc",
    ]
    assert runs[0].status == "complete" and runs[0].counts is not None
    assert runs[0].counts["rows"] == 6
    with Journal.open("20260102T000000Z-bbbb") as journal:
        journal.reopen()
        assert journal.info().status == "open"
    with pytest.raises(JournalError, match="already exists"):
        Journal.create(fingerprint=FP, run_id="20260101T000000Z-aaaa")


def test_runs_started_within_one_second_list_in_the_order_they_started() -> None:
    # ids share their second and sort by the random suffix the other way round: `runs list`
    # and the undo of "the runs after the first" must still see them in order
    later_suffix = new_journal(run_id="20260101T000000Z-ffff")
    earlier_suffix = new_journal(run_id="20260101T000000Z-0000", fingerprint="other")
    for journal in (later_suffix, earlier_suffix):
        journal.close()
    assert [r.run_id for r in list_runs()] == ["20260101T000000Z-ffff", "20260101T000000Z-0000"]
    assert find_resumable(FP) == "20260101T000000Z-ffff"


def test_open_unknown_run() -> None:
    with pytest.raises(JournalError, match="no run"):
        Journal.open("20990101T000000Z-0000")


def test_list_runs_without_root_is_empty() -> None:
    assert list_runs() == []


def test_writes_from_worker_threads_are_serialised() -> None:
    # The poster commits from threads (asyncio.to_thread); transactions must never interleave.
    from concurrent.futures import ThreadPoolExecutor

    journal = new_journal()  # rows 2-7 in batches 1 and 2, left alone here
    journal.record_rows(range(8, 8 + 40 * 25))
    plan = [batch(no, tuple(range(8 + (no - 3) * 25, 8 + (no - 2) * 25))) for no in range(3, 43)]
    journal.record_plan(plan)

    def post(planned: PlannedBatch) -> None:
        journal.mark_sending(planned.batch_no)
        created = [(r, f"w{r}", None) for r in planned.source_rows]
        journal.mark_created(
            planned.batch_no, created, {r: {"row": r} for r in planned.source_rows}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, plan))
    assert journal.pending_rows() == list(range(2, 8))
    assert journal.batches("done") == plan
    assert len(journal.created_records()) == 40 * 25
    journal.close()
