"""``import`` under the adaptive limiter: the level it chose in ``--json`` and the report,
``--concurrency``/``--max-concurrency`` on the command line, a 5xx cutting the limit, and a
server of finite capacity (every row lands once)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests import helpers as imp
from tests.helpers import invoke_cli as invoke
from timetracker_import.sandbox import RunningSandbox, run_sandbox_in_thread


def test_json_timings_and_the_report_show_the_level(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = imp.write_rows(tmp_path / "in.csv", imp.make_rows(60))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(imp.MAPPING, encoding="utf-8")
    report = tmp_path / "report.json"
    code, out, err = invoke(
        sandbox,
        "import",
        str(path),
        "--mapping",
        str(mapping),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--report",
        str(report),
    )
    assert code == 0, err
    level = json.loads(out)["timings"]["concurrency"]
    assert level["mode"] == "auto" and level["start"] == 8 and level["ceiling"] == 64
    assert level["requests"] == 6 and level["peak"] >= level["start"]
    assert 1 <= level["final"] <= 64 and level["throttled"] == level["overloaded"] == 0
    meta = json.loads(report.read_text(encoding="utf-8"))["meta"]
    assert meta["concurrency"].startswith("auto: ")
    assert "ceiling 64)" in meta["concurrency"]

    again = imp.write_rows(
        tmp_path / "again.csv", imp.make_rows(30, start=imp.BASE + timedelta(days=3))
    )
    code, out, err = invoke(
        sandbox,
        "import",
        str(again),
        "--mapping",
        str(mapping),
        "--yes",
        "--json",
        "--batch-size",
        "10",
        "--concurrency",
        "3",
        "--max-concurrency",
        "5",
    )
    assert code == 0, err
    level = json.loads(out)["timings"]["concurrency"]
    assert (level["mode"], level["final"], level["peak"]) == ("fixed", 3, 3)
    assert "ceiling" not in level


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--concurrency", "0"],
            "Invalid value for '--concurrency': '0' is not auto or a number from 1 to 100",
        ),
        (
            ["--concurrency", "lots"],
            "Invalid value for '--concurrency': 'lots' is not auto or a number from 1 to 100",
        ),
        (["--max-concurrency", "0"], "Invalid value for '--max-concurrency'"),
        (
            ["--concurrency", "20", "--max-concurrency", "10"],
            "error: --concurrency 20 is above --max-concurrency 10",
        ),
    ],
)
def test_bad_concurrency_is_a_usage_error_before_anything_is_sent(
    sandbox: RunningSandbox, tmp_path: Path, args: list[str], message: str
) -> None:
    path = imp.write_rows(tmp_path / "in.csv", imp.make_rows(5))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(imp.MAPPING, encoding="utf-8")
    code, _, err = invoke(sandbox, "import", str(path), "--mapping", str(mapping), "--yes", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert sandbox.stats()["calls"].get("batch", 0) == 0


def test_a_5xx_halves_the_limit(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.set_faults(["batch#1:500"])  # nothing stored; for a POST the outcome is unknown
    path = imp.write_rows(tmp_path / "in.csv", imp.make_rows(20))
    result = imp.run(imp.settings_for(sandbox, path, tmp_path, batch_size=10))
    assert result.exit_code == 0 and result.accounting.created == 20
    assert result.concurrency["overloaded"] == 1
    # 8 -> 4; two batches (and the re-sent one) never fill 4 places to grow again
    assert result.concurrency["final"] == 4
    assert set(imp.server_comments(sandbox).values()) == {1}


def test_a_server_of_finite_capacity_gets_every_row_once(tmp_path: Path) -> None:
    with run_sandbox_in_thread(capacity=2, row_cost_ms=1) as box:
        path = imp.write_rows(tmp_path / "in.csv", imp.make_rows(300))
        result = imp.run(imp.settings_for(box, path, tmp_path, batch_size=10))
        assert result.exit_code == 0 and result.accounting.created == 300
        comments = imp.server_comments(box)
        assert len(comments) == 300 and set(comments.values()) == {1}
        line = box.stats()["capacity"]
        assert line["peakServing"] == 2 and line["peakWaiting"] >= 1  # it did queue
        assert result.concurrency["requests"] == 30
