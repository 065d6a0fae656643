"""Dates, times and time zones, vectorised over a column.

Rules (docs/mapping.md): explicit ``format`` wins; otherwise ISO ``YYYY-MM-DD`` is always
accepted and ``date_order`` (MDY/DMY/YMD) picks the day/month order of other dates. Without a
declared order, a date whose first two numbers are both <= 12 (and differ) is rejected as
ambiguous: the order is never guessed row by row. Naive times are localised in an IANA zone;
a time in a DST gap is rejected, one in a DST overlap is rejected unless ``dst_ambiguous``
says ``earlier`` or ``later``. Text with an explicit offset or ``Z`` is honoured.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from timetracker_import.core.durations import is_text, spread, text_uniques

DateOrder = Literal["MDY", "DMY", "YMD"]
DstAmbiguous = Literal["reject", "earlier", "later"]

_ISO_DATES = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]
_ORDER_DATES: dict[str, list[str]] = {
    "DMY": ["%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%y", "%d/%m/%y"],
    "MDY": ["%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y", "%m/%d/%y", "%m.%d.%y"],
    "YMD": [],
}
_TIMES = [
    "",
    " %H:%M",
    " %H:%M:%S",
    " %I:%M %p",
    " %I:%M:%S %p",
    " %I:%M%p",
    "T%H:%M",
    "T%H:%M:%S",
    " %H:%M:%S.%f",
    "T%H:%M:%S.%f",
]
_OFFSET_TIMES = ["T%H:%M:%S%z", "T%H:%M%z", " %H:%M:%S%z", " %H:%M%z", "T%H:%M:%S.%f%z"]
_SAMPLE = 200
_TIME_RE = (
    r"^(?P<h>\d{1,2})[:.](?P<m>\d{2})(?::(?P<s>\d{2}))?(?:\.\d+)?\s*"
    r"(?P<ampm>[AaPp]\.?[Mm]\.?)?$"
)
_LEADING_PAIR = r"^(\d{1,2})\D(\d{1,2})\D"

#: worklog dates are taken from 1900 up to and including 2199 (issue 25): everything
#: else is a typo (0202 for 2020, 9999 as "no end"); it also keeps every value far inside
#: what a nanosecond timestamp holds (1677-2262), so no later step can overflow
MIN_YEAR, MAX_YEAR = 1900, 2199
_FIRST = pd.Timestamp(f"{MIN_YEAR}-01-01")
_END = pd.Timestamp(f"{MAX_YEAR + 1}-01-01")
_ANY_YEAR = re.compile(r"^(\d{1,2}[-/.]\d{1,2}[-/.](\d{3,})|(\d{3,})[-/.]\d{1,2}[-/.]\d{1,2})")


def out_of_range_reason(year: int) -> str:
    """The rejection reason of a date in ``year`` outside MIN_YEAR..MAX_YEAR."""
    return f"year {year} is out of range: worklog dates must lie between {MIN_YEAR} and {MAX_YEAR}"


def _outside(stamps: pd.Series) -> pd.Series:
    """Which parsed times (any resolution, naive or UTC) lie outside the accepted years."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return (stamps < _FIRST) | (stamps >= _END)


def _year_problem(text: str) -> str | None:
    """An unparsed date-shaped text whose year is out of range (pandas may not parse it at
    all: year 0001, 9999-12-31T23:59 beyond what it holds)."""
    match = _ANY_YEAR.match(text)
    if match is None:
        return None
    year = int(match[2] or match[3])
    return None if MIN_YEAR <= year <= MAX_YEAR else out_of_range_reason(year)


@dataclass
class ParsedTimes:
    """Result of parsing one column: ``naive`` local times (NaT where not naive or failed),
    ``aware`` UTC times for text that carried an offset, and ``error`` (reason or None)."""

    naive: pd.Series
    aware: pd.Series
    error: pd.Series


# Distinct texts remembered per parse settings; beyond this the memory starts afresh, so a
# file of ever-new timestamps cannot grow it without bound.
MEMO_MAX_TEXTS = 100_000

_MemoKey = tuple[tuple[str, ...] | None, str | None, bool]


@dataclass
class _Parsed:
    """Results per distinct text: ``texts`` (an Index to look texts up) and, position by
    position, naive (datetime64[ns]), aware (datetime64[ns, UTC]) and error (object)."""

    texts: pd.Index
    naive: np.ndarray
    aware: np.ndarray
    error: np.ndarray


