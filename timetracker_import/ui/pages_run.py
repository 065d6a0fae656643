"""The wizard's pages that talk to 7pace: Connect, Dry run, Import (with live progress and
Cancel), the result with Undo, and the Runs history."""

from __future__ import annotations

import asyncio

from aiohttp import web

from timetracker_import.errors import Interrupted, TimetrackerError
from timetracker_import.ui import service
from timetracker_import.ui.html import e, form, hours, nav
from timetracker_import.ui.pages import csrf, need, problem, render, wizard
from timetracker_import.ui.state import ImportJob, Wizard

routes = web.RouteTableDef()

#: what the dry run's "identical rows" list says happens to the later copy
_COPY_FATE = {
    "skip": "the copy is skipped (counted as skipped, not sent)",
    "allow": "both are imported; delete one from your file if it is a copy",
    "fail": "the copy is rejected",
}


# --------------------------------------------------------------------------- Connect


def connect_body(request: web.Request) -> str:
    w = wizard(request)
    current = ""
    if w.connection is not None:
        c: service.Connected = w.connection
        current = (
            '<div class="notice" id="connected"><b>Connected</b> to '
            f"{e(c.where)} as <b>{e(c.who)}</b>; token <span class=secret>{e(c.token_label)}</span>. "
            '<a href="/dryrun">Go on to the dry run &rarr;</a></div>'
        )
    profiles = service.profiles()
    env_url = service.environment_url()
    choices = []
    if env_url:
        choices.append(
            '<label class="choice"><input type="radio" name="target" value="env" checked> '
            f"The server in $TIMETRACKER_URL: <code>{e(env_url)}</code></label>"
        )
    for name, url in profiles:
        choices.append(
            f'<label class="choice"><input type="radio" name="target" value="profile:{e(name)}"'
            f"{' checked' if not env_url and not choices else ''}> Profile <b>{e(name)}</b>"
            f" <span class=help>{e(url)}</span></label>"
        )
    choices.append(
        '<label class="choice"><input type="radio" name="target" value="url" id="target-url"'
        f"{' checked' if not choices else ''}> This server: "
        '<input name="url" size="44" placeholder="https://dev.azure.com/myorg" id="url"> '
        '<input name="collection" size="16" placeholder="collection (on-premises)"></label>'
    )
    inner = (
        "<fieldset><legend>Server</legend>" + "".join(choices) + "</fieldset>"
        "<fieldset><legend>API token</legend>"
        "<p class=help>Leave it empty to use the token the command line would use: "
        "$TIMETRACKER_TOKEN, the profile, or the one stored by <code>timetracker-import auth "
        "login</code> in the OS keyring. A token pasted here is used for this session only, "
        "unless you tick the box; it is never shown again, logged or written to the run "
        "folder.</p>"
        '<label>Token <input type="password" name="token" id="token" size="44" '
        'autocomplete="off" spellcheck="false"></label>'
        '<label><input type="checkbox" name="remember" value="1"> remember it in the OS '
        "keyring</label></fieldset>" + nav("/validate", "Check the connection")
    )
    return current + form("/connect", inner, csrf=csrf(request), form_id="connect")


def connect_problem(exc: TimetrackerError) -> tuple[str, str | None]:
    """The error with a fix in this page's terms (the CLI's hints name its options)."""
    from timetracker_import.errors import AuthError

    if exc.message == "no API token found":
        return exc.message, (
            "paste the token in the Token box (used for this session; tick the box to keep it "
            "in the OS keyring), or start the app with TIMETRACKER_TOKEN set"
        )
    if isinstance(exc, AuthError):
        return (
            exc.message,
            "paste a valid token: it is wrong, expired (tokens last one year) or lacks the rights",
        )
    return problem(exc)


@routes.get("/connect")
async def connect_page(request: web.Request) -> web.StreamResponse:
    return render(request, "Connect to 7pace", connect_body(request), step="/connect")


