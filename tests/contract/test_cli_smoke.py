"""Issue 3's "done when": the sandbox command in one process, ``users`` in another.

Both run as real subprocesses (``python -m timetracker_import``), the second one configured
only through TIMETRACKER_URL / TIMETRACKER_TOKEN, exactly as a user would do it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DEMO_USERS = {
    "alice@example.com": "Alice Admin",
    "bob@example.com": "Bob Builder",
    "carol@example.com": "Carol Coder",
    "dave@example.com": "Dave Product",
    "erin@example.com": "Erin Nobody",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SandboxProcess:
    url: str
    tokens: dict[str, str]


def _read_banner(proc: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    """The sandbox's start-up lines up to 'press Ctrl-C' (read in a thread: no hang)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
            if line.startswith("press Ctrl-C"):
                break
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    got: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the sandbox printed no banner within {timeout} s: {got}")
        if line is None:
            return got
        got.append(line)


@pytest.fixture
def sandbox_process() -> Iterator[SandboxProcess]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "timetracker_import",
        "sandbox",
        "--port",
        str(port),
        "--seed",
        "demo",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
    )
    try:
        banner = _read_banner(proc)
        assert banner, "the sandbox exited before printing anything"
        first = banner[0].split()
        assert first[:4] == ["7pace", "sandbox", "listening", "on"]
        url = first[4]
        assert url == f"http://127.0.0.1:{port}"
        tokens = {
            parts[0]: parts[-1]
            for parts in (line.split() for line in banner)
            if parts and parts[0] in DEMO_USERS
        }
        assert set(tokens) == set(DEMO_USERS)
        yield SandboxProcess(url=url, tokens=tokens)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def run_cli(
    args: list[str], url: str, token: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRACKER_")}
    env |= {
        "TIMETRACKER_URL": url,
        "TIMETRACKER_TOKEN": token,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no profiles of the real user
    }
    return subprocess.run(
        [sys.executable, "-m", "timetracker_import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_users_lists_the_seeded_users(sandbox_process: SandboxProcess, tmp_path: Path) -> None:
    token = sandbox_process.tokens["bob@example.com"]
    result = run_cli(["users", "--format", "json"], sandbox_process.url, token, tmp_path)
    assert result.returncode == 0, result.stderr
    users = json.loads(result.stdout)
    assert {u["email"]: u["displayName"] for u in users} == DEMO_USERS
    for secret in sandbox_process.tokens.values():
        assert secret not in result.stdout
        assert secret not in result.stderr


def test_debug_log_and_errors_never_show_the_token(
    sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    token = sandbox_process.tokens["alice@example.com"]
    debug = run_cli(["me", "--format", "json", "--debug"], sandbox_process.url, token, tmp_path)
    assert debug.returncode == 0, debug.stderr
    assert json.loads(debug.stdout)["user"]["email"] == "alice@example.com"
    assert debug.stderr.strip()  # something was logged
    assert token not in debug.stdout + debug.stderr

    wrong = "wrong-token-but-long-enough-1234"
    denied = run_cli(["users", "--format", "csv", "--debug"], sandbox_process.url, wrong, tmp_path)
    assert denied.returncode == 3  # authentication failure
    assert "401" in denied.stderr
    assert wrong not in denied.stdout + denied.stderr
    assert "Traceback" not in denied.stderr
