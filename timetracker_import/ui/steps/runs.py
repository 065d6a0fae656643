"""Runs: every journaled run (the web app's and the command line's) with its counts exactly
as ``runs list`` prints them (``library.run_summaries``), one run's details and files,
Resume (imports), and Undo of any run kind (a paged confirmation from the journal, then a job
with "N of M changes undone" and Cancel; "Undo the rest" after a Cancel)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import UsageError
from timetracker_import.ui.mapping_form import MappingChoice
from timetracker_import.ui.render import page, paged
from timetracker_import.ui.state import FileInfo, Job, Wizard
from timetracker_import.ui.steps.common import start, wizard
from timetracker_import.ui.steps.dryrun import run_files

routes = web.RouteTableDef()


#: how the journal names a mapping the web app gave the library as data (a sync's)
GIVEN_AS_DATA = "mapping (given as data)"


def mapping_label(run: lib.RunOverview) -> str:
    if run.has_mapping_file and not (run.mapping or "").startswith("preset "):
        return "made in the web app (mapping.yaml)"
    if run.mapping == GIVEN_AS_DATA:
        return "made in the web app"
    return run.mapping or "-"


def file_label(run: lib.RunOverview, uploads: Path) -> str:
    """The run's file: its path, or for a file uploaded to the app its name (the app's
    private uploads folder is nobody's business)."""
    if not run.input_path:
        return "-"
    path = Path(run.input_path)
    return f"{path.name} (kept by the app)" if path.is_relative_to(uploads) else str(path)


def when(stamp: str | None) -> str:
    """A journal time (ISO, UTC) as a person reads it: 2026-12-05 11:31:44 UTC."""
    if not stamp:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.utcoffset() == dt.timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ", timespec="seconds")


@routes.get("/runs")
async def runs_page(request: web.Request) -> web.StreamResponse:
    items = await asyncio.to_thread(lib.run_overviews)
    return page(
        request,
        "runs.html",
        title="Runs",
        step="/runs",
        p=paged(items, request),
        mapping_label=mapping_label,
        Path=Path,
    )


@routes.get("/runs/{run_id}")
async def run_page(request: web.Request) -> web.StreamResponse:
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"])
    return page(
        request,
        "run.html",
        title=f"Run {run.run_id}",
        step="/runs",
        run=run,
        files=run_files(run.directory),
        mapping_label=mapping_label,
        file=file_label(run, wizard(request).uploads_root),
        started=when(run.started_at),
        finished=when(run.finished_at),
        p=paged(list(run.rejections), request),
    )


@routes.get("/runs/{run_id}/undo")
async def undo_page(request: web.Request) -> web.StreamResponse:
    """The confirmation: what undo reverses, from the journal, page by page (nothing is
    asked of 7pace yet)."""
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"], details=False)
    steps = await asyncio.to_thread(lib.undo_steps, run.run_id)
    only_deletes = all(s.what == "delete" for s in steps)
    connection = wizard(request).connection
    return page(
        request,
        "undo.html",
        title=f"Undo run {run.run_id}",
        step="/runs",
        run=run,
        p=paged(steps, request),
        connected=connection is not None,
        source=Path(run.input_path or "?").name,
        only_deletes=only_deletes,
        seconds=sum(s.seconds or 0 for s in steps),
        who=await user_names(connection),
        when=when,
        WHAT=UNDO_WHAT,
    )


async def user_names(connection: lib.Identity | None) -> dict[str, str]:
    """7pace's users by id (lowercased) as ``Name <email>``, to say whose worklogs undo
    touches; empty when not connected or 7pace does not answer within a few seconds (the
    page then shows the ids: it must not wait on 7pace)."""
    if connection is None:
        return {}
    try:
        found = await asyncio.wait_for(asyncio.to_thread(lib.users, connection.settings), 5)
    except Exception:  # unreachable, refused, slow: ids instead of names
        return {}
    names = {}
    for user in found:
        uid = str(user.get("id") or "").lower()
        name = str(user.get("displayName") or user.get("name") or "").strip()
        email = str(user.get("email") or user.get("uniqueName") or "").strip()
        if uid:
            names[uid] = f"{name} <{email}>" if name and email else name or email or uid
    return names


