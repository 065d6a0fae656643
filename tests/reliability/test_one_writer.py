"""One writer per target (issue 14, part 1): two imports of one file started together.

Before the lock both runs exited 0 and the server held every row twice (the journal is per
run, nothing stopped the second). Now the second run waits for the first (``--wait``) or
exits 75 at once, and the sandbox ends with every row exactly once either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
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
from timetracker_import.sandbox import run_sandbox_in_thread

ROWS = 200


def _command(path: Path, base: Path, *extra: str) -> list[str]:
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
        "1",
        *extra,
    )


def _both(args: list[str], env: dict[str, str]) -> list[tuple[int, str, str]]:
    procs = [start(args, env), start(args, env)]  # started together
    outputs = [p.communicate(timeout=300) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def test_two_imports_started_together_with_wait_store_every_row_once(tmp_path: Path) -> None:
    data = make_rows(ROWS)
    path = write_rows(tmp_path / "in.csv", data)
    with run_sandbox_in_thread(latency_ms=20) as box:
        env = subprocess_env(box, tmp_path / "state")
        outcomes = _both(_command(path, tmp_path, "--wait", "240"), env)
        assert [code for code, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
        counts = sorted(
            (json.loads(out)["counts"]["created"], json.loads(out)["counts"]["already_existing"])
            for _, out, _ in outcomes
        )
        # one run created everything, the other (after waiting) found it all there
        assert counts == [(0, ROWS), (ROWS, 0)]
        assert server_worklogs(box) == expected_worklogs(data)


def test_two_imports_started_together_without_wait_one_exits_75(tmp_path: Path) -> None:
    data = make_rows(ROWS)
    path = write_rows(tmp_path / "in.csv", data)
    with run_sandbox_in_thread(latency_ms=40) as box:
        env = subprocess_env(box, tmp_path / "state")
        outcomes = _both(_command(path, tmp_path), env)
        codes = sorted(code for code, _, _ in outcomes)
        # both start within a second; the run with the lock takes longer than that
        assert codes == [0, 75], [err for _, _, err in outcomes]
        refused = next(err for code, _, err in outcomes if code == 75)
        assert (
            "error: another run (pid " in refused
            and ") is writing to this server (import)" in refused
        )
        assert server_worklogs(box) == expected_worklogs(data)
        # the refused run changed nothing: running it again finds every row there
        again = subprocess.run(
            _command(path, tmp_path), env=env, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["counts"]["already_existing"] == ROWS
        assert server_worklogs(box) == expected_worklogs(data)


def test_a_held_lock_gives_exit_75_then_wait_gets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_rows(20)
    path = write_rows(tmp_path / "in.csv", data)
    with run_sandbox_in_thread() as box:
        env = subprocess_env(box, tmp_path / "state")
        # the lock as the import of this file into this server names it, held by this test
        # (the autouse state_dir fixture points TIMETRACKER_STATE_DIR elsewhere: follow env)
        monkeypatch.setenv("TIMETRACKER_STATE_DIR", env["TIMETRACKER_STATE_DIR"])
        rest_root = f"{box.url}/api/rest"
        with target_lock(rest_root, what="writing to this server (import)"):
            refused = subprocess.run(
                _command(path, tmp_path), env=env, capture_output=True, text=True, timeout=120
            )
            waiting = start(_command(path, tmp_path, "--wait", "60"), env)
            threading.Event().wait(1.0)
            assert waiting.poll() is None  # still waiting for the lock
            assert not server_worklogs(box)
        out, err = waiting.communicate(timeout=120)
        assert refused.returncode == 75
        assert f"error: another run (pid {os.getpid()}, started " in refused.stderr
        assert "hint: " in refused.stderr and "--wait SECONDS" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert waiting.returncode == 0, err
        assert server_worklogs(box) == expected_worklogs(data)


def test_worklogs_delete_and_runs_undo_take_the_servers_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.reliability.conftest import invoke

    with run_sandbox_in_thread() as box:
        env = subprocess_env(box, tmp_path / "state")
        monkeypatch.setenv("TIMETRACKER_STATE_DIR", env["TIMETRACKER_STATE_DIR"])
        rest_root = f"{box.url}/api/rest"
        with target_lock(rest_root, what="writing to this server (import)"):
            code, _, err = invoke(["worklogs", "delete", "--id", "b2", "--id", "a1", "--yes"], env)
        assert code == 75 and "is writing to this server (import)" in err
        with target_lock(rest_root, what="writing to this server (sync)"):
            code, _, err = invoke(["runs", "undo", "--yes", "RUN1"], env)
        # the run does not exist: the journal is opened first and says so (exit 2) ...
        assert code == 2 and "RUN1" in err
        # ... an existing run is refused while another writer holds the server
        rows = make_rows(3)
        path = write_rows(tmp_path / "in.csv", rows)
        code, out, err = invoke(
            ["import", str(path), "--mapping", str(mapping_file(tmp_path)), "--yes", "--json"], env
        )
        assert code == 0, err
        run_id = json.loads(out)["run_id"]
        with target_lock(rest_root, what=f"writing to this server (undo of {run_id})"):
            code, _, err = invoke(["runs", "undo", "--yes", run_id], env)
        assert code == 75 and f"is writing to this server (undo of {run_id})" in err
        assert server_worklogs(box) == expected_worklogs(rows)  # nothing undone
        code, _, err = invoke(["runs", "undo", "--yes", run_id], env)
        assert code == 0, err
        assert not server_worklogs(box)
