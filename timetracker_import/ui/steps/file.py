"""Step 1, File: upload a file or give its path; pick the sheet of a workbook; convert a
Jira issue export. Reading (and recognising) a big file runs as a job with progress."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePath
from urllib.parse import unquote

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui.render import page
from timetracker_import.ui.security import MULTIPART_READER
from timetracker_import.ui.state import FileInfo, Job, Wizard
from timetracker_import.ui.steps.common import problem, start, values, wizard

MAX_UPLOAD_MB = 50
MAX_UPLOAD = MAX_UPLOAD_MB * 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls")

routes = web.RouteTableDef()


def render(
    request: web.Request,
    *,
    error: tuple[str, str | None] | None = None,
    status: int = 200,
    kept: dict[str, str] | None = None,
) -> web.Response:
    w = wizard(request)
    return page(
        request,
        "file.html",
        title="Choose the file",
        step="/file",
        error=error,
        status=status,
        w=w,
        kept=kept or w.kept,
        max_mb=MAX_UPLOAD_MB,
        suffixes=",".join(UPLOAD_SUFFIXES),
    )


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    raise web.HTTPSeeOther(w.reachable()[-1] if w.file else "/file")


@routes.get("/file")
async def file_page(request: web.Request) -> web.StreamResponse:
    return render(request)


def regular_file(raw: str) -> Path:
    """The path a person typed, refused unless it is a regular file that is not a symbolic
    link (a link named ``.csv`` could point anywhere, e.g. a device or another user's
    file)."""
    if not raw:
        raise UsageError("no path given", hint="type the full path of the file")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise UsageError(
            f"{raw} is not a full path",
            hint="give the path from the root, e.g. /home/me/hours.xlsx",
        )
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file", hint="check the path, or upload the file"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot be read ({exc.strerror})", hint="check the path and its permissions"
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(
            f"{path} is a symbolic link; the app reads only regular files",
            hint="give the path of the file it points to",
        )
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(
            f"{path} is not a regular file", hint="give the path of a CSV or Excel file"
        )
    return path


def read_job(
    w: Wizard, path: Path, label: str, sheet: str | None, corrected_from: Path | None = None
) -> web.HTTPSeeOther:
    """Read the header row and recognise the layout in the background, then choose it."""
    job = Job("read", f"Reading {label}", "/mapping")

    def work(job: Job) -> FileInfo:
        job.phase = "reading the header row"
        table = lib.inspect_table(path, sheet=sheet)
        if job.cancel.is_set():
            return None  # type: ignore[return-value]
        job.phase = "recognising the layout from the first rows"
        detection = lib.detect_preset(path, sheet=table.sheet)
        info = FileInfo(path, label, table, detection, corrected_from)
        if not job.cancel.is_set():
            w.set_file(info)
            w.kept = {}
            if detection.jira_columns:
                job.next_url = "/file"
        return info

    return start(w, job, work)


async def _read_upload(request: web.Request, w: Wizard) -> tuple[Path, str, str]:
    """Stream an upload into the private uploads folder (refusing more than MAX_UPLOAD)."""
    reader = request.get(MULTIPART_READER) or await request.multipart()
    sheet, path, label = "", None, ""
    while (part := await reader.next()) is not None:
        name = getattr(part, "name", None)
        if name == "sheet":
            sheet = (await part.text()).strip()  # type: ignore[union-attr]
        elif name == "upload":
            # the name only (a browser may send a path; some clients percent-encode it)
            label = PurePath(unquote(getattr(part, "filename", None) or "upload")).name
            if not label.lower().endswith(UPLOAD_SUFFIXES):
                raise UsageError(
                    f"{label}: not a CSV or Excel file",
                    hint="upload a .csv, .tsv, .txt, .xlsx or .xls file",
                )
            path = w.upload_path(label)
            size = 0
            with path.open("wb") as fh:
                while chunk := await part.read_chunk(1 << 16):  # type: ignore[union-attr]
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        fh.close()
                        path.unlink()
                        raise UsageError(
                            f"{label} is larger than {MAX_UPLOAD_MB} MB",
                            hint="give its path on this machine instead (below the upload "
                            "box): a path has no size limit",
                        )
                    fh.write(chunk)
            if size == 0:
                path.unlink()
                raise UsageError(f"{label} is empty", hint="choose the file with the hours")
    if path is None:
        raise UsageError("no file was uploaded", hint="choose a file, then press Upload")
    return path, label, sheet


@routes.post("/file")
async def file_post(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    kept: dict[str, str] = {}
    try:
        if request.content_type == "multipart/form-data":
            path, label, sheet = await _read_upload(request, w)
        else:
            kept = values(await request.post())
            path = regular_file(kept.get("path", "").strip().strip('"'))
            label, sheet = str(path), kept.get("sheet", "").strip()
    except TimetrackerError as exc:
        return render(request, error=problem(exc), status=400, kept=kept)
    # shown again on the File page should reading it fail (the job's page leads back there)
    w.kept = {k: kept[k] for k in ("path", "sheet") if k in kept}
    raise read_job(w, path, label, sheet or None)


@routes.post("/file/sheet")
async def sheet_post(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    if w.file is None:
        raise web.HTTPSeeOther("/file")
    sheet = str((await request.post()).get("sheet") or "")
    if sheet not in w.file.table.sheets:
        return render(
            request,
            error=(f"the workbook has no sheet {sheet!r}", "pick one from the list"),
            status=400,
        )
    raise read_job(w, w.file.path, w.file.label, sheet, w.file.corrected_from)


@routes.post("/file/convert")
async def convert_post(request: web.Request) -> web.StreamResponse:
    """Convert the chosen Jira issue export into one row per worklog, and choose that."""
    w = wizard(request)
    if w.file is None:
        raise web.HTTPSeeOther("/file")
    source = w.file
    target = w.upload_path(f"{source.path.stem}.worklogs.csv")
    job = Job("convert", f"Converting {source.label}", "/mapping", cancellable=False)

    def work(job: Job) -> FileInfo:
        job.phase = "one row per worklog"
        result = lib.convert_jira(source.path, output=target, sheet=source.sheet)
        job.context["converted"] = (result.issues, result.worklogs, result.rejected)
        table = lib.inspect_table(result.output_path)
        detection = lib.detect_preset(result.output_path)
        label = f"{source.label} (converted: {result.worklogs} worklogs)"
        info = FileInfo(result.output_path, label, table, detection)
        if not job.cancel.is_set():  # "Stop waiting" drops the result
            w.set_file(info)
        return info

    raise start(w, job, work)
