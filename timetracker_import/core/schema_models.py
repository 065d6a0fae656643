"""pandera models of the canonical frame, one per stage (loaded by ``core.schema`` only when a
frame has something to report: pandera's import is ~0.1-0.2 s of a small import's start-up)."""

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
from pandera.typing import Index, Series  # noqa: E402


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