#: what undo does to each kind of change, in words
UNDO_WHAT = {
    "delete": "delete the worklog it created",
    "restore": "put the old values back",
    "re-create": "re-create the worklog it deleted (a new id)",
}


def undo_job(w: Wizard, run_id: str, *, check: bool) -> web.HTTPSeeOther:
    """Undo ``run_id`` (or, with ``check``, only see what undo would do) as a job with
    "N of M changes undone" and Cancel."""
    assert w.connection is not None
    settings = w.connection.settings
    kind = "undo-check" if check else "undo"
    title = f"{'Checking what undo would do for' if check else 'Undoing'} run {run_id}"
    job = Job(
        kind,
        title,
        f"/runs/{run_id}/undone",
        cancellable=True,
        unit="changes checked" if check else "changes undone",
    )

    def work(job: Job) -> Any:
        job.phase = (
            "reading each worklog from 7pace (edited ones are kept)"
            if check
            else "undoing the run's changes (edited ones are kept)"
        )
        outcome = lib.undo_run(
            run_id, connection=settings, dry_run=check, progress=job.progress, cancel=job.cancel
        )
        if not check:
            w.dry_run = None  # 7pace changed: a new dry run is needed
            w.sync_plan = None
        return outcome

    return start(w, job, work)


@routes.post("/runs/{run_id}/undo")
async def undo_post(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["run_id"]
    w = wizard(request)
    if w.connection is None:
        raise web.HTTPSeeOther(f"/connect?next=/runs/{run_id}/undo")
    check = (await request.post()).get("check") == "1"
    raise undo_job(w, run_id, check=check)


@routes.get("/runs/{run_id}/undone")
async def undone_page(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.job
    run_id = request.match_info["run_id"]
    if job is None or job.kind not in ("undo", "undo-check") or job.result is None:
        raise web.HTTPSeeOther(f"/runs/{run_id}")
    report = job.result.report
    created = await asyncio.to_thread(lib.created_rows, run_id)
    items = [(i, created.get(i)) for i in report.deleted]
    return page(
        request,
        "undone.html",
        title=f"Undo run {run_id}",
        step="/runs",
        run_id=run_id,
        report=report,
        p=paged(items, request),
        dry_run=job.kind == "undo-check",
    )


@routes.post("/runs/{run_id}/resume")
async def resume_post(request: web.Request) -> web.StreamResponse:
    """Choose the run's file and mapping again; the next import resumes the run."""
    w = wizard(request)
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"], details=False)
    if not run.can_resume:
        raise UsageError(
            f"run {run.run_id} is a {run.kind}; only an import that stopped is resumed",
            hint="a sync is run again from the Sync page",
        )
    path = Path(run.input_path or "")
    if not run.input_path or not path.is_file():
        raise UsageError(
            f"the file of run {run.run_id} is no longer at {run.input_path}",
            hint="choose the file again on the File page; the import resumes by itself",
        )
    if run.mapping and run.mapping.startswith("preset "):
        choice = MappingChoice(preset=run.mapping.removeprefix("preset "))
    elif run.has_mapping_file:
        data = yaml.safe_load((run.directory / "mapping.yaml").read_text(encoding="utf-8"))
        choice = MappingChoice(data=data, based_on=f"the mapping of run {run.run_id}")
    elif run.mapping and Path(run.mapping).is_file():
        data = yaml.safe_load(Path(run.mapping).read_text(encoding="utf-8"))
        choice = MappingChoice(data=data, based_on=run.mapping)
    else:
        raise UsageError(
            f"the mapping of run {run.run_id} ({run.mapping}) is not at hand",
            hint="choose the file and mapping again; the import resumes by itself",
        )
    table = await asyncio.to_thread(lib.inspect_table, path)
    w.set_file(FileInfo(path, path.name, table))
    w.set_mapping(choice)
    if w.connection is None:
        raise web.HTTPSeeOther("/connect")
    from timetracker_import.ui.steps.dryrun import dryrun_job

    raise dryrun_job(w)


@routes.get("/runs/{run_id}/files/{name}")
async def run_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"], details=False)
    if name not in run_files(run.directory):
        raise web.HTTPNotFound(text=f"run {run.run_id} has no file {name}")
    path = run.directory / name
    if name == "report.html":
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{run.run_id}-{name}"'}
    )
