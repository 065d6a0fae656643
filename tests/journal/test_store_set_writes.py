"""The journal's set-based writes (one IN query per 500 rows, executemany) keep every check."""

from __future__ import annotations

import pytest

from tests.journal.test_store import new_journal
from timetracker_import.journal.store import JournalError


def test_one_call_giving_a_row_two_ids_is_refused_and_rolled_back() -> None:
    with new_journal() as journal:
        with pytest.raises(JournalError, match="row 2 was given two worklog ids"):
            journal.mark_created(1, [(2, "w2", None), (3, "w3", None), (2, "w-x", None)])
        assert journal.row_outcomes()[2] == ("pending", None)
        assert journal.row_outcomes()[3] == ("pending", None)
        assert journal.batch_state(1) == ("planned", 0)


def test_outcome_checks_cover_more_rows_than_one_in_query() -> None:
    # more rows than one "IN (...)" chunk: every one is checked and written
    with new_journal() as journal:
        journal.record_rows(range(100, 1400))
        journal.mark_created(None, [(r, f"w{r}", None) for r in range(100, 1300)])
        with pytest.raises(JournalError, match="row 1299 was already created"):
            journal.mark_skipped(list(range(1300, 1400)) + [1299])
        assert journal.row_outcomes()[1350] == ("pending", None)
        journal.mark_skipped(range(1300, 1400), "filtered")
        outcomes = journal.row_outcomes()
        assert sum(1 for o, _ in outcomes.values() if o == "created") == 1200
        assert outcomes[1399] == ("skipped", None)
