"""The progress page every long step shares: live progress over server-sent events, Cancel,
an import's confirmation, and where to go when the work is over."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from timetracker_import.ui.render import page
from timetracker_import.ui.steps.common import wizard

routes = web.RouteTableDef()

#: the step a job belongs to (for the step bar and the Back link)
JOB_STEP = {
    "read": "/file",
    "convert": "/file",
    "validate": "/validate",
    "dryrun": "/dryrun",
    "import": "/import",
    "undo": "/runs",
    "undo-check": "/runs",
    "sync-plan": "/sync",
    "sync": "/sync",
}


@routes.get("/job")
async def job_page(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.job
    if job is None:
        raise web.HTTPSeeOther("/")
    step = JOB_STEP.get(job.kind, "/file")
    if job.finished.is_set():
        if job.kind in ("import", "sync") or (job.kind == "undo" and job.result is not None):
            raise web.HTTPSeeOther(job.next_url)  # the result page tells every outcome
        if job.error is not None and not job.cancelled:
            return page(
                request,
                "job_error.html",
                title=f"{job.title}: stopped",
                step=step,
                error=job.error,
                job=job,
                back=step,
                status=400,
            )
        if job.cancelled:
            return page(
                request,
                "job_error.html",
                title=f"{job.title}: cancelled",
                step=step,
                notice="Cancelled; nothing was changed.",
                job=job,
                back=step,
            )
        raise web.HTTPSeeOther(job.next_url)
    return page(request, "job.html", title=job.title, step=step, job=job)


def snapshot(job: object) -> dict[str, object]:
    from timetracker_import.ui.state import Job

    assert isinstance(job, Job)
    return {
        "done": job.done,
        "total": job.total,
        "unit": job.unit,
        "phase": job.phase,
        "elapsed": round(job.elapsed, 1),
        "confirm": job.confirm is not None and not job.answer.is_set(),
    }


@routes.get("/job/events")
async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``progress`` {done, total, phase, elapsed} every 0.3 s while
    something changes, ``confirm`` when an import waits for its confirmation, then ``done``
    {url}. A browser that leaves ends the stream quietly."""
    w = wizard(request)
    job = w.job
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    last = None
    try:
        while job is not None:
            now = snapshot(job)
            if now != last:
                event = "confirm" if now["confirm"] else "progress"
                await response.write(f"event: {event}\ndata: {json.dumps(now)}\n\n".encode())
                last = now
            if job.finished.is_set():
                break
            await asyncio.sleep(0.3)
        await response.write(b'event: done\ndata: {"url": "/job"}\n\n')
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the page was left or reloaded
    return response


@routes.post("/job/cancel")
async def job_cancel(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.job
    if job is not None and not job.finished.is_set():
        job.cancel.set()
        job.answer.set()  # an import waiting for its confirmation is declined
        await asyncio.to_thread(job.finished.wait, 60 if job.cancellable else 0.5)
        if not job.cancellable and not job.finished.is_set():
            job.cancelled = True
            w.job = None  # abandoned: its result is dropped
            raise web.HTTPSeeOther(JOB_STEP.get(job.kind, "/file"))
    raise web.HTTPSeeOther("/job")


@routes.post("/job/confirm")
async def job_confirm(request: web.Request) -> web.StreamResponse:
    """The import's confirmation: create the worklogs, or not."""
    w = wizard(request)
    job = w.job
    data = await request.post()
    if job is not None and job.confirm is not None and not job.answer.is_set():
        job.approved = data.get("answer") == "yes"
        if not job.approved:
            job.cancel.set()
        job.answer.set()
    raise web.HTTPSeeOther("/job")
