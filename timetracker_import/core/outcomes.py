"""The states of a run, as types: where a row ended up (``RowOutcome``), why a run stopped
early (``Halt``), what kind of run it was (``RunKind``) and the one balance sheet of counts
(``Counts``) that every command, report, journal and page prints.

Every input row ends in exactly one bucket:

    rows = created + updated + unchanged + already_existing + conflicts + rejected
           + unprocessed + skipped

``deleted`` counts worklogs (a delete has no row) and is not part of the balance; nor are the
batch figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class RowOutcome(StrEnum):
    """Where one input row ended up. ``PENDING`` is the only state that is not final: a row
    still pending when a run ends is counted ``UNPROCESSED`` (resumable)."""

    PENDING = "pending"
    CREATED = "created"
    #: sync: the worklog sync holds for the row was changed to match it
    UPDATED = "updated"
    #: sync: the worklog sync holds for the row already matches it
    UNCHANGED = "unchanged"
    #: import: an identical worklog was already on the server (not created again)
    EXISTING = "existing"
    #: sync: 7pace holds a different edit than the file and than what sync last wrote
    CONFLICT = "conflict"
    REJECTED = "rejected"
    UNPROCESSED = "unprocessed"
    SKIPPED = "skipped"

    @property
    def is_open(self) -> bool:
        """Still to be done by this run or a resume."""
        return self in (RowOutcome.PENDING, RowOutcome.UNPROCESSED)


#: the outcomes of rows still to be done (everything else is final)
OPEN_OUTCOMES = frozenset({RowOutcome.PENDING, RowOutcome.UNPROCESSED})


class Halt(StrEnum):
    """Why a run stopped before it was done (its rows left are resumable)."""

    #: 401/403: the token is wrong or lacks a right (exit 3)
    AUTH = "auth"
    #: the retry budget of a temporary failure (429, 5xx, network) was spent (exit 75)
    TRANSIENT = "transient"
    #: the server refused something that stops the run (exit 75)
    ERROR = "error"
    #: Ctrl-C, SIGTERM, SIGHUP or a cancel from the library (exit 130/143/129)
    INTERRUPTED = "interrupted"


class RunKind(StrEnum):
    """What a journaled run did (``runs list`` and the web app tell them apart, and undo
    reverses each kind's actions)."""

    IMPORT = "import"
    SYNC = "sync"
    #: ``worklogs update FILE`` (the round trip of an edited export)
    UPDATE = "worklogs-update"
    #: ``worklogs delete``
    DELETE = "worklogs-delete"


@dataclass
class Counts:
    """The balance sheet of one run (see the module docstring). Batch figures are extra
    information and not part of the balance."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    already_existing: int = 0
    conflicts: int = 0
    rejected: int = 0
    unprocessed: int = 0
    skipped: int = 0
    deleted: int = 0
    in_file_duplicates: int = 0
    planned_batches: int = 0
    posted_batches: int = 0
    failed_batches: int = 0
    split_batches: int = 0

    @property
    def accounted(self) -> int:
        """The rows that are in one of the outcome buckets."""
        return (
            self.created
            + self.updated
            + self.unchanged
            + self.already_existing
            + self.conflicts
            + self.rejected
            + self.unprocessed
            + self.skipped
        )

    def is_balanced(self) -> bool:
        """Every row is in exactly one bucket."""
        return self.rows == self.accounted

    def add(self, outcome: RowOutcome, n: int = 1) -> None:
        """Count ``n`` rows with ``outcome`` (pending counts as unprocessed)."""
        name = _BUCKET[outcome]
        setattr(self, name, getattr(self, name) + n)

    def to_dict(self) -> dict[str, int | bool]:
        """A JSON-ready dict (for ``summary.json`` and ``--json``), with ``balanced``."""
        data: dict[str, int | bool] = dict(asdict(self))
        data["balanced"] = self.is_balanced()
        return data

    def describe(self, kind: RunKind = RunKind.IMPORT, *, dry_run: bool = False) -> str:
        """One line for ``runs list``, the summaries and the web app: every non-empty
        bucket, in the words of the run's kind (``would create`` in a dry run)."""
        would = "would " if dry_run else ""
        parts = [f"{would}create {self.created}" if dry_run else f"created {self.created}"]
        if kind == RunKind.SYNC or self.updated or self.unchanged:
            parts.append(f"{would}update {self.updated}" if dry_run else f"updated {self.updated}")
            parts.append(f"unchanged {self.unchanged}")
        for name, n in (
            ("already existing", self.already_existing),
            ("conflicts", self.conflicts),
            ("rejected", self.rejected),
            ("unprocessed", self.unprocessed),
            ("skipped", self.skipped),
        ):
            if n or name == "rejected":
                parts.append(f"{name} {n}")
        text = f"rows {self.rows}: " + ", ".join(parts)
        if kind == RunKind.SYNC or self.deleted:
            text += f"; {would}delete {self.deleted}" if dry_run else f"; deleted {self.deleted}"
        return text

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Counts:
        """The counts of ``to_dict`` (unknown keys ignored; sync summaries of earlier
        versions and import summaries both read)."""
        fields = {k: int(v) for k, v in data.items() if k in _FIELDS and isinstance(v, int)}
        return cls(**fields)


_BUCKET = {
    RowOutcome.PENDING: "unprocessed",
    RowOutcome.CREATED: "created",
    RowOutcome.UPDATED: "updated",
    RowOutcome.UNCHANGED: "unchanged",
    RowOutcome.EXISTING: "already_existing",
    RowOutcome.CONFLICT: "conflicts",
    RowOutcome.REJECTED: "rejected",
    RowOutcome.UNPROCESSED: "unprocessed",
    RowOutcome.SKIPPED: "skipped",
}
_FIELDS = frozenset(Counts.__dataclass_fields__)