@routes.post("/connect")
async def connect_post(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    data = await request.post()
    target = str(data.get("target") or "url")
    kwargs: dict[str, object] = {
        "pasted": str(data.get("token") or ""),
        "remember": data.get("remember") == "1",
    }
    if target.startswith("profile:"):
        kwargs["profile"] = target.removeprefix("profile:")
    elif target == "url":
        kwargs["url"] = str(data.get("url") or "")
        kwargs["collection"] = str(data.get("collection") or "")
        if not kwargs["url"]:
            from timetracker_import.errors import UsageError

            exc = UsageError("no server URL given", hint="type the server's URL, or pick a profile")
            return render(request, "Connect to 7pace", connect_body(request), step="/connect",
                          error=problem(exc), status=400)  # fmt: skip
    next_page = data.get("next") or ""
    del data
    try:
        connected = await asyncio.to_thread(lambda: service.connect(**kwargs))  # type: ignore[arg-type]
    except TimetrackerError as exc:
        return render(request, "Connect to 7pace", connect_body(request), step="/connect",
                      error=connect_problem(exc), status=400)  # fmt: skip
    finally:
        kwargs.clear()  # the pasted token goes out of scope with the request
    w.connection = connected
    w.dry_run = None
    after = str(next_page)
    raise web.HTTPSeeOther(after if after.startswith("/runs/") else "/dryrun")


# --------------------------------------------------------------------------- Dry run


def counts_table(counts: dict[str, int], *, dry_run: bool) -> str:
    """rows = created + already existing + rejected + unprocessed (+ skipped)."""
    created = "would be created" if dry_run else "created"
    cols = [("rows", "rows"), ("created", created), ("already_existing", "already existing"),
            ("rejected", "rejected"), ("unprocessed", "unprocessed")]  # fmt: skip
    if counts.get("skipped"):
        cols.append(("skipped", "skipped"))
    head = "".join(f"<th>{e(label)}</th>" for _, label in cols)
    cells = "".join(f'<td data-count="{k}">{counts.get(k, 0)}</td>' for k, _ in cols)
    balance = " + ".join(str(counts.get(k, 0)) for k, _ in cols[1:])
    return (
        f'<table class="counts" id="counts"><thead><tr>{head}</tr></thead>'
        f"<tbody><tr>{cells}</tr></tbody></table>"
        f'<p class="help">Every row is in exactly one place: {counts.get("rows", 0)} = {balance}.</p>'
    )


def grid_table(grid: dict[str, object] | None) -> str:
    """Hours per user per ISO week."""
    if not grid or not grid.get("rows"):
        return ""
    weeks = list(grid.get("weeks") or [])  # type: ignore[call-overload]
    head = "<th>user</th>" + "".join(f'<th class="num">{e(w)}</th>' for w in weeks)
    body = []
    for row in grid["rows"]:  # type: ignore[attr-defined]
        cells = "".join(f'<td class="num">{hours(s) if s else ""}</td>' for s in row["seconds"])
        body.append(f"<tr><th>{e(row['user'])}</th>{cells}"
                    f'<td class="num"><b>{hours(row["total_seconds"])}</b></td></tr>')  # fmt: skip
    totals = "".join(f'<td class="num">{hours(s)}</td>' for s in grid["week_totals"])  # type: ignore[attr-defined]
    return (
        '<h2>Hours per user and week</h2><table class="grid" id="grid"><thead><tr>'
        f'{head}<th class="num">total</th></tr></thead><tbody>{"".join(body)}'
        f'<tr><th>total</th>{totals}<td class="num"><b>{hours(grid["total_seconds"])}</b></td>'  # type: ignore[arg-type]
        "</tr></tbody></table>"
    )


def problems_list(plan: service.Plan, request: web.Request) -> str:
    parts = []
    if plan.unknown_users:
        items = []
        for u in plan.unknown_users:
            rows = ", ".join(str(r) for r in u.rows)
            buttons = "".join(
                form(
                    "/dryrun/alias",
                    f'<input type="hidden" name="value" value="{e(u.value)}">'
                    f'<input type="hidden" name="target" value="{e(s)}">'
                    f'<button type="submit" class="secondary">It is {e(s)}</button>',
                    csrf=csrf(request),
                    cls="inline",
                )  # fmt: skip
                for s in u.suggestions
            )
            hint = (
                "If it is one of these users, add an alias: "
                if u.suggestions
                else "No 7pace user is close to it: fix the cell in your file."
            )
            items.append(
                f'<li class="unknown-user"><b>{e(u.value)}</b> (row {e(rows)}) is not a 7pace '
                f"user. {hint}{buttons}</li>"
            )
        parts.append(
            "<h2>Unknown users</h2><p class=help>An alias is added to the mapping (the user "
            "field's <code>map</code>; see Download mapping) and the dry run runs again.</p>"
            f'<ul id="unknown-users">{"".join(items)}</ul>'
        )
    if plan.locked:
        parts.append(
            "<h2>Rows in locked weeks</h2><p class=help>Approved or submitted weeks refuse new "
            "worklogs: these rows are rejected.</p><ul>"
            + "".join(f"<li>row {r.source_row}: {e(r.reason)}</li>" for r in plan.locked)
            + "</ul>"
        )
    if plan.in_file_duplicates:
        parts.append(
            '<h2>Identical rows within the file</h2><ul id="duplicates">'
            + "".join(
                f"<li>row {r} is identical to row {f}: {_COPY_FATE.get(plan.on_duplicate, '')}"
                "</li>"
                for r, f in sorted(plan.in_file_duplicates.items())
            )
            + "</ul>"
        )
    if plan.existing:
        parts.append(
            f"<h2>Already in 7pace</h2><p>{len(plan.existing)} row(s) match worklogs that exist "
            "already; they are not imported again.</p>"
        )
    flags = [f for f in plan.flags if f.get("code") not in ("locked_week", "duplicate_skipped")]
    if flags:
        parts.append(
            "<h2>Worth a look</h2><ul>"
            + "".join(
                f"<li>{e(f['title'])}: "
                + "; ".join(e(i.get("text", "")) for i in f.get("items", [])[:5])
                + "</li>"
                for f in flags
            )
            + "</ul>"
        )
    return "".join(parts)


def rejections_table(plan: service.Plan) -> str:
    if not plan.rejections:
        return ""
    rows = [
        f'<tr data-kind="{e(r.kind)}"><td>{r.source_row}</td><td>{e(r.stage)}</td>'
        f"<td>{e(r.column or '')}</td><td>{e(_cell_of(plan, r))}</td>"
        f'<td class="reason">{e(r.reason)}</td></tr>'
        for r in plan.rejections
    ]
    return (
        '<h2>Rejected rows</h2><div class="scroll"><table id="plan-rejected"><thead><tr>'
        "<th>row</th><th>stage</th><th>column</th><th>value</th><th>problem</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cell_of(plan: service.Plan, r: service.RejectedRow) -> str:
    return r.cells[r.column_index] if r.column_index is not None else ""


def run_links(plan: service.Plan) -> str:
    labels = {"report.html": "HTML report", "report.json": "report (JSON)",
              "created.csv": "created worklog ids (CSV)", "rejected.csv": "rejected rows (CSV)",
              "rejected.xlsx": "rejected rows (XLSX)", "mapping.yaml": "mapping (YAML)"}  # fmt: skip
    links = [
        f'<a class="button secondary" href="/runs/{e(plan.run_id)}/files/{e(n)}" '
        f'id="file-{e(n.replace(".", "-"))}">{e(labels[n])}</a>'
        for n in plan.files
        if n in labels
    ]
    return f'<div class="actions">{"".join(links)}</div>' if links else ""


@routes.get("/dryrun")
async def dryrun_page(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping", "connection")
    w = wizard(request)
    assert w.file and w.mapping and w.connection
    if request.query.get("again"):
        w.dry_run = None
    if w.dry_run is None:
        try:
            w.dry_run = await asyncio.to_thread(
                service.run_import, w.file, w.mapping, w.connection, w.output_dir("dryrun"),
                dry_run=True,
            )  # fmt: skip
        except TimetrackerError as exc:
            return render(request, "Dry run", nav("/connect", None), step="/dryrun",
                          error=problem(exc), status=400)  # fmt: skip
    plan: service.Plan = w.dry_run
    c: service.Connected = w.connection
    body = (
        f"<p>The server at <b>{e(c.where)}</b> checked every row (<code>validateOnly</code>): "
        f"nothing was created. File <b>{e(w.file.label)}</b> with {e(w.mapping.label)}.</p>"
        + counts_table(plan.counts, dry_run=True)
        + (f'<div class="error"><p>{e(plan.halt)}</p></div>' if plan.halt else "")
        + problems_list(plan, request)
        + grid_table(plan.grid)
        + rejections_table(plan)
        + run_links(plan)
        + nav("/connect", "Review and import", next_href="/import")
    )
    return render(request, "Dry run", body, step="/dryrun")


@routes.post("/dryrun/alias")
async def dryrun_alias(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping", "connection")
    w = wizard(request)
    assert w.mapping is not None
    data = await request.post()
    value, target = str(data.get("value") or ""), str(data.get("target") or "")
    if not value or not target:
        raise web.HTTPSeeOther("/dryrun")
    w.set_mapping(service.with_alias(w.mapping, value, target))
    raise web.HTTPSeeOther("/dryrun")


# --------------------------------------------------------------------------- Import


@routes.get("/import")
async def import_page(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping", "connection")
    w = wizard(request)
    if w.job is not None and not w.job.finished.is_set():
        raise web.HTTPSeeOther("/import/progress")
    if w.dry_run is None:
        raise web.HTTPSeeOther("/dryrun")
    plan: service.Plan = w.dry_run
    c: service.Connected = w.connection
    job = w.job
    if (
        job is not None
        and job.plan is plan
        and job.result is not None
        and not job.result.counts["unprocessed"]
    ):
        body = (
            f'<p class="notice">This dry run\'s rows were imported (run <a href="/import/result">'
            f"{e(job.result.run_id)}</a>). To import the file again, run a new dry run: rows "
            "that exist now are reported as already existing and not sent twice.</p>"
            '<div class="nav"><a class="button secondary" href="/import/result">&larr; The result</a>'
            '<a class="button" href="/dryrun?again=1">New dry run</a></div>'
        )
        return render(request, "Import", body, step="/import")
    n = plan.counts.get("created", 0)
    users = ", ".join(plan.users[:10]) + (
        f" and {len(plan.users) - 10} more" if len(plan.users) > 10 else ""
    )
    if n == 0:
        body = (
            "<p>The dry run found no row to create"
            + (" (every valid row exists already)." if plan.counts.get("already_existing") else ".")
            + "</p>" + nav("/dryrun", None)
        )  # fmt: skip
        return render(request, "Import", body, step="/import")
    inner = (
        f'<p id="confirm-text">About to create <b>{n}</b> worklogs ({hours(plan.seconds)}) for '
        f"<b>{len(plan.users)}</b> user(s): {e(users)}<br>at <b>{e(c.where)}</b> as {e(c.who)}.</p>"
        f"<p class=help>{plan.counts.get('rejected', 0)} rejected row(s) are not sent. You can "
        "cancel while it runs (what was sent stays, the rest can be resumed) and undo the "
        "whole import afterwards.</p>" + nav("/dryrun", f"Create {n} worklogs")
    )
    body = form("/import/start", inner, csrf=csrf(request), form_id="confirm")
    return render(request, "Import", body, step="/import")


def _start(w: Wizard, loop: asyncio.AbstractEventLoop) -> None:
    """Start the import of the wizard's file in a worker thread."""
    import logging

    job = ImportJob(plan=w.dry_run)
    w.job = job
    file, mapping, connection = w.file, w.mapping, w.connection
    assert file is not None and mapping is not None
    out = w.output_dir("import")

    def work() -> None:
        try:
            job.result = service.run_import(file, mapping, connection, out, dry_run=False,
                                            progress=job.progress, cancel=job.cancel)  # fmt: skip
        except Interrupted as exc:  # Cancel before the first batch: nothing happened
            job.error = (exc.message, "press the button to start it again")
            job.cancelled_early = True
        except TimetrackerError as exc:
            job.error = (exc.message, exc.hint)
        except Exception:
            logging.getLogger(__name__).exception("the import failed")
            job.error = ("the import stopped on an unexpected error (a bug)",
                         "the details are in the terminal running the app; run the import "
                         "again to resume it")  # fmt: skip
        finally:
            job.finished.set()

    job.future = loop.run_in_executor(None, work)


@routes.post("/import/start")
async def import_start(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping", "connection")
    w = wizard(request)
    if w.job is None or w.job.finished.is_set():
        if w.dry_run is None:
            raise web.HTTPSeeOther("/dryrun")
        _start(w, asyncio.get_running_loop())
    raise web.HTTPSeeOther("/import/progress")


@routes.get("/import/progress")
async def import_progress(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    if w.job is None:
        raise web.HTTPSeeOther("/import")
    if w.job.finished.is_set():
        raise web.HTTPSeeOther("/import/result")
    cancel = form("/import/cancel", '<button type="submit" class="danger" id="cancel">Cancel</button>',
                  csrf=csrf(request))  # fmt: skip
    body = (
        "<p>Sending the worklogs to 7pace. Keep this page open, or come back to it.</p>"
        '<progress id="progress" data-events="/import/events" value="0" max="1"></progress>'
        '<p id="progress-text" role="status">starting…</p>'
        + cancel
        + "<p class=help>Cancel stops after the requests already on their way; nothing is "
        "lost and the run can be resumed.</p>"
    )
    return render(request, "Importing…", body, step="/import")


@routes.get("/import/events")
async def import_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``progress`` {done, total} every 0.3 s, then ``done`` {url}."""
    import json

    w = wizard(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})  # fmt: skip
    await response.prepare(request)
    job = w.job
    last = None
    while job is not None:
        now = (job.done_rows, job.total_rows)
        if now != last:
            data = json.dumps({"done": now[0], "total": now[1]})
            await response.write(f"event: progress\ndata: {data}\n\n".encode())
            last = now
        if job.finished.is_set():
            break
        await asyncio.sleep(0.3)
    await response.write(b'event: done\ndata: {"url": "/import/result"}\n\n')
    await response.write_eof()
    return response


@routes.post("/import/cancel")
async def import_cancel(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    if w.job is not None:
        w.job.cancel.set()
        await asyncio.to_thread(w.job.finished.wait, 60)
    raise web.HTTPSeeOther("/import/result")


@routes.get("/import/result")
async def import_result(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    job = w.job
    if job is None:
        raise web.HTTPSeeOther("/import")
    if not job.finished.is_set():
        raise web.HTTPSeeOther("/import/progress")
    if job.error is not None:
        label = "Start the import again" if job.cancelled_early else "Try again (resumes)"
        retry = form("/import/start", f'<button type="submit" id="retry">{label}</button>',
                     csrf=csrf(request))  # fmt: skip
        if job.cancelled_early:
            return render(request, "Import cancelled", retry + nav("/dryrun", None),
                          step="/import", notice=f"Cancelled: {job.error[0]}; nothing changed in 7pace.")  # fmt: skip
        return render(request, "Import stopped", retry + nav("/dryrun", None), step="/import",
                      error=job.error)  # fmt: skip
    plan: service.Plan = job.result
    return render(request, "Import finished" if not plan.counts["unprocessed"] else "Import stopped",
                  result_body(request, plan), step="/import")  # fmt: skip


def result_body(request: web.Request, plan: service.Plan) -> str:
    c = plan.counts
    if c["unprocessed"]:
        state = (
            f'<p class="notice" id="outcome">Stopped: {c["unprocessed"]} row(s) were not sent '
            "yet. Resume sends only those.</p>"
            + form(
                "/import/start",
                '<button type="submit" id="resume">Resume the import</button>',
                csrf=csrf(request),
            )  # fmt: skip
        )
    else:
        state = f'<p class="ok" id="outcome">Done: {c["created"]} worklog(s) created.</p>'
    undo = ""
    if c["created"]:
        undo = (
            f"<h2>Undo</h2><p>Deletes exactly the {c['created']} worklog(s) this import created "
            "(not those edited since). You see the list and confirm first.</p>"
            f'<a class="button danger" id="undo" href="/runs/{e(plan.run_id)}/undo">Undo this import…</a>'
        )
    return (
        f"<p>Run <code>{e(plan.run_id)}</code>.</p>"
        + counts_table(c, dry_run=False)
        + (
            f'<div class="error"><p>{e(plan.halt)}</p></div>'
            if plan.halt and c["unprocessed"]
            else ""
        )
        + state
        + run_links(plan)
        + rejections_table(plan)
        + undo
        + '<div class="nav"><a class="button secondary" href="/runs">All runs</a>'
        '<a class="button secondary" href="/file">Import another file</a></div>'
    )


# --------------------------------------------------------------------------- Runs


def _counts_text(run: service.RunRow) -> str:
    c = run.counts
    if not c:
        return "-"
    if run.dry_run:
        return (f"dry run: would create {c.get('created', 0)}, rejected {c.get('rejected', 0)}"
                f", already existing {c.get('already_existing', 0)} (rows {c.get('rows', 0)})")  # fmt: skip
    undone = f" (undone: {run.undone} deleted)" if run.undone else ""
    return (f"rows {c.get('rows', 0)}: created {c.get('created', 0)}, existing "
            f"{c.get('already_existing', 0)}, rejected {c.get('rejected', 0)}, unprocessed "
            f"{c.get('unprocessed', 0)}{undone}")  # fmt: skip


@routes.get("/runs")
async def runs_page(request: web.Request) -> web.StreamResponse:
    items = await asyncio.to_thread(service.runs)
    if not items:
        body = "<p>No runs yet. A dry run or an import made here or on the command line shows up here.</p>"
    else:
        rows = "".join(
            f'<tr><td><a href="/runs/{e(r.run_id)}">{e(r.run_id)}</a></td><td>{e(r.status)}</td>'
            f"<td>{e((r.input_path or '-').rsplit('/', 1)[-1])}</td><td>{e(r.mapping_label)}</td>"
            f"<td>{e(_counts_text(r))}</td></tr>"
            for r in items
        )
        body = (
            "<p>Every dry run and import journaled on this machine, newest first (the same list "
            "as <code>timetracker-import runs list</code>).</p>"
            '<table id="runs"><thead><tr><th>run</th><th>status</th><th>file</th><th>mapping</th>'
            f"<th>rows</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return render(request, "Runs", body, step="/runs")


@routes.get("/runs/{run_id}")
async def run_page(request: web.Request) -> web.StreamResponse:
    run = await asyncio.to_thread(service.find_run, request.match_info["run_id"])
    files = service.run_files(run.directory)
    facts = [("status", run.status), ("kind", "dry run" if run.dry_run else "import"),
             ("file", run.input_path or "-"), ("mapping", run.mapping_label),
             ("server", run.target or "-"), ("started", run.started_at),
             ("finished", run.finished_at or "-"), ("rows", _counts_text(run))]  # fmt: skip
    body = (
        '<dl class="facts">'
        + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
        + "</dl>"
    )
    plan_like = service.Plan(run.run_id, run.dry_run, {}, 0, [], [], [], {}, "skip", {}, None,
                             [], None, [], run.directory, files)  # fmt: skip
    body += run_links(plan_like)
    summary = await asyncio.to_thread(service.run_summary, run)
    rejections = [r for r in summary.get("rejections") or [] if isinstance(r, dict)]
    if rejections:
        rows = "".join(
            f"<tr><td>{e(r.get('source_row'))}</td><td>{e(r.get('stage'))}</td>"
            f"<td>{e(r.get('column') or '')}</td><td class=reason>{e(r.get('reason'))}</td></tr>"
            for r in rejections[:100]
        )
        more = (
            f"<p class=help>and {len(rejections) - 100} more</p>" if len(rejections) > 100 else ""
        )
        body += (
            '<h2>Rejected rows</h2><table id="run-rejected"><thead><tr><th>row</th><th>stage</th>'
            f"<th>column</th><th>problem</th></tr></thead><tbody>{rows}</tbody></table>{more}"
        )
    actions = []
    if not run.dry_run and run.counts.get("created"):
        actions.append(
            f'<a class="button danger" href="/runs/{e(run.run_id)}/undo">Undo this import…</a>'
        )
    if run.status != "complete" and not run.dry_run:
        actions.append(form(f"/runs/{e(run.run_id)}/resume",
                            '<button type="submit">Resume</button>', csrf=csrf(request)))  # fmt: skip
    body += f'<div class="actions">{"".join(actions)}</div>'
    body += '<div class="nav"><a class="button secondary" href="/runs">&larr; All runs</a></div>'
    return render(request, f"Run {run.run_id}", body, step="/runs")


async def _undo(request: web.Request, *, dry_run: bool) -> tuple[str, service.UndoView]:
    """Undo (or plan the undo of) the run in the URL; connect first when not connected.
    A problem (another server, not an import) becomes the error page with its fix."""
    run_id = request.match_info["run_id"]
    w = wizard(request)
    if w.connection is None:
        raise web.HTTPSeeOther(f"/connect?next=/runs/{run_id}/undo")
    return run_id, await asyncio.to_thread(service.undo, run_id, w.connection, dry_run=dry_run)


@routes.get("/runs/{run_id}/undo")
async def undo_page(request: web.Request) -> web.StreamResponse:
    run_id, view = await _undo(request, dry_run=True)
    body = undo_view_html(view)
    if view.delete:
        body += form(
            f"/runs/{e(run_id)}/undo",
            f"<p>Delete these {len(view.delete)} worklog(s) from 7pace?</p>"
            + nav(f"/runs/{run_id}", None).replace("</div>", "")
            + f'<button type="submit" class="danger" id="confirm-undo">Delete {len(view.delete)} worklogs</button></div>',
            csrf=csrf(request),
        )
    else:
        body += nav(f"/runs/{run_id}", None)
    return render(request, f"Undo run {run_id}", body, step="/runs")


def undo_view_html(view: service.UndoView) -> str:
    verb = "Would delete" if view.dry_run else "Deleted"
    parts = []
    if view.delete:
        parts.append(
            f"<h2>{verb} {len(view.delete)} worklog(s)</h2><p>Created by this import from "
            f'<b>{e(view.source)}</b>; the rows are that file\'s.</p><table id="undo-list">'
            "<thead><tr><th>worklog id</th><th>from row</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td><code>{e(i)}</code></td><td>{e(r or '')}</td></tr>"
                for i, r in view.delete
            )
            + "</tbody></table>"
        )
    else:
        parts.append("<p id=nothing>Nothing to delete: the run's worklogs are gone already.</p>")
    if view.skipped_edited:
        parts.append("<h2>Kept (edited since the import)</h2><ul>"
                     + "".join(f"<li><code>{e(i)}</code>: {e(why)}</li>" for i, why in view.skipped_edited)
                     + "</ul>")  # fmt: skip
    if view.already_gone:
        parts.append(f"<p>{len(view.already_gone)} worklog(s) were deleted already.</p>")
    if view.failed:
        parts.append("<h2>Refused by the server</h2><ul>"
                     + "".join(f"<li><code>{e(i)}</code>: {e(why)}</li>" for i, why in view.failed)
                     + "</ul>")  # fmt: skip
    return "".join(parts)


@routes.post("/runs/{run_id}/undo")
async def undo_post(request: web.Request) -> web.StreamResponse:
    run_id, view = await _undo(request, dry_run=False)
    w = wizard(request)
    w.clear_checks()  # the server's state changed: a new dry run is needed
    outcome = (f'<p class="ok" id="undo-done">Undone: {len(view.delete)} worklog(s) deleted.</p>'
               if not view.failed else "")  # fmt: skip
    body = (
        outcome
        + undo_view_html(view)
        + (
            '<div class="nav"><a class="button secondary" href="/runs">All runs</a>'
            '<a class="button secondary" href="/file">Import a file</a></div>'
        )
    )
    return render(request, f"Undo run {run_id}", body, step="/runs")


@routes.post("/runs/{run_id}/resume")
async def resume_post(request: web.Request) -> web.StreamResponse:
    run_id = request.match_info["run_id"]
    w = wizard(request)
    run = await asyncio.to_thread(service.find_run, run_id)
    info, choice = await asyncio.to_thread(service.resume_choice, run)
    w.set_file(info)
    w.set_mapping(choice)
    if w.connection is None:
        raise web.HTTPSeeOther("/connect")
    raise web.HTTPSeeOther("/dryrun")


@routes.get("/runs/{run_id}/files/{name}")
async def run_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    run = await asyncio.to_thread(service.find_run, request.match_info["run_id"])
    path = service.run_files(run.directory).get(name)
    if path is None:
        raise web.HTTPNotFound(text=f"run {run.run_id} has no file {name}")
    if name == "report.html":
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{run.run_id}-{name}"'}
    )