@dataclass
class DateMemo:
    """What parsing has learnt during one run, handed in by the caller (one per file).

    ``fitted`` remembers, per (date_order, with_time), the candidate format that fitted the
    last sample, so the next chunk usually needs one trial instead of dozens. ``parsed``
    keeps the results per distinct text: a file repeats the same dates chunk after chunk.
    A text always parses to the same result whatever else is in its column (format order
    changes only speed; the ambiguity check looks at the text alone), so a memo changes
    nothing but time.
    """

    fitted: dict[tuple[str | None, bool], str] = field(default_factory=dict)
    parsed: dict[_MemoKey, _Parsed] = field(default_factory=dict)


def candidate_formats(date_order: str | None, with_time: bool) -> list[str]:
    """The formats tried, in no particular order, when a field has no explicit format."""
    dates = list(_ISO_DATES)
    if date_order in ("DMY", "MDY"):
        dates += _ORDER_DATES[date_order]
    elif date_order is None:
        dates += _ORDER_DATES["DMY"] + _ORDER_DATES["MDY"]
    times = _TIMES + _OFFSET_TIMES if with_time else [""]
    return [d + t for d in dates for t in times]


def _normalise_text(values: pd.Series) -> pd.Series:
    stripped = values.str.strip()
    # The whitespace-collapsing regex is costly per cell; most files never need it.
    if stripped.empty or not _ODD_SPACE.search("\x00".join(stripped.dropna())):
        return stripped
    return stripped.str.replace(r"\s+", " ", regex=True)


_ODD_SPACE = re.compile(r"[^\S ]|  ")  # whitespace other than single spaces


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    if "%z" in fmt:
        return pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    return pd.to_datetime(text, format=fmt, errors="coerce")


def _empty(index: pd.Index, tz: str | None = None) -> pd.Series:
    dtype = f"datetime64[ns, {tz}]" if tz else "datetime64[ns]"
    return pd.Series(pd.NaT, index=index, dtype=dtype)


_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[ T])")
_XXY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:$|[ ,T])")


def calendar_problem(text: str, date_order: str | None = None) -> str | None:
    """Why ``text`` is not a calendar date, when it has a date's shape but names a month or a
    day that does not exist (``2026-11-31``, ``31.09.2026`` with DMY); None otherwise. The
    day/month order of ``dd.mm.yyyy`` shapes is only known when ``date_order`` is declared."""
    match = _YMD.match(text)
    what = "a calendar date"
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _XXY.match(text)
        if not match or date_order not in ("DMY", "MDY"):
            return None
        first, second, year = (int(g) for g in match.groups())
        day, month = (first, second) if date_order == "DMY" else (second, first)
        order = "month/day (US)" if date_order == "MDY" else "day/month"
        what = f"a {order} date (date order {date_order})"
    if not 1 <= month <= 12:
        return f"{text!r} is not {what}: there is no month {month}"
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    if not 1 <= day <= last:
        name = dt.date(year, month, 1).strftime("%B %Y")
        return f"{text!r} is not {what}: {name} has {last} days"
    return None


