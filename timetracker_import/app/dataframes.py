"""A pandas DataFrame given to the library as input: written once as a UTF-8 CSV file, so
that every stage (and the journal's fingerprint, resume and the rejected-rows file) reads it
exactly as it reads any file.

The file is ``<state dir>/frames/frame-<sha256 of its text>.csv`` (folder 0700, file 0600):
the same frame gives the same file, so an unfinished run of it resumes. Cells are written as
an export would have them, so the mapping reads the same text a person would see:

- whole numbers in a float column (an id column with gaps is float in pandas) without ``.0``;
- durations (``timedelta``) as ``H:MM:SS`` (hours beyond 24 kept: ``26:30:00``);
- dates, times and timestamps in ISO form (``2026-11-02``, ``09:30:00``,
  ``2026-11-02T09:30:00``, with the offset when they have one; a datetime column that is
  midnight in every row as dates);
- missing values (None, NaN, NaT, pandas.NA) as empty cells.

Row numbers follow the CSV: the header is row 1, so the frame's i-th row (from 0) is
``source_row`` i + 2, whatever the frame's index.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FRAMES_DIR = "frames"


def frames_dir() -> Path:
    """``<state dir>/frames``: beside the runs folder (``journal.runs.runs_root``)."""
    from timetracker_import.journal.runs import runs_root

    return runs_root().parent / FRAMES_DIR


def frame_text(frame: pd.DataFrame) -> str:
    """The CSV text of ``frame`` (header row, then one line per row; the index left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_header(c) for c in frame.columns])
    columns = [_column_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
    writer.writerows(zip(*columns, strict=True) if columns else ([] for _ in range(len(frame))))
    return out.getvalue()


def frame_file(frame: pd.DataFrame, folder: Path | None = None) -> Path:
    """Write ``frame`` as ``frame-<sha256>.csv`` in ``folder`` (default ``frames_dir()``)
    unless that file exists already, and return its path."""
    from timetracker_import.journal.private_files import private_dir, write_private_text

    text = frame_text(frame)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = private_dir(folder or frames_dir()) / f"frame-{digest}.csv"
    if not path.is_file():
        write_private_text(path, text)
    return path


@dataclass(frozen=True)
class PrunedFrame:
    """One file of ``frames_dir()`` that ``prune_frames`` looked at."""

    name: str
    removed: bool
    reason: str
    size_bytes: int


def prune_frames(
    older_than: float, *, dry_run: bool = False, now_: float | None = None
) -> list[PrunedFrame]:
    """Remove the frames' CSV copies (and their rejected-rows files) last written more than
    ``older_than`` seconds ago, unless an unfinished run reads it (calling the same function
    with the same frame again resumes that run from this file). Returns every old file with
    what became of it."""
    from timetracker_import.journal.runs import list_runs

    folder = frames_dir()
    if not folder.is_dir():
        return []
    needed = {
        Path(r.input_path).resolve()
        for r in list_runs()
        if r.status in ("open", "halted") and r.input_path
    }
    cutoff = (time.time() if now_ is None else now_) - older_than
    outcomes = []
    for path in sorted(folder.iterdir()):
        stat = path.stat()
        if not path.is_file() or stat.st_mtime >= cutoff:
            continue
        frame = folder / (path.name.split(".", 1)[0] + ".csv")  # frame-<sha>.rejected.csv
        if frame.resolve() in needed:
            reason, remove = "an unfinished run reads it: the same call again resumes it", False
        else:
            reason, remove = "no unfinished run reads it", True
        if remove and not dry_run:
            path.unlink(missing_ok=True)
        outcomes.append(PrunedFrame(path.name, remove, reason, stat.st_size))
    return outcomes


def _header(name: Any) -> str:
    return "" if name is None else str(name)


def _column_cells(column: pd.Series) -> list[str]:
    """One column's cells as text (see the module's docstring)."""
    import pandas as pd

    values = column.tolist()
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = [v for v in values if not _missing(v)]
        if getattr(column.dtype, "tz", None) is None and all(
            v == v.normalize() for v in stamps
        ):  # midnight everywhere: a column of dates
            return ["" if _missing(v) else v.date().isoformat() for v in values]
    if pd.api.types.is_float_dtype(column.dtype):
        finite = [v for v in values if not _missing(v)]
        if all(float(v).is_integer() for v in finite):
            return ["" if _missing(v) else str(int(v)) for v in values]
    return [_cell(v) for v in values]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, str | bytes) else False
    except (TypeError, ValueError):
        return False


def _cell(value: Any) -> str:
    import pandas as pd

    if _missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.timedelta | pd.Timedelta):
        return duration_text(pd.Timedelta(value).to_pytimedelta())
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def duration_text(value: dt.timedelta) -> str:
    """``H:MM:SS`` (``-H:MM:SS`` for a negative duration; fractions of a second rounded)."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
