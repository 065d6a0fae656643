"""Stage ``account``: where each row ended (``RowBook``) and the one rule from a run's
outcome to its exit code (``exit_code_for``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from timetracker_import.app.stages.account import RowBook, exit_code_for
from timetracker_import.core.outcomes import Counts
from timetracker_import.core.rejections import Rejection
from timetracker_import.errors import AmbiguousOutcome, TransientApiError
from timetracker_import.journal.store import Journal


def rejection(row: int, reason: str = "bad") -> Rejection:
    return Rejection(row, "validate", "Minutes", "x", reason)


def test_a_fresh_book_settles_skipped_and_rejected_rows_once_each() -> None:
    book, fresh = RowBook.fresh(
        [2, 3, 4, 5, 6], skipped=[6], rejections=[rejection(3, "a"), rejection(3, "b")]
    )
    assert [r.source_row for r in fresh] == [3]  # one record per row, reasons joined
    assert "a" in fresh[0].reason and "b" in fresh[0].reason
    assert book.outcomes == {6: ("skipped", None), 3: ("rejected", None)}
    assert book.still_pending([2, 3, 4, 5, 6]) == [2, 4, 5]
    assert book.still_pending(pd.Index([2, 3, 6])) == [2]


def test_pending_part_and_known_ids_follow_what_was_settled() -> None:
    book = RowBook({2: ("created", "w1"), 3: ("pending", None), 4: ("already_existing", "w7")})
    assert set(book.closed) == {2, 4}  # pending rows are not held
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([2, 3, 4], name="source_row"))
    assert list(book.pending_part(frame).index) == [3]
    assert book.known_ids() == {"w1", "w7"}


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal.create(fingerprint="account test") as j:
        j.record_rows([2, 3, 4])
        yield j


def test_reject_journals_only_rows_still_open(journal: Journal) -> None:
    book = RowBook({2: ("created", "w1")})
    fresh = book.reject(journal, [rejection(2), rejection(3)])
    assert [r.source_row for r in fresh] == [3]  # row 2 is created: its outcome stays
    outcomes = journal.row_outcomes()
    assert outcomes[3][0] == "rejected" and outcomes[2][0] == "pending"
    assert book.outcomes[3] == ("rejected", None)


@pytest.mark.parametrize(
    ("counts", "kw", "code"),
    [
        (Counts(rows=2, created=2), {}, 0),
        (Counts(rows=2, created=1, rejected=1), {}, 1),
        (Counts(rows=2, created=1, unprocessed=1), {}, 75),
        (Counts(rows=2, created=2), {"ambiguous": True}, 4),
        (Counts(rows=2, rejected=1), {"ambiguous": True}, 4),
        (Counts(rows=2, unprocessed=2), {"halt": "auth"}, 3),
        (Counts(rows=2, unprocessed=2), {"halt": "interrupted"}, 130),
        (Counts(rows=2, unprocessed=2), {"halt": "interrupted", "stop_signal": 15}, 143),
        (Counts(rows=2, unprocessed=2), {"halt": "error"}, 75),
        (
            Counts(rows=2, unprocessed=2),
            {"halt": "transient", "halt_error": TransientApiError("down", transient=True)},
            75,
        ),
        (
            Counts(rows=2, unprocessed=2),
            {"halt": "transient", "halt_error": AmbiguousOutcome("lost")},
            4,
        ),
    ],
)
def test_the_exit_code_rule(counts: Counts, kw: dict[str, Any], code: int) -> None:
    args: dict[str, Any] = {"halt": None, "halt_error": None, "ambiguous": False, **kw}
    assert exit_code_for(counts, **args) == code
