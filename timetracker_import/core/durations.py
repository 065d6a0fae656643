"""Durations: cell values -> seconds, vectorised over a column.

Grammar (every form is read as what it says, whatever the field's unit):
``1:30`` / ``1:30:00`` / ``01:30:00`` (h:mm[:ss]), ``1h 30m`` / ``1h30m`` / ``90m`` / ``45s``
(``min`` and ``sec`` also accepted), ISO 8601 ``PT1H30M``, Excel duration cells
(``datetime.timedelta`` or ``datetime.time``). Only a *plain number* (``1.5``, ``1,5``, ``90``)
depends on the unit: hours by default, or minutes/seconds when the mapping says so.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

import numpy as np
import pandas as pd

DurationUnit = Literal["hours", "minutes", "seconds"]
UNIT_SECONDS: dict[str, float] = {"hours": 3600.0, "minutes": 60.0, "seconds": 1.0}

# Rounding steps in seconds; "exact" and "second" both mean whole seconds.
ROUNDING_STEPS: dict[str, int] = {
    "exact": 1,
    "second": 1,
    "minute": 60,
    "five_minutes": 300,
    "six_minutes": 360,
    "ten_minutes": 600,
    "quarter_hour": 900,
    "half_hour": 1800,
    "hour": 3600,
}
RoundingMode = Literal["nearest", "up", "down"]

_NUMBER = r"^(?P<num>[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+))$"
_CLOCK = r"^(?P<sign>[+-]?)(?P<h>\d+):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:[.,]\d+)?))?$"
_UNITS = (
    r"^(?P<sign>[+-]?)\s*(?=\d|[.,]\d)"
    r"(?:(?P<h>\d+(?:[.,]\d+)?)\s*(?:h|hr|hrs|hours?|std)\s*)?"
    r"(?:(?P<m>\d+(?:[.,]\d+)?)\s*(?:m|min|mins|minutes?)\s*)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)\s*(?:s|sec|secs|seconds?))?$"
)
_ISO = (
    r"^(?P<sign>[+-]?)P(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$"
)


def is_text(values: pd.Series) -> pd.Series:
    """Which cells are ``str`` (CSV cells all are; Excel cells may be numbers or dates)."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
        return values.notna()  # only str and missing cells: one C-level type scan
    return values.map(type) == str  # noqa: E721 (vectorised)


# Below this many rows, or when most cells differ, parsing each cell beats factorizing.
_UNIQUE_MIN_ROWS = 64
_UNIQUE_MAX_SHARE = 0.5
# Cells sampled first; enough that 16k distinct values in 100k rows (dates with times)
# still show repeats, while a column of distinct comments shows none.
_UNIQUE_PROBE = 5000


