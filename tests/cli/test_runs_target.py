"""`runs undo` only acts on the server the run wrote to."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_import_cli import invoke, mapping_file
from tests.helpers import make_rows, server_comments, write_rows
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


def test_undo_against_another_server_is_refused(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "in.csv", make_rows(3))
    code, out, err = invoke(
        sandbox, "import", str(path), "--mapping", mapping_file(tmp_path), "--yes", "--json"
    )
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    with run_sandbox_in_thread() as other:
        code, _, err = invoke(other, "runs", "undo", "--yes", run_id)
    assert code == 2
    assert "wrote to" in err and sandbox.url in err
    assert sum(server_comments(sandbox).values()) == 3  # nothing was undone anywhere
    code, _, err = invoke(sandbox, "runs", "undo", "--yes", run_id)
    assert code == 0, err
    assert sum(server_comments(sandbox).values()) == 0
