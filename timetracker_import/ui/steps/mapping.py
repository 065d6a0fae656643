"""Step 2, Mapping: a shipped preset (the one the file's layout shows, with the evidence),
a saved mapping, or the form (a column per 7pace field, more settings as YAML), with a
live preview of the first rows; save a mapping for next time, download it as YAML. The
Mappings page lists the shipped and saved mappings."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui import mapping_form as mf
from timetracker_import.ui.mapping_form import MappingChoice
from timetracker_import.ui.render import cell, fragment, page
from timetracker_import.ui.state import FileInfo, Wizard
from timetracker_import.ui.steps.common import need, problem, values, wizard

routes = web.RouteTableDef()
PREVIEW_ROWS = 8
SENT_COLUMNS = ("user", "timestamp", "hours", "billable", "work item", "activity", "comment")
#: (strptime layout, how it looks): the layouts the form offers for dates and times
LAYOUTS = (
    ("", "recognise it"),
    ("%d.%m.%Y", "31.12.2026"),
    ("%d/%m/%Y", "31/12/2026"),
    ("%m/%d/%Y", "12/31/2026"),
    ("%Y-%m-%d", "2026-12-31"),
    ("%d.%m.%Y %H:%M", "31.12.2026 17:30"),
    ("%m/%d/%Y %I:%M %p", "12/31/2026 5:30 PM"),
    ("%Y-%m-%d %H:%M:%S", "2026-12-31 17:30:00"),
    ("%H:%M", "17:30"),
    ("%I:%M %p", "5:30 PM"),
    ("%H:%M:%S", "17:30:00"),
)
DATE_ORDERS = (
    ("", "guess from the data"),
    ("DMY", "day/month/year (31.12.2026)"),
    ("MDY", "month/day/year (12/31/2026)"),
    ("YMD", "year-month-day"),
)


def preview_context(info: FileInfo, choice: MappingChoice | None) -> dict[str, Any]:
    """What the preview fragment shows (or the problem that stops it)."""
    if choice is None:
        return {"pv": None, "problem": None}
    try:
        pv = lib.preview(info.path, sheet=info.sheet, rows=PREVIEW_ROWS, **choice.kwargs())
    except TimetrackerError as exc:
        return {"pv": None, "problem": problem(exc)}
    rows = []
    for r in pv.rows:
        sent = None
        if r.sent is not None:
            s = r.sent
            sent = [
                cell(s["user"]) or "(the token's own user)",
                s["timestamp"].strftime("%Y-%m-%d %H:%M UTC"),
                f"{s['length_seconds'] / 3600:.2f}",
                f"{s['billable_seconds'] / 3600:.2f}" if cell(s["billable_seconds"]) else "",
                cell(s["work_item"]),
                cell(s["activity"]),
                cell(s["comment"]),
            ]
        rows.append(
            {
                "row": r.source_row,
                "cells": [cell(c) for c in r.cells],
                "sent": sent,
                "reason": r.reason,
                "skipped": r.skipped,
            }
        )
    return {"pv": pv, "rows": rows, "sent_columns": SENT_COLUMNS, "problem": None}


def chosen_source(w: Wizard, detection: lib.PresetDetection | None) -> str:
    if w.mapping is not None:
        if w.mapping.preset:
            return f"preset:{w.mapping.preset}"
        if w.mapping.saved:
            return f"saved:{w.mapping.saved}"
        return "form"
    if detection is not None and detection.matches:
        return f"preset:{(detection.chosen or detection.matches[0].name)}"
    return "form"


def render(
    request: web.Request,
    *,
    form: Mapping[str, str] | None = None,
    source: str | None = None,
    preview_choice: MappingChoice | None = None,
    error: tuple[str, str | None] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    w = wizard(request)
    assert w.file is not None
    info = w.file
    detection = info.detection
    source = source or chosen_source(w, detection)
    if form is None:
        if w.mapping is not None:
            form = mf.form_values(w.mapping.as_data(), info.headers)
        else:
            form = mf.drafted_values(detection.guesses if detection else {}, info.headers)
    if preview_choice is None and error is None:
        preview_choice = w.mapping or _choice_or_none(info, source, form)
    detected = {p.name for p in (detection.matches if detection else ())}
    return page(
        request,
        "mapping.html",
        title="Map the columns",
        step="/mapping",
        error=error,
        notice=notice,
        status=status,
        info=info,
        detection=detection,
        source=source,
        form=form,
        fields=mf.FORM_FIELDS,
        units=mf.UNITS,
        date_orders=DATE_ORDERS,
        layouts=LAYOUTS,
        others=[p for p in lib.presets() if p.name not in detected],
        saved=lib.saved_mappings(),
        zones=zone_names(),
        **(
            preview_context(info, preview_choice)
            if error is None
            else {"pv": None, "problem": None}
        ),
    )


def zone_names() -> list[str]:
    """Every IANA zone name (the time zone fields' suggestions)."""
    import zoneinfo

    return sorted(zoneinfo.available_timezones())


def _choice_or_none(info: FileInfo, source: str, form: Mapping[str, str]) -> MappingChoice | None:
    try:
        return choice_from(info, {**form, "source": source})
    except TimetrackerError:
        return None


def choice_from(info: FileInfo, data: Mapping[str, str]) -> MappingChoice:
    """The mapping the page's radio buttons (and form) describe."""
    source = str(data.get("source") or "form")
    if source == "other":
        source = str(data.get("other_preset") or "")
        if not source.startswith("preset:"):
            raise UsageError("no preset chosen", hint="choose one from the list, or use the form")
    if source == "saved":
        name = str(data.get("saved_name") or "")
        if not name:
            raise UsageError("no saved mapping chosen", hint="choose one from the list")
        source = f"saved:{name}"
    named = mf.named_choice(source)
    if named is not None:
        return named
    return MappingChoice(data=mf.mapping_from_form(info.headers, data))


@routes.get("/mapping")
async def mapping_page(request: web.Request) -> web.StreamResponse:
    need(request, "file")
    return await asyncio.to_thread(render, request)


@routes.post("/mapping/preview")
async def mapping_preview(request: web.Request) -> web.StreamResponse:
    """The preview fragment for the form as it is now (the page's script asks on change)."""
    w = need(request, "file")
    assert w.file is not None
    data = values(await request.post())
    info = w.file
    try:
        choice = choice_from(info, data)
        context = await asyncio.to_thread(preview_context, info, choice)
    except TimetrackerError as exc:
        context = {"pv": None, "problem": problem(exc)}
    return web.Response(text=fragment("_preview.html", **context), content_type="text/html")


@routes.post("/mapping")
async def mapping_post(request: web.Request) -> web.StreamResponse:
    w = need(request, "file")
    assert w.file is not None
    info = w.file
    data = values(await request.post())
    action = data.get("action", "next")
    source = data.get("source", "form")
    try:
        choice = choice_from(info, data)
        if action == "edit":
            form = mf.form_values(choice.as_data(), info.headers)
            notice = None
            if choice.preset or choice.saved:
                notice = (
                    f"The settings of {choice.label} are in the form now, all of them: "
                    "the columns above, the rest under 'More settings'."
                )
            return await asyncio.to_thread(
                render, request, form=form, source="form", preview_choice=choice, notice=notice
            )
        if action == "yaml":
            return web.Response(
                text=choice.yaml_text(),
                content_type="application/yaml",
                headers={
                    "Content-Disposition": f'attachment; filename="{info.path.stem or "mapping"}.mapping.yaml"'
                },
            )
        if action == "save":
            saved = lib.save_mapping(
                data.get("save_name", ""), choice.as_data(), overwrite=data.get("replace") == "1"
            )
            w.set_mapping(MappingChoice(data=choice.as_data(), saved=saved.name))
            return await asyncio.to_thread(
                render,
                request,
                notice=f"Saved as “{saved.name}” ({saved.path}); it is "
                "offered for every file from now on, and the command line takes that path.",
            )
        if action == "preview":
            return await asyncio.to_thread(
                render, request, form=data, source=source, preview_choice=choice
            )
        await asyncio.to_thread(
            lib.preview, info.path, sheet=info.sheet, rows=1, **choice.kwargs()
        )  # the columns exist
    except TimetrackerError as exc:
        return await asyncio.to_thread(
            render, request, form=data, source=source, error=problem(exc), status=400
        )
    w.set_mapping(choice)
    from timetracker_import.ui.steps.validate import validate_job

    raise validate_job(w)


@routes.get("/mapping.yaml")
async def mapping_yaml(request: web.Request) -> web.StreamResponse:
    w = need(request, "file", "mapping")
    assert w.mapping is not None and w.file is not None
    return web.Response(
        text=w.mapping.yaml_text(),
        content_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{w.file.path.stem}.mapping.yaml"'},
    )


@routes.get("/mappings")
async def mappings_page(request: web.Request) -> web.StreamResponse:
    """The shipped presets and the saved mappings; one of them shown as YAML."""
    import yaml

    show = request.query.get("show", "")
    shown = None
    try:
        if show.startswith("preset:"):
            shown = yaml.safe_dump(
                lib.preset_mapping(show[7:]), sort_keys=False, allow_unicode=True
            )
        elif show.startswith("saved:"):
            shown = yaml.safe_dump(lib.saved_mapping(show[6:]), sort_keys=False, allow_unicode=True)
    except TimetrackerError as exc:
        return page(
            request,
            "mappings.html",
            title="Mappings",
            step="/mappings",
            error=problem(exc),
            presets=lib.presets(),
            saved=lib.saved_mappings(),
            shown=None,
            show="",
            folder=lib.mappings_dir(),
            status=404,
            has_file=wizard(request).file is not None,
        )
    return page(
        request,
        "mappings.html",
        title="Mappings",
        step="/mappings",
        presets=lib.presets(),
        saved=lib.saved_mappings(),
        shown=shown,
        show=show,
        folder=lib.mappings_dir(),
        has_file=wizard(request).file is not None,
    )


@routes.post("/mappings/use")
async def mappings_use(request: web.Request) -> web.StreamResponse:
    """Use (or edit) a shipped or saved mapping with the current file."""
    w = need(request, "file")
    assert w.file is not None
    data = values(await request.post())
    try:
        choice = choice_from(w.file, {"source": data.get("source", "")})
    except TimetrackerError as exc:
        return render(request, error=problem(exc), status=400)
    if data.get("action") == "edit":
        return await asyncio.to_thread(
            render,
            request,
            form=mf.form_values(choice.as_data(), w.file.headers),
            source="form",
            preview_choice=choice,
            notice=f"The settings of {choice.label} are in the form; change them, then save.",
        )
    w.set_mapping(choice)
    raise web.HTTPSeeOther("/mapping")
