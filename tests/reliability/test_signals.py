"""SIGTERM and SIGHUP behave like Ctrl-C (issue 14, part 2), in a real subprocess.

Before: SIGINT was handled, SIGTERM (what cron, systemd, CI timeouts and ``docker stop``
send) killed the import without a summary or a word about resuming (exit 143 by the signal).
Now each of the three stops sending, lets the requests in flight settle, writes the summary
and ``summary.json``, says how to resume and exits 128 + the signal; the re-run completes
exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import make_rows, mapping_file, write_rows
from tests.reliability.conftest import (
    cli_command,
    expected_worklogs,
    server_worklogs,
    start,
    subprocess_env,
)
from timetracker_import.journal.lock import target_lock
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

RESUME_HINT = "run the same command again to resume the unprocessed rows"


def _args(path: Path, base: Path, *extra: str) -> list[str]:
    return cli_command(
        "import",
        str(path),
        "--mapping",
        str(mapping_file(base)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "2",
        *extra,
    )


def _check_summary(out: str, err: str, code: int, rows: int) -> dict[str, object]:
    doc = json.loads(out)
    counts = doc["counts"]
    assert counts["rows"] == rows == counts["created"] + counts["unprocessed"]
    assert doc["exit_code"] == code and doc["halt_reason"] == "interrupted"
    summary = json.loads((Path(doc["run_dir"]) / "summary.json").read_text())
    assert summary["exit_code"] == code and summary["counts"] == counts
    assert RESUME_HINT in err and "Traceback" not in err
    return doc


def _rerun_completes(args: list[str], env: dict[str, str], box: RunningSandbox, data: list) -> None:
    rerun = start(args, env)
    out, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    doc = json.loads(out)
    assert doc["resumed"] and doc["counts"]["created"] == len(data)
    assert doc["counts"]["unprocessed"] == 0
    assert server_worklogs(box) == expected_worklogs(data)


def _while_running(proc: subprocess.Popen[str], waiting: Callable[[], bool]) -> None:
    """Wait (up to a minute) while ``waiting()`` holds, the process still running."""
    deadline = time.monotonic() + 60
    while waiting():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("signo", "code", "said"),
    [
        (signal.SIGTERM, 143, "interrupted: stopped by SIGTERM"),
        (signal.SIGHUP, 129, "interrupted: stopped by SIGHUP"),
        (signal.SIGINT, 130, "interrupted"),
    ],
)
def test_signal_mid_import_stops_resumably(
    tmp_path: Path, state_dir: Path, signo: int, code: int, said: str
) -> None:
    data = make_rows(300)
    args = _args(write_rows(tmp_path / "in.csv", data), tmp_path)
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, state_dir)
        proc = start(args, env)
        _while_running(proc, lambda: sum(server_worklogs(box).values()) < 30)
        proc.send_signal(signo)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert said in err
        doc = _check_summary(out, err, code, 300)
        created = doc["counts"]["created"]  # type: ignore[index]
        assert 30 <= created < 300
        # the requests in flight settled: the server holds exactly what the journal says
        assert sum(server_worklogs(box).values()) == created
        _rerun_completes(args, env, box, data)


def test_sigterm_before_anything_is_sent_writes_the_summary(
    tmp_path: Path, state_dir: Path
) -> None:
    data = make_rows(60)
    args = _args(write_rows(tmp_path / "in.csv", data), tmp_path)
    # slow answers: the setup reads (me, users, activity types) are still on the wire when
    # the file has been read and the run's journal exists
    with run_sandbox_in_thread(latency_ms=1500) as box:
        env = subprocess_env(box, state_dir)
        proc = start(args, env)
        deadline = time.monotonic() + 60
        while box.stats()["calls"].get("any", 0) == 0 or not list(
            state_dir.glob("runs/*/journal.sqlite")
        ):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert box.stats()["calls"].get("batch", 0) == 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        doc = _check_summary(out, err, 143, 60)
        assert doc["counts"]["created"] == 0  # type: ignore[index]
        assert not server_worklogs(box)
        _rerun_completes(args, env, box, data)


def _wait_until_it_opens(proc: subprocess.Popen[str], path: Path) -> None:
    fds = Path(f"/proc/{proc.pid}/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to see the process waiting on the lock file")
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                return
        time.sleep(0.02)


def test_sigterm_while_waiting_for_the_lock(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_rows(5)
    path = write_rows(tmp_path / "in.csv", data)
    with run_sandbox_in_thread() as box:
        env = subprocess_env(box, state_dir)
        monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(state_dir))
        with target_lock(f"{box.url}/api/rest", what="writing to this server") as lock:
            proc = start(_args(path, tmp_path, "--wait", "120"), env)
            _wait_until_it_opens(proc, lock.path)  # start-up and reading done: it waits
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert "interrupted (SIGTERM)" in err and "Traceback" not in err
        assert not server_worklogs(box)


@pytest.mark.parametrize(("signo", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_sync_writes_its_summary_and_the_rerun_converges(
    tmp_path: Path, state_dir: Path, signo: int, code: int
) -> None:
    data = make_rows(300)
    path = write_rows(tmp_path / "in.csv", data)
    args = cli_command(
        "sync",
        str(path),
        "--mapping",
        str(mapping_file(tmp_path)),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "2",
        "--ledger",
        str(tmp_path / "l.sqlite"),
    )
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, state_dir)
        proc = start(args, env)
        _while_running(proc, lambda: sum(server_worklogs(box).values()) < 30)
        proc.send_signal(signo)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert "Traceback" not in err and "interrupted" in err
        assert "sync picks up where it stopped" in err
        doc = json.loads(out)  # --json on a signal too
        counts = doc["counts"]
        assert doc["exit_code"] == code and doc["halt_reason"] == "interrupted"
        assert doc["balanced"] and counts["rows"] == 300
        assert 30 <= counts["created"] < 300 and counts["unprocessed"] == 300 - counts["created"]
        # the requests in flight settled: the server holds exactly what the run counted
        assert sum(server_worklogs(box).values()) == counts["created"]
        summary = json.loads((Path(doc["run_dir"]) / "summary.json").read_text())
        assert summary["exit_code"] == code and summary["counts"] == counts
        listed = subprocess.run(
            cli_command("runs", "list", "--json"),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        (run,) = [r for r in json.loads(listed.stdout) if r["run_id"] == doc["run_id"]]
        assert run["status"] == "halted" and run["halt_reason"] == "interrupted"
        assert run["counts"]["created"] == counts["created"]
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
        assert rerun.returncode == 0, rerun.stderr
        again = json.loads(rerun.stdout)["counts"]
        assert again["created"] + again["unchanged"] == 300
        assert server_worklogs(box) == expected_worklogs(data)


def _imported(tmp_path: Path, env: dict[str, str], rows: int) -> dict[str, object]:
    """Import ``rows`` rows completely; its ``--json`` document."""
    imported = start(_args(write_rows(tmp_path / "in.csv", make_rows(rows)), tmp_path), env)
    out, err = imported.communicate(timeout=180)
    assert imported.returncode == 0, err
    return dict(json.loads(out))


def _stopped_while_deleting(
    args: list[str], env: dict[str, str], box: RunningSandbox, signo: int, code: int
) -> tuple[dict[str, object], str]:
    """Start ``args``, send ``signo`` once 10 worklogs are gone; its ``--json`` and stderr."""
    proc = start(args, env)
    _while_running(proc, lambda: sum(server_worklogs(box).values()) > 110)
    proc.send_signal(signo)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    return dict(json.loads(out)), err


@pytest.mark.parametrize(("signo", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_undo_stops_after_the_change_in_flight(
    tmp_path: Path, state_dir: Path, signo: int, code: int
) -> None:
    """Before: a signal killed ``runs undo`` with "interrupted" and no word of what was
    undone or left. Now the change in flight finishes, the report and ``--json`` say how
    many are left, exit 128 + the signal; undoing again reverses the rest, each once."""
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, state_dir)
        run_id = str(_imported(tmp_path, env, 120)["run_id"])
        undo = cli_command("runs", "undo", run_id, "--yes", "--json")
        doc, err = _stopped_while_deleting(undo, env, box, signo, code)
        assert doc["cancelled"] is True and doc["exit_code"] == code
        left = sum(server_worklogs(box).values())
        # the server holds exactly what the report says is left
        assert doc["left"] == left and 0 < left <= 110
        assert f"cancelled: {left} change(s) left to undo" in err
        again = start(undo, env)
        out, err = again.communicate(timeout=180)
        assert again.returncode == 0, err
        assert len(json.loads(out)["deleted"]) == left
        assert sum(server_worklogs(box).values()) == 0


@pytest.mark.parametrize(("signo", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_worklogs_delete_stops_after_the_deletes_in_flight(
    tmp_path: Path, state_dir: Path, signo: int, code: int
) -> None:
    """Before: ``worklogs delete`` had no stop handling (a signal ended it mid-requests,
    with no word of what was deleted). Now it stops as import and sync do: the deletes in
    flight get their outcome, ``--json`` names what was deleted and what was not sent, exit
    128 + the signal; the server holds exactly the rest, and the same command again deletes
    it (the ids already deleted are 'not found', nothing else)."""
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, state_dir)
        created = Path(str(_imported(tmp_path, env, 120)["created_csv"])).read_text()
        ids = tmp_path / "ids.csv"
        ids.write_text("id\n" + "".join(f"{line.split(',')[1]}\n" for line in created.split()[1:]))
        delete = cli_command("worklogs", "delete", str(ids), "--yes", "--json")
        doc, err = _stopped_while_deleting(delete, env, box, signo, code)
        assert doc["exit_code"] == code and doc["interrupted"] is True
        left = sum(server_worklogs(box).values())
        # the server holds exactly what the run did not delete
        done, unsent = doc["done"], doc["unsent"]
        assert isinstance(done, list) and isinstance(unsent, list)
        assert len(done) == 120 - left and len(unsent) == left > 0
        assert f"stopped: {left} worklog(s) were not deleted" in err
        again = start(delete, env)
        out, err = again.communicate(timeout=180)
        assert again.returncode == 1, err  # the ones deleted before are not found now
        second = json.loads(out)
        assert len(second["done"]) == left and len(second["not_found"]) == 120 - left
        assert sum(server_worklogs(box).values()) == 0
