"""Sync: keep 7pace equal to a file that is exported again and again (``library.sync_file``,
docs/sync.md). The setup (file, mapping, id column, source, period, time zone, deleting and
the deletion guard's limit; saved and used again), the plan (the same library call with
``dry_run=True``: every create, change, delete, conflict, held and kept worklog, rejected
row and the hours per user and week before -> after; the guard's verdict with "Allow N
deletions and plan again"), then Apply as a job with progress and Cancel that syncs exactly
the days the plan showed and asks first when 7pace changed since. Undo is on the Runs page."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui.render import hours, page, paged
from timetracker_import.ui.state import Job, Wizard
from timetracker_import.ui.steps.common import start, values, wizard
from timetracker_import.ui.steps.file import regular_file
from timetracker_import.ui.steps.mapping import zone_names
from timetracker_import.ui.sync_form import (
    LIMITS,
    RELATIVE,
    SyncSetup,
    form_of,
    setup_from,
    setup_from_data,
)

routes = web.RouteTableDef()

#: where the zone and the period came from, in the page's words
ZONE_ORIGIN = {
    "--timezone": "chosen on the Sync page",
    "mapping": "from the mapping",
    "machine": "this machine's zone",
}
PERIOD_ORIGIN = {"--window": "chosen on the Sync page"}
DECLINED = "sync cancelled; nothing was sent"


@dataclass(frozen=True)
class Numbers:
    """What a sync creates, changes and deletes (the plan's, or the real run's now)."""

    creates: int
    updates: int
    deletes: int


@dataclass(frozen=True)
class SyncPlan:
    """A setup and its plan (the library's dry-run ``SyncResult``); ``allow``: the deletions
    allowed for this sync only (a number, or ``"all"``: every deletion, what a file with no
    usable row needs); ``today``: the day that gives the plan's period again."""

    setup: SyncSetup
    result: Any
    allow: int | str | None = None
    today: dt.date | None = None

    @property
    def numbers(self) -> Numbers:
        r = self.result
        # a create the server refused in the plan is still tried by the real run
        refused = sum(1 for j in r.rejections if j.stage == "server")
        return Numbers(len(r.creates) + refused, r.counts.updated, len(r.deletes))

    @property
    def stopped(self) -> bool:
        """The real run would stop before its first write: the deletion guard, or the first
        sync of a source that lies on another source's worklogs (a renamed feed)."""
        g = self.result.guard
        return (g is not None and not g.allowed) or self.result.renamed_from is not None

    def kwargs(self) -> dict[str, Any]:
        kw = self.setup.kwargs()
        if self.allow is not None:
            kw["max_delete"] = str(self.allow)
        return kw


def local(stamp: Any, zone: str) -> str:
    """A UTC stamp as the declared zone's local time ("2026-11-02 09:00")."""
    if not stamp:
        return ""
    text = str(stamp).replace("Z", "+00:00")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return str(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
        when = when.astimezone(zoneinfo.ZoneInfo(zone))
    return when.strftime("%Y-%m-%d %H:%M" if not when.second else "%Y-%m-%d %H:%M:%S")


def shown(name: str, value: Any, zone: str) -> str:
    """A worklog field's value as a person reads it."""
    if value is None or value == "":
        return "(empty)"
    low = name.lower()
    if "length" in low and isinstance(value, int | float):
        return hours(value)
    if low in ("timestamp", "start"):
        return local(value, zone)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(k, v, zone)}" for k, v in value.items())
    return str(value)


def monday(stamp: Any, zone: str) -> str:
    day = local(stamp, zone)[:10]
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        return day
    return (d - dt.timedelta(days=d.weekday())).isoformat()


def guard_table(result: Any, zone: str) -> list[tuple[str, str, int]]:
    """What the plan deletes per user and week (user, Monday, count)."""
    per: dict[tuple[str, str], int] = {}
    for d in result.deletes:
        k = (str(d.get("user") or d.get("user_id") or "?"), monday(d.get("timestamp"), zone))
        per[k] = per.get(k, 0) + 1
    return [(u, w, n) for (u, w), n in sorted(per.items())]


def hour_rows(result: Any) -> list[tuple[str, str, float, float]]:
    out = []
    for k, v in result.hours.items():
        user, _, week = k.partition("|")
        out.append((user, week, v["before"], v["after"]))
    return out


# --------------------------------------------------------------------------- setup


def render_setup(
    request: web.Request,
    *,
    error: tuple[str, str | None] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    w = wizard(request)
    if form is None:
        form = dict(w.sync_setup.form) if w.sync_setup is not None else {}
    kept = w.sync_setup.mapping if w.sync_setup is not None else None
    headers = list(w.file.headers) if w.file is not None else []
    return page(
        request,
        "sync.html",
        title="Sync",
        step="/sync",
        error=error,
        status=status,
        form=form,
        w=w,
        presets=lib.presets(),
        saved=lib.saved_mappings(),
        setups=lib.saved_sync_setups(),
        relative=RELATIVE,
        limits=LIMITS,
        headers=headers,
        kept_mapping=kept,
        plan=w.sync_plan,
        zones=zone_names(),
    )


@routes.get("/sync")
async def sync_page(request: web.Request) -> web.StreamResponse:
    return render_setup(request)


def plan_job(w: Wizard, setup: SyncSetup, allow: int | str | None = None) -> web.HTTPSeeOther:
    """Plan ``setup``: the library's sync with ``dry_run=True`` (nothing is written)."""
    assert w.connection is not None
    settings = w.connection.settings
    job = Job("sync-plan", "Planning the sync: nothing is written", "/sync/plan")

    def work(job: Job) -> SyncPlan:
        job.phase = "reading the file and what 7pace holds in the period"
        kw = setup.kwargs()
        if allow is not None:
            kw["max_delete"] = str(allow)
        result = lib.sync_file(
            setup.path, connection=settings, dry_run=True, cancel=job.cancel, **kw
        )
        period = result.period
        today = None if period is None else lib.period_today(period.spec, period.first, period.last)
        plan = SyncPlan(setup, result, allow, today)
        if not job.cancel.is_set():
            w.sync_plan = plan
        return plan

    w.sync_plan = None
    return start(w, job, work)


@routes.post("/sync")
async def sync_post(request: web.Request) -> web.StreamResponse:
    """Plan the setup the form describes, or save it under a name."""
    w = wizard(request)
    form = values(await request.post())
    file = (w.file.path, w.file.label, w.file.sheet) if w.file is not None else None
    kept = w.sync_setup.mapping if w.sync_setup is not None else None
    try:
        setup = setup_from(form, file=file, mapping=w.mapping, regular_file=regular_file, kept=kept)
        if form.get("action") == "save":
            name = form.get("save_name", "").strip()
            if not name:
                raise UsageError(
                    "no name to save the setup under", hint="type a name, e.g. payroll weekly"
                )
            lib.save_sync_setup(name, setup.to_data(), overwrite=form.get("replace") == "1")
            w.sync_setup = replace(setup, name=name)
            return page(
                request,
                "sync_saved.html",
                title="Sync",
                step="/sync",
                name=name,
                notice=f"Saved the setup {name!r}: choose it again with “Use”.",
            )
    except TimetrackerError as exc:
        return render_setup(request, error=(exc.message, exc.hint), form=form, status=400)
    w.sync_setup = setup
    if w.connection is None:
        raise web.HTTPSeeOther("/connect?next=/sync")
    raise plan_job(w, setup)


@routes.post("/sync/use")
async def sync_use(request: web.Request) -> web.StreamResponse:
    """Fill the form from a saved setup."""
    w = wizard(request)
    name = str((await request.post()).get("name") or "")
    try:
        setup = setup_from_data(name, lib.saved_sync_setup(name), regular_file)
    except TimetrackerError as exc:
        return render_setup(request, error=(exc.message, exc.hint), status=400)
    w.sync_setup = replace(setup, form=form_of(setup))
    w.sync_plan = None
    raise web.HTTPSeeOther("/sync")


# --------------------------------------------------------------------------- plan


def plan_context(request: web.Request, result: Any) -> dict[str, Any]:
    """What a plan (or an applied sync's result) shows, every list paged."""
    zone = str(result.timezone.get("name") or "UTC")
    rejections = sorted(result.rejections, key=lambda r: r.source_row)
    return {
        "r": result,
        "zone": zone,
        "zone_origin": ZONE_ORIGIN.get(str(result.timezone.get("source")), "from the mapping"),
        "period_origin": None
        if result.period is None
        else PERIOD_ORIGIN.get(result.period.origin, "from the mapping"),
        "guard_rows": guard_table(result, zone),
        "creates": paged(result.creates, request, "creates"),
        "changes": paged(result.changes, request, "changes"),
        "deletes": paged(result.deletes, request, "deletes"),
        "conflicts": paged(result.conflicts, request, "conflicts"),
        "held": paged(result.held, request, "held"),
        "kept": paged(result.kept, request, "kept"),
        "rejected": paged([j for j in rejections if j.stage != "conflict"], request, "rejected"),
        "hours_rows": paged(hour_rows(result), request, "hours"),
        "local": local,
        "shown": shown,
    }


@routes.get("/sync/plan")
async def plan_page(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    plan = w.sync_plan
    if plan is None:
        if w.busy() and w.job is not None and w.job.kind == "sync-plan":
            raise web.HTTPSeeOther("/job")
        raise web.HTTPSeeOther("/sync")
    return page(
        request,
        "sync_plan.html",
        title="Sync: the plan",
        step="/sync",
        plan=plan,
        setup=plan.setup,
        n=plan.numbers,
        allow=plan.allow,
        **plan_context(request, plan.result),
    )


@routes.post("/sync/allow")
async def sync_allow(request: web.Request) -> web.StreamResponse:
    """ "Allow N deletions and plan again", or "Allow every deletion" for a file none of
    whose rows can be used (for this sync only; the saved setup keeps its limit)."""
    w = wizard(request)
    plan = w.sync_plan
    if plan is None or w.connection is None:
        raise web.HTTPSeeOther("/sync")
    given = str((await request.post()).get("allow") or "")
    if given == "all":
        raise plan_job(w, plan.setup, allow="all")
    try:
        allow = int(given)
    except ValueError:
        raise web.HTTPSeeOther("/sync/plan") from None
    raise plan_job(w, plan.setup, allow=max(0, allow))


@routes.post("/sync/replan")
async def sync_replan(request: web.Request) -> web.StreamResponse:
    """ "Plan again": the setup of the last plan, planned anew (the file and 7pace as they
    are now)."""
    w = wizard(request)
    if w.sync_setup is None:
        raise web.HTTPSeeOther("/sync")
    if w.connection is None:
        raise web.HTTPSeeOther("/connect?next=/sync")
    raise plan_job(w, w.sync_setup)


# --------------------------------------------------------------------------- apply


def apply_job(w: Wizard, plan: SyncPlan) -> web.HTTPSeeOther:
    """Apply ``plan``: the real sync of the same setup and the same days, with progress and
    Cancel; if it would now make other changes than the plan showed, it asks first."""
    assert w.connection is not None
    settings = w.connection.settings
    job = Job("sync", "Syncing with 7pace", "/sync/result", unit="changes made")
    job.context["planned"] = plan.numbers
    job.context["plan"] = plan

    def confirm(info: Any) -> bool:
        now = Numbers(info.creates, info.updates, info.deletes)
        if now == plan.numbers:
            return True
        return job.ask(now)

    def work(job: Job) -> Any:
        job.phase = "reading the file and what 7pace holds in the period"
        result = lib.sync_file(
            plan.setup.path,
            connection=settings,
            today=plan.today,
            confirm=confirm,
            cancel=job.cancel,
            progress=job.progress,
            **plan.kwargs(),
        )
        w.sync_plan = None  # 7pace changed: a new plan is needed
        w.dry_run = None
        return result

    redirect = start(w, job, work)
    w.last_sync = w.job
    return redirect


@routes.post("/sync/apply")
async def sync_apply(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    plan = w.sync_plan
    if plan is None:
        raise web.HTTPSeeOther("/sync")
    if w.connection is None:
        raise web.HTTPSeeOther("/connect?next=/sync")
    raise apply_job(w, plan)


@routes.get("/sync/result")
async def sync_result(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.last_sync
    if job is None:
        raise web.HTTPSeeOther("/sync")
    if not job.finished.is_set():
        raise web.HTTPSeeOther("/job")
    if job.result is None:
        declined = job.error is not None and job.error[0] == DECLINED
        title = "Sync not started" if declined or job.cancelled else "Sync stopped"
        return page(
            request,
            "sync_failed.html",
            title=title,
            step="/sync",
            job=job,
            declined=declined,
            error=None if declined else job.error,
            status=200 if declined or job.cancelled else 400,
        )
    result = job.result
    stopped = result.halt_reason is not None
    applied: SyncPlan = job.context["plan"]
    return page(
        request,
        "sync_result.html",
        step="/sync",
        job=job,
        stopped=stopped,
        setup=applied.setup,
        allow=applied.allow,
        title="Sync stopped" if stopped else "Sync finished",
        **plan_context(request, result),
    )
