"""The crash windows the random trials hit only by chance, reproduced deterministically.

Seed 166 of the crash trials (issue 14) was killed 0.01 s into the network phase: a new run
writes its journal in a worker thread while the setup reads are on the wire, and
``Journal.create`` commits the run record before ``record_rows`` commits the rows. A SIGKILL
in between left a resumable journal (right fingerprint, status ``open``) without rows; the
re-run resumed it, posted, and failed on ``mark_created`` ("row N is not part of run"),
exit 1 with most rows missing. These tests build exactly the journals such a kill leaves.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import MAPPING, balanced, make_rows, settings_for, write_rows
from tests.reliability.conftest import expected_worklogs, run_quick, server_worklogs
from timetracker_import.app.importer import prepare
from timetracker_import.journal.store import Journal
from timetracker_import.sandbox import RunningSandbox

SKIPPING_MAPPING = MAPPING.replace(
    "fields:", "skip_rows: {column: Comment, equals: [row-3, row-7]}\nfields:"
)


def _killed_journal(settings: object, *, rows: list[int] | None = None) -> str:
    """The journal a run killed during its creation leaves: the run record, and ``rows``
    (None: none) recorded pending, nothing else."""
    prepared = prepare(settings)  # type: ignore[arg-type]
    journal = Journal.create(fingerprint=prepared.fingerprint, base_url="http://x")
    try:
        if rows is not None:
            journal.record_rows(rows)
        return journal.run_id
    finally:
        journal.close()


def test_resume_of_a_journal_killed_before_its_rows_were_recorded(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    data = make_rows(120)
    settings = settings_for(sandbox, write_rows(tmp_path / "in.csv", data), tmp_path, batch_size=10)
    run_id = _killed_journal(settings)
    result = run_quick(settings)
    assert result.resumed and result.run_id == run_id  # the killed run's journal was resumed
    assert result.exit_code == 0, result.summary_dict()
    assert balanced(result) and result.accounting.rows == 120
    assert result.accounting.created == 120
    assert server_worklogs(sandbox) == expected_worklogs(data)


def test_resume_of_a_journal_killed_before_its_skipped_rows_were_marked(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    data = make_rows(12)
    settings = settings_for(sandbox, write_rows(tmp_path / "in.csv", data), tmp_path)
    (tmp_path / "mapping.yaml").write_text(SKIPPING_MAPPING, encoding="utf-8")
    prepared = prepare(settings)
    assert len(prepared.skipped) == 2
    _killed_journal(settings, rows=[int(r) for r in prepared.raw.index])
    result = run_quick(settings)
    assert result.resumed
    # before the fix the two skipped rows stayed pending, became "unprocessed": exit 75
    assert result.exit_code == 0, result.summary_dict()
    assert result.accounting.skipped == 2 and result.accounting.unprocessed == 0
    assert balanced(result) and result.accounting.created == 10
    kept = [r for r in data if r["Comment"] not in ("row-3", "row-7")]
    assert server_worklogs(sandbox) == expected_worklogs(kept)


def test_a_journal_killed_before_its_run_record_does_not_block_later_runs(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A SIGKILL between the journal's schema and its run record (one commit apart) leaves
    a journal file with tables and no run. Every later import read it while looking for a
    run to resume and crashed (a TypeError, exit 1, nothing sent). Such a journal never
    started: it is not a run, and the next import starts afresh."""
    import sqlite3

    from timetracker_import.journal.db import SCHEMA
    from timetracker_import.journal.store import find_resumable, list_runs, runs_root

    data = make_rows(30)
    settings = settings_for(sandbox, write_rows(tmp_path / "in.csv", data), tmp_path)
    half = runs_root() / "20261203T000000Z-dead"
    half.mkdir(parents=True)
    with sqlite3.connect(half / "journal.sqlite") as conn:
        conn.executescript(SCHEMA)
    assert list_runs() == [] and find_resumable("anything") is None
    result = run_quick(settings)
    assert result.exit_code == 0, result.summary_dict()
    assert not result.resumed and result.accounting.created == 30
    assert server_worklogs(sandbox) == expected_worklogs(data)
