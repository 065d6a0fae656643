"""``sync`` under the adaptive limiter, as ``import``: one limit shared by the run's creates,
updates and deletes, shown in ``--json`` timings and the report; ``--concurrency`` and
``--max-concurrency`` on the command line; a 5xx on an update halves it; a server of finite
capacity gets every change once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.test_sync import (
    BASE_ROWS,
    BOB,
    CAROL,
    NOVEMBER,
    counts,
    expected,
    row,
    server,
    settings,
    sync,
    write,
)
from tests.helpers import invoke_cli as invoke
from timetracker_import.app.sync import sync_file
from timetracker_import.errors import UsageError
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


def corrected() -> list[dict[str, object]]:
    """BASE_ROWS with one length changed, one row gone and one new: a create, an update and
    a delete (with --prune)."""
    rows = [dict(r) for r in BASE_ROWS if r["ID"] != "E2"]
    rows[0]["Minutes"] = 360
    rows.append(row(6, CAROL, "2026-11-03T14:00:00Z", 15))
    return rows


def test_one_limiter_counts_creates_updates_and_deletes(
    box: RunningSandbox, tmp_path: Path
) -> None:
    first = sync(box, tmp_path, BASE_ROWS)
    level = first.summary_dict()["timings"]["concurrency"]
    assert level["mode"] == "auto" and level["start"] == 8 and level["ceiling"] == 64
    assert level["requests"] == 1  # five creates in one batch

    again = sync(box, tmp_path, corrected(), prune=True, window=NOVEMBER, concurrency=3)
    assert counts(again) == {"rows": 5, "created": 1, "updated": 1, "unchanged": 3, "deleted": 1}
    level = again.summary_dict()["timings"]["concurrency"]
    # the batch of one create, the PATCH and the DELETE went through the same limiter
    assert level["mode"] == "fixed" and level["requests"] == 3 and level["peak"] <= 3
    assert server(box) == expected(corrected())

    unchanged = sync(box, tmp_path, corrected(), prune=True, window=NOVEMBER)
    assert unchanged.writes == 0
    assert "concurrency" not in unchanged.summary_dict()["timings"]  # nothing was sent


def test_a_5xx_on_an_update_halves_the_limit(box: RunningSandbox, tmp_path: Path) -> None:
    sync(box, tmp_path, BASE_ROWS)
    box.set_faults(["worklogs#1:503"])  # the first single-worklog call: the PATCH, retried
    result = sync(box, tmp_path, corrected(), prune=True, window=NOVEMBER)
    assert result.exit_code == 0
    level = result.concurrency
    assert level["overloaded"] >= 1 and level["final"] <= 4  # 8 -> 4
    assert server(box) == expected(corrected())


def test_json_and_report_show_the_level(box: RunningSandbox, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    settings(box, tmp_path, BASE_ROWS)  # writes mapping.yaml
    path = write(tmp_path / "hr.csv", BASE_ROWS)
    report = tmp_path / "report.json"
    code, out, err = invoke(
        box,
        "sync",
        str(path),
        "--mapping",
        str(mapping),
        "--yes",
        "--json",
        "--concurrency",
        "auto",
        "--max-concurrency",
        "16",
        "--report",
        str(report),
    )
    assert code == 0, err
    level = json.loads(out)["timings"]["concurrency"]
    assert level["mode"] == "auto" and level["ceiling"] == 16
    meta = json.loads(report.read_text(encoding="utf-8"))["meta"]
    assert meta["concurrency"].startswith("auto: ") and "ceiling 16)" in meta["concurrency"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--concurrency", "0"],
            "Invalid value for '--concurrency': '0' is not auto or a number from 1 to 100",
        ),
        (
            ["--concurrency", "20", "--max-concurrency", "10"],
            "error: --concurrency 20 is above --max-concurrency 10",
        ),
    ],
)
def test_bad_concurrency_is_a_usage_error_before_anything_is_sent(
    box: RunningSandbox, tmp_path: Path, args: list[str], message: str
) -> None:
    mapping = tmp_path / "mapping.yaml"
    settings(box, tmp_path, BASE_ROWS)
    path = write(tmp_path / "hr.csv", BASE_ROWS)
    code, _, err = invoke(box, "sync", str(path), "--mapping", str(mapping), "--yes", *args)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert box.stats()["calls"].get("batch", 0) == 0


def test_library_refuses_a_bad_level(box: RunningSandbox, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--concurrency must be auto or a number"):
        sync_file(settings(box, tmp_path, BASE_ROWS, concurrency="lots"))


def test_a_server_of_finite_capacity_gets_every_change_once(tmp_path: Path) -> None:
    rows = [
        row(
            i,
            BOB if i % 2 else CAROL,
            f"2026-11-{2 + i // 40:02d}T{8 + i % 10:02d}:{(i * 7) % 60:02d}:00Z",
            30 + i % 5,
        )
        for i in range(200)
    ]
    with run_sandbox_in_thread(capacity=2, row_cost_ms=1) as box:
        first = sync(box, tmp_path, rows, batch_size=10)
        assert first.counts.created == 200
        changed = [dict(r) for r in rows[20:]]  # 20 removed
        for r in changed[:60]:
            r["Minutes"] = int(r["Minutes"]) + 5  # 60 updated
        second = sync(box, tmp_path, changed, prune=True, window=NOVEMBER, max_delete="all")
        assert (second.counts.updated, second.counts.deleted) == (60, 20)
        assert server(box) == expected(changed)
        line = box.stats()["capacity"]
        assert line["peakServing"] == 2 and line["peakWaiting"] >= 1  # it did queue


def test_progress_bar_counts_the_writes(box: RunningSandbox, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    settings(box, tmp_path, BASE_ROWS)
    path = write(tmp_path / "hr.csv", BASE_ROWS)
    base = ["sync", str(path), "--mapping", str(mapping), "--yes"]
    code, _, err = invoke(box, *base, "--dry-run", "--progress")
    assert code == 0 and "sync:" not in err  # a dry run writes nothing: no bar
    code, _, err = invoke(box, *base, "--progress")
    assert code == 0, err
    assert "sync: 100%" in err and "5/5" in err  # five creates
    write(path, corrected())
    code, _, err = invoke(box, *base, "--prune", "--window", NOVEMBER, "--no-progress")
    assert code == 0 and "sync:" not in err
