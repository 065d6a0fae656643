"""Running totals over validated chunks: rows, valid, rejected, skipped, hours per user."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

NO_USER = "(token's user)"


@dataclass
class RunningTotals:
    """Accumulates per chunk; ``rows == valid + rejected + skipped`` always holds."""

    rows: int = 0
    valid: int = 0
    rejected: int = 0
    skipped: int = 0
    total_seconds: int = 0
    billable_over_length: int = 0
    seconds_per_user: dict[str, int] = field(default_factory=dict)

    def add_chunk(self, rows: int, valid: pd.DataFrame, rejected: int) -> None:
        """Count one chunk: its raw row count, its valid canonical rows and rejected rows."""
        self.rows += rows
        self.valid += len(valid)
        self.rejected += rejected
        self.skipped += rows - len(valid) - rejected
        self.total_seconds += int(valid["length_seconds"].sum())
        billable = valid["billable_seconds"]
        self.billable_over_length += int((billable > valid["length_seconds"]).fillna(False).sum())
        users = valid["user"].astype(object).where(valid["user"].notna(), NO_USER)
        per_user = valid["length_seconds"].groupby(users, sort=False).sum()
        for user, seconds in per_user.items():
            key = str(user)
            self.seconds_per_user[key] = self.seconds_per_user.get(key, 0) + int(seconds)
