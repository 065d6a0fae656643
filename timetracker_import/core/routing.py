"""Multi-organization routing: which profile (URL + token) each canonical row goes to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

UNROUTED = None
"""Key of the rows whose organization matches no profile (reject them as ``resolve``)."""


def route_by_organization(
    frame: pd.DataFrame,
    profiles: Mapping[str, str] | Iterable[str],
    *,
    default: str | None = None,
) -> dict[str | None, pd.DataFrame]:
    """Split a canonical frame by its ``organization`` column.

    ``profiles``: profile names (an organization cell must equal one, ignoring case and
    surrounding spaces) or a mapping organization -> profile name. Rows with an empty
    organization (or no such column) go to ``default``; rows that match nothing, or are empty
    without a default, go under ``UNROUTED``. The index (``source_row``) is kept; keys with no
    rows are left out."""
    table = (
        {str(k).strip().lower(): v for k, v in profiles.items()}
        if isinstance(profiles, Mapping)
        else {str(p).strip().lower(): str(p) for p in profiles}
    )
    if "organization" not in frame.columns:
        return {default: frame} if len(frame) else {}

    def target(cell: object) -> str | None:
        if cell is None or (isinstance(cell, float) and cell != cell):
            return default
        text = str(cell).strip().lower()
        if not text:
            return default
        return table.get(text, UNROUTED)

    keys = [target(cell) for cell in frame["organization"]]
    out: dict[str | None, pd.DataFrame] = {}
    for key in dict.fromkeys(keys):
        out[key] = frame[[k == key for k in keys]]
    return out
