"""Stage ``plan``: the typed actions of a run (``core.actions``), and ``import``'s planner.

``import`` plans only ``Create`` actions (``CreatePlanner``, a ``Planner`` of
``app.stages.sequence``): it reads the approval states and the worklogs already on the
server in the rows' window (preflight), leaves out the rows of locked weeks and those
already there (``--on-existing``), and groups the rest into batches by user and time
(``core.planning``). Batches already planned by an earlier attempt of the same run are kept
as they are (a resumed run re-plans nothing it journaled), and only the rows they do not
cover are planned anew. ``sync`` plans ``Update`` and ``Delete`` too (``core.sync_plan``).
The plan is pure: the run journals it before anything is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from timetracker_import.core.actions import Create

if TYPE_CHECKING:
    from collections.abc import Collection

    import pandas as pd

    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.app.stages.preflight import PreflightReads
    from timetracker_import.app.stages.prepare import PreparedFile
    from timetracker_import.app.stages.resolve import ResolvedRows
    from timetracker_import.core.key_table import KeyTable
    from timetracker_import.core.planning import PlannedBatch
    from timetracker_import.core.rejections import Rejection
    from timetracker_import.core.row_set import RowSet


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


# -- import's planner ------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRows:
    """What the create planner plans from: the rows still to check after resolve (and, on
    a resume, after the batches in flight were read back), their user ids, what resolve
    found, and the rows' natural keys (``KeyTable``, a superset of ``frame``'s rows)."""

    frame: pd.DataFrame
    user_ids: pd.Series
    resolved: ResolvedRows
    keys: KeyTable


@dataclass(frozen=True)
class CreateReads:
    """The preflight reads: the rows of locked weeks the approval states give, and the
    worklogs on the server in the window (None when every row is locked: not needed)."""

    locked: list[Rejection]
    baseline: list[Any] | None
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    """What ``import`` will do: the rows ``locked`` (rejected), ``existing`` (row -> the
    identical worklog already there), ``rejections`` (``--on-existing fail``), the rows to
    send (``pending``) in ``creates``' batches, and what the checks found on the way."""

    locked: list[Rejection]
    existing: dict[int, str]
    rejections: list[Rejection]
    duplicates: dict[int, int]
    baseline_ids: set[str]
    pending: RowSet
    creates: CreatePlan
    notes: list[str]


@dataclass
class CreatePlanner:
    """``import``'s planner. ``prefetched``: preflight reads already on the wire (sent with
    the setup reads when nothing had to be read back first); ``ours``: worklogs this run
    created (never "existing"); ``stored``/``first_batch_no``: the batches an earlier attempt
    journaled and the next free number."""

    users: list[dict[str, Any]]
    date_header: str | None
    on_existing: str
    batch_size: int
    stored: list[PlannedBatch]
    first_batch_no: int
    ours: set[str]
    prefetched: PreflightReads | None = None
    #: the file, to name a locked row's date cell as written (None: its date in the zone)
    prepared: PreparedFile | None = None

    async def read_server(self, client: TimetrackerClient, rows: CreateRows) -> CreateReads:
        """Approval states, then (unless every row is in a locked week) the baseline."""
        from timetracker_import.app.stages.preflight import PreflightReads

        if not len(rows.frame):
            return CreateReads([], None)
        from timetracker_import.app.stages.sequence import reaped

        reads = self.prefetched or PreflightReads.start(client, rows.frame)
        self.prefetched = reads
        # whatever ends the reading (a stop, a failed read, every row locked), no read is
        # left running
        async with reaped(list(reads.futures)):
            return await self._read(client, rows, reads)

    async def _read(
        self, client: TimetrackerClient, rows: CreateRows, reads: PreflightReads
    ) -> CreateReads:
        from timetracker_import.app.stages.preflight import locked_rejections

        notes: list[str] = []
        approvals = await reads.read_approvals(notes)
        resolved = rows.resolved
        locked = locked_rejections(
            rows.frame,
            rows.user_ids,
            approvals,
            labels=resolved.labels,
            date_header=self.date_header,
            users=self.users,
            self_id=resolved.self_id,
            self_offset=resolved.naive_offset,
            notes=notes,
            prepared=self.prepared,
        )
        if len(locked) >= len(rows.frame):
            # every row locked: the baseline (already on the wire) and its errors do not matter
            return CreateReads(locked, None, notes)
        baseline = await reads.read_baseline(client, self_only=resolved.self_only)
        return CreateReads(locked, baseline, notes)

    def plan(self, rows: CreateRows, reads: CreateReads) -> ImportPlan:
        """The rows left after the locked weeks and the baseline, in batches."""
        from timetracker_import.app.stages.preflight import check_existing, same_start_note
        from timetracker_import.core.row_set import RowSet

        notes = list(reads.notes)
        frame, resolved = rows.frame, rows.resolved
        out = {r.source_row for r in reads.locked}
        if out:
            frame = frame[~frame.index.isin(list(out))]
        existing: dict[int, str] = {}
        rejections: list[Rejection] = []
        duplicates: dict[int, int] = {}
        baseline_ids: set[str] = set()
        if len(frame) and reads.baseline is not None:
            check = check_existing(
                rows.keys.subset(frame.index.to_numpy()),
                reads.baseline,
                ours=self.ours,
                naive_offset_minutes=resolved.naive_offset if resolved.self_only else 0,
                on_existing=self.on_existing,
            )
            existing, rejections = dict(check.existing), list(check.rejections)
            duplicates, baseline_ids = dict(check.in_file_duplicates), set(check.baseline_ids)
            settled = set(existing) | {r.source_row for r in rejections}
            if settled:
                frame = frame[~frame.index.isin(list(settled))]
            labels = {k.lower(): v for k, v in resolved.labels.items()}
            beside = same_start_note(frame, rows.user_ids, check, labels=labels)
            if beside:
                notes.append(beside)
        pending = RowSet(frame.index.to_numpy(dtype="int64") if len(frame) else ())
        creates = plan_creates(
            frame,
            rows.user_ids,
            stored=self.stored,
            pending=pending,
            batch_size=self.batch_size,
            first_batch_no=self.first_batch_no,
        )
        return ImportPlan(
            locked=list(reads.locked),
            existing=existing,
            rejections=rejections,
            duplicates=duplicates,
            baseline_ids=baseline_ids,
            pending=pending,
            creates=creates,
            notes=notes,
        )
