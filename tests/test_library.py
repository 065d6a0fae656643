"""The Python API: docs/library.md's examples run as written against a sandbox, and the
library's own promises (no printing, errors as the error tree, progress, cancel)."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path
from typing import Any

import pytest

import timetracker_import
from timetracker_import import Connection, import_file, validate
from timetracker_import.app.importer import ImportResult
from timetracker_import.errors import ConfigError, Interrupted, MappingError, UsageError
from timetracker_import.sandbox import run_sandbox_in_thread

DOC = Path(__file__).resolve().parent.parent / "docs" / "library.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


TOGGLISH = {
    "version": 1,
    "fields": {
        "user": {"column": "Email"},
        "date": {"column": "Start date"},
        "start": {"column": "Start time"},
        "end": {"column": "End time"},
        "comment": {"column": "Description"},
    },
}



@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In ``tmp_path`` with an ``out/`` folder (``state_dir`` keeps the rest private)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    return tmp_path


def test_docs_examples_run_as_written(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7, "docs/library.md lost its examples"
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with run_sandbox_in_thread() as box:
        monkeypatch.setenv("TIMETRACKER_URL", box.url)
        monkeypatch.setenv("TIMETRACKER_TOKEN", box.tokens["alice@example.com"])
        with contextlib.redirect_stdout(printed):
            for block in blocks:
                exec(compile(block, str(DOC), "exec"), namespace)
    # what the examples promise in their comments
    result = namespace["result"]
    assert (result.rows, result.valid, result.rejected) == (3, 2, 1)
    assert [r.source_row for r in result.rejections] == [4]
    assert result.rejected_path == Path("hours.rejected.csv")
    assert Path("out/report.html").is_file() and Path("out/rejected.csv").is_file()
    run, again, undone = namespace["run"], namespace["again"], namespace["undone"]
    assert (run.counts.created, run.counts.rejected, run.exit_code) == (2, 1, 1)
    assert (again.counts.created, again.counts.already_existing) == (0, 2)
    assert namespace["done"] and namespace["done"][-1] == 2
    assert len(namespace["preview"].report.deleted) == 2
    assert (len(undone.report.deleted), undone.exit_code) == (2, 0)
    # the export ran after the undo: the two worklogs are gone again
    assert len(namespace["out"].rows) == 0
    assert Path("out/november.csv").is_file()
    assert "demo-alice-token" not in printed.getvalue()


def test_the_library_prints_nothing(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("h.csv").write_text(
        "Email,Start date,Start time,End time,Description\n"
        "bob@example.com,2026-11-02,09:00:00,10:00:00,x\n",
        encoding="utf-8",
    )
    mapping = TOGGLISH
    with run_sandbox_in_thread() as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        assert "demo-alice" not in repr(conn) and "demo-alice" not in str(conn.settings())
        checked = validate("h.csv", mapping=mapping, timezone="UTC")
        run = import_file("h.csv", mapping=mapping, timezone="UTC", connection=conn)
    assert checked.valid == 1 and run.counts.created == 1 and run.exit_code == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_errors_are_the_error_tree(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("h.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="exactly one"):
        validate("h.csv")
    with pytest.raises(MappingError, match="invalid mapping"):
        validate("h.csv", mapping={"version": 1, "fields": {"nope": {}}})
    with pytest.raises(ConfigError) as missing:
        import_file("h.csv", preset="toggl", connection=Connection.from_env(env={}))
    assert missing.value.exit_code == 2 and missing.value.hint
    with pytest.raises(AttributeError):
        timetracker_import.not_a_name  # noqa: B018


def _rows(n: int) -> str:
    lines = ["Email,Start date,Start time,End time,Description"]
    for i in range(n):
        day, hour = 1 + i // 8, 8 + i % 8
        lines.append(f"bob@example.com,2026-09-{day:02d},{hour:02d}:00:00,{hour:02d}:30:00,r{i}")
    return "\n".join(lines) + "\n"


def test_cancel_stops_resumably_and_a_rerun_finishes(isolated: Path) -> None:
    Path("many.csv").write_text(_rows(60), encoding="utf-8")
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done:  # after the first batch (the first call, done=0, announces the total)
            cancel.set()

    with run_sandbox_in_thread(latency_ms=30) as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        first = import_file(
            "many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn, batch_size=5,
            concurrency=1, progress=progress, cancel=cancel,
        )  # fmt: skip
        assert isinstance(first, ImportResult)  # one organization: not a RoutedResult
        assert first.exit_code == 130 and first.halt_reason == "interrupted"
        assert 0 < first.counts.created < 60
        assert first.counts.created + first.counts.unprocessed == 60
        second = import_file(  # the same call again, as a user re-runs the same command
            "many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn, batch_size=5
        )
        assert isinstance(second, ImportResult)
        assert second.run_id == first.run_id  # resumed, not a new run
        assert second.exit_code == 0
        assert second.counts.unprocessed == 0
        assert second.counts.created == 60  # the resumed run counts the whole file
        total = box.stats()
    assert seen
    assert total["worklogs"] == 60, total


def test_cancel_before_posting_raises_interrupted(isolated: Path) -> None:
    Path("many.csv").write_text(_rows(3), encoding="utf-8")
    cancel = threading.Event()
    cancel.set()
    with run_sandbox_in_thread(latency_ms=200) as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        with pytest.raises(Interrupted):
            import_file("many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn,
                        cancel=cancel)  # fmt: skip
        assert box.stats()["worklogs"] == 0
        rerun = import_file("many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn)
        assert rerun.counts.created == 3 and rerun.exit_code == 0
