"""A journal or state directory that cannot be written becomes one ``StorageError`` naming
the path: exit 75 when freeing space may help, 2 when the place cannot be written at all."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from timetracker_import.errors import EXIT_TEMPFAIL, EXIT_USAGE, StorageError, storage_error
from timetracker_import.journal.db import connect, immediate_transaction


@pytest.mark.parametrize(
    ("number", "exit_code", "why"),
    [
        (errno.ENOSPC, EXIT_TEMPFAIL, "the disk is full"),
        (errno.EDQUOT, EXIT_TEMPFAIL, "the disk is full"),
        (errno.EFBIG, EXIT_TEMPFAIL, "file too large"),
        (errno.EACCES, EXIT_USAGE, "permission denied"),
        (errno.ENOTDIR, EXIT_USAGE, "not a directory"),
        (errno.EROFS, EXIT_USAGE, "read-only file system"),
    ],
)
def test_os_errors(number: int, exit_code: int, why: str) -> None:
    exc = OSError(number, __import__("os").strerror(number), "/state/runs/x/journal.sqlite")
    err = storage_error(exc)
    assert isinstance(err, StorageError) and err.exit_code == exit_code
    assert err.message == f"cannot write /state/runs/x/journal.sqlite: {why}"
    assert err.path == "/state/runs/x/journal.sqlite"
    assert ("free some space" in (err.hint or "")) == (exit_code == EXIT_TEMPFAIL)


def test_sqlite_full_and_unopenable(tmp_path: Path) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorname = "SQLITE_FULL"
    err = storage_error(full, tmp_path / "j.sqlite")
    assert err.exit_code == EXIT_TEMPFAIL
    assert err.message == f"cannot write {tmp_path / 'j.sqlite'}: the disk is full"
    with pytest.raises(StorageError) as info:
        connect(tmp_path / "no" / "such" / "dir" / "journal.sqlite")
    assert info.value.exit_code == EXIT_USAGE and "journal.sqlite" in info.value.message


def test_a_failing_commit_names_the_database(tmp_path: Path) -> None:
    conn = connect(tmp_path / "j.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA query_only = ON")  # every write now fails like a read-only disk
    with pytest.raises(StorageError) as info, immediate_transaction(conn) as c:
        c.execute("INSERT INTO t VALUES (1)")
    assert str(tmp_path / "j.sqlite") in info.value.message
    assert not conn.in_transaction  # rolled back, the connection is usable
    conn.close()
