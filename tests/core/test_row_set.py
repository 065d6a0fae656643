"""``core.row_set.RowSet`` behaves as a set of row numbers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from timetracker_import.core.row_set import RowSet


def test_a_row_set_answers_like_a_set_under_random_changes() -> None:
    rng = random.Random(7)
    start = rng.sample(range(2, 5000), 1500)
    ours, theirs = RowSet(np.array(start)), set(start)
    for _ in range(4000):
        row = rng.randrange(0, 12_000)
        if rng.random() < 0.5:
            ours.add(row)
            theirs.add(row)
        else:
            ours.discard(row)
            theirs.discard(row)
        assert (row in ours) == (row in theirs)
    assert len(ours) == len(theirs) and list(ours) == sorted(theirs)
    # a RowSet is a collections.abc.Set: it compares equal to the set of the same rows
    assert ours == theirs and (ours - {start[0]}) == theirs - {start[0]}  # type: ignore[comparison-overlap]


def test_what_is_not_a_row_number_is_never_in_it() -> None:
    rows = RowSet([0, 1, 5])
    assert np.int64(5) in rows and 5 in rows and -1 not in rows
    assert "5" not in rows  # type: ignore[comparison-overlap]  # what a caller might pass
    assert 1.0 not in rows and True not in rows and 10**9 not in rows
    assert len(RowSet()) == 0 and list(RowSet()) == []
    with pytest.raises(ValueError):
        RowSet([-3])