def parse_datetime_strings(
    text: pd.Series,
    *,
    formats: list[str] | None,
    date_order: str | None,
    with_time: bool,
    fitted: dict[tuple[str | None, bool], str] | None = None,
) -> ParsedTimes:
    """Parse stripped date(-time) strings. Tries formats that fit a sample first, so a whole
    file usually costs one vectorised ``to_datetime`` call. ``fitted`` (from a
    :class:`DateMemo`) remembers the format that fitted across calls."""
    naive = _empty(text.index)
    aware = _empty(text.index, "UTC")
    error = pd.Series(None, index=text.index, dtype=object)
    if text.empty:
        return ParsedTimes(naive, aware, error)
    text = _normalise_text(text)
    explicit = formats is not None
    cands = list(formats) if formats else candidate_formats(date_order, with_time)
    if not explicit:
        sample = text.iloc[:_SAMPLE]
        hits: dict[str, int] = {}
        key = (date_order, with_time)
        # The format that fitted the last chunk's sample is tried first: a file keeps one
        # layout, so the next chunks usually need one trial instead of dozens. Formats
        # never parse one text to two different times, so the order changes only speed.
        known = fitted.get(key) if fitted is not None else None
        tried = [known, *[f for f in cands if f != known]] if known in cands else cands
        for f in tried:
            hits[f] = int(_to_datetime(sample, f).notna().sum())
            if hits[f] == len(sample):
                if fitted is not None:
                    fitted[key] = f
                break  # one format fits the whole sample: no need to try the rest here
        cands.sort(key=lambda f: -hits.get(f, 0))
    pending = text
    order_based: list[pd.Index] = []
    for fmt in cands:
        if pending.empty:
            break
        parsed = _to_datetime(pending, fmt)
        ok = parsed.notna()
        if not ok.any():
            continue
        got = parsed[ok]
        outside = _outside(got)
        if outside.any():  # parsed, but not a worklog date: a reason, not another format
            far = got[outside]
            error[far.index] = [out_of_range_reason(t.year) for t in far]
            got = got[~outside]
        if "%z" in fmt:
            aware[got.index] = got.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        else:
            naive[got.index] = got.astype("datetime64[ns]")
        if not explicit and date_order is None and not fmt.startswith("%Y"):
            order_based.append(got.index)
        pending = pending[~ok]
    if not pending.empty:
        if explicit:
            shown = " or ".join(f"'{f}'" for f in cands)
            error[pending.index] = f"not a date/time in the declared format {shown}"
        else:
            hint = "e.g. 2026-03-04" + (" 09:30" if with_time else "")
            error[pending.index] = f"not a recognisable date{'/time' if with_time else ''} ({hint})"
        # Failures are few: say when the text is a date shape naming a day that does not
        # exist, or a year out of range.
        problems = {
            i: _year_problem(str(v)) or calendar_problem(str(v), date_order)
            for i, v in pending.items()
        }
        found = {i: p for i, p in problems.items() if p}
        if found:
            error[pd.Index(list(found))] = list(found.values())
    if order_based:
        idx = order_based[0].append(order_based[1:]) if len(order_based) > 1 else order_based[0]
        pair = text[idx].str.extract(_LEADING_PAIR).astype(float)
        ambiguous = (pair[0] <= 12) & (pair[1] <= 12) & (pair[0] != pair[1])
        amb = ambiguous[ambiguous].index
        if len(amb):
            naive[amb] = pd.NaT
            aware[amb] = pd.NaT
            error[amb] = (
                "ambiguous date: day and month could be swapped; say which with "
                "--date-order DMY or MDY (or date_order: or a format in the mapping)"
            )
    return ParsedTimes(naive, aware, error)


def _native_timestamp(value: object) -> pd.Timestamp | None:
    if isinstance(value, dt.datetime | pd.Timestamp):
        return pd.Timestamp(value)
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    return None


def parse_datetimes(
    values: pd.Series,
    *,
    formats: list[str] | None = None,
    date_order: str | None = None,
    with_time: bool = True,
    memo: DateMemo | None = None,
) -> ParsedTimes:
    """Parse a raw column (CSV text or Excel date cells); empty cells give NaT, no error.

    ``memo`` (one per run, owned by the caller) carries what earlier chunks learnt; without
    it every call starts from nothing. Results are the same either way.
    """
    fitted = memo.fitted if memo is not None else None
    factorized = text_uniques(values)
    if factorized is not None:
        codes, uniques = factorized
        if memo is not None:
            key = (tuple(formats) if formats is not None else None, date_order, with_time)
            once = _parse_remembered(uniques, formats, date_order, with_time, memo, key)
        else:
            once = _parse_datetime_cells(uniques, formats, date_order, with_time)
        return ParsedTimes(
            spread(once.naive, codes, values.index),
            spread(once.aware, codes, values.index),
            spread(once.error, codes, values.index),
        )
    return _parse_datetime_cells(values, formats, date_order, with_time, fitted)


