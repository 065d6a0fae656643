"""Runs: every journaled run (the web app's and the command line's) with its counts, one
run's details and files, Resume, and Undo (a paged confirmation from the journal, then the
deletion as a job)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import UsageError
from timetracker_import.ui.mapping_form import MappingChoice
from timetracker_import.ui.render import page, paged
from timetracker_import.ui.state import FileInfo, Job
from timetracker_import.ui.steps.common import start, wizard
from timetracker_import.ui.steps.dryrun import run_files

routes = web.RouteTableDef()


def counts_text(run: lib.RunOverview) -> str:
    """The run's counts in words (a sync's with its own outcomes)."""
    c = run.counts
    if not c:
        return "-"
    if run.kind == "dry run":
        return (f"dry run: would create {c.get('created', 0):,}, rejected {c.get('rejected', 0):,}"
                f", already in 7pace {c.get('already_existing', 0):,} (rows {c.get('rows', 0):,})")  # fmt: skip
    if run.kind != "import":
        shown = [f"{k.replace('_', ' ')} {v:,}" for k, v in c.items() if v and k != "balanced"]
        return f"{run.kind}: " + (", ".join(shown) or "nothing")
    undone = f" (undone: {run.undone:,} deleted)" if run.undone else ""
    return (f"rows {c.get('rows', 0):,}: created {c.get('created', 0):,}, already in 7pace "
            f"{c.get('already_existing', 0):,}, rejected {c.get('rejected', 0):,}, not sent "
            f"{c.get('unprocessed', 0):,}{undone}")  # fmt: skip


def mapping_label(run: lib.RunOverview) -> str:
    if run.has_mapping_file and not (run.mapping or "").startswith("preset "):
        return "made in the web app (mapping.yaml)"
    return run.mapping or "-"


@routes.get("/runs")
async def runs_page(request: web.Request) -> web.StreamResponse:
    items = await asyncio.to_thread(lib.run_overviews)
    return page(request, "runs.html", title="Runs", step="/runs", p=paged(items, request),
                counts_text=counts_text, mapping_label=mapping_label, Path=Path)  # fmt: skip


@routes.get("/runs/{run_id}")
async def run_page(request: web.Request) -> web.StreamResponse:
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"])
    return page(request, "run.html", title=f"Run {run.run_id}", step="/runs", run=run,
                files=run_files(run.directory), counts_text=counts_text,
                mapping_label=mapping_label, p=paged(list(run.rejections), request))  # fmt: skip


@routes.get("/runs/{run_id}/undo")
async def undo_page(request: web.Request) -> web.StreamResponse:
    """The confirmation: what undo deletes, from the journal, page by page (nothing is asked
    of 7pace yet)."""
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"])
    if run.kind != "import":
        raise UsageError(f"run {run.run_id} is a {run.kind}, not an import",
                         hint="the web app undoes imports; undo other runs on the command line")  # fmt: skip
    created = await asyncio.to_thread(lib.created_rows, run.run_id)
    items = sorted(created.items(), key=lambda kv: (kv[1], kv[0]))
    return page(request, "undo.html", title=f"Undo run {run.run_id}", step="/runs", run=run,
                p=paged(items, request), connected=wizard(request).connection is not None,
                source=Path(run.input_path or "?").name)  # fmt: skip


@routes.post("/runs/{run_id}/undo")
async def undo_post(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["run_id"]
    w = wizard(request)
    if w.connection is None:
        raise web.HTTPSeeOther(f"/connect?next=/runs/{run_id}/undo")
    settings = w.connection.settings
    check = (await request.post()).get("check") == "1"
    kind = "undo-check" if check else "undo"
    title = f"{'Checking what undo would delete' if check else 'Undoing'} run {run_id}"
    job = Job(kind, title, f"/runs/{run_id}/undone", cancellable=False)

    def work(job: Job) -> Any:
        job.phase = ("reading each worklog from 7pace (edited ones are kept)" if check
                     else "deleting the worklogs (edited ones are kept)")  # fmt: skip
        outcome = lib.undo_run(run_id, connection=settings, dry_run=check)
        if outcome.report is None:
            raise UsageError(f"run {run_id} is not an import",
                             hint="undo it on the command line")  # fmt: skip
        if not check:
            w.dry_run = None  # 7pace changed: a new dry run is needed
        return outcome

    raise start(w, job, work)


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
    return page(request, "undone.html", title=f"Undo run {run_id}", step="/runs",
                run_id=run_id, report=report, p=paged(items, request),
                dry_run=job.kind == "undo-check")  # fmt: skip


@routes.post("/runs/{run_id}/resume")
async def resume_post(request: web.Request) -> web.StreamResponse:
    """Choose the run's file and mapping again; the next import resumes the run."""
    w = wizard(request)
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"])
    path = Path(run.input_path or "")
    if not run.input_path or not path.is_file():
        raise UsageError(f"the file of run {run.run_id} is no longer at {run.input_path}",
                         hint="choose the file again on the File page; the import resumes by itself")  # fmt: skip
    if run.mapping and run.mapping.startswith("preset "):
        choice = MappingChoice(preset=run.mapping.removeprefix("preset "))
    elif run.has_mapping_file:
        data = yaml.safe_load((run.directory / "mapping.yaml").read_text(encoding="utf-8"))
        choice = MappingChoice(data=data, based_on=f"the mapping of run {run.run_id}")
    elif run.mapping and Path(run.mapping).is_file():
        data = yaml.safe_load(Path(run.mapping).read_text(encoding="utf-8"))
        choice = MappingChoice(data=data, based_on=run.mapping)
    else:
        raise UsageError(f"the mapping of run {run.run_id} ({run.mapping}) is not at hand",
                         hint="choose the file and mapping again; the import resumes by itself")  # fmt: skip
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
    run = await asyncio.to_thread(lib.run_overview, request.match_info["run_id"])
    if name not in run_files(run.directory):
        raise web.HTTPNotFound(text=f"run {run.run_id} has no file {name}")
    path = run.directory / name
    if name == "report.html":
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{run.run_id}-{name}"'}
    )
