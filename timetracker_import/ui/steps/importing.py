"""Step 6, Import: prepare (the library reads, resolves and plans the run), confirm with the
run's own numbers (rows, hours, users: what this run will create, after a cancel or a
restart too), then live progress with Cancel; the result with Resume and Undo."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from timetracker_import.ui.render import page
from timetracker_import.ui.state import Job, Wizard
from timetracker_import.ui.steps.common import need, start, wizard
from timetracker_import.ui.steps.dryrun import counts, plan_context, run_import

routes = web.RouteTableDef()
DECLINED = "import cancelled; nothing was sent"


def import_job(w: Wizard) -> web.HTTPSeeOther:
    job = Job("import", "Importing into 7pace", "/import/result")
    job.context["who"] = f"{w.connection.name} <{w.connection.email}>" if w.connection else ""
    job.context["dry_run"] = w.dry_run

    def work(job: Job) -> Any:
        job.phase = "reading the file and planning what to create"
        return run_import(w, job, dry_run=False)

    redirect = start(w, job, work)
    w.last_import = w.job
    return redirect


@routes.get("/import")
async def import_page(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping", "connection")
    if w.busy() and w.job is not None and w.job.kind == "import":
        raise web.HTTPSeeOther("/job")
    if w.dry_run is None:
        raise web.HTTPSeeOther("/dryrun")
    last = w.last_import
    done = (
        last is not None
        and last.context.get("dry_run") is w.dry_run
        and last.result is not None
        and not last.result.counts.unprocessed
    )
    return page(
        request,
        "import.html",
        title="Import",
        step="/import",
        w=w,
        c=counts(w.dry_run),
        done=done,
        last=last,
    )


@routes.post("/import/start")
async def import_start(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping", "connection")
    if w.dry_run is None:
        raise web.HTTPSeeOther("/dryrun")
    raise import_job(w)


@routes.get("/import/result")
async def import_result(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.last_import
    if job is None:
        raise web.HTTPSeeOther("/import")
    if not job.finished.is_set():
        raise web.HTTPSeeOther("/job")
    if job.result is None:
        declined = job.error is not None and job.error[0] == DECLINED
        title = "Import not started" if declined or job.cancelled else "Import stopped"
        return page(
            request,
            "import_failed.html",
            title=title,
            step="/import",
            job=job,
            declined=declined,
            error=None if declined or job.cancelled else job.error,
        )
    result = job.result
    c = counts(result)
    title = "Import stopped" if c["unprocessed"] else "Import finished"
    return page(
        request,
        "import_result.html",
        title=title,
        step="/import",
        w=w,
        job=job,
        late_cancel=job.cancel.is_set() and not c["unprocessed"],
        **plan_context(request, result),
    )
