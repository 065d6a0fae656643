"""Fault scenarios against the sandbox (issue 8, part 1).

Every scenario asserts the accounting invariant (rows = created + already existing + rejected
+ unprocessed) and that the worklogs stored on the server are exactly the multiset the file's
valid rows should give: nothing lost, nothing twice. The multiset key is user, UTC start,
length, billable length, work item, comment and activity type; the scenarios marked "rich"
import files with billable lengths and several activity types, so a body that lost either
fails them.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    balanced,
    make_rows,
    mapping_file,
    seed_with_work_items,
    settings_for,
    write_rows,
)
from tests.reliability.conftest import (
    cli_command,
    expected_worklogs,
    invoke,
    make_rich_rows,
    rich_mapping_file,
    run_quick,
    server_worklogs,
    start,
    subprocess_env,
    write_rich_rows,
)
from timetracker_import.errors import TransientApiError
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


def batch_calls(box: RunningSandbox) -> int:
    return int(box.stats()["calls"].get("batch", 0))


def test_happy_path_1200_rows(sandbox: RunningSandbox, tmp_path: Path) -> None:
    rows = make_rich_rows(1200)  # rich
    path = write_rich_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path)
    rich_mapping_file(tmp_path)
    result = run_quick(settings)
    assert result.exit_code == 0 and balanced(result)
    assert result.accounting.created == 1200
    assert server_worklogs(sandbox) == expected_worklogs(rows)


@pytest.mark.parametrize(
    ("fault", "batch_posts"),
    [
        ("batch#3:500", 11),  # nothing stored: read back finds nothing, the batch is re-sent
        ("batch#3:500-after-commit", 10),  # stored: read back claims it, nothing re-sent
        ("batch#3:partial-commit-drop", 11),  # half stored: claimed, the other half re-sent
        # answers that cannot be read are ambiguous too (issue 25): read back, never "unsent"
        ("batch#3:html", 11),  # a login page instead of the API, nothing stored
        ("batch#3:html-after-commit", 10),  # stored, then a 200 HTML page
        ("batch#3:truncated", 11),
        ("batch#3:truncated-after-commit", 10),  # stored, the JSON answer cut in the middle
        ("batch#3:wrong-shape", 11),
        ("batch#3:wrong-shape-after-commit", 10),  # stored, answered {"data": 5}
        ("batch#3:302", 11),  # a redirect to a sign-in page, nothing stored
        ("batch#3:302-after-commit", 10),
    ],
)
def test_failed_batch_3_of_10(
    sandbox: RunningSandbox, tmp_path: Path, fault: str, batch_posts: int
) -> None:
    sandbox.set_faults([fault])
    rows = make_rich_rows(100)  # rich: the read-back must match billable and activity too
    path = write_rich_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=1)
    rich_mapping_file(tmp_path)
    result = run_quick(settings)
    assert result.exit_code == 0, result.summary_dict()
    assert balanced(result) and result.accounting.created == 100
    assert sandbox.stats()["fired"] == {fault: 1}
    assert batch_calls(sandbox) == batch_posts
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def test_timeout_after_commit(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.set_faults(["batch#2:delay-after-commit=1.5s"])
    rows = make_rows(40)
    path = write_rows(tmp_path / "in.csv", rows)
    result = run_quick(
        settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=1), timeout=0.6
    )
    assert result.exit_code == 0 and balanced(result)
    assert batch_calls(sandbox) == 4  # the timed-out batch was claimed, not re-sent
    assert server_worklogs(sandbox) == expected_worklogs(rows)


# an HTTP-date has whole seconds, so "2 s ahead" may mean a little over 1 s
@pytest.mark.parametrize(
    ("fault", "min_wait"), [("batch#2:429=1", 0.9), ("batch#2:429-date=2", 0.9)]
)
def test_429_retry_after_seconds_and_http_date(
    sandbox: RunningSandbox, tmp_path: Path, fault: str, min_wait: float
) -> None:
    sandbox.set_faults([fault])
    rows = make_rows(30)
    path = write_rows(tmp_path / "in.csv", rows)
    started = time.monotonic()
    result = run_quick(settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=1))
    assert result.exit_code == 0 and balanced(result)
    assert result.throttled == 1
    assert time.monotonic() - started >= min_wait  # Retry-After waited, not the 10 ms floor
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def test_retry_after_beyond_cap_stops_resumably_with_75(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Through the CLI (default policy, cap 30 s): a 429 asking for 10 minutes is not waited."""
    sandbox.set_faults(["batch#2:429=600"])
    rows = make_rows(30)
    path = write_rows(tmp_path / "in.csv", rows)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    args = [
        "import",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "1",
    ]
    started = time.monotonic()
    code, out, err = invoke(args, env)
    assert code == 75, err
    assert time.monotonic() - started < 20
    assert "Traceback" not in err and "600" in err
    counts = json.loads(out)["counts"]
    assert counts["created"] == 10 and counts["unprocessed"] == 20
    assert counts["rows"] == counts["created"] + counts["unprocessed"]
    sandbox.set_faults([])
    code, out, err = invoke(args, env)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resumed"] and doc["counts"]["created"] == 30
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def test_sustained_503_outage_exhausts_budget_then_resumes(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # the write path and the read-backs both fail from batch 2 on
    sandbox.set_faults(["batch#2..:503", "worklogs-all#2..:503"])
    rows = make_rows(50)
    path = write_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=1)
    first = run_quick(settings)
    assert first.exit_code == 75 and first.halt_reason == "transient", first.summary_dict()
    assert balanced(first) and first.accounting.created == 10
    assert first.accounting.unprocessed == 40
    sandbox.set_faults([])
    second = run_quick(settings)
    assert second.resumed and second.exit_code == 0, second.summary_dict()
    assert balanced(second) and second.accounting.created == 50
    assert server_worklogs(sandbox) == expected_worklogs(rows)