def _parse_remembered(
    uniques: pd.Series,
    formats: list[str] | None,
    date_order: str | None,
    with_time: bool,
    memo: DateMemo,
    key: _MemoKey,
) -> ParsedTimes:
    """Parse distinct texts, taking those seen in earlier chunks from ``memo``."""
    known = memo.parsed.get(key)
    if known is None:
        where = np.full(len(uniques), -1, dtype=np.intp)
    else:
        # NaN (missing cells) is never stored, so it always parses afresh (to nothing)
        where = known.texts.get_indexer(pd.Index(uniques.to_numpy(dtype=object), dtype=object))
    new = where < 0
    naive = np.empty(len(uniques), dtype="datetime64[ns]")
    aware = np.empty(len(uniques), dtype="datetime64[ns]")  # UTC instants, zone added below
    error = np.empty(len(uniques), dtype=object)
    if known is not None and not new.all():
        old = ~new
        naive[old] = known.naive[where[old]]
        aware[old] = known.aware[where[old]]
        error[old] = known.error[where[old]]
    if new.any():
        fresh_cells = uniques[new]
        fresh = _parse_datetime_cells(fresh_cells, formats, date_order, with_time, memo.fitted)
        naive[new] = fresh.naive.to_numpy()
        aware[new] = _utc_values(fresh.aware)
        error[new] = fresh.error.to_numpy(dtype=object)
        _remember(memo, key, fresh_cells, fresh)
    index = uniques.index
    return ParsedTimes(
        pd.Series(naive, index=index),
        pd.Series(aware, index=index, dtype="datetime64[ns]").dt.tz_localize("UTC"),
        pd.Series(error, index=index, dtype=object),
    )


def _utc_values(aware: pd.Series) -> np.ndarray:
    """A ``datetime64[ns, UTC]`` Series as plain datetime64[ns] UTC values (NaT kept)."""
    values: np.ndarray = aware.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return values


def _remember(memo: DateMemo, key: _MemoKey, cells: pd.Series, parsed: ParsedTimes) -> None:
    texts = cells.notna().to_numpy(dtype=bool)
    if not texts.any():
        return
    add = _Parsed(
        pd.Index(cells.to_numpy(dtype=object)[texts], dtype=object),
        parsed.naive.to_numpy()[texts],
        _utc_values(parsed.aware)[texts],
        parsed.error.to_numpy(dtype=object)[texts],
    )
    known = memo.parsed.get(key)
    if known is None or len(known.texts) + len(add.texts) > MEMO_MAX_TEXTS:
        memo.parsed[key] = add  # start afresh: the latest chunk predicts the next best
        return
    memo.parsed[key] = _Parsed(
        known.texts.append(add.texts),
        np.concatenate([known.naive, add.naive]),
        np.concatenate([known.aware, add.aware]),
        np.concatenate([known.error, add.error]),
    )


def _parse_datetime_cells(
    values: pd.Series,
    formats: list[str] | None,
    date_order: str | None,
    with_time: bool,
    fitted: dict[tuple[str | None, bool], str] | None = None,
) -> ParsedTimes:
    is_str = is_text(values)
    strings = values[is_str]
    strings = strings[strings.str.strip() != ""]
    result = parse_datetime_strings(
        strings, formats=formats, date_order=date_order, with_time=with_time, fitted=fitted
    )
    naive = result.naive.reindex(values.index)
    aware = result.aware.reindex(values.index)
    error = result.error.reindex(values.index)
    natives = values[~is_str & values.notna()]
    for row, value in natives.items():
        year = value.year if isinstance(value, dt.date) else None
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:  # an Excel cell in 1600
            error[row] = out_of_range_reason(year)  # type: ignore[call-overload]
            continue
        stamp = _native_timestamp(value)
        if stamp is None:
            error[row] = "not a date/time cell"  # type: ignore[call-overload]
        elif stamp.tzinfo is not None:
            aware[row] = stamp.tz_convert("UTC")  # type: ignore[call-overload]
        else:
            naive[row] = stamp  # type: ignore[call-overload]
    return ParsedTimes(naive, aware, error)


