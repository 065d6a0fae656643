"""What an import keeps per row: request bodies only while their batch is in flight, a row
book of settled rows only, activity type ids only for rows that name one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests import helpers as imp
from timetracker_import.app.stages.account import RowBook
from timetracker_import.app.stages.execute import LazyBodies
from timetracker_import.core.rejections import Rejection
from timetracker_import.sandbox import RunningSandbox


def frame_of(rows: list[int]) -> tuple[pd.DataFrame, pd.Series]:
    index = pd.Index(rows, name="source_row")
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-09-01T08:00:00Z"] * len(rows), utc=True),
            "length_seconds": [900] * len(rows),
            "work_item_id": pd.array([7] * len(rows), dtype="Int64"),
            "comment": [f"c{r}" for r in rows],
        },
        index=index,
    )
    return frame, pd.Series(["u"] * len(rows), index=index)


def test_released_bodies_are_forgotten_and_built_again_equal() -> None:
    frame, users = frame_of([5, 3, 8])  # not sorted: looked up all the same
    lazy = LazyBodies(frame, users, {3: "at"})
    first = lazy.many([8, 3])
    assert list(lazy) == [5, 3, 8] and 3 in lazy and 4 not in lazy and "3" not in lazy  # type: ignore[comparison-overlap]  # a str is never a row
    assert first[1]["activityTypeId"] == "at" and "activityTypeId" not in first[0]
    lazy.release([8, 3, 99])
    assert lazy._built == {}
    again = lazy.many([3])
    assert again[0] == first[1] and again[0] is not first[1]


def test_bodies_are_kept_only_while_their_batch_is_in_flight(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[int] = []
    many = LazyBodies.many

    def recording(self: LazyBodies, rows: Any) -> list[dict[str, Any]]:
        out = many(self, rows)
        held.append(len(self._built))
        return out

    monkeypatch.setattr(LazyBodies, "many", recording)
    path = imp.write_rows(tmp_path / "in.csv", imp.make_rows(900))
    result = imp.run(imp.settings_for(sandbox, path, tmp_path, batch_size=10, concurrency=2))
    assert result.exit_code == 0 and result.accounting.created == 900
    # batches staged, on the wire or being committed (2 + 2 + a few): not the file's 900
    assert held and max(held) <= 150
    assert set(imp.server_comments(sandbox).values()) == {1}


def test_the_row_book_holds_settled_rows_only() -> None:
    rejection = Rejection(4, "file", "Minutes", "x", "not a number", None)
    book, fresh = RowBook.fresh(list(range(1, 100_001)), [2], [rejection])
    assert fresh == [rejection]
    assert book.outcomes == {2: ("skipped", None), 4: ("rejected", None)}
    assert book.still_pending([1, 2, 3, 4]) == [1, 3]
    book.settle(3, "created", "w3")
    assert book.known_ids() == {"w3"} and set(book.closed) == {2, 3, 4}
    resumed = RowBook({1: ("pending", None), 3: ("created", "w3"), 5: ("unprocessed", None)})
    assert resumed.outcomes == {3: ("created", "w3")}
    assert resumed.still_pending(pd.Index([1, 3, 5])) == [1, 5]
