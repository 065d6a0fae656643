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


def doc_blocks() -> list[str]:
    """docs/library.md's python examples, in order."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10, "docs/library.md lost its examples"
    return blocks


def check_doc_examples(namespace: dict[str, Any], printed: str) -> None:
    """What docs/library.md's examples promise in their comments, checked on the names they
    left behind (the same checks for a plain script, inside asyncio.run and in a kernel)."""
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
    # DataFrames in and out
    checked, sent = namespace["checked"], namespace["sent"]
    assert (checked.valid, checked.rejected) == (2, 1)
    assert list(sent.index) == [2, 3] and list(sent["work_item_id"])[0] == 101
    assert list(sent["length_seconds"]) == [5400, 3600]
    rejected = checked.rejections_frame()
    assert list(rejected.index) == [4] and rejected.loc[4, "Notes"] == "When?"
    frame_run, rows, same = namespace["frame_run"], namespace["rows"], namespace["same"]
    assert rows["outcome"].value_counts().to_dict() == {"created": 2, "rejected": 1}
    assert list(rows.index) == [2, 3, 4]
    joined = namespace["joined"]
    assert joined.loc[4, "Notes"] == "When?" and joined.loc[4, "outcome"] == "rejected"
    assert (same.counts.created, same.counts.already_existing) == (0, 2)
    assert same.run_id != frame_run.run_id  # a finished run is not resumed
    november = namespace["november"]
    assert len(november) == 2 and str(november["timestamp_utc"].dt.tz) == "UTC"
    assert str(november["work_item_id"].dtype) == "Int64"
    runs = namespace["runs"]
    assert runs.loc[frame_run.run_id, "created"] == 2 and runs.index.name == "run_id"
    assert "130" in printed.splitlines()[-1]  # the cancelled export
    assert "demo-alice-token" not in printed


def _run_doc_examples(run_blocks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with run_sandbox_in_thread() as box:
        monkeypatch.setenv("TIMETRACKER_URL", box.url)
        monkeypatch.setenv("TIMETRACKER_TOKEN", box.tokens["alice@example.com"])
        with contextlib.redirect_stdout(printed):
            run_blocks(doc_blocks(), namespace)
    check_doc_examples(namespace, printed.getvalue())


def _exec_blocks(blocks: list[str], namespace: dict[str, Any]) -> None:
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)


def test_docs_examples_run_as_written(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_doc_examples(_exec_blocks, monkeypatch)


def test_docs_examples_run_inside_a_running_event_loop(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same examples where an event loop is running (as in a notebook, or code inside
    asyncio.run): each call runs on a worker thread instead of failing."""
    import asyncio

    def inside_a_loop(blocks: list[str], namespace: dict[str, Any]) -> None:
        async def main() -> None:
            asyncio.get_running_loop()  # there is one
            _exec_blocks(blocks, namespace)

        asyncio.run(main())

    _run_doc_examples(inside_a_loop, monkeypatch)


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
            "many.csv",
            mapping=TOGGLISH,
            timezone="UTC",
            connection=conn,
            batch_size=5,
            concurrency=1,
            progress=progress,
            cancel=cancel,
        )
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
            import_file(
                "many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn, cancel=cancel
            )
        assert box.stats()["worklogs"] == 0
        rerun = import_file("many.csv", mapping=TOGGLISH, timezone="UTC", connection=conn)
        assert rerun.counts.created == 3 and rerun.exit_code == 0


# --- DataFrames in, the knobs, and cancel for export ---

FRAME_MAPPING = {
    "version": 1,
    "timezone": "UTC",
    "fields": {
        "user": {"column": "Name", "lookup": "users"},
        "timestamp": {"column": "Start"},
        "length": {"column": "Length"},
        "comment": {"column": "Notes"},
    },
    "lookups": {"users": {"file": "users.csv", "key": "Name", "value": "User"}},
}


def _frame(n: int) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "Name": ["Bo"] * n,
            "Start": pd.date_range("2026-09-01 08:00", periods=n, freq="30min"),
            "Length": pd.to_timedelta(["0:30:00"] * n),
            "Notes": [f"r{i}" for i in range(n)],
        }
    )


