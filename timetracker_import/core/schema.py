"""pandera models of the canonical frame, one per stage, and failure cases -> rejections."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import pandas as pd


@contextmanager
def _without_hypothesis() -> Iterator[None]:
    """pandera imports hypothesis (its data-synthesis strategies) when it is installed, on the
    first validation: ~0.15 s of start-up for a feature we never use. Unless hypothesis is
    already loaded (the test suite), make it look absent while pandera's pandas backends are
    imported; pandera then registers its checks without strategies, and a later ``import
    hypothesis`` works as usual."""
    if "hypothesis" in sys.modules:
        yield
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("hypothesis", 0) is None:
            del sys.modules["hypothesis"]


with _without_hypothesis():
    # the modules pandera's first validation would import (and with them its strategies)
    import pandera.backends.pandas.builtin_checks
    import pandera.backends.pandas.builtin_hypotheses  # noqa: F401
    import pandera.pandas as pa
from pandera.errors import SchemaErrors  # noqa: E402
from pandera.typing import Index, Series  # noqa: E402

from timetracker_import.core.rejections import Rejection  # noqa: E402


class MappedWorklog(pa.DataFrameModel):
    """The canonical frame right after mapping: types only."""

    source_row: Index[int] = pa.Field(check_name=False)
    user: Series[object] = pa.Field(nullable=True)
    timestamp: Series[Annotated[pd.DatetimeTZDtype, "ns", "UTC"]]
    length_seconds: Series[int]
    billable_seconds: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    work_item_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    comment: Series[object] = pa.Field(nullable=True)
    activity_type: Series[object] = pa.Field(nullable=True)
    organization: Series[object] = pa.Field(nullable=True)

    class Config:
        strict = True


class ValidWorklog(MappedWorklog):
    """7pace's rules on top of the types."""

    length_seconds: Series[int] = pa.Field(gt=0)
    billable_seconds: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    work_item_id: Series[pd.Int64Dtype] = pa.Field(nullable=True, gt=0)

    # ignore_na=False: a canonical row is never all-null (timestamp and length are
    # required), and pandera's all-null row mask cost half of the validation time.
    @pa.dataframe_check(name="comment_or_work_item", ignore_na=False)
    @classmethod
    def comment_or_work_item(cls, df: pd.DataFrame) -> pd.Series:
        """7pace needs a comment or a work item on every worklog."""
        ok = df[cls.work_item_id].notna().to_numpy(dtype=bool, copy=True)
        # Only rows without a work item need their comment looked at (stripping every
        # comment of a large file cost more than the rest of validation).
        comment = df[cls.comment].astype(object)[~ok]
        has_comment = comment.notna() & (comment.astype(str).str.strip() != "")
        ok[~ok] = has_comment.to_numpy(dtype=bool)
        return pd.Series(ok, index=df.index)


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
