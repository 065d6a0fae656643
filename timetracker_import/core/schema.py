"""The canonical frame's validation (pandera models in ``core.schema_models``), and failure
cases -> rejections.

pandera is the one validator of 7pace's rules, but importing it is a large share of a small
import's start-up; most frames break none of the rules. ``plainly_valid`` proves that with
a few vectorised pandas checks (it is stricter than the models: whatever it passes,
``ValidWorklog`` passes); only a frame it cannot clear is handed to pandera, which names
every failure as before.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from timetracker_import.core.rejections import Rejection

#: the dtypes ``ValidWorklog`` declares (strict: no other column)
_DTYPES = {
    "user": "object",
    "timestamp": "datetime64[ns, UTC]",
    "length_seconds": "int64",
    "billable_seconds": "Int64",
    "work_item_id": "Int64",
    "comment": "object",
    "activity_type": "object",
    "organization": "object",
}


def __getattr__(name: str) -> Any:
    """``MappedWorklog`` and ``ValidWorklog`` as before, imported (with pandera) on use."""
    if name in ("MappedWorklog", "ValidWorklog"):
        from timetracker_import.core import schema_models

        return getattr(schema_models, name)
    raise AttributeError(name)


def plainly_valid(frame: pd.DataFrame) -> bool:
    """True when ``frame`` fits ``ValidWorklog`` and breaks none of its rules, checked with
    plain pandas (no pandera import). False means only "ask pandera": a frame of another
    shape, or with any value the rules might refuse."""
    if frame.index.dtype != "int64" or len(frame.columns) != len(_DTYPES):
        return False
    if any(str(frame.dtypes.get(c)) != t for c, t in _DTYPES.items()):
        return False
    if not len(frame):
        return True
    if frame["timestamp"].isna().any() or not (frame["length_seconds"] > 0).all():
        return False
    billable, item = frame["billable_seconds"], frame["work_item_id"]
    if (billable.fillna(0) < 0).any() or (item.fillna(1) <= 0).any():
        return False
    no_item = item.isna().to_numpy(dtype=bool)
    if no_item.any():
        comment = frame["comment"][no_item]
        if comment.isna().any() or (comment.astype(str).str.strip() == "").any():
            return False
    return True


# (canonical column, check) -> the reason a person reads, with the fix.
_REASONS: dict[tuple[str | None, str], str] = {
    (
        "length_seconds",
        "greater_than(0)",
    ): "length must be greater than 0 (7pace requires length > 0)",
    ("billable_seconds", "greater_than_or_equal_to(0)"): "billable length must not be negative",
    ("work_item_id", "greater_than(0)"): "work item must be a positive whole number",
    (None, "comment_or_work_item"): "give a comment or a work item (7pace requires one of them)",
}


_ROW_CHECKS = {"comment_or_work_item"}


def failure_reason(column: str | None, check: str) -> str:
    """A readable reason for one pandera failure case."""
    return _REASONS.get((column, check), f"{column or 'row'} failed check {check}")


def validate_worklogs(
    frame: pd.DataFrame,
    columns: dict[str, tuple[str | None, dict[int, object]]] | None = None,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Validate a canonical frame against ``ValidWorklog`` (lazily: all failures at once).

    ``columns`` maps a canonical column to (original header, {source_row: original cell}) so a
    rejection names what the person sees. Returns the valid rows and the rejections (several
    per row possible; merge them with ``merge_rejections``).
    """
    if plainly_valid(frame):
        return frame, []
    from pandera.errors import SchemaErrors

    from timetracker_import.core.schema_models import ValidWorklog

    columns = columns or {}
    try:
        # inplace: no column coerces, so pandera's defensive copy of the frame is waste.
        ValidWorklog.validate(frame, lazy=True, inplace=True)
        return frame, []
    except SchemaErrors as exc:
        cases = exc.failure_cases
    rejections: list[Rejection] = []
    bad_rows: set[int] = set()
    seen: set[tuple[int, str]] = set()
    for column, check, row, value in zip(
        cases["column"], cases["check"], cases["index"], cases["failure_case"], strict=True
    ):
        if row is None or pd.isna(row):
            # A schema-level failure (wrong dtype, missing column) is a bug, not bad data.
            raise AssertionError(f"canonical frame does not fit ValidWorklog: {check} {column}")
        row = int(row)
        # Dataframe-level checks report one case per column; keep one per row.
        if str(check) in _ROW_CHECKS:
            if (row, str(check)) in seen:
                continue
            seen.add((row, str(check)))
            col = None
        else:
            col = column if column in frame.columns else None
        header: str | None = None
        shown: str | None = None if value is None or pd.isna(value) else str(value)
        if col is not None and col in columns:
            header, cells = columns[col]
            cell = cells.get(row)
            shown = None if cell is None else str(cell)
        elif col is None:
            header = columns.get("comment", (None, {}))[0]
            shown = None
        rejections.append(
            Rejection(row, "validate", header, shown, failure_reason(col, str(check)))
        )
        bad_rows.add(row)
    valid = frame[~frame.index.isin(list(bad_rows))]
    return valid, rejections
