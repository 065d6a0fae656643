"""Stage ``plan``: the typed actions of a run (``core.actions``).

``import`` plans only ``Create`` actions: the rows left after preflight, grouped into batches
by user and time (``core.planning``). Batches already planned by an earlier attempt of the
same run are kept as they are (a resumed run re-plans nothing it journaled), and only the
rows they do not cover are planned anew. ``sync`` plans ``Update`` and ``Delete`` too.
Input: rows and their user ids; output: batches and their actions. Pure: the run journals
the plan before anything is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from timetracker_import.core.actions import Create

if TYPE_CHECKING:
    from collections.abc import Collection

    import pandas as pd

    from timetracker_import.core.planning import PlannedBatch


@dataclass
class CreatePlan:
    """``new``: the batches planned now (to journal); ``batches``: every batch with a row
    still to send, stored and new, in execution order."""

    new: list[PlannedBatch]
    batches: list[PlannedBatch]

    @property
    def actions(self) -> list[Create]:
        return [Create(b.source_rows, b.batch_no) for b in self.batches]


def plan_creates(
    frame: pd.DataFrame,
    user_ids: pd.Series,
    *,
    stored: list[PlannedBatch],
    pending: Collection[int],
    batch_size: int,
    first_batch_no: int,
) -> CreatePlan:
    """Plan the rows of ``frame`` that no ``stored`` batch covers (numbered from
    ``first_batch_no``); keep the batches with a row in ``pending``."""
    import pandas as pd

    from timetracker_import.core.planning import plan_batches

    uncovered = frame
    if stored:  # a resumed run: only the rows no stored batch covers (column-wise)
        covered = [r for b in stored for r in b.source_rows]
        uncovered = frame[~frame.index.isin(covered)]
    new: list[PlannedBatch] = []
    if len(uncovered):
        planned = plan_batches(
            pd.DataFrame(
                {
                    "user_id": user_ids.reindex(uncovered.index),
                    "timestamp": uncovered["timestamp"],
                },
                index=uncovered.index,
                copy=False,
            ),
            batch_size,
        )
        new = [replace(b, batch_no=first_batch_no + i) for i, b in enumerate(planned)]
    batches = [b for b in stored + new if any(r in pending for r in b.source_rows)]
    return CreatePlan(new=new, batches=batches)