@pytest.mark.parametrize("fault", ["batch#2..:503", "batch#2..:html", "batch#2..:302"])
def test_writes_failing_while_reads_work_exit_75_then_resume(
    sandbox: RunningSandbox, tmp_path: Path, fault: str
) -> None:
    """Every batch from the 2nd on fails, nothing stored, while the read-backs work: each
    read-back proves the rows are not there, so the outcome is known (a failing server, exit
    75 as the README says), not an unresolved ambiguity (exit 4, issue 25 item 7)."""
    sandbox.set_faults([fault])
    rows = make_rows(50)
    path = write_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=1)
    first = run_quick(settings)
    assert first.exit_code == 75 and first.halt_reason == "transient", first.summary_dict()
    assert "not stored" in (first.halt_message or "")
    assert balanced(first) and first.accounting.created == 10
    assert first.accounting.unprocessed == 40
    # no batch is sent more than once plus 3 rounds; the one that halted the run was (an
    # intent journaled while the run halted is never sent: at most as many posts as intents)
    attempts = _batch_attempts(first.run_dir)
    assert max(attempts.values()) == 4 and batch_calls(sandbox) <= sum(attempts.values())
    created = _created_rows({"created_csv": str(first.created_csv)}, rows)
    assert server_worklogs(sandbox) == expected_worklogs(created)
    sandbox.set_faults([])
    second = run_quick(settings)
    assert second.resumed and second.exit_code == 0, second.summary_dict()
    assert balanced(second) and second.accounting.created == 50
    assert server_worklogs(sandbox) == expected_worklogs(rows)


