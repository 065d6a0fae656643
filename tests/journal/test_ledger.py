"""The sync ledger: one private file, scopes kept apart, atomic changes, intents and
outcomes, no secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from timetracker_import.core.sync_plan import LedgerEntry
from timetracker_import.journal.ledger import Ledger, LedgerError, default_ledger_path, scope_of

TS = "2026-11-02T09:00:00Z"


def entry(key: str, wid: str, edited: str = "e1", **kw: object) -> LedgerEntry:
    return LedgerEntry(key, wid, "U1", TS, {"length": 3600}, edited, **kw)  # type: ignore[arg-type]


def test_default_path_is_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMETRACKER_STATE_DIR", str(tmp_path / "state"))
    assert default_ledger_path() == tmp_path / "state" / "ledger.sqlite"


def test_file_is_private_and_single(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "ledger.sqlite"
    with Ledger(path) as book:
        book.upsert("s", [entry("k", "w")], "run-1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(path.parent)) == ["ledger.sqlite"]  # no -wal/-shm beside it


def test_scopes_keep_servers_mappings_and_keys_apart(tmp_path: Path) -> None:
    a = scope_of("https://user:secret@org.timehub.7pace.com/api/rest?token=x", "preset p", "slot")
    b = scope_of("https://org.timehub.7pace.com/api/rest", "preset p", 'key:["ID"]')
    assert "secret" not in a and "token" not in a
    with Ledger(tmp_path / "l.sqlite") as book:
        book.upsert(a, [entry("k", "w1")], None)
        book.upsert(b, [entry("k", "w2")], None)
        assert book.entries(a)["k"].worklog_id == "w1"
        assert book.entries(b)["k"].worklog_id == "w2"
        assert [s.entries for s in book.scopes()] == [1, 1]
        assert book.scopes()[0].parts()["server"] == "https://org.timehub.7pace.com/api/rest"


def test_intents_and_outcomes(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as book:
        book.upsert("s", [entry("u", "w1"), entry("d", "w2"), entry("r", "w3")], None)
        book.intend(
            "s",
            entries=[entry("a", "w4")],
            pending={"u": {"length": 60}, "r": {"length": 5}},
            deleting=["d"],
        )
        got = book.entries("s")
        assert got["u"].pending == {"length": 60} and got["d"].state == "deleting"
        assert got["a"].worklog_id == "w4"
        book.settle("s", entries=[entry("u", "w1", "e2")], removed=["d"], not_sent=["r"])
        got = book.entries("s")
        assert set(got) == {"u", "r", "a"}
        assert got["u"].pending is None and got["u"].edited_ts == "e2"
        assert got["r"].pending is None and got["r"].state == "ok"
        book.remove_worklogs("s", ["w4"])
        assert set(book.entries("s")) == {"u", "r"}


def test_undo_forgets_a_deleted_worklog_under_every_key_spec_of_its_source(
    tmp_path: Path,
) -> None:
    """``remove_worklogs`` (undo deleted a worklog the run created) forgets it in the same
    source's scopes under other key columns, as ``settle`` does for a delete - not in other
    sources' or other servers' scopes."""
    server = "https://org.timehub.7pace.com/api/rest"
    slot, ids = scope_of(server, "payroll", "slot"), scope_of(server, "payroll", 'key:["ID"]')
    other = scope_of(server, "dept-b", 'key:["ID"]')
    elsewhere = scope_of("https://other.timehub.7pace.com/api/rest", "payroll", "slot")
    with Ledger(tmp_path / "l.sqlite") as book:
        book.upsert(slot, [entry("k1", "w1"), entry("k2", "w2")], None)
        for scope in (ids, other, elsewhere):
            book.upsert(scope, [entry("7", "w1"), entry("8", "w2")], None)
        book.remove_worklogs(slot, ["w1"])
        assert set(book.entries(slot)) == {"k2"}
        assert set(book.entries(ids)) == {"8"}
        assert set(book.entries(other)) == set(book.entries(elsewhere)) == {"7", "8"}


def test_a_failed_change_leaves_nothing_half_done(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as book:
        book.upsert("s", [entry("k", "w")], None)
        with pytest.raises(RuntimeError), book.transaction() as conn:
            conn.execute("DELETE FROM entry")
            raise RuntimeError("crash in the middle")
        assert set(book.entries("s")) == {"k"}


def test_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="is not a sync ledger"):
        Ledger(path)


def test_a_file_that_is_no_ledger_is_left_as_it_was(tmp_path: Path) -> None:
    """--ledger naming some other file: a one-line error (exit 2), and the file keeps its
    mode and content (it used to be chmodded to 0600 before the check)."""
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n", encoding="utf-8")
    other.chmod(0o644)
    with pytest.raises(LedgerError, match="is not a sync ledger") as caught:
        Ledger(other)
    assert caught.value.exit_code == 2 and caught.value.hint
    assert other.stat().st_mode & 0o777 == 0o644
    assert other.read_text(encoding="utf-8") == "not a database\n"


def test_a_ledger_path_that_cannot_be_created_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(LedgerError, match="cannot use .* as the sync ledger"):
        Ledger(blocker / "ledger.sqlite")


def test_a_ledger_left_mid_transaction_by_a_killed_run_opens(tmp_path: Path) -> None:
    # SIGKILL inside a transaction leaves a hot journal; the next run must roll it back,
    # not call the file "not a sync ledger"
    import signal
    import subprocess
    import sys

    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.upsert("s", [LedgerEntry("k", "w1", "u", "2026-11-02T09:00:00Z", {}, None)], "r")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sqlite3, sys, time\n"
                f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                "c.execute('PRAGMA cache_size=1')\n"
                "c.execute('BEGIN IMMEDIATE')\n"
                "c.execute('DELETE FROM entry')\n"
                "for i in range(3000):\n"
                "    c.execute('INSERT INTO entry (scope, key, worklog_id, user_id, timestamp,"
                " content_json, updated_at) VALUES (?,?,?,?,?,?,?)', ('s', f'k{i}', 'w', 'u', 't',"
                " '{}' + 'x' * 200, 'now'))\n"
                "print('ready', flush=True)\n"
                "time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert Path(f"{path}-journal").stat().st_size > 0  # hot
    with Ledger(path) as ledger:
        assert list(ledger.entries("s")) == ["k"]  # rolled back to the committed state


def test_writes_from_several_threads_at_once_are_one_at_a_time(tmp_path: Path) -> None:
    # a sync records the creates' entries and the edits' outcomes from worker threads at
    # once, on one connection ("cannot start a transaction within a transaction" before)
    from concurrent.futures import ThreadPoolExecutor

    with Ledger(tmp_path / "ledger.sqlite") as ledger:

        def write(i: int) -> None:
            for j in range(30):
                ledger.upsert(
                    "s",
                    [LedgerEntry(f"k{i}-{j}", f"w{i}-{j}", "u", "2026-11-02T09:00:00Z", {}, None)],
                    "r",
                )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(4)))
        assert len(ledger.entries("s")) == 120
