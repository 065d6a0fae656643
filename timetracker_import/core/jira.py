"""Jira issue exports: one row per issue, one repeated ``Log Work`` cell per worklog.

Pure functions that turn such rows into one flat record per worklog (the ``convert jira``
command writes them; the ``jira-worklogs`` preset imports the result). Facts in
``../shared/docs/export-formats.md`` §5:

* every worklog is a ``Log Work`` cell ``comment;date;author;seconds``; the header repeats;
* a cell is read **from the right**, as Atlassian's importer does: the last token is the
  seconds (required), then the author, then the date; everything left of that, separators
  included, is the comment (``" Fixed; retested ;20240304093000+0100;Alice;5400"``);
* shorter cells are valid: ``"20240304093000+0100;;5400"``, ``"Alice;5400"``, ``"5400"``.

The date is kept as the text Jira wrote (its form depends on the site's settings); parsing
it is the preset's job, with its formats declared there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from timetracker_import.core.mapping import normalise_header
from timetracker_import.core.rejections import Rejection
from timetracker_import.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LOG_WORK_HEADER",
    "OUTPUT_HEADERS",
    "ExplodedChunk",
    "JiraLayout",
    "LogWorkError",
    "Worklog",
    "explode_worklogs",
    "find_layout",
    "parse_log_work",
]

LOG_WORK_HEADER = "Log Work"
LOG_WORK_PARTS = ("comment", "date", "author", "seconds")
# The flat file ``convert jira`` writes; mappings/jira-worklogs.yaml reads these names.
OUTPUT_HEADERS = (
    "Issue Key",
    "Issue id",
    "Summary",
    "Author",
    "Started",
    "Time Spent (seconds)",
    "Comment",
    "Source Row",
)
_EXAMPLE = "Fixed the layout;04/Mar/24 9:00 AM;alice@example.com;5400"


class LogWorkError(ValueError):
    """A ``Log Work`` cell that cannot be read; the message says what and how to fix it."""


@dataclass(frozen=True)
class Worklog:
    """One parsed ``Log Work`` cell. ``started`` is the date text as Jira wrote it."""

    comment: str | None
    started: str | None
    author: str | None
    seconds: int


def _is_empty(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and cell != cell:  # NaN from pandas
        return True
    return isinstance(cell, str) and not cell.strip()


def _seconds(token: str) -> int:
    text = token.strip()
    if not text:
        raise LogWorkError("the time spent (the last part) is empty")
    if not (text.isascii() and text.isdigit()):
        raise LogWorkError(f"the time spent (the last part) must be whole seconds, got {text!r}")
    return int(text)


def _stripped(text: str | None) -> str | None:
    return (text.strip() or None) if text is not None else None


def parse_log_work(cell: object, *, separator: str = ";") -> Worklog | None:
    """Parse one ``Log Work`` cell; ``None`` for an empty cell.

    Raises :class:`LogWorkError` when the last part is not a whole number of seconds. A
    comment keeps its own separators and spaces; an empty part becomes ``None``.
    """
    if _is_empty(cell):
        return None
    if isinstance(cell, bool):
        raise LogWorkError(f"expected comment;date;author;seconds, got {cell!r}")
    if isinstance(cell, int):  # a bare number in an Excel cell: seconds only
        if cell < 0:
            raise LogWorkError(f"the time spent must not be negative, got {cell}")
        return Worklog(None, None, None, cell)
    if isinstance(cell, float) and cell.is_integer() and cell >= 0:
        return Worklog(None, None, None, int(cell))
    if not isinstance(cell, str):
        raise LogWorkError(f"expected comment;date;author;seconds, got {cell!r}")
    pieces = cell.rsplit(separator, len(LOG_WORK_PARTS) - 1)
    padded: list[str | None] = [None] * (len(LOG_WORK_PARTS) - len(pieces)) + list(pieces)
    comment, started, author, seconds = padded
    assert seconds is not None  # rsplit always yields at least one piece
    return Worklog(
        comment=comment if comment is not None and comment.strip() else None,
        started=_stripped(started),
        author=_stripped(author),
        seconds=_seconds(seconds),
    )


@dataclass(frozen=True)
class JiraLayout:
    """Positions of the columns ``convert jira`` uses (None: the column is absent)."""

    log_work: tuple[int, ...]
    issue_key: int | None
    issue_id: int | None
    summary: int | None
    log_work_header: str = LOG_WORK_HEADER  # as written in the file


def find_layout(headers: list[str], *, source: str = "the file") -> JiraLayout:
    """Find the ``Log Work`` columns (every repeat) and the issue columns by header text
    (case, spaces and a BOM ignored). Raises ``InputError`` when there is no ``Log Work``
    column: the file is then not a Jira issue export with worklogs."""
    keys = [normalise_header(h) for h in headers]
    wanted = normalise_header(LOG_WORK_HEADER)
    log_work = tuple(i for i, k in enumerate(keys) if k == wanted)
    if not log_work:
        shown = ", ".join(repr(h) for h in headers[:12]) + (" ..." if len(headers) > 12 else "")
        raise InputError(
            f"{source} is not a Jira issue export with worklogs: no 'Log Work' column "
            f"(found {shown or 'no headers'})",
            hint="expected the headers 'Issue key', 'Summary' and one 'Log Work' column per "
            "worklog; in Jira use Export > CSV (all fields), which includes the worklogs",
        )

    def first(name: str) -> int | None:
        key = normalise_header(name)
        return keys.index(key) if key in keys else None

    return JiraLayout(
        log_work=log_work,
        issue_key=first("Issue key"),
        issue_id=first("Issue id"),
        summary=first("Summary"),
        log_work_header=headers[log_work[0]],
    )


@dataclass
class ExplodedChunk:
    """What one chunk of issue rows became: output rows in ``OUTPUT_HEADERS`` order, one
    rejection per issue row with an unreadable ``Log Work`` cell, and counts."""

    rows: list[list[Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    issues: int = 0
    without_worklogs: int = 0


def explode_worklogs(chunk: pd.DataFrame, layout: JiraLayout) -> ExplodedChunk:
    """One output row per worklog of each issue row (``chunk`` as ``RawTable.chunks`` gives
    it: positional columns, index ``source_row``).

    An issue row with any unreadable ``Log Work`` cell is rejected whole and none of its
    worklogs are written: after the cell is fixed, the rejected row can be converted again
    without its other worklogs appearing twice.
    """
    out = ExplodedChunk()

    def cell(row: Any, pos: int | None) -> Any:
        if pos is None:
            return None
        value = chunk.at[row, pos]
        return None if _is_empty(value) else value

    for row in chunk.index:
        source_row = int(row)
        out.issues += 1
        found: list[Worklog] = []
        problems: list[str] = []
        bad_value: str | None = None
        for number, pos in enumerate(layout.log_work, start=1):
            raw = chunk.at[row, pos]
            try:
                worklog = parse_log_work(raw)
            except LogWorkError as exc:
                problems.append(f"{layout.log_work_header} #{number}: {exc}")
                bad_value = str(raw) if bad_value is None else bad_value
                continue
            if worklog is not None:
                found.append(worklog)
        if problems:
            out.rejections.append(
                Rejection(
                    source_row=source_row,
                    stage="read",
                    column=layout.log_work_header,
                    value=bad_value,
                    reason="; ".join(problems)
                    + f" (a cell reads comment;date;author;seconds, e.g. {_EXAMPLE!r})",
                )
            )
            continue
        if not found:
            out.without_worklogs += 1
            continue
        key, issue_id, summary = (
            cell(row, layout.issue_key),
            cell(row, layout.issue_id),
            cell(row, layout.summary),
        )
        for w in found:
            out.rows.append(
                [key, issue_id, summary, w.author, w.started, w.seconds, w.comment, source_row]
            )
    return out
