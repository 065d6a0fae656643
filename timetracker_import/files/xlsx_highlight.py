"""Mark the offending cells of an XLSX rejected-rows file: a red fill and the reason as a
cell comment, so a person fixing the sheet in Excel sees what is wrong where.

The rejected file is written in openpyxl's write-only (streaming) mode, which cannot add
comments; this post-processes the finished file instead. It loads the workbook in normal mode,
so it is meant for rejected-rows files (the rows that failed), not whole inputs.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from timetracker_import.errors import InputError

BAD_FILL = "FFF4C7C3"  # light red, readable with black text and in print
COMMENT_AUTHOR = "timetracker-import"


def highlight_rejections(
    path: str | os.PathLike[str],
    cells: Iterable[tuple[int, str | None, str]],
    *,
    header_row: int | None = 1,
    sheet: str | None = None,
) -> int:
    """Fill each offending cell and attach its reason as a comment; returns how many cells
    were marked.

    ``cells`` are ``(excel_row, header_name, reason)``: the row number as Excel shows it, the
    header text of the offending column (found in ``header_row``) and the reason. A header
    that is ``None`` or not in the sheet marks the row's first cell instead, so no reason is
    lost. Several reasons for the same cell are joined in one comment. The file is replaced
    atomically.
    """
    from openpyxl import load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    target = Path(path)
    try:
        workbook = load_workbook(target)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"cannot open {target} to highlight rejected cells: {exc}", path=str(target)
        ) from exc
    worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    columns: dict[str, int] = {}
    if header_row is None:
        columns = {get_column_letter(i): i for i in range(1, worksheet.max_column + 1)}
    else:
        for cell in worksheet[header_row]:
            if cell.value is not None and str(cell.value) not in columns:
                columns[str(cell.value)] = int(cell.column)

    reasons: dict[tuple[int, int], list[str]] = {}
    for row, header, reason in cells:
        column = columns.get(header, 1) if header is not None else 1
        bucket = reasons.setdefault((row, column), [])
        if reason not in bucket:
            bucket.append(reason)

    fill = PatternFill(fill_type="solid", start_color=BAD_FILL, end_color=BAD_FILL)
    for (row, column), texts in reasons.items():
        cell = worksheet.cell(row=row, column=column)
        cell.fill = fill
        text = "\n".join(texts)
        comment = Comment(text, COMMENT_AUTHOR)
        # size the box to the text so Excel does not cut it off
        comment.width = 320
        comment.height = 40 + 18 * sum(1 + len(t) // 45 for t in texts)
        cell.comment = comment

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".xlsx", dir=target.parent)
    os.close(fd)
    try:
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # keep the file's permissions
        workbook.save(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(reasons)
