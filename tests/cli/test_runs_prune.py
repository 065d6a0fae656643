"""``runs prune --older-than AGE`` keeps what resume and undo need and says what it removed;
``runs undo`` asks before it deletes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tests.helpers import MAPPING, make_rows, server_comments, write_rows
from timetracker_import.cli.main import cli
from timetracker_import.sandbox import RunningSandbox


def invoke(box: RunningSandbox, *args: str, input: str | None = None) -> tuple[int, str, str]:
    env = {"TIMETRACKER_URL": box.url, "TIMETRACKER_TOKEN": box.tokens["alice@example.com"]}
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def imported(box: RunningSandbox, tmp_path: Path, name: str, *extra: str) -> str:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    rows = make_rows(4)
    for row in rows:
        row["Comment"] = f"{name} {row['Comment']}"
    path = write_rows(tmp_path / f"{name}.csv", rows)
    code, out, err = invoke(box, "import", str(path), "--mapping", str(mapping), "--json", *extra)
    assert code == 0, err
    return str(json.loads(out)["run_id"])


def test_prune_removes_only_runs_nothing_needs(
    sandbox: RunningSandbox, tmp_path: Path, state_dir: Path
) -> None:
    from timetracker_import.journal.store import Journal

    dry = imported(sandbox, tmp_path, "dry", "--dry-run")
    kept = imported(sandbox, tmp_path, "kept", "--yes")
    undone = imported(sandbox, tmp_path, "undone", "--yes")
    assert invoke(sandbox, "runs", "undo", undone, "--yes")[0] == 0
    unfinished = Journal.create(fingerprint="f" * 64, input_path="x.csv")  # an open run
    unfinished.close()
    runs = state_dir / "runs"
    assert {p.name for p in runs.iterdir()} == {dry, kept, undone, unfinished.run_id}

    # nothing is 30 days old yet
    code, out, err = invoke(sandbox, "runs", "prune", "--older-than", "30d", "--json")
    assert code == 0 and json.loads(out)["removed"] == 0
    assert "removed 0 run(s)" in err

    # a dry run of the prune says what would go and removes nothing
    code, out, err = invoke(sandbox, "runs", "prune", "--older-than", "0s", "--dry-run")
    assert code == 0, err
    assert "would remove 2 run(s)" in err
    assert len(list(runs.iterdir())) == 4

    code, out, err = invoke(sandbox, "runs", "prune", "--older-than", "0s", "--json")
    assert code == 0, err
    doc = json.loads(out)
    fate = {r["run_id"]: (r["removed"], r["reason"]) for r in doc["runs"]}
    assert fate[dry] == (True, "nothing left to undo")
    assert fate[undone] == (True, "nothing left to undo")
    assert fate[kept] == (False, "`runs undo` can still reverse 4 change(s)")
    assert fate[unfinished.run_id][0] is False
    assert "resumes it" in fate[unfinished.run_id][1]
    assert {p.name for p in runs.iterdir()} == {kept, unfinished.run_id}
    assert f"  {dry} " in err and "--include-undoable" in err
    # the kept run can still be undone
    code, out, _ = invoke(sandbox, "runs", "undo", kept, "--yes", "--json")
    assert code == 0 and len(json.loads(out)["deleted"]) == 4

    # --include-undoable removes finished runs undo could still reverse, never unfinished ones
    imported(sandbox, tmp_path, "later", "--yes")
    code, out, _ = invoke(
        sandbox, "runs", "prune", "--older-than", "0s", "--include-undoable", "--json"
    )
    assert code == 0
    assert {p.name for p in runs.iterdir()} == {unfinished.run_id}


def test_prune_refuses_an_age_without_a_unit(sandbox: RunningSandbox) -> None:
    code, _, err = invoke(sandbox, "runs", "prune", "--older-than", "30")
    assert code == 2
    assert "e.g. 30d" in err


def test_undo_without_a_terminal_needs_yes(sandbox: RunningSandbox, tmp_path: Path) -> None:
    run_id = imported(sandbox, tmp_path, "a", "--yes")
    code, _, err = invoke(sandbox, "runs", "undo", run_id)
    assert code == 2
    assert "add --yes" in err
    assert sum(server_comments(sandbox).values()) == 4  # nothing deleted


def test_undo_shows_the_plan_and_deletes_only_after_yes(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = imported(sandbox, tmp_path, "a", "--yes")
    # CliRunner's stdin is no terminal: pretend one so that the question is asked
    monkeypatch.setattr(
        "timetracker_import.cli.runs.sys",
        SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)),
    )
    code, _, err = invoke(sandbox, "runs", "undo", run_id, input="n\n")
    assert code == 1  # declined: click's Abort
    assert "would delete 4" in err and f"Undo run {run_id} at " in err
    assert sum(server_comments(sandbox).values()) == 4
    code, _, err = invoke(sandbox, "runs", "undo", run_id, input="y\n")
    assert code == 0, err
    assert "deleted 4" in err
    assert sum(server_comments(sandbox).values()) == 0
