"""`runs list` / `runs show` report what a dry run found (would create, rejected), not its
would-be-created rows as unprocessed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_import_cli import invoke, mapping_file
from tests.helpers import make_rows, server_comments, write_rows
from timetracker_import.sandbox import RunningSandbox


def test_dry_run_is_listed_with_what_it_would_create(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    rows = make_rows(12)
    rows[3]["User"] = "alcie@example.com"  # unknown user: rejected at resolve
    rows[7]["Minutes"] = "lots"  # rejected at map
    path = write_rows(tmp_path / "in.csv", rows)
    code, out, err = invoke(
        sandbox, "import", str(path), "--mapping", mapping_file(tmp_path), "--dry-run", "--json"
    )
    assert code == 1, err
    summary = json.loads(out)
    assert summary["dry_run"] is True
    assert (summary["counts"]["created"], summary["counts"]["rejected"]) == (10, 2)
    assert sum(server_comments(sandbox).values()) == 0

    code, out, err = invoke(sandbox, "runs", "list")
    assert code == 0, err
    (line,) = out.splitlines()
    assert "rows 12: would create 10, rejected 2" in line
    assert "unprocessed" not in line

    code, out, _ = invoke(sandbox, "runs", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["dry_run"] is True and listed["counts"] == summary["counts"]

    code, out, _ = invoke(sandbox, "runs", "show", summary["run_id"])
    assert code == 0 and "rows 12: would create 10, rejected 2" in out
    code, out, _ = invoke(sandbox, "runs", "show", summary["run_id"], "--json")
    shown = json.loads(out)
    assert shown["dry_run"] is True and shown["counts"]["unprocessed"] == 0

    # A real import of the same file is listed with the journal's counts, as before.
    code, out, err = invoke(
        sandbox, "import", str(path), "--mapping", mapping_file(tmp_path), "--yes", "--json"
    )
    assert code == 1, err
    run_id = json.loads(out)["run_id"]
    code, out, _ = invoke(sandbox, "runs", "list")
    (real,) = [line for line in out.splitlines() if line.startswith(run_id)]
    assert "rows 12: created 10, rejected 2" in real and "would" not in real
