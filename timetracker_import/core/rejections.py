"""The record of one rejected input row."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("read", "map", "validate", "resolve", "preflight", "duplicate", "server")


@dataclass(frozen=True)
class Rejection:
    """Why one input row was rejected, in the user's terms.

    ``column`` is the ORIGINAL header of the column the problem is in (None when the problem is
    not tied to one column); ``reason`` says what is wrong and how to fix it; ``error_code`` is
    the server's errorCode for stage ``server``.
    """

    source_row: int
    stage: str
    column: str | None
    value: str | None
    reason: str
    error_code: str | None = None

    def where(self) -> str:
        """`` [Column: 'value']`` for a message line (empty when not tied to a column), so a
        person sees what to fix without opening the file."""
        if not self.column:
            return ""
        if self.value in (None, ""):
            return f" [{self.column}: empty]"
        value = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        return f" [{self.column}: {value!r}]"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the shape of ``--json`` output's ``rejections`` items)."""
        return {
            "source_row": self.source_row,
            "stage": self.stage,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "error_code": self.error_code,
        }


def merge_rejections(rejections: list[Rejection]) -> list[Rejection]:
    """Join several rejections of the same row into one (one record per row), keeping the
    first stage/column/value and joining the reasons with '; '. Order: by source_row."""
    by_row: dict[int, Rejection] = {}
    for rej in rejections:
        first = by_row.get(rej.source_row)
        if first is None:
            by_row[rej.source_row] = rej
        elif rej.reason not in first.reason:
            by_row[rej.source_row] = Rejection(
                first.source_row,
                first.stage,
                first.column,
                first.value,
                f"{first.reason}; {rej.reason}",
                first.error_code,
            )
    return [by_row[row] for row in sorted(by_row)]
