"""``journal.lock``: one writer per target, waiting, takeover of a dead holder's lock."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from timetracker_import.errors import EXIT_TEMPFAIL, RunLocked
from timetracker_import.journal.lock import (
    Holder,
    TargetLock,
    ledger_lock,
    locks_root,
    process_start_time,
    target_lock,
)

ROOT = "http://localhost:1/api/rest"


def test_second_holder_of_one_target_is_refused_with_who_holds_it() -> None:
    with (
        target_lock(ROOT, what="importing this file"),
        pytest.raises(RunLocked) as caught,
        target_lock(ROOT, what="importing this file"),
    ):
        pass
    err = caught.value
    assert err.exit_code == EXIT_TEMPFAIL == 75
    assert err.message.startswith(f"another run (pid {os.getpid()}, started ")
    assert err.message.endswith(") is importing this file")
    assert "--wait" in (err.hint or "")


def test_other_targets_do_not_block_each_other() -> None:
    with (
        target_lock(ROOT, what="importing this file"),
        target_lock("http://elsewhere/api/rest", what="importing this file"),
        ledger_lock("ledger.csv"),
    ):
        pass


def test_one_writer_per_server_whatever_the_command() -> None:
    # an import holds the server: a sync, an undo or a second import of another file waits
    with target_lock(ROOT, what="writing to this server (import)"):
        for what in ("sync", "undo of RUN1", "import"):
            with (
                pytest.raises(RunLocked, match=r"is writing to this server \(import\)"),
                target_lock(ROOT, what=f"writing to this server ({what})"),
            ):
                pass


def test_the_url_case_and_trailing_slash_name_the_same_server() -> None:
    with (
        target_lock(ROOT, what="importing this file"),
        pytest.raises(RunLocked),
        target_lock(ROOT.upper() + "/", what="importing this file"),
    ):
        pass


def test_released_lock_is_free_again_and_emptied() -> None:
    with target_lock(ROOT, what="importing this file") as lock:
        assert f'"pid": {os.getpid()}' in lock.path.read_text()
    assert lock.path.read_text() == ""
    with target_lock(ROOT, what="importing this file") as again:
        assert again.took_over is None


def test_wait_gets_the_lock_when_the_holder_finishes() -> None:
    first = TargetLock("import", "x", what="importing this file").acquire()
    threading.Timer(0.3, first.release).start()
    started = time.monotonic()
    with TargetLock("import", "x", what="importing this file", wait=10):
        pass
    assert 0.2 < time.monotonic() - started < 10


def test_wait_gives_up_after_the_given_seconds() -> None:
    with TargetLock("import", "x", what="importing this file"):
        started = time.monotonic()
        with (
            pytest.raises(RunLocked),
            TargetLock("import", "x", what="importing this file", wait=0.3),
        ):
            pass
        assert time.monotonic() - started >= 0.3


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, time\n"
            "from timetracker_import.journal.lock import target_lock\n"
            f"with target_lock({ROOT!r}, what='importing this file'):\n"
            f"    pathlib.Path({str(ready)!r}).write_text('x')\n"
            "    time.sleep(60)\n",
        ],
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        with (
            pytest.raises(RunLocked, match=f"pid {child.pid}, started"),
            target_lock(ROOT, what="importing this file"),
        ):
            pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with target_lock(
        ROOT, what="importing this file"
    ) as lock:  # the kernel dropped the dead holder's lock
        assert lock.took_over is not None and lock.took_over.pid == child.pid
        assert not lock.took_over.alive()


def test_a_reused_pid_is_not_the_holder() -> None:
    me = os.getpid()
    assert Holder(me, process_start_time(me), None, "x").alive()
    if process_start_time(me) is None:
        pytest.skip("no /proc start times on this system")
    # same pid, another start time: another process that got the dead holder's pid
    assert not Holder(me, "1", None, "x").alive()
    assert not Holder(2**22 + 12345, None, None, "x").alive()


def test_lock_files_are_private() -> None:
    with target_lock(ROOT, what="importing this file") as lock:
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(locks_root().stat().st_mode) == 0o700


def test_negative_wait_is_a_usage_error() -> None:
    from timetracker_import.errors import UsageError

    with pytest.raises(UsageError, match="--wait"):
        TargetLock("import", "x", what="y", wait=-1)