def text_uniques(values: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """``(codes, uniques)`` of a column of only ``str``/missing cells that repeats a lot.

    Time-tracking columns (users, dates, durations, work items) hold few distinct values,
    so parsing the distinct ones and spreading the results back with :func:`spread` is
    much cheaper than parsing every cell. Missing cells form one unique (NaN). Returns None
    when factorizing would not pay off, or when the column holds non-text cells (``1``,
    ``1.0`` and ``True`` hash alike and must not be merged).
    """
    if len(values) < _UNIQUE_MIN_ROWS or values.dtype != object:
        return None
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    cells = values.to_numpy(dtype=object)
    # A strided sample: leading rows alone would make sequential ids look all distinct.
    probe = cells[:: max(1, len(cells) // _UNIQUE_PROBE)]
    if len(probe) >= _UNIQUE_PROBE and len(pd.unique(probe)) > 0.95 * len(probe):
        return None  # (nearly) all distinct, e.g. comments: factorizing would be wasted
    codes, found = pd.factorize(cells)  # with the NA sentinel: faster than without
    if len(found) > _UNIQUE_MAX_SHARE * len(values):
        return None
    uniques = pd.Series(found, dtype=object)
    if len(codes) and codes.min() < 0:  # missing cells: one more unique, NaN
        codes = np.where(codes < 0, len(found), codes)
        uniques = pd.concat([uniques, pd.Series([np.nan], dtype=object)], ignore_index=True)
    return codes, uniques


def spread(per_unique: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Results computed for the uniques of :func:`text_uniques`, one per original row."""
    return per_unique.take(codes).set_axis(index)


def _num(part: pd.Series) -> pd.Series:
    """A regex group (strings or NaN) as floats, 0 where the group is absent."""
    return pd.to_numeric(part.str.replace(",", ".", regex=False), errors="coerce").fillna(0.0)


def _sign(part: pd.Series) -> pd.Series:
    return pd.Series(np.where(part.fillna("") == "-", -1.0, 1.0), index=part.index)


def parse_duration_strings(text: pd.Series, unit: str = "hours") -> pd.Series:
    """Parse stripped strings to float seconds; NaN where the text is not a duration.

    ``text`` holds ``str`` (or NaN/None). Plain numbers are taken in ``unit``.
    """
    factor = UNIT_SECONDS[unit]
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    if text.empty:
        return out
    # Fast path: plain numbers (the common case for whole files).
    plain = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    is_plain = plain.notna() & text.str.fullmatch(_NUMBER).fillna(False).astype(bool)
    out[is_plain] = plain[is_plain] * factor
    rest = text[~is_plain & text.notna()]
    if rest.empty:
        return out
    clock = rest.str.extract(_CLOCK)
    ok = clock["h"].notna()
    if ok.any():
        c = clock[ok]
        secs = _num(c["h"]) * 3600 + _num(c["m"]) * 60 + _num(c["s"])
        bad_minutes = pd.to_numeric(c["m"]) >= 60
        secs[bad_minutes] = np.nan
        out[c.index] = _sign(c["sign"]) * secs
    rest = rest[~ok]
    if rest.empty:
        return out
    units = rest.str.extract(_UNITS, flags=2)  # re.IGNORECASE
    ok = units[["h", "m", "s"]].notna().any(axis=1)
    if ok.any():
        u = units[ok]
        out[u.index] = _sign(u["sign"]) * (_num(u["h"]) * 3600 + _num(u["m"]) * 60 + _num(u["s"]))
    rest = rest[~ok]
    if rest.empty:
        return out
    iso = rest.str.upper().str.extract(_ISO)
    ok = iso[["d", "h", "m", "s"]].notna().any(axis=1)
    if ok.any():
        i = iso[ok]
        secs = _num(i["d"]) * 86400 + _num(i["h"]) * 3600 + _num(i["m"]) * 60 + _num(i["s"])
        out[i.index] = _sign(i["sign"]) * secs
    return out


def _native_seconds(value: object, factor: float) -> float:
    """One non-string cell (Excel) as seconds, NaN when it is not a duration."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value) * factor
    return math.nan


def parse_durations(values: pd.Series, unit: str = "hours") -> pd.Series:
    """Parse a raw column (str cells, Excel native cells, None) to float seconds.

    Returns NaN where a non-empty cell is not a duration and where the cell is empty; the
    caller tells the two apart with ``values.isna()`` / blank strings.
    """
    factorized = text_uniques(values)
    if factorized is not None:
        codes, uniques = factorized
        return spread(_parse_duration_cells(uniques, unit), codes, values.index)
    return _parse_duration_cells(values, unit)


def parse_durations_and_blanks(
    values: pd.Series, unit: str = "hours"
) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_durations` plus which cells are blank (missing, or text that is empty or
    only whitespace), from one pass over the column's distinct values."""
    factorized = text_uniques(values)
    if factorized is None:
        return _parse_duration_cells(values, unit), _blank_cells(values)
    codes, uniques = factorized
    return (
        spread(_parse_duration_cells(uniques, unit), codes, values.index),
        spread(_blank_cells(uniques), codes, values.index),
    )


def _blank_cells(values: pd.Series) -> pd.Series:
    cells = values.to_numpy(dtype=object)
    blank = [v is None or (type(v) is str and not v.strip()) for v in cells]
    return pd.Series(blank, index=values.index, dtype=bool) | values.isna()


def _parse_duration_cells(values: pd.Series, unit: str) -> pd.Series:
    factor = UNIT_SECONDS[unit]
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    is_str = is_text(values)
    strings = values[is_str].str.strip()
    out[strings.index] = parse_duration_strings(strings, unit)
    natives = values[~is_str & values.notna()]
    if not natives.empty:
        out[natives.index] = [_native_seconds(v, factor) for v in natives]  # type: ignore[call-overload]
    return out


def round_seconds(seconds: pd.Series, step_name: str = "exact", mode: str = "nearest") -> pd.Series:
    """Round float seconds to a whole multiple of the step; NaN stays NaN.

    ``nearest`` rounds halves away from zero (0.5 s -> 1 s), so results do not depend on
    banker's rounding.
    """
    step = float(ROUNDING_STEPS[step_name])
    scaled = seconds / step
    # Tolerate float noise such as 1.1 h * 3600 = 3960.0000000000005 before going up/down.
    noise = 1e-9
    if mode == "up":
        result = np.ceil(scaled - noise)
    elif mode == "down":
        result = np.floor(scaled + noise)
    else:
        result = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5 + noise)
    return pd.Series(result * step, index=seconds.index, dtype="float64")
