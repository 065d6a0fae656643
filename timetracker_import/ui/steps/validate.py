"""Step 3, Validate: the whole file through the mapping, offline. Counts, hours per user, the
rejected rows with the offending cell highlighted and the reason first; fix cells in place
(one cell, or every equal cell at once): the fixes go into a corrected copy (the original
is never modified) that is validated again and used from then on; download it."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.ui.render import cell, page, paged
from timetracker_import.ui.state import FileInfo, Job, Wizard
from timetracker_import.ui.steps.common import need, start, wizard

routes = web.RouteTableDef()


@dataclass(frozen=True)
class RejectedRow:
    """A rejected row as the page shows it: every cell, the offending one, the reason."""

    source_row: int
    cells: tuple[str, ...]
    column: str | None
    column_index: int | None
    value: str
    reason: str
    kind: str  # the reason without its values (the filter)


#: what varies between rows with the same problem: quoted values and numbers (not the 7 of
#: 7pace, not the examples in "(e.g. 09:30 or 9:30 AM)", which are the same for every row)
_VALUES = re.compile(r"\(e\.g\.[^()]*\)|'[^']*'|\"[^\"]*\"|(?<!\w)\d[\d.:/-]*(?![\w])")


def _kind(reason: str) -> str:
    first = reason.split(";")[0]
    return _VALUES.sub(lambda m: m[0] if m[0].startswith("(") else "…", first).strip()


def rejected_rows(info: FileInfo, result: Any) -> list[RejectedRow]:
    """The rejections with the cells the library kept (``rejected_cells``)."""
    positions = {h: i for i, h in reversed(list(enumerate(info.headers)))}
    width = len(info.headers)
    out = []
    for r in sorted(result.rejections, key=lambda r: r.source_row):
        cells = result.rejected_cells.get(r.source_row)
        index = positions.get(r.column) if r.column else None
        out.append(
            RejectedRow(
                r.source_row,
                tuple(cell(c) for c in cells) if cells is not None else ("",) * width,
                r.column,
                index,
                cell(r.value),
                r.reason,
                _kind(r.reason),
            )
        )
    return out


def validate_job(w: Wizard, fixed: set[int] | None = None) -> web.HTTPSeeOther:
    info, choice = w.file, w.mapping
    assert info is not None and choice is not None
    out = w.output_dir("validate")
    job = Job("validate", f"Checking every row of {info.label}", "/validate", cancellable=False)
    job.context["fixed"] = sorted(fixed or ())

    def work(job: Job) -> Any:
        job.phase = "reading and checking every row (offline)"
        for name in ("rejected.xlsx", "report.html"):
            (out / name).unlink(missing_ok=True)
        result = lib.check_file(
            info.path,
            sheet=info.sheet,
            rejected=out / "rejected.xlsx",
            report=out / "report.html",
            **choice.kwargs(),
        )
        if not job.cancel.is_set() and w.file is info and w.mapping is choice:
            w.checked = result
        return result

    return start(w, job, work)


@routes.get("/validate")
async def validate_page(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping")
    assert w.file is not None and w.mapping is not None
    if w.checked is None:
        if w.busy():
            raise web.HTTPSeeOther("/job")
        return page(request, "validate_start.html", title="Validate", step="/validate", w=w)
    rows = rejected_rows(w.file, w.checked)
    kind = request.query.get("kind", "")
    kinds = Counter(r.kind for r in rows)
    shown = [r for r in rows if not kind or r.kind == kind]
    fixed = []
    job = w.job
    if job is not None and job.kind == "validate" and job.context.get("fixed"):
        still = {r.source_row: r for r in rows}
        fixed = [(n, still.get(n)) for n in job.context["fixed"]]
    groups = Counter(
        (r.column_index, r.column, r.value) for r in rows if r.column_index is not None
    )
    return page(
        request,
        "validate.html",
        title="Validate",
        step="/validate",
        w=w,
        c=w.checked,
        p=paged(shown, request),
        kinds=kinds.most_common(),
        kind=kind,
        kept=len(w.checked.rejected_cells),
        fixed=fixed,
        groups=[(k, n) for k, n in groups.most_common() if n > 1],
        per_user=sorted(w.checked.seconds_per_user.items()),
    )


@routes.post("/validate")
async def validate_post(request: web.Request) -> web.StreamResponse:
    """Validate the file (again)."""
    w = need(request, "file", "mapping")
    w.checked = None
    raise validate_job(w)


def corrected_name(original: Path) -> str:
    ext = ".csv" if original.suffix.lower() in (".csv", ".tsv", ".txt") else ".xlsx"
    if original.suffix.lower() in (".tsv", ".txt"):
        ext = original.suffix.lower()
    return f"{original.stem}.corrected{ext}"


@routes.post("/validate/fix")
async def fix_post(request: web.Request) -> web.StreamResponse:
    """Apply the fixes of the form: ``fix:ROW:COL`` = new text, or ``all:COL`` + ``from`` +
    ``to`` for every rejected cell of that column holding ``from``."""
    w = need(request, "file", "mapping")
    assert w.file is not None and w.checked is not None
    data = await request.post()
    new: dict[int, dict[int, str]] = {}
    rows = rejected_rows(w.file, w.checked)
    for key, value in data.items():
        if key.startswith("fix:") and isinstance(value, str):
            _, row_text, col_text = key.split(":")
            row, col = int(row_text), int(col_text)
            before = next((r for r in rows if r.source_row == row), None)
            if before is not None and before.cells[col] != value:
                new.setdefault(row, {})[col] = value
    if "all_col" in data:
        column = int(str(data["all_col"]))
        old, to = str(data.get("from", "")), str(data.get("to", ""))
        for r in rows:
            if r.column_index == column and r.value == old:
                new.setdefault(r.source_row, {})[column] = to
    if not new:
        raise web.HTTPSeeOther("/validate")
    original = w.file.corrected_from or w.file.path
    for row, cells in new.items():
        w.edits.setdefault(row, {}).update(cells)
    target = w.upload_path(corrected_name(original))
    sheet = None if w.file.corrected_from else w.file.sheet
    choice, edits = w.mapping, {r: dict(c) for r, c in w.edits.items()}
    assert choice is not None
    label = f"{Path(original).name} (corrected: {len(edits)} row(s) fixed)"
    job = Job(
        "validate", "Writing the corrected copy and checking it", "/validate", cancellable=False
    )
    job.context["fixed"] = sorted(new)
    kept_edits = w.edits

    def work(job: Job) -> Any:
        job.phase = "writing the corrected copy (your file is not changed)"
        lib.write_corrected(original, target, edits=edits, sheet=sheet)
        table = lib.inspect_table(target)
        info = FileInfo(target, label, table, w.file.detection if w.file else None, original)
        job.phase = "checking every row of the corrected copy"
        out = w.output_dir("validate")
        result = lib.check_file(
            target, rejected=out / "rejected.xlsx", report=out / "report.html", **choice.kwargs()
        )
        if not job.cancel.is_set():  # "Stop waiting" drops the result
            w.file, w.edits, w.checked, w.dry_run = info, kept_edits, result, None
        return result

    raise start(w, job, work)


@routes.get("/validate/corrected")
async def corrected_download(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    if w.file is None or w.file.corrected_from is None:
        raise web.HTTPNotFound(text="no corrected copy: fix a cell on the Validate page first")
    return web.FileResponse(
        w.file.path,
        headers={
            "Content-Disposition": f'attachment; filename="{corrected_name(w.file.corrected_from)}"'
        },
    )


@routes.get("/validate/{name:rejected.xlsx|report.html}")
async def validate_download(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    c = w.checked
    path = None
    if c is not None:
        path = c.rejected_path if request.match_info["name"] == "rejected.xlsx" else c.report_path
    if path is None or not path.exists():
        raise web.HTTPNotFound(text="no such file: validate the file first")
    if path.suffix == ".html":
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})
    stem = w.file.path.stem if w.file else "file"
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{stem}.rejected.xlsx"'}
    )
