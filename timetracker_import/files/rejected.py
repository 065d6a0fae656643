"""The rejected-rows file: every original column unchanged, then why the row was rejected.

One writer for ``validate``, ``import`` (per run and ``--rejected``), multi-organization
imports and ``convert``, so a person gets the same layout everywhere and can fix the file and
run it again with the same mapping.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from timetracker_import.core.rejections import Rejection
    from timetracker_import.files.readers import RawTable

#: Columns appended after the original ones (``error_code`` only where a server may answer).
BASE_COLUMNS = ("source_row", "stage", "reason")
SERVER_COLUMNS = (*BASE_COLUMNS, "error_code")


EXCEL_SUFFIXES = (".xls", ".xlsx", ".xlsm")


def rejected_suffix(input_path: str | os.PathLike[str]) -> str:
    """The rejected file's extension for an input: ``.xlsx`` for Excel input (xls cannot be
    written), else the input's own (``.csv`` when it has none)."""
    suffix = Path(input_path).suffix
    return ".xlsx" if suffix.lower() in EXCEL_SUFFIXES else (suffix or ".csv")


class RejectedWriter:
    """Streams rejected raw rows into ``path`` (CSV in the input's delimiter and encoding, or
    XLSX); the file is opened on the first rejection, so a clean run leaves no file, and
    appears only on ``close(ok=True)``. In an XLSX file the offending cells are highlighted
    and carry the reason as a comment."""

    def __init__(
        self,
        path: Path,
        table: RawTable,
        *,
        columns: Sequence[str] = BASE_COLUMNS,
        private: bool = False,
    ) -> None:
        self.path = path
        self.table = table
        self.columns = tuple(columns)
        self.private = private
        self._writer: Any = None
        # (column header or None, reason) of each written row, for XLSX highlighting
        self._marks: list[tuple[str | None, str]] = []

    def write(self, raw: pd.DataFrame, rejections: Sequence[Rejection]) -> None:
        """Append the rows of ``rejections``; their cells come from ``raw`` (indexed by
        source_row; a row not in ``raw`` gets empty cells)."""
        if not rejections:
            return
        width = len(self.table.headers)
        rows = []
        for rej in rejections:
            cells = list(raw.loc[rej.source_row]) if rej.source_row in raw.index else [None] * width
            extra = {
                "source_row": rej.source_row,
                "stage": rej.stage,
                "reason": rej.reason,
                "error_code": rej.error_code,
            }
            rows.append([*cells, *(extra[c] for c in self.columns)])
            self._marks.append((rej.column, rej.reason))
        if self._writer is None:
            from timetracker_import.files.writers import TableWriter

            if self.table.has_header:
                headers: list[Any] = [*self.table.headers, *self.columns]
            else:
                # No header row in, none out: the first rejected row takes the header slot so
                # the file can be fixed and run again with the same letter mapping.
                headers, rows = rows[0], rows[1:]
            options: dict[str, Any] = {}
            if self.path.suffix.lower() in (".csv", ".txt", ".tsv"):
                options["delimiter"] = self.table.delimiter
                if self.table.encoding:
                    options["encoding"] = self.table.encoding
            self._writer = TableWriter(self.path, headers, **options)
            self._writer.open()
        self._writer.write_rows(rows)

    def close(self, ok: bool = True) -> Path | None:
        """Publish the file (``ok``) or discard it; the path when a file was written."""
        if self._writer is None:
            return None
        if not ok:
            self._writer.abort()
            return None
        self._writer.commit()
        if self.path.suffix.lower() == ".xlsx":
            from timetracker_import.files.xlsx_highlight import highlight_rejections

            # one row per rejection, in order, below the header row (if any)
            first = 2 if self.table.has_header else 1
            highlight_rejections(
                self.path,
                [(first + i, column, reason) for i, (column, reason) in enumerate(self._marks)],
                header_row=1 if self.table.has_header else None,
            )
        if self.private:
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        return self.path


def write_rejected(
    path: Path,
    table: RawTable,
    raw: pd.DataFrame,
    rejections: Sequence[Rejection],
    *,
    columns: Sequence[str] = SERVER_COLUMNS,
    private: bool = True,
) -> Path | None:
    """Write ``rejections`` at once (see ``RejectedWriter``); None when there are none."""
    writer = RejectedWriter(path, table, columns=columns, private=private)
    writer.write(raw, rejections)
    return writer.close(ok=True)