@pytest.mark.parametrize(
    "fault",
    ["html-after-commit", "truncated-after-commit", "wrong-shape-after-commit", "302-after-commit"],
)
def test_unreadable_answer_after_commit_resume_journals_it_undo_is_exact(
    sandbox: RunningSandbox, tmp_path: Path, fault: str
) -> None:
    """Issue 25 item 2: the last batch is stored but its answer cannot be read, and the
    read-back fails too (the run halts, 75). The resume reads the batch back and journals the
    worklogs it finds: with ``--on-existing allow`` nothing is posted twice, and ``runs
    undo`` deletes every worklog the runs made."""
    # the preflight's baseline is workLogs/all call #1; the read-backs come after
    sandbox.set_faults([f"batch#6:{fault}", "worklogs-all#2..:503"])
    rows = make_rows(60)
    path = write_rows(tmp_path / "in.csv", rows)
    settings = settings_for(
        sandbox, path, tmp_path, batch_size=10, concurrency=1, on_existing="allow"
    )
    first = run_quick(settings)
    assert first.exit_code == 75 and first.halt_reason == "transient", first.summary_dict()
    assert balanced(first) and first.accounting.unprocessed == 10  # the last batch's rows
    assert first.accounting.created == 50 and len(first.ambiguous_batches) == 1
    assert sum(server_worklogs(sandbox).values()) == 60  # stored, but not journaled yet
    sandbox.set_faults([])
    before = batch_calls(sandbox)
    second = run_quick(settings)
    assert second.resumed and second.exit_code == 0, second.summary_dict()
    assert balanced(second) and second.accounting.created == 60
    assert second.accounting.already_existing == 0  # claimed as the run's own, journaled
    assert batch_calls(sandbox) == before  # the batch was claimed, nothing re-sent
    assert server_worklogs(sandbox) == expected_worklogs(rows)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    code, out, err = invoke(["runs", "undo", "--yes", second.run_id, "--json"], env)
    assert code == 0, err
    assert len(json.loads(out)["deleted"]) == 60
    assert server_worklogs(sandbox) == Counter()


