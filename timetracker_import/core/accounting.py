"""Where every input row ended up: the run's balance sheet."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Accounting:
    """Counts of one run. Every row is in exactly one of created, already_existing, rejected,
    unprocessed (resumable) or skipped (left out by the mapping's filter); batch counts are
    extra information and not part of the balance."""

    rows: int = 0
    created: int = 0
    already_existing: int = 0
    rejected: int = 0
    unprocessed: int = 0
    skipped: int = 0
    in_file_duplicates: int = 0
    planned_batches: int = 0
    posted_batches: int = 0
    failed_batches: int = 0
    split_batches: int = 0

    @property
    def accounted(self) -> int:
        """The rows that are in one of the outcome buckets."""
        return (
            self.created + self.already_existing + self.rejected + self.unprocessed + self.skipped
        )

    def is_balanced(self) -> bool:
        """rows = created + already_existing + rejected + unprocessed + skipped."""
        return self.rows == self.accounted

    def to_dict(self) -> dict[str, int | bool]:
        """A JSON-ready dict (for ``summary.json``), with ``balanced``."""
        data: dict[str, int | bool] = dict(asdict(self))
        data["balanced"] = self.is_balanced()
        return data
