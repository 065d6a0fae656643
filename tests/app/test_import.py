"""``run_import`` end to end against the sandbox over loopback: happy path, bisection, 429,
ambiguous outcomes (500 and timeout after commit), re-runs, approval locks, unknown users and
dry runs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import sandbox, state_dir
from tests.helpers import (
    BASE,
    MAPPING,
    USERS,
    balanced,
    fast_client,
    make_rows,
    run,
    seed_with_work_items,
    server_comments,
    settings_for,
    write_rows,
)
from timetracker_import.app.importer import ImportResult, run_import
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread
from timetracker_import.sandbox.seed import load_seed

# The helpers and fixtures used to live here. Test files on branches not yet merged still
# import them from this module: they stay importable until every branch imports
# tests.helpers (helpers) and tests.conftest (fixtures).
__all__ = [
    "BASE",
    "MAPPING",
    "USERS",
    "balanced",
    "fast_client",
    "make_rows",
    "run",
    "sandbox",
    "server_comments",
    "settings_for",
    "state_dir",
    "write_rows",
]
_seed_with_work_items = seed_with_work_items


def test_happy_path_1200_rows_in_three_batches(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(1200, users=("alice@example.com",)))
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 0
    assert result.accounting.created == 1200 and balanced(result)
    assert sandbox.stats()["calls"]["batch"] == 3
    comments = server_comments(sandbox)
    assert len(comments) == 1200 and set(comments.values()) == {1}
    created = (result.run_dir / "created.csv").read_text().splitlines()
    assert created[0] == "source_row,worklog_id" and len(created) == 1201
    assert (result.run_dir.stat().st_mode & 0o777) == 0o700
    assert (result.summary_path.stat().st_mode & 0o777) == 0o600


def test_rerun_of_completed_file_creates_nothing(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(60))
    first = run(settings_for(sandbox, path, tmp_path))
    assert first.exit_code == 0 and first.accounting.created == 60
    calls = sandbox.stats()["calls"].get("batch", 0)
    second = run(settings_for(sandbox, path, tmp_path))
    assert second.exit_code == 0
    assert second.accounting.created == 0 and second.accounting.already_existing == 60
    assert sandbox.stats()["calls"].get("batch", 0) == calls  # nothing posted
    assert sum(server_comments(sandbox).values()) == 60


def test_bad_row_isolated_by_splitting(tmp_path: Path) -> None:
    load_seed(seed_with_work_items())  # the seed itself is valid
    with run_sandbox_in_thread(seed=seed_with_work_items()) as box:
        rows = make_rows(500)
        rows[321]["WorkItem"] = 99999  # unknown to the server: 404 EntityNotFound
        path = write_rows(tmp_path / "in.csv", rows)
        result = run(settings_for(box, path, tmp_path))
        assert result.exit_code == 1
        assert result.accounting.created == 499 and result.accounting.rejected == 1
        (rej,) = result.rejections
        assert rej.source_row == 323 and rej.stage == "server"
        assert rej.error_code == "EntityNotFound"
        comments = server_comments(box)
        assert len(comments) == 499 and "row-321" not in comments
        rejected = (result.run_dir / "rejected.csv").read_text().splitlines()
        assert rejected[0].endswith("source_row,stage,reason,error_code")
        assert "EntityNotFound" in rejected[1] and "99999" in rejected[1]


def test_429_with_retry_after_creates_every_row_once(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(["batch#1:429=1"])
    path = write_rows(tmp_path / "in.csv", make_rows(40))
    result = run(settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=4))
    assert result.exit_code == 0 and result.accounting.created == 40
    assert result.throttled >= 1
    assert set(server_comments(sandbox).values()) == {1} and len(server_comments(sandbox)) == 40


def test_500_after_commit_gives_no_duplicate(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.set_faults(["batch#2:500-after-commit"])
    path = write_rows(tmp_path / "in.csv", make_rows(90))
    result = run(settings_for(sandbox, path, tmp_path, batch_size=30, concurrency=1))
    assert result.exit_code == 0, result.summary_dict()
    assert result.accounting.created == 90
    comments = server_comments(sandbox)
    assert len(comments) == 90 and set(comments.values()) == {1}
    assert sandbox.stats()["calls"]["batch"] == 3  # the committed batch was claimed, not re-sent


def test_timeout_after_commit_gives_no_duplicate(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.set_faults(["batch#1:delay-after-commit=2s"])
    path = write_rows(tmp_path / "in.csv", make_rows(40))
    result = run_import(
        settings_for(sandbox, path, tmp_path, batch_size=20, concurrency=1),
        client_factory=fast_client(timeout=0.7),
    )
    assert result.exit_code == 0, result.summary_dict()
    comments = server_comments(sandbox)
    assert len(comments) == 40 and set(comments.values()) == {1}
    assert len(result.ambiguous_batches) == 0


def test_approval_locked_weeks_rejected_before_posting(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rows = make_rows(6, users=("alice@example.com",))
    # bob's week of 2026-10-05 is Submitted, carol's is Closed in the demo seed
    rows.append(
        {
            "User": "bob@example.com",
            "Start": "2026-10-06T09:00:00Z",
            "Minutes": 30,
            "WorkItem": 5,
            "Comment": "locked-bob",
        }
    )
    rows.append(
        {
            "User": "carol@example.com",
            "Start": "2026-10-07T09:00:00Z",
            "Minutes": 30,
            "WorkItem": 5,
            "Comment": "locked-carol",
        }
    )
    path = write_rows(tmp_path / "in.csv", rows)
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 1
    assert result.accounting.created == 6 and result.accounting.rejected == 2
    by_row = {r.source_row: r for r in result.rejections}
    assert by_row[8].stage == "preflight" and "2026-10-05 is Submitted" in by_row[8].reason
    assert by_row[9].stage == "preflight" and "Closed" in by_row[9].reason
    assert sandbox.stats()["calls"]["batch"] == 1  # the locked rows were never sent
    assert "locked-bob" not in server_comments(sandbox)


def test_unknown_user_rejected_with_suggestion(sandbox: RunningSandbox, tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["User"] = "alcie@example.com"
    path = write_rows(tmp_path / "in.csv", rows)
    result = run(settings_for(sandbox, path, tmp_path))
    assert result.exit_code == 1
    (rej,) = result.rejections
    assert rej.stage == "resolve" and rej.column == "User"
    assert "did you mean 'alice@example.com'" in rej.reason
    assert result.accounting.created == 2


def test_dry_run_creates_nothing_and_finds_the_same_rejections(tmp_path: Path) -> None:
    with run_sandbox_in_thread(seed=seed_with_work_items()) as box:
        rows = make_rows(120)
        rows[7]["WorkItem"] = 99999  # server-side problem (EntityNotFound)
        rows[50]["User"] = "nobody@example.com"  # resolve problem
        rows[60]["Minutes"] = 0  # validate problem
        rows.append(
            {
                "User": "bob@example.com",
                "Start": "2026-10-06T09:00:00Z",
                "Minutes": 30,
                "WorkItem": 105,
                "Comment": "locked",
            }
        )
        path = write_rows(tmp_path / "in.csv", rows)
        dry = run(settings_for(box, path, tmp_path, dry_run=True, batch_size=50))
        assert sum(server_comments(box).values()) == 0
        assert dry.accounting.created == 117 and dry.accounting.rejected == 4
        assert dry.created_csv is None
        real = run(settings_for(box, path, tmp_path, batch_size=50, new_run=True))
        assert sum(server_comments(box).values()) == 117

        def shape(result: ImportResult) -> list[tuple[int, str, str | None]]:
            return [(r.source_row, r.stage, r.error_code) for r in result.rejections]

        assert shape(dry) == shape(real)
        assert [r.stage for r in dry.rejections] == ["server", "resolve", "validate", "preflight"]
        assert dry.exit_code == real.exit_code == 1
        assert (dry.run_dir / "rejected.csv").is_file()


def test_resume_after_auth_failure_then_undo(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A 401 mid-run halts with exit 3; the re-run resumes only the rest; undo removes it all."""
    sandbox.set_faults(["batch#2:401"])
    path = write_rows(tmp_path / "in.csv", make_rows(90))
    first = run(settings_for(sandbox, path, tmp_path, batch_size=30, concurrency=1))
    assert first.exit_code == 3 and first.halt_reason == "auth"
    assert first.accounting.created == 30 and first.accounting.unprocessed == 60
    assert balanced(first)
    sandbox.set_faults([])
    second = run(settings_for(sandbox, path, tmp_path, batch_size=30, concurrency=1))
    assert second.resumed and second.run_id == first.run_id
    assert second.exit_code == 0 and second.accounting.created == 90
    comments = server_comments(sandbox)
    assert len(comments) == 90 and set(comments.values()) == {1}
