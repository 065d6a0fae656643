"""Every exit leaves its evidence: ``--json`` prints one object and ``--report`` writes its
file on every exit code, errors included; ``--notify URL`` posts a summary to a webhook."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import MAPPING, make_rows, write_rows
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox

BAD_TOKEN = "wrong-token-0123456789-SECRET"


class Hook:
    """A local webhook that records the JSON bodies posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, object]] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/XXSECRETPATH"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env or {})
    return result.exit_code, result.stdout, result.stderr


def csv_and_mapping(tmp_path: Path) -> tuple[str, str]:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return str(write_rows(tmp_path / "in.csv", make_rows(3))), str(mapping)


def test_an_auth_failure_prints_one_json_object_and_writes_both_reports(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path, mapping = csv_and_mapping(tmp_path)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": BAD_TOKEN}
    for suffix in ("json", "html"):
        report = tmp_path / f"r.{suffix}"
        code, out, err = run(
            "import",
            path,
            "--mapping",
            mapping,
            "--yes",
            "--json",
            "--report",
            str(report),
            env=env,
        )
        assert code == 3, err
        doc = json.loads(out)  # exactly one object on stdout
        assert doc["exit_code"] == 3
        assert doc["error"]["type"] == "AuthError"
        assert doc["error"]["message"]
        assert err.startswith("error: ")
        text = report.read_text(encoding="utf-8")
        assert BAD_TOKEN not in out + err + text
        if suffix == "json":
            written = json.loads(text)
            assert written["exit_code"] == 3 and written["command"] == "import"
            assert written["error"] == doc["error"]
        else:
            assert "exit 3" in text and "authentication" in text


def test_a_usage_error_found_while_parsing_still_prints_json_and_writes_the_report(
    tmp_path: Path,
) -> None:
    report = tmp_path / "r.json"
    code, out, err = run(
        "import", "x.csv", "--json", "--report", str(report), "--batch-size", "many"
    )
    assert code == 2
    assert "many" in err  # click's own message still printed
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["error"]["type"] == "BadParameter"
    assert json.loads(report.read_text())["exit_code"] == 2


def test_validate_of_a_missing_file_prints_json_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "v.json"
    code, out, _ = run(
        "validate",
        str(tmp_path / "nope.csv"),
        "--preset",
        "toggl",
        "--json",
        "--report",
        str(report),
    )
    assert code == 2
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["error"]["type"] == "InputError"
    assert json.loads(report.read_text())["error"] == doc["error"]


def test_runs_show_of_an_unknown_run_prints_the_error_as_json() -> None:
    code, out, _ = run("runs", "show", "no-such-run", "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc == {
        "exit_code": 2,
        "meaning": "usage, mapping or input error",
        "error": doc["error"],
    }
    assert "no run 'no-such-run'" in doc["error"]["message"]
    assert "runs list" in doc["error"]["hint"]


def test_a_successful_validate_prints_its_own_document_once(tmp_path: Path) -> None:
    path, mapping = csv_and_mapping(tmp_path)
    code, out, _ = run("validate", path, "--mapping", mapping, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["rows"] == 3 and doc["exit_code"] == 0 and "error" not in doc


def test_notify_posts_a_summary_on_failure_without_the_token(
    sandbox: RunningSandbox, tmp_path: Path, hook: Hook
) -> None:
    path, mapping = csv_and_mapping(tmp_path)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": BAD_TOKEN}
    code, _, err = run("import", path, "--mapping", mapping, "--yes", "--notify", hook.url, env=env)
    assert code == 3
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["exit_code"] == 3 and body["command"] == "import"
    assert str(body["text"]).startswith("timetracker-import import on ")
    assert "exit 3 (authentication or permission failure)" in str(body["text"])
    assert body["error"]["type"] == "AuthError"  # type: ignore[index]
    assert BAD_TOKEN not in json.dumps(body)
    assert "notified 127.0.0.1" in err
    assert "XXSECRETPATH" not in err  # a webhook URL is a credential: only its host is shown


def test_notify_carries_the_counts_and_respects_notify_on(
    sandbox: RunningSandbox, tmp_path: Path, hook: Hook
) -> None:
    path, mapping = csv_and_mapping(tmp_path)
    env = {"TIMETRACKER_URL": sandbox.url, "TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]}
    # exit 0 and the default --notify-on failure: nothing is posted
    code, _, _ = run("import", path, "--mapping", mapping, "--yes", "--notify", hook.url, env=env)
    assert code == 0 and hook.bodies == []
    # --notify-on 0,1 (here from the environment variable): posted, with the counts
    env["TIMETRACKER_NOTIFY_URL"] = hook.url
    code, _, _ = run(
        "import", path, "--mapping", mapping, "--yes", "--new-run", "--notify-on", "0,1", env=env
    )
    assert code == 0
    (body,) = hook.bodies
    assert body["exit_code"] == 0
    counts = body["counts"]
    assert counts["rows"] == 3 and counts["already_existing"] == 3  # type: ignore[index]
    assert body["run_id"] and str(body["run_id"]) in str(body["text"])
    assert sandbox.tokens["alice@example.com"] not in json.dumps(body)


def test_an_undeliverable_notification_is_a_warning_and_keeps_the_exit_code(
    tmp_path: Path, hook: Hook
) -> None:
    url = hook.url
    hook.close()  # nobody listens there any more
    code, out, err = run(
        "validate", str(tmp_path / "nope.csv"), "--preset", "toggl", "--notify", url, "--json"
    )
    assert code == 2
    assert json.loads(out)["exit_code"] == 2
    assert "warning: notification to 127.0.0.1 failed" in err


def test_notify_refuses_a_url_that_is_no_webhook(tmp_path: Path) -> None:
    code, _, err = run("validate", "x.csv", "--preset", "toggl", "--notify", "ftp://host/x")
    assert code == 2
    assert "--notify needs an http:// or https:// webhook URL" in err


def test_the_console_script_leaves_the_evidence_too(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMETRACKER_")}
    env["TIMETRACKER_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "timetracker_import",
            "import",
            str(tmp_path / "missing.csv"),
            "--preset",
            "toggl",
            "--yes",
            "--json",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2
    assert "exit 2" in report.read_text(encoding="utf-8")


def test_an_interrupted_run_still_leaves_its_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the file is read

    monkeypatch.setattr("timetracker_import.library.validate", interrupted)
    report = tmp_path / "r.json"
    code, out, err = run(
        "validate", "x.csv", "--preset", "toggl", "--json", "--report", str(report)
    )
    assert code == 130
    assert "interrupted" in err
    doc = json.loads(out)
    assert doc["exit_code"] == 130 and doc["error"]["type"] == "KeyboardInterrupt"
    assert doc["meaning"] == doc["error"]["message"] == "interrupted (resumable)"
    assert json.loads(report.read_text())["exit_code"] == 130