def _users(folder: Path, user: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(f"Name,User\nBo,{user}\n", encoding="utf-8")


def test_a_frame_that_did_not_finish_resumes(isolated: Path) -> None:
    _users(isolated, "bob@example.com")
    frame = _frame(40)
    cancel = threading.Event()

    def progress(done: int, _total: int) -> None:
        if done:
            cancel.set()

    with run_sandbox_in_thread(latency_ms=30) as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        first = import_file(
            frame,
            mapping=FRAME_MAPPING,
            connection=conn,
            batch_size=5,
            concurrency=1,
            progress=progress,
            cancel=cancel,
        )
        assert first.exit_code == 130 and 0 < first.counts.created < 40
        again = import_file(frame.copy(), mapping=FRAME_MAPPING, connection=conn, batch_size=5)
        assert isinstance(again, ImportResult) and isinstance(first, ImportResult)
        assert again.run_id == first.run_id and again.exit_code == 0
        assert box.stats()["worklogs"] == 40
    rows = again.rows_frame()
    assert rows.index.tolist() == list(range(2, 42))
    assert set(rows["outcome"]) == {"created"}


def test_frames_refuse_file_options_and_other_inputs(isolated: Path) -> None:
    frame = _frame(1)
    options: list[dict[str, Any]] = [{"sheet": "S"}, {"encoding": "cp1252"}, {"delimiter": ";"}]
    for option in options:
        with pytest.raises(UsageError, match="cannot be used with a DataFrame"):
            validate(frame, mapping=FRAME_MAPPING, **option)
    with pytest.raises(UsageError, match="a file path or a pandas DataFrame, not list"):
        validate([{"Name": "Bo"}], mapping=FRAME_MAPPING)  # type: ignore[arg-type]
    conn = Connection(url="http://127.0.0.1:9", token="t")
    with pytest.raises(UsageError, match="not dict"):
        import_file({"Name": ["Bo"]}, mapping=FRAME_MAPPING, connection=conn)  # type: ignore[arg-type]


def test_a_dict_mappings_lookups_are_read_beside_the_input(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timetracker_import.app.dataframes import frame_text

    _users(isolated / "data", "bob@example.com")
    _users(isolated / "cwd", "carol@example.com")
    _users(isolated / "elsewhere", "alice@example.com")
    (isolated / "data" / "in.csv").write_text(frame_text(_frame(1)), encoding="utf-8")
    monkeypatch.chdir(isolated / "cwd")
    beside = validate(isolated / "data" / "in.csv", mapping=FRAME_MAPPING)
    assert set(beside.seconds_per_user) == {"bob@example.com"}  # not the cwd's carol
    given = validate(
        isolated / "data" / "in.csv", mapping=FRAME_MAPPING, lookup_dir=isolated / "elsewhere"
    )
    assert set(given.seconds_per_user) == {"alice@example.com"}
    from timetracker_import.library import check_file, preview

    shown = preview(isolated / "data" / "in.csv", mapping=FRAME_MAPPING)  # the web app's
    assert [r.sent and r.sent["user"] for r in shown.rows] == ["bob@example.com"]
    checked = check_file(isolated / "data" / "in.csv", mapping=FRAME_MAPPING)
    assert set(checked.seconds_per_user) == {"bob@example.com"}
    framed = validate(_frame(1), mapping=FRAME_MAPPING)  # a frame: the current directory
    assert set(framed.seconds_per_user) == {"carol@example.com"}
    framed = validate(_frame(1), mapping=FRAME_MAPPING, lookup_dir=isolated / "elsewhere")
    assert set(framed.seconds_per_user) == {"alice@example.com"}


def test_date_order_on_validate(isolated: Path) -> None:
    Path("d.csv").write_text(
        "Email,Day,Start,End,Notes\nbob@example.com,03/04/2026,09:00,10:00,x\n", encoding="utf-8"
    )
    mapping = {
        **TOGGLISH,
        "fields": {
            "user": {"column": "Email"},
            "date": {"column": "Day"},
            "start": {"column": "Start"},
            "end": {"column": "End"},
            "comment": {"column": "Notes"},
        },
    }
    for order, day in (("DMY", "2026-04-03"), ("mdy", "2026-03-04")):
        sent = validate("d.csv", mapping=mapping, timezone="UTC", date_order=order).rows_frame()
        assert str(sent["timestamp"].iloc[0].date()) == day
    with pytest.raises(UsageError, match="not a day/month order"):
        validate("d.csv", mapping=mapping, timezone="UTC", date_order="DM")


def test_syncing_a_frame_needs_a_feed_name(isolated: Path) -> None:
    from timetracker_import import sync_file

    _users(isolated, "bob@example.com")
    with run_sandbox_in_thread() as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        with pytest.raises(UsageError, match="needs the name of its feed"):
            sync_file(_frame(3), mapping=FRAME_MAPPING, connection=conn)
        assert box.stats()["worklogs"] == 0
        done = sync_file(_frame(3), mapping=FRAME_MAPPING, connection=conn, source="hr")
        named = sync_file(_frame(4), mapping={**FRAME_MAPPING, "source": "hr"}, connection=conn)
        assert box.stats()["worklogs"] == 4
    assert done.source == "hr" and named.source == "hr"
    assert done.rows_frame()["outcome"].tolist() == ["created"] * 3
    assert named.rows_frame()["outcome"].value_counts().to_dict() == {"unchanged": 3, "created": 1}


def test_a_cancelled_export_raises_interrupted_and_writes_nothing(isolated: Path) -> None:
    import datetime as dt

    from timetracker_import import export_worklogs

    stop = threading.Event()
    stop.set()
    with run_sandbox_in_thread(latency_ms=200) as box:
        conn = Connection(url=box.url, token=box.tokens["alice@example.com"])
        with pytest.raises(Interrupted) as stopped:
            export_worklogs(
                conn,
                first=dt.date(2026, 11, 1),
                last=dt.date(2026, 11, 30),
                timezone="UTC",
                output="out/x.csv",
                cancel=stop,
            )
    assert stopped.value.exit_code == 130
    assert not Path("out/x.csv").exists()


def test_while_waiting_a_signal_sets_cancel_and_a_second_one_interrupts() -> None:
    import signal

    from timetracker_import.library import _signals_set

    before = signal.getsignal(signal.SIGTERM)
    event = threading.Event()
    with pytest.raises(KeyboardInterrupt), _signals_set(event) as received:
        signal.raise_signal(signal.SIGTERM)
        assert event.is_set() and received == [signal.SIGTERM]
        signal.raise_signal(signal.SIGINT)  # the second: at once
    assert signal.getsignal(signal.SIGTERM) is before  # put back