def parse_times_of_day(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a start-time column (``9:30``, ``09:30:00``, ``9:30 PM``, Excel time cells) into
    timedeltas since midnight; returns ``(timedelta Series, error Series)``."""
    factorized = text_uniques(values)
    if factorized is not None:
        codes, uniques = factorized
        offsets, errors = _times_of_day_cells(uniques)
        return spread(offsets, codes, values.index), spread(errors, codes, values.index)
    return _times_of_day_cells(values)


def _times_of_day_cells(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    out = pd.Series(pd.NaT, index=values.index, dtype="timedelta64[ns]")
    error = pd.Series(None, index=values.index, dtype=object)
    is_str = is_text(values)
    text = values[is_str].str.strip()
    text = text[text != ""]
    if not text.empty:
        parts = text.str.extract(_TIME_RE)
        h = pd.to_numeric(parts["h"], errors="coerce")
        m = pd.to_numeric(parts["m"], errors="coerce")
        s = pd.to_numeric(parts["s"], errors="coerce").fillna(0)
        ampm = parts["ampm"].str.upper().str.replace(".", "", regex=False)
        is_pm, is_am = ampm.eq("PM"), ampm.eq("AM")
        twelve = ampm.notna()
        valid = h.notna() & (m < 60) & (s < 60)
        valid &= np.where(twelve, (h >= 1) & (h <= 12), h <= 23)
        h = h.where(~twelve, (h % 12) + np.where(is_pm.fillna(False), 12, 0))
        del is_am
        seconds = h * 3600 + m * 60 + s
        good = seconds[valid]
        out[good.index] = pd.to_timedelta(good, unit="s")
        bad = text.index[~valid.to_numpy(dtype=bool)]
        error[bad] = "not a time of day (e.g. 09:30 or 9:30 AM)"
    for row, value in values[~is_str & values.notna()].items():
        if isinstance(value, dt.datetime):
            value = value.time()
        if isinstance(value, dt.time):
            out[row] = pd.Timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)  # type: ignore[call-overload]
        elif isinstance(value, dt.timedelta) and dt.timedelta(0) <= value < dt.timedelta(days=1):
            out[row] = pd.Timedelta(value)  # type: ignore[call-overload]
        else:
            error[row] = "not a time of day (e.g. 09:30 or 9:30 AM)"  # type: ignore[call-overload]
    return out, error


def localize(
    naive: pd.Series,
    tz: str,
    dst_ambiguous: str = "reject",
    *,
    day_start: pd.Series | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Localise naive wall-clock times in ``tz`` and convert to UTC.

    Returns ``(utc Series, error Series)``; times in a DST gap, and in a DST overlap unless
    ``dst_ambiguous`` is ``earlier``/``later``, get NaT and a reason that names the fix.
    ``day_start``: rows whose time of day nobody wrote (a date without a start): they mean
    the day's first instant, which is later than 00:00 where the clocks jump at midnight
    (America/Santiago, Asia/Beirut, ...) and the earlier 00:00 where they go back to it.
    """
    error = pd.Series(None, index=naive.index, dtype=object)
    if naive.empty:
        return _empty(naive.index, "UTC"), error
    if dst_ambiguous == "reject":
        ambiguous: str | np.ndarray = "NaT"
    else:
        # True means "DST side", i.e. the earlier of the two instants.
        ambiguous = np.full(len(naive), dst_ambiguous == "earlier")
    local = naive.dt.tz_localize(tz, ambiguous=ambiguous, nonexistent="NaT")
    failed = local.isna() & naive.notna()
    if day_start is not None and failed.any():
        first = failed & day_start.reindex(naive.index, fill_value=False).astype(bool)
        if first.any():
            sub = naive[first]
            local[first] = sub.dt.tz_localize(
                tz, ambiguous=np.full(len(sub), True), nonexistent="shift_forward"
            )
            failed &= ~first
    if failed.any():
        amb_arg: str | np.ndarray = (
            ambiguous if isinstance(ambiguous, str) else ambiguous[failed.to_numpy()]
        )
        sub = naive[failed]
        forward = sub.dt.tz_localize(tz, ambiguous=amb_arg, nonexistent="shift_forward")
        backward = sub.dt.tz_localize(tz, ambiguous=amb_arg, nonexistent="shift_backward")
        for row in sub.index:
            wall = sub[row]
            if pd.isna(forward[row]):
                error[row] = (
                    f"{wall:%H:%M} on {wall:%Y-%m-%d} occurs twice in {tz} (the clocks go "
                    "back at the end of summer time); set dst_ambiguous: earlier or later in "
                    "the mapping, or write the time with its UTC offset"
                )
            else:
                jump_from = (backward[row].tz_localize(None) + pd.Timedelta(1, "ns")).ceil("min")
                jump_to = forward[row].tz_localize(None)
                error[row] = (
                    f"{wall:%H:%M} does not exist in {tz} on {wall:%Y-%m-%d}, clocks jump from "
                    f"{jump_from:%H:%M} to {jump_to:%H:%M}; use {jump_to:%H:%M}"
                )
    utc = local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return utc, error
