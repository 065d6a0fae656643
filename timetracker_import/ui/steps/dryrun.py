"""Step 5, Dry run: the server checks every row (``validateOnly``), nothing is created. The
plan: counts that balance, unknown users with one-click aliases, rows in locked weeks,
identical rows, rows already in 7pace, other flags, hours per user and week folded by
month, and the rejected rows page by page. Runs as a job with progress and Cancel."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import UsageError
from timetracker_import.ui import mapping_form as mf
from timetracker_import.ui.render import cell, page, paged
from timetracker_import.ui.state import Job, Wizard
from timetracker_import.ui.steps.common import need, start

routes = web.RouteTableDef()

#: what the dry run's "identical rows" list says happens to the later copy
COPY_FATE = {
    "skip": "the copy is skipped (counted as skipped, not sent)",
    "allow": "both are imported; delete one from your file if it is a copy",
    "fail": "the copy is rejected",
}
RUN_FILES = {
    "report.html": "HTML report",
    "created.csv": "created worklog ids (CSV)",
    "rejected.csv": "rejected rows (CSV)",
    "rejected.xlsx": "rejected rows (XLSX)",
    "mapping.yaml": "mapping (YAML)",
}


def counts(result: Any) -> dict[str, int]:
    c = result.counts
    return {
        k: int(getattr(c, k))
        for k in ("rows", "created", "already_existing", "rejected", "unprocessed", "skipped")
    }


def run_files(run_dir: Path) -> dict[str, str]:
    """name -> label of the downloadable files in a run folder."""
    return {n: label for n, label in RUN_FILES.items() if (run_dir / n).is_file()}


def keep(run_dir: Path, source: Path, name: str) -> None:
    """Move a file we wrote next to the run's journal (private, like the journal)."""
    if source.exists():
        target = run_dir / name
        shutil.move(str(source), target)
        os.chmod(target, 0o600)


def run_import(w: Wizard, job: Job, *, dry_run: bool) -> Any:
    """The library's import (or dry run) of the wizard's file, followed by ``job``."""
    info, choice, who = w.file, w.mapping, w.connection
    assert info is not None and choice is not None and who is not None
    out = w.output_dir("dryrun" if dry_run else "import")
    report = out / "report.html"
    report.unlink(missing_ok=True)
    result = lib.import_file(
        info.path,
        sheet=info.sheet,
        connection=who.settings,
        dry_run=dry_run,
        report=report,
        progress=job.progress,
        cancel=job.cancel,
        confirm=None if dry_run else job.ask,
        **choice.kwargs(),
    )
    if not hasattr(result, "run_dir"):  # split by organization (a RoutedResult)
        raise UsageError(
            "this file names several organizations; the web app imports into one",
            hint="import it on the command line (timetracker-import import), which splits it",
        )
    keep(result.run_dir, report, "report.html")
    if not choice.preset:
        (result.run_dir / "mapping.yaml").write_text(choice.yaml_text(), encoding="utf-8")
    return result


def dryrun_job(w: Wizard) -> web.HTTPSeeOther:
    job = Job("dryrun", "Dry run: 7pace checks every row", "/dryrun")

    def work(job: Job) -> Any:
        job.phase = "reading the file and asking 7pace about users and locked weeks"
        result = run_import(w, job, dry_run=True)
        if not job.cancel.is_set():
            w.dry_run = result
        return result

    return start(w, job, work)


@dataclass(frozen=True)
class UnknownUser:
    """A user name the server does not know, its rows and the close matches."""

    value: str
    rows: tuple[int, ...]
    suggestions: tuple[str, ...]


_SUGGESTED = re.compile(r"'([^']+)'")


def unknown_users(rejections: Any) -> list[UnknownUser]:
    rows: dict[str, list[int]] = {}
    suggestions: dict[str, tuple[str, ...]] = {}
    for r in rejections:
        if r.stage != "resolve" or not r.reason.startswith("unknown user") or not r.value:
            continue
        rows.setdefault(r.value, []).append(r.source_row)
        _, _, tail = r.reason.partition("did you mean ")
        suggestions[r.value] = tuple(_SUGGESTED.findall(tail))
    return [UnknownUser(v, tuple(rows[v]), suggestions[v]) for v in rows]


@dataclass(frozen=True)
class Month:
    """The hours per user of the weeks starting in one month."""

    label: str
    weeks: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...], int], ...]  # user, seconds per week, total
    totals: tuple[int, ...]
    total: int


def months(grid: Any) -> list[Month]:
    """The user x week grid folded by the month of each week's Monday."""
    if grid is None or not grid.rows:
        return []
    groups: dict[str, list[int]] = {}
    for i, week in enumerate(grid.weeks):
        year, number = week.split("-W")
        monday = dt.date.fromisocalendar(int(year), int(number), 1)
        groups.setdefault(monday.strftime("%B %Y"), []).append(i)
    out = []
    for label, idx in groups.items():
        rows = []
        for r in grid.rows:
            secs = tuple(r.seconds[i] for i in idx)
            if any(secs):
                rows.append((r.user or "(the token's own user)", secs, sum(secs)))
        totals = tuple(grid.week_totals[i] for i in idx)
        out.append(
            Month(label, tuple(grid.weeks[i] for i in idx), tuple(rows), totals, sum(totals))
        )
    return out


def plan_context(request: web.Request, result: Any) -> dict[str, Any]:
    """What a dry run or import result shows."""
    report = result.report
    flags = [
        f
        for f in (report.flags if report else ())
        if f.count and f.code not in ("locked_week", "duplicate_skipped")
    ]
    rejections = sorted(result.rejections, key=lambda r: r.source_row)
    return {
        "result": result,
        "c": counts(result),
        "unknown": unknown_users(result.rejections),
        "locked": [r for r in rejections if r.stage == "preflight"],
        "duplicates": sorted(result.in_file_duplicates.items()),
        "fate": COPY_FATE.get(result.on_duplicate, ""),
        "flags": flags,
        "months": months(report.grid if report else None),
        "grid_total": report.grid.total_seconds if report else 0,
        "p": paged(rejections, request),
        "files": run_files(result.run_dir),
        "halt": (result.halt_reason + (f": {result.halt_message}" if result.halt_message else ""))
        if result.halt_reason
        else None,
        "cell": cell,
    }


@routes.get("/dryrun")
async def dryrun_page(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping", "connection")
    if w.dry_run is None:
        if w.busy() and w.job is not None and w.job.kind == "dryrun":
            raise web.HTTPSeeOther("/job")
        return page(request, "dryrun_start.html", title="Dry run", step="/dryrun", w=w)
    return page(
        request,
        "dryrun.html",
        title="Dry run",
        step="/dryrun",
        w=w,
        **plan_context(request, w.dry_run),
    )


@routes.post("/dryrun")
async def dryrun_post(request: web.Request) -> web.StreamResponse:
    """Start a (new) dry run."""
    w = need(request, "file", "mapping", "connection")
    w.dry_run = None
    raise dryrun_job(w)


@routes.post("/dryrun/alias")
async def dryrun_alias(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping", "connection")
    assert w.mapping is not None
    data = await request.post()
    value, target = str(data.get("value") or ""), str(data.get("target") or "")
    if not value or not target:
        raise web.HTTPSeeOther("/dryrun")
    w.set_mapping(mf.with_alias(w.mapping, value, target))
    raise dryrun_job(w)
