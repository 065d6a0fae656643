"""Results as pandas DataFrames (the library's ``rows_frame()``, ``rejections_frame()``,
``to_pandas()`` and ``runs_frame()``).

- **rejections**: one row per rejected input row, indexed by ``source_row``: ``stage``,
  ``column``, ``value``, ``reason``, ``error_code``, then the row's original cells, read back
  from the rejected-rows file (which keeps them in the input's layout and encoding; a file
  without a header row gets the letters ``A``, ``B``, ... as the mapping names them). An
  input header that is one of these names gets `` (input)`` appended.
- **rows of a run** (import, sync): every input row once, from the run's journal:
  ``outcome``, ``worklog_id``, and ``stage``/``reason`` of a rejected row. The journal keeps
  no cells: join on ``source_row`` with the input (docs/library.md shows how).
- **rows of a validation**: the valid rows as they would be sent (the canonical columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.rejections import Rejection
    from timetracker_import.journal.runs import RunSummary

#: the columns of a rejections frame before the original cells
REJECTION_COLUMNS = ("stage", "column", "value", "reason", "error_code")
#: the columns of a run's rows frame
ROW_COLUMNS = ("outcome", "worklog_id", "stage", "reason")
INDEX = "source_row"
CLASH = " (input)"


def rejections_frame(
    rejections: Iterable[Rejection], rejected_files: Sequence[Path | None] = ()
) -> pd.DataFrame:
    """The rejections with their rows' original cells (from ``rejected_files``: the
    rejected-rows files the run wrote; rows found in none get empty cells)."""
    import pandas as pd

    headers: list[str] = []
    cells: dict[int, list[Any]] = {}
    for path in rejected_files:
        if path is None or not Path(path).is_file():
            continue
        found_headers, found = read_rejected_cells(Path(path))
        headers = headers or found_headers
        for row, values in found.items():
            cells.setdefault(row, values)
    ours = {INDEX, *REJECTION_COLUMNS}
    names = [f"{h}{CLASH}" if h in ours else h for h in headers]
    records = []
    index = []
    for rej in sorted(rejections, key=lambda r: r.source_row):
        values = cells.get(rej.source_row, [None] * len(headers))
        values = (list(values) + [None] * len(headers))[: len(headers)]
        records.append([rej.stage, rej.column, rej.value, rej.reason, rej.error_code, *values])
        index.append(rej.source_row)
    frame = pd.DataFrame.from_records(
        records, columns=[*REJECTION_COLUMNS, *names], index=pd.Index(index, dtype="int64")
    )
    frame.index.name = INDEX
    return frame


def read_rejected_cells(path: Path) -> tuple[list[str], dict[int, list[Any]]]:
    """(input headers, {source_row: original cells}) of a rejected-rows file. The file has
    the input's columns, then ``source_row``, ``stage``, ``reason`` (and ``error_code``
    where a server answered); without a header row in the input there is none here either,
    and the columns are named by their letters."""
    from timetracker_import.errors import InputError
    from timetracker_import.files.cells import column_letter
    from timetracker_import.files.readers import open_table
    from timetracker_import.files.rejected import BASE_COLUMNS, SERVER_COLUMNS

    lines: list[list[Any]] = []
    # written in the input's encoding: detected (a byte-order mark, else UTF-8), else the
    # Windows code page Excel saves in, else Latin-1 (which reads any byte)
    for encoding in (None, "cp1252", "latin-1"):
        try:
            table = open_table(path, has_header=False, encoding=encoding)
            lines = [
                list(values)
                for chunk in table.chunks()
                for values in chunk.itertuples(index=False, name=None)
            ]
            break
        except InputError:
            if encoding == "latin-1" or path.suffix.lower() in (".xlsx", ".xls"):
                raise
    if not lines:
        return [], {}
    first = ["" if v is None else str(v) for v in lines[0]]
    headers: list[str] | None = None
    extra = 0
    for columns in (SERVER_COLUMNS, BASE_COLUMNS):
        if len(first) > len(columns) and tuple(first[-len(columns) :]) == columns:
            headers, extra, lines = first[: -len(columns)], len(columns), lines[1:]
            break
    if headers is None:  # no header row: where does the source_row column stand?
        extra = next(
            (
                k
                for k in (len(BASE_COLUMNS), len(SERVER_COLUMNS))
                if all(_row_number(line[-k]) is not None for line in lines)
            ),
            len(BASE_COLUMNS),
        )
        headers = [column_letter(i) for i in range(max(0, len(lines[0]) - extra))]
    out: dict[int, list[Any]] = {}
    for line in lines:
        row = _row_number(line[-extra])
        if row is not None:
            out[row] = [_cell(v) for v in line[:-extra]]
    return [str(h) for h in headers], out


def _row_number(value: Any) -> int | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _cell(value: Any) -> Any:
    try:
        return None if value is None or value != value else value  # NaN: empty
    except (TypeError, ValueError):
        return value


def run_rows_frame(run_ids: Sequence[str], *, rejected: Iterable[Rejection] = ()) -> pd.DataFrame:
    """Every input row once, from the journals of ``run_ids``. Several runs are one file
    split by organization: each run leaves the other organizations' rows out (skipped), so
    a row's outcome is the one run that did not skip it. ``rejected``: rows refused before
    any run (an organization without a profile), where no run has an outcome for them."""
    from timetracker_import.journal.store import Journal

    found: dict[int, tuple[Any, ...]] = {}
    for run_id in run_ids:
        with Journal.open(run_id) as journal:
            outcomes = journal.row_outcomes()
            reasons = {r.source_row: r for r in journal.rejections()}
        for row, (outcome, worklog_id) in outcomes.items():
            if row in found and outcome == "skipped":
                continue
            rej = reasons.get(row)
            found[row] = (
                outcome,
                worklog_id,
                rej.stage if rej else None,
                rej.reason if rej else None,
            )
    for rej in rejected:
        if found.get(rej.source_row, ("skipped",))[0] == "skipped":
            found[rej.source_row] = ("rejected", None, rej.stage, rej.reason)
    return rows_frame_of(found)


def rejected_files_of(run_ids: Iterable[str]) -> list[Path]:
    """The rejected-rows copies in the folders of ``run_ids`` (``rejected.<ext>``)."""
    from timetracker_import.journal.runs import runs_root

    root = runs_root()
    return [p for run_id in run_ids for p in sorted((root / run_id).glob("rejected.*"))]


def rows_frame_of(records: dict[int, tuple[Any, ...]]) -> pd.DataFrame:
    """A rows frame from ``{source_row: (outcome, worklog_id, stage, reason)}``."""
    import pandas as pd

    rows = sorted(records)
    frame = pd.DataFrame.from_records(
        [records[r] for r in rows],
        columns=list(ROW_COLUMNS),
        index=pd.Index(rows, dtype="int64"),
    )
    frame.index.name = INDEX
    return frame


def valid_rows_frame(kept: pd.DataFrame | None) -> pd.DataFrame:
    """The valid rows a validation kept (``keep_rows``), as they would be sent."""
    from timetracker_import.errors import UsageError

    if kept is None:
        raise UsageError("this validation kept no rows", hint="call validate(..., keep_rows=True)")
    frame = kept.copy()
    frame.index.name = INDEX
    return frame


def export_frame(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Exported worklogs: ``*_utc`` columns as UTC datetimes, ``*_seconds`` and
    ``work_item_id`` as nullable integers (``Int64``), ``date``/``start`` as written."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for name in frame.columns:
        if name.endswith("_utc"):
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        elif name.endswith("_seconds") or name == "work_item_id":
            frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
    return frame


def runs_frame(summaries: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per journaled run, indexed by ``run_id``: kind, status, dry_run, input,
    mapping, target, started/finished (UTC datetimes), halt_reason, undoable, the counts."""
    import pandas as pd

    records = []
    for s in summaries:
        counts = s.counts.to_dict()
        records.append(
            {
                "run_id": s.run_id,
                "kind": str(s.kind),
                "status": s.status,
                "dry_run": s.dry_run,
                "input_path": s.input_path,
                "mapping": s.mapping_name,
                "target": s.target,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "halt_reason": s.halt_reason,
                "undoable": s.undoable,
                "directory": str(s.directory),
                **{k: v for k, v in counts.items() if isinstance(v, int | float)},
            }
        )
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=["run_id", "kind", "status", "dry_run"])
    for name in ("started_at", "finished_at"):
        if name in frame.columns:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame.set_index("run_id")