def _batch_attempts(run_dir: Path) -> dict[int, int]:
    """How many times the journal says each batch was sent."""
    with sqlite3.connect(run_dir / "journal.sqlite") as conn:
        return dict(conn.execute("SELECT batch_no, attempts FROM batch"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_before_sending(sandbox: RunningSandbox, tmp_path: Path) -> None:
    rows = make_rows(20)
    path = write_rows(tmp_path / "in.csv", rows)
    good = settings_for(sandbox, path, tmp_path, batch_size=10)
    from dataclasses import replace

    from timetracker_import.api.settings import resolve_connection

    dead = resolve_connection(
        url=f"http://127.0.0.1:{_closed_port()}",
        env={"TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]},
        config_dir=tmp_path / "cfg",
    )
    with pytest.raises(TransientApiError) as info:
        run_quick(replace(good, connection=dead))
    assert info.value.exit_code == 75
    assert server_worklogs(sandbox) == Counter()
    result = run_quick(good)
    assert result.exit_code == 0 and balanced(result) and result.accounting.created == 20
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def test_token_expiring_mid_run_exit_3_then_resume_creates_only_the_rest(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rows = make_rows(60)
    path = write_rows(tmp_path / "in.csv", rows)
    # the token "expires": every batch from the 3rd on is 401 (and everything after it)
    sandbox.set_faults(["batch#3..:401", "worklogs-all#2..:401"])
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    args = [
        "import",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "1",
    ]
    code, out, err = invoke(args, env)
    assert code == 3, err
    first = json.loads(out)
    counts = first["counts"]
    assert counts["created"] == 20 and counts["unprocessed"] == 40
    assert _balanced_counts(counts) and counts["rows"] == 60
    assert sandbox.tokens["alice@example.com"] not in out + err
    # exactly the 20 rows the journal says were created are on the server
    assert server_worklogs(sandbox) == expected_worklogs(_created_rows(first, rows))
    sandbox.set_faults([])
    before = batch_calls(sandbox)
    code, out, err = invoke(args, env)  # the renewed token
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resumed"] and doc["counts"]["created"] == 60
    assert _balanced_counts(doc["counts"]) and doc["counts"]["unprocessed"] == 0
    assert batch_calls(sandbox) - before == 4  # only the 40 rows left, in 4 batches
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def _balanced_counts(counts: dict[str, int]) -> bool:
    """The accounting invariant on a JSON summary's counts."""
    return counts["rows"] == (
        counts["created"]
        + counts["already_existing"]
        + counts["rejected"]
        + counts["unprocessed"]
        + counts.get("skipped", 0)
    )


def _created_rows(summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file rows a run's ``created.csv`` lists (source rows count from 2: the header is
    row 1)."""
    lines = Path(summary["created_csv"]).read_text(encoding="utf-8").splitlines()[1:]
    return [rows[int(line.split(",")[0]) - 2] for line in lines]


def test_one_bad_row_is_isolated(tmp_path: Path) -> None:
    with run_sandbox_in_thread(seed=seed_with_work_items()) as box:
        rows = make_rows(40)
        rows[17]["WorkItem"] = 99999
        path = write_rows(tmp_path / "in.csv", rows)
        env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens["alice@example.com"]}
        code, out, err = invoke(
            [
                "import",
                str(path),
                "--mapping",
                str(mapping_file(tmp_path)),
                "--yes",
                "--json",
                "--batch-size",
                "20",
            ],
            env,
        )
        assert code == 1, err
        doc = json.loads(out)
        counts = doc["counts"]
        assert (counts["created"], counts["rejected"]) == (39, 1)
        assert counts["rows"] == counts["created"] + counts["rejected"]
        assert [r["source_row"] for r in doc["rejections"]] == [19]
        assert server_worklogs(box) == expected_worklogs(rows[:17] + rows[18:])


def _journal_batches(state: Path) -> list[tuple[int, str]]:
    (journal,) = state.glob("runs/*/journal.sqlite")
    with sqlite3.connect(journal) as conn:
        return list(conn.execute("SELECT batch_no, state FROM batch ORDER BY batch_no"))


def test_sigkill_after_post_sent_before_outcome_recorded(tmp_path: Path, state_dir: Path) -> None:
    rows = make_rows(40)
    path = write_rows(tmp_path / "in.csv", rows)
    args = cli_command(
        "import",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "1",
    )
    with run_sandbox_in_thread(faults=["batch#2:delay-after-commit=4s"]) as box:
        env = subprocess_env(box, state_dir)
        proc = start(args, env)
        deadline = time.monotonic() + 60
        try:
            # batch 2 is committed on the server, its answer is held back
            while sum(server_worklogs(box).values()) < 20:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert (2, "sending") in _journal_batches(state_dir)
        finally:
            proc.kill()
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        box.set_faults([])
        before = batch_calls(box)
        rerun = start(args, env)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        doc = json.loads(out)
        assert doc["resumed"] and doc["counts"]["created"] == 40 and doc["counts"]["rows"] == 40
        assert batch_calls(box) - before == 2  # batches 3 and 4; batch 2 was bound, not re-sent
        assert server_worklogs(box) == expected_worklogs(rows)


def test_sigint_mid_run_exit_130_then_resume(tmp_path: Path, state_dir: Path) -> None:
    rows = make_rows(300)
    path = write_rows(tmp_path / "in.csv", rows)
    args = cli_command(
        "import",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "2",
    )
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, state_dir)
        proc = start(args, env)
        deadline = time.monotonic() + 60
        while sum(server_worklogs(box).values()) < 30:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        first = json.loads(out)["counts"]
        assert first["rows"] == first["created"] + first["unprocessed"]
        assert 30 <= first["created"] < 300
        assert sum(server_worklogs(box).values()) == first["created"]
        rerun = start(args, env)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        doc = json.loads(out)
        assert doc["resumed"] and doc["counts"]["created"] == 300
        assert server_worklogs(box) == expected_worklogs(rows)


def test_rerun_after_success_with_journal_deleted(
    sandbox: RunningSandbox, tmp_path: Path, state_dir: Path
) -> None:
    rows = make_rows(45)
    path = write_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path, batch_size=20)
    first = run_quick(settings)
    assert first.exit_code == 0 and first.accounting.created == 45
    shutil.rmtree(state_dir)
    before = batch_calls(sandbox)
    second = run_quick(settings)
    assert not second.resumed and second.exit_code == 0 and balanced(second)
    assert second.accounting.already_existing == 45 and second.accounting.created == 0
    assert batch_calls(sandbox) == before  # 0 posted
    assert server_worklogs(sandbox) == expected_worklogs(rows)


def test_existing_new_and_identical_rows(sandbox: RunningSandbox, tmp_path: Path) -> None:
    rows = make_rows(40)
    old = write_rows(tmp_path / "old.csv", rows[:15])
    assert run_quick(settings_for(sandbox, old, tmp_path)).accounting.created == 15
    twin: dict[str, Any] = dict(rows[30])
    mixed = rows + [twin]  # 15 existing, 25 new, and row 42 identical to row 32
    path = write_rows(tmp_path / "in.csv", mixed)
    # --on-duplicate allow: the identical pair is reported, and both are created (the default
    # since issue 13, skip, is covered by tests/app/test_on_duplicate.py)
    result = run_quick(settings_for(sandbox, path, tmp_path, batch_size=10, on_duplicate="allow"))
    assert result.exit_code == 0 and balanced(result), result.summary_dict()
    assert result.accounting.already_existing == 15
    assert result.in_file_duplicates == {42: 32}
    assert result.accounting.created == 26
    assert server_worklogs(sandbox) == expected_worklogs(mixed)


def test_undo_with_one_edited_and_one_already_deleted(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    import asyncio

    from timetracker_import.api.client import TimetrackerClient

    rows = make_rich_rows(6)  # rich
    path = write_rich_rows(tmp_path / "in.csv", rows)
    settings = settings_for(sandbox, path, tmp_path)
    rich_mapping_file(tmp_path)
    result = run_quick(settings)
    assert result.exit_code == 0 and balanced(result) and result.accounting.created == 6
    assert server_worklogs(sandbox) == expected_worklogs(rows)
    created = [line.split(",") for line in result.created_csv.read_text().splitlines()[1:]]  # type: ignore[union-attr]
    (edited_row, edited), (_, deleted) = created[0], created[1]

    async def touch() -> None:
        async with TimetrackerClient(settings.connection) as client:
            await client.patch_worklog(edited, {"comment": "changed by hand"})
            await client.delete_worklog(deleted)

    time.sleep(0.01)
    asyncio.run(touch())
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    code, out, err = invoke(["runs", "undo", "--yes", result.run_id, "--json"], env)
    assert code == 0, err
    doc = json.loads(out)
    assert [s["id"] for s in doc["skipped_edited"]] == [edited]
    assert doc["already_gone"] == [deleted] or [g.get("id", g) for g in doc["already_gone"]] == [
        deleted
    ]
    assert len(doc["deleted"]) == 4
    assert len(doc["deleted"]) + len(doc["skipped_edited"]) + len(doc["already_gone"]) == 6
    # exactly the edited worklog is left, with everything but its comment as imported
    left = dict(rows[int(edited_row) - 2], Comment="changed by hand")
    assert server_worklogs(sandbox) == expected_worklogs([left])
    code, out, _ = invoke(
        ["runs", "undo", "--yes", result.run_id, "--json"], env
    )  # again: harmless
    assert code == 0 and json.loads(out)["deleted"] == []
    assert server_worklogs(sandbox) == expected_worklogs([left])


@pytest.mark.slow  # a 31 MB comment, uploaded at each bisection step (~30 s)
def test_a_row_too_large_for_the_server_is_rejected_not_retried_forever(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Issue 25 item 5: a 31 MB comment makes every batch holding it 413; bisection isolates
    the row, which is rejected with the server's reason (it was exit 75 on every re-run,
    with a hint about 500 worklogs). A 5,000-character comment is refused by content (S18).
    validate warns of both before."""
    rows = make_rows(10)
    rows[3]["Comment"] = "y" * 31_000_000
    rows[6]["Comment"] = "z" * 5000
    path = write_rows(tmp_path / "in.csv", rows)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    mapping = str(mapping_file(tmp_path))
    code, out, err = invoke(["validate", str(path), "--mapping", mapping, "--json"], env)
    assert code == 0, err
    assert json.loads(out)["long_comments"] == [5, 8]
    code, out, err = invoke(["validate", str(path), "--mapping", mapping], env)
    assert "warning: 2 rows have a comment over 4,000 characters (row 5, 8)" in out + err
    args = ["import", str(path), "--mapping", mapping, "--yes", "--json", "--batch-size", "5"]
    for _ in range(2):  # the same outcome again: never a resumable 75
        code, out, err = invoke(args, env)
        assert code == 1, err[-2000:]
        doc = json.loads(out)
        reasons = {r["source_row"]: r["reason"] for r in doc["rejections"]}
        assert sorted(reasons) == [5, 8], doc["counts"]
        assert "as too large (413: the request body is larger than" in reasons[5]
        assert "shorten its comment" in reasons[5]
        assert reasons[8] == "the server refused this row: comment must be at most 4000 characters"
        counts = doc["counts"]
        assert counts["unprocessed"] == 0 and _balanced_counts(counts)
        assert counts["created"] + counts["already_existing"] == 8
        assert "at most 500 worklogs" not in out + err
    assert server_worklogs(sandbox) == expected_worklogs(rows[:3] + rows[4:6] + rows[7:])
