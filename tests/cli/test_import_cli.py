"""The ``import`` and ``runs`` commands: confirmation rules, JSON summary, undo, and a run
killed with SIGKILL then resumed in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from tests.helpers import MAPPING, make_rows, server_comments, write_rows
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread

REPO = Path(__file__).resolve().parents[2]


def invoke(
    box: RunningSandbox, *args: str, user: str = "alice@example.com"
) -> tuple[int, str, str]:
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens[user]}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def mapping_file(tmp_path: Path) -> str:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return str(path)


def test_real_import_without_terminal_or_yes_refuses(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(5))
    code, _, err = invoke(sandbox, "import", str(path), "--mapping", mapping_file(tmp_path))
    assert code == 2
    assert "--yes" in err
    assert sandbox.stats()["calls"].get("batch", 0) == 0
    assert sum(server_comments(sandbox).values()) == 0


def test_import_json_summary_then_runs_show_and_undo(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rows = make_rows(12)
    rows[3]["User"] = "alcie@example.com"
    path = write_rows(tmp_path / "in.csv", rows)
    code, out, err = invoke(
        sandbox,
        "import",
        str(path),
        "--mapping",
        mapping_file(tmp_path),
        "--yes",
        "--json",
        "--rejected",
        str(tmp_path / "bad.csv"),
    )
    assert code == 1, err
    doc = json.loads(out)
    counts = doc["counts"]
    assert (counts["rows"], counts["created"], counts["rejected"]) == (12, 11, 1)
    assert (
        counts["rows"]
        == counts["created"]
        + counts["already_existing"]
        + counts["rejected"]
        + counts["unprocessed"]
    )
    assert "did you mean 'alice@example.com'" in doc["rejections"][0]["reason"]
    assert "rows 12 = created 11 + already existing 0 + rejected 1 + unprocessed 0" in err
    assert (tmp_path / "bad.csv").read_text().count("\n") == 2
    run_id = doc["run_id"]
    summary = json.loads((Path(doc["run_dir"]) / "summary.json").read_text())
    assert summary["counts"]["created"] == 11

    code, out, _ = invoke(sandbox, "runs", "list")
    assert code == 0 and run_id in out
    code, out, _ = invoke(sandbox, "runs", "show", run_id, "--json")
    assert code == 0 and json.loads(out)["counts"]["created"] == 11

    code, out, err = invoke(sandbox, "runs", "undo", run_id, "--dry-run", "--json")
    assert code == 0 and len(json.loads(out)["deleted"]) == 11
    assert sum(server_comments(sandbox).values()) == 11  # dry run deleted nothing

    code, out, err = invoke(sandbox, "runs", "undo", "--yes", run_id, "--json")
    assert code == 0, err
    assert len(json.loads(out)["deleted"]) == 11
    assert sum(server_comments(sandbox).values()) == 0
    code, out, _ = invoke(sandbox, "runs", "undo", "--yes", run_id, "--json")  # idempotent
    again = json.loads(out)
    assert code == 0 and again["deleted"] == [] and len(again["already_gone"]) == 11


def test_undo_skips_worklogs_edited_since(sandbox: RunningSandbox, tmp_path: Path) -> None:
    import asyncio

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import resolve_connection

    path = write_rows(tmp_path / "in.csv", make_rows(4))
    code, out, _ = invoke(
        sandbox, "import", str(path), "--mapping", mapping_file(tmp_path), "--yes", "--json"
    )
    assert code == 0
    run_dir = Path(json.loads(out)["run_dir"])
    first_id = (run_dir / "created.csv").read_text().splitlines()[1].split(",")[1]
    settings = resolve_connection(
        url=sandbox.url,
        env={"TIMETRACKER_TOKEN": sandbox.tokens["alice@example.com"]},
        config_dir=tmp_path / "cfg",
    )

    async def edit() -> None:
        async with TimetrackerClient(settings) as client:
            await client.patch_worklog(first_id, {"comment": "changed by hand"})

    time.sleep(0.01)
    asyncio.run(edit())
    code, out, _ = invoke(sandbox, "runs", "undo", "--yes", run_dir.name, "--json")
    doc = json.loads(out)
    assert code == 0
    assert [s["id"] for s in doc["skipped_edited"]] == [first_id] and len(doc["deleted"]) == 3
    assert server_comments(sandbox) == {"changed by hand": 1}


def test_sigkill_mid_run_then_rerun_holds_each_row_once(tmp_path: Path, state_dir: Path) -> None:
    rows = make_rows(1200)
    path = write_rows(tmp_path / "in.csv", rows)
    mapping = mapping_file(tmp_path)
    with run_sandbox_in_thread(latency_ms=60) as box:
        env = dict(
            os.environ,
            TIMETRACKER_URL=box.url,
            TIMETRACKER_TOKEN=box.tokens["alice@example.com"],
            TIMETRACKER_STATE_DIR=str(state_dir),
        )
        args = [
            sys.executable,
            "-m",
            "timetracker_import",
            "import",
            str(path),
            "--mapping",
            mapping,
            "--yes",
            "--batch-size",
            "25",
            "--concurrency",
            "2",
            "--json",
        ]
        proc = subprocess.Popen(
            args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        try:
            while sum(server_comments(box).values()) < 200:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        before = sum(server_comments(box).values())
        assert 200 <= before < 1200
        rerun = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        doc = json.loads(rerun.stdout)
        assert doc["resumed"] is True
        assert doc["counts"]["created"] == 1200 and doc["counts"]["unprocessed"] == 0
        comments = server_comments(box)
        assert len(comments) == 1200 and set(comments.values()) == {1}
