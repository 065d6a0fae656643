"""The wizard's first pages: File, Mapping and Validate (request handlers render; the work is
in ``service``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiohttp import web

from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui import service
from timetracker_import.ui.html import e, form, hours, nav, page, select, table
from timetracker_import.ui.security import GUARD, MULTIPART_READER
from timetracker_import.ui.service import FORM_FIELDS, FileInfo, MappingChoice
from timetracker_import.ui.state import WIZARD, Wizard

MAX_UPLOAD_MB = 50
MAX_UPLOAD = MAX_UPLOAD_MB * 1024 * 1024

routes = web.RouteTableDef()


def wizard(request: web.Request) -> Wizard:
    return request.app[WIZARD]  # type: ignore[no-any-return]


def csrf(request: web.Request) -> str:
    return request.app[GUARD].csrf_token  # type: ignore[no-any-return]


def render(
    request: web.Request,
    title: str,
    body: str,
    *,
    step: str | None,
    error: tuple[str, str | None] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    """A whole page as the response."""
    text = page(
        title,
        body,
        csrf=csrf(request),
        step=step,
        reachable=wizard(request).reachable(),
        error=error,
        notice=notice,
    )
    return web.Response(text=text, content_type="text/html", status=status)


def problem(exc: TimetrackerError) -> tuple[str, str | None]:
    """(message, hint) of an error a user can fix."""
    return exc.message, exc.hint


def need(request: web.Request, *what: str) -> None:
    """Send the user back to the first step that is still missing."""
    w = wizard(request)
    if "file" in what and w.file is None:
        raise web.HTTPSeeOther("/file")
    if "mapping" in what and w.mapping is None:
        raise web.HTTPSeeOther("/mapping")
    if "connection" in what and w.connection is None:
        raise web.HTTPSeeOther("/connect")


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    raise web.HTTPSeeOther(w.reachable()[-1] if w.file else "/file")


# --------------------------------------------------------------------------- File


def file_body(request: web.Request) -> str:
    w = wizard(request)
    token = csrf(request)
    current = ""
    if w.file is not None:
        current = (
            f'<p class="current-file">Current file: <b>{e(w.file.label)}</b> '
            f"({e(w.file.format.upper())}, {len(w.file.headers)} columns"
            + (f", sheet {e(w.file.sheet)}" if w.file.sheet else "")
            + ') &mdash; <a href="/mapping">keep it and go on</a></p>'
        )
    sheet = '<label>Excel sheet <input name="sheet" placeholder="first sheet" size="12"></label>'
    upload = form(
        "/file",
        "<fieldset><legend>Upload a file</legend>"
        '<input type="file" name="upload" required accept=".csv,.tsv,.txt,.xlsx,.xlsm,.xls">'
        f"{sheet}<p class=help>CSV, TSV, XLSX or XLS, at most {MAX_UPLOAD_MB} MB. The upload stays "
        "on this machine (a private temporary folder, removed when the app stops).</p>"
        '<button type="submit" id="upload-next">Upload and continue &rarr;</button></fieldset>',
        csrf=token,
        multipart=True,
        form_id="upload-form",
    )
    by_path = form(
        "/file",
        "<fieldset><legend>Or: a file on this machine</legend>"
        '<label>Path <input name="path" size="60" placeholder="/home/me/hours.xlsx" required></label>'
        f"{sheet}<p class=help>Any size; the file is read where it is.</p>"
        '<button type="submit" id="path-next">Use this file &rarr;</button></fieldset>',
        csrf=token,
        form_id="path-form",
    )
    return (
        "<p>Choose the spreadsheet with the hours to import. Nothing is sent to 7pace until "
        "the Import step, and you confirm it there.</p>" + current + upload + by_path
    )


@routes.get("/file")
async def file_page(request: web.Request) -> web.StreamResponse:
    return render(request, "Choose the file", file_body(request), step="/file")


async def _read_upload(request: web.Request) -> tuple[FileInfo | None, str]:
    """Stream an upload into the private folder (refusing more than MAX_UPLOAD bytes)."""
    w = wizard(request)
    reader = request.get(MULTIPART_READER) or await request.multipart()
    sheet = ""
    path = None
    label = ""
    while (part := await reader.next()) is not None:
        name = getattr(part, "name", None)
        if name == "sheet":
            sheet = (await part.text()).strip()  # type: ignore[union-attr]
        elif name == "upload":
            from pathlib import PurePath
            from urllib.parse import unquote

            # the name only (a browser may send a path; some clients percent-encode it)
            label = PurePath(unquote(getattr(part, "filename", None) or "upload")).name
            if not label.lower().endswith(service.UPLOAD_SUFFIXES):
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
                            hint="give its path on this machine instead (below the upload box): "
                            "a path has no size limit",
                        )
                    fh.write(chunk)
            if size == 0:
                raise UsageError(f"{label} is empty", hint="choose the file with the hours")
    if path is None:
        raise UsageError("no file was uploaded", hint="choose a file, then press Upload")
    return await asyncio.to_thread(service.open_file, path, label, sheet), label


@routes.post("/file")
async def file_post(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    try:
        if request.content_type == "multipart/form-data":
            info, _label = await _read_upload(request)
        else:
            data = await request.post()
            raw = str(data.get("path") or "").strip().strip('"')
            if not raw:
                raise UsageError("no path given", hint="type the full path of the file")
            from pathlib import Path

            path = Path(raw).expanduser()
            if not path.is_absolute():
                raise UsageError(
                    f"{raw} is not a full path",
                    hint="give the path from the root, e.g. /home/me/hours.xlsx",
                )
            info = await asyncio.to_thread(
                service.open_file, path, str(path), str(data.get("sheet") or "").strip()
            )
    except TimetrackerError as exc:
        return render(
            request,
            "Choose the file",
            file_body(request),
            step="/file",
            error=problem(exc),
            status=400,
        )
    assert info is not None
    w.set_file(info)
    raise web.HTTPSeeOther("/mapping")


# --------------------------------------------------------------------------- Mapping


def _column_options(headers: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("", "— not in the file —")] + [
        (str(i), f"{h}" if h else f"(column {i + 1}, no header)") for i, h in enumerate(headers)
    ]


def mapping_form_fields(headers: tuple[str, ...], values: dict[str, str]) -> str:
    """The drafted-mapping form: each 7pace field <- a column, with its controls."""
    rows = []
    options = _column_options(headers)
    for name, kind, label in FORM_FIELDS:
        extra = ""
        if kind == "duration":
            extra = select(
                f"{name}.unit",
                [(u, f"numbers are {u}") for u in service.UNITS],
                values.get(f"{name}.unit", "hours"),
                label=f"{name} unit",
            )
        elif kind == "time":
            extra = (
                f'<input name="{name}.format" value="{e(values.get(f"{name}.format", ""))}" '
                f'placeholder="format, e.g. %d.%m.%Y (optional)" size="26" aria-label="{name} format">'
            )
        rows.append(
            f'<tr><th scope="row"><label for="f-{name}">{e(name)}</label>'
            f"<div class=help>{e(label)}</div></th><td>"
            + select(f"{name}.column", options, values.get(f"{name}.column", ""), ident=f"f-{name}")
            + f"</td><td>{extra}</td></tr>"
        )
    zones = "".join(f'<option value="{e(z)}">' for z in service.time_zones())
    orders = [("", "guess from the data"), ("DMY", "day/month/year (31.12.2026)"),
              ("MDY", "month/day/year (12/31/2026)"), ("YMD", "year-month-day")]  # fmt: skip
    return (
        '<table class="form-table"><thead><tr><th>7pace field</th><th>column in your file</th>'
        "<th>how to read it</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        '<div class="row-controls"><label>Time zone of times without an offset '
        f'<input name="timezone" list="zones" value="{e(values.get("timezone", ""))}" '
        'placeholder="this machine\'s zone" size="22"></label>'
        f'<datalist id="zones">{zones}</datalist>'
        "<label>Dates like 03/04/2026 are "
        + select("date_order", orders, values.get("date_order", ""), label="date order")
        + "</label></div>"
    )


def preview_html(pv: service.Preview) -> str:
    sent_cols = ["user", "timestamp", "hours", "billable", "work_item", "activity", "comment"]
    head = ["row", *pv.columns, "→", *sent_cols]
    rows = []
    for r in pv.rows:
        cells = [e(r.source_row), *(e(c) for c in r.cells), "→"]
        if r.sent is not None:
            cells += [e(r.sent[c]) for c in sent_cols]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        else:
            cells.append(f'<span class="reason">rejected: {e(r.reason)}</span>')
            rows.append(
                '<tr class="rejected">'
                + "".join(f"<td>{c}</td>" for c in cells[:-1])
                + f'<td colspan="{len(sent_cols)}">{cells[-1]}</td></tr>'
            )
    return (
        f"<p class=help>The first {len(pv.rows)} rows as they will be sent. Times without an "
        f"offset are read as <b>{e(pv.timezone)}</b> ({e(pv.timezone_source)}); timestamps "
        "are shown in UTC.</p>"
        '<div class="scroll"><table class="preview"><thead><tr>'
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _preview_or_error(w: Wizard, choice: MappingChoice | None) -> str:
    if choice is None or w.file is None:
        return "<p class=help>Pick a preset or map the columns to see a preview.</p>"
    try:
        return preview_html(service.preview(w.file, choice))
    except TimetrackerError as exc:
        from timetracker_import.ui.html import error_box

        return error_box(exc.message, exc.hint)


def mapping_body(
    request: web.Request,
    values: dict[str, str] | None = None,
    source: str | None = None,
    preview: str = "",
) -> str:
    w = wizard(request)
    assert w.file is not None
    found = service.detect(w.file)
    chosen = source or (
        f"preset:{w.mapping.preset}" if w.mapping and w.mapping.preset
        else "form" if w.mapping else (f"preset:{found.presets[0].name}" if found.presets else "form")
    )  # fmt: skip
    data_note = ""
    if found.data_evidence:
        said = "the data picks it: " if found.chosen else "the data cannot decide: "
        data_note = (
            '<span class="evidence data-evidence">'
            + e(said + "; ".join(found.data_evidence))
            + "</span>"
        )
    if values is None:
        if w.mapping is not None and not w.mapping.preset:
            values = service.form_values(w.mapping, w.file.headers)
        else:
            values = service.drafted_values(found.guesses, w.file.headers)
    intro = (
        f"<p>File: <b>{e(w.file.label)}</b>, columns: "
        + ", ".join(f"<code>{e(h)}</code>" for h in w.file.headers)
        + "</p>"
    )
    if found.conversion:
        intro += f'<p class="notice">{e(found.conversion)}</p>'
    choices = []
    for p in found.presets:
        val = f"preset:{p.name}"
        choices.append(
            f'<label class="choice"><input type="radio" name="source" value="{e(val)}"'
            f"{' checked' if chosen == val else ''}> Use the preset <b>{e(p.name)}</b>"
            f"<span class=help> &mdash; {e(p.description)}</span>"
            f'<span class="evidence">recognised by the columns: '
            + ", ".join(f"<code>{e(c)}</code>" for c in p.evidence)
            + "</span>"
            + (data_note if p.name == found.chosen else "")
            + "</label>"
        )
    if len(found.presets) > 1:
        choices.append(
            "<p class=help>These presets share the header row; they differ in a setting of "
            "the exporting tool (e.g. US or EU number format): pick the one that matches yours."
            + ("" if found.chosen else f" {data_note}")
            + "</p>"
        )
    detected = {p.name for p in found.presets}
    others = [(f"preset:{n}", f"{n} — {d}") for n, d in service.preset_names() if n not in detected]
    other_chosen = chosen if chosen in {v for v, _ in others} else ""
    choices.append(
        '<label class="choice"><input type="radio" name="source" value="other"'
        f"{' checked' if other_chosen else ''}> Another shipped preset: "
        + select("other_preset", [("", "choose…"), *others], other_chosen, label="other preset")
        + "</label>"
    )
    if not found.presets:
        choices.insert(0, "<p>No shipped preset matches this header row, so the columns "
                       "below are a draft guessed from the headers: check each one.</p>")  # fmt: skip
    choices.append(
        f'<label class="choice"><input type="radio" name="source" value="form" id="source-form"'
        f"{' checked' if chosen == 'form' else ''}> Map the columns myself with the form below</label>"
    )
    if not preview:
        current = w.mapping
        if current is None:
            current = (
                MappingChoice(preset=chosen.removeprefix("preset:")) if chosen.startswith("preset:")
                else _choice_or_none(w.file.headers, values)
            )  # fmt: skip
        preview = _preview_or_error(w, current)
    inner = (
        '<fieldset class="sources"><legend>Mapping</legend>' + "".join(choices) + "</fieldset>"
        '<fieldset id="mapping-form"><legend>Columns (used with "Map the columns myself")</legend>'
        + mapping_form_fields(w.file.headers, values)
        + "</fieldset>"
        '<div class="actions"><button type="submit" name="action" value="preview" class="secondary">'
        "Update preview</button>"
        '<button type="submit" name="action" value="edit" class="secondary">Copy the chosen '
        "preset into the form</button>"
        '<button type="submit" name="action" value="yaml" class="secondary" id="download-yaml">'
        "Download mapping (YAML)</button></div>"
        f'<h2>Preview</h2><div id="preview">{preview}</div>'
        + nav("/file", "Validate the whole file")
    )
    return intro + form("/mapping", inner, csrf=csrf(request), form_id="mapping")


def _choice_or_none(headers: tuple[str, ...], values: dict[str, str]) -> MappingChoice | None:
    try:
        return MappingChoice(data=service.mapping_from_form(headers, values))
    except TimetrackerError:
        return None


def choice_from_post(headers: tuple[str, ...], data: Any) -> MappingChoice:
    """The mapping the Mapping form's radio buttons (and fields) describe."""
    source = str(data.get("source") or "")
    if source == "other":
        name = str(data.get("other_preset") or "")
        if not name.startswith("preset:"):
            raise UsageError("no preset chosen", hint="choose one from the list, or use the form")
        source = name
    if source.startswith("preset:"):
        name = source.removeprefix("preset:")
        if name not in dict(service.preset_names()):
            raise UsageError(f"unknown preset {name!r}", hint="choose one from the list")
        return MappingChoice(preset=name)
    values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
    return MappingChoice(data=service.mapping_from_form(headers, values))


@routes.get("/mapping")
async def mapping_page(request: web.Request) -> web.StreamResponse:
    need(request, "file")
    body = await asyncio.to_thread(mapping_body, request)
    return render(request, "Map the columns", body, step="/mapping")


@routes.post("/mapping/preview")
async def mapping_preview(request: web.Request) -> web.StreamResponse:
    """The preview fragment for the form as it is now (the page's script asks on change)."""
    w, data = await _mapping_form(request)
    assert w.file is not None
    try:
        choice = choice_from_post(w.file.headers, data)
    except TimetrackerError as exc:
        from timetracker_import.ui.html import error_box

        return web.Response(text=error_box(exc.message, exc.hint), content_type="text/html")
    text = await asyncio.to_thread(_preview_or_error, w, choice)
    return web.Response(text=text, content_type="text/html")


async def _mapping_form(request: web.Request) -> tuple[Wizard, Any]:
    need(request, "file")
    return wizard(request), await request.post()


@routes.post("/mapping")
async def mapping_post(request: web.Request) -> web.StreamResponse:
    w, data = await _mapping_form(request)
    assert w.file is not None
    action = str(data.get("action") or "next")
    values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
    source = str(data.get("source") or "form")
    if source == "other" and str(data.get("other_preset") or "").startswith("preset:"):
        source = str(data.get("other_preset"))
    try:
        choice = choice_from_post(w.file.headers, data)
        if action == "edit":
            if choice.preset:
                values = service.form_values(choice, w.file.headers)
            body = await asyncio.to_thread(mapping_body, request, values, "form")
            notice = (
                f"The columns of preset {choice.preset} are in the form now; settings the form "
                "has no control for (value maps, joins, skipped rows) are not copied."
                if choice.preset else None
            )  # fmt: skip
            return render(request, "Map the columns", body, step="/mapping", notice=notice)
        if action == "yaml":
            name = f"{(w.file.path.stem or 'mapping')}.mapping.yaml"
            return web.Response(
                text=choice.yaml_text(),
                content_type="application/yaml",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        if action == "preview":
            body = await asyncio.to_thread(
                mapping_body, request, values, source, _preview_or_error(w, choice)
            )
            return render(request, "Map the columns", body, step="/mapping")
        await asyncio.to_thread(service.preview, w.file, choice, 1)  # the columns exist
    except TimetrackerError as exc:
        body = await asyncio.to_thread(mapping_body, request, values, source, " ")
        return render(
            request, "Map the columns", body, step="/mapping", error=problem(exc), status=400
        )
    w.set_mapping(choice)
    raise web.HTTPSeeOther("/validate")


@routes.get("/mapping.yaml")
async def mapping_yaml(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping")
    w = wizard(request)
    assert w.mapping is not None and w.file is not None
    return web.Response(
        text=w.mapping.yaml_text(),
        content_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{w.file.path.stem}.mapping.yaml"'},
    )


# --------------------------------------------------------------------------- Validate


def rejected_table(checked: service.Checked) -> str:
    """Rejected rows: every cell, the offending one highlighted, the reason beside it."""
    kinds = Counter(r.kind for r in checked.rejected_rows)
    options = [("", f"all problems ({len(checked.rejected_rows)})")] + [
        (k, f"{k} ({n})") for k, n in kinds.most_common()
    ]
    head = "".join(f"<th>{e(h)}</th>" for h in ("row", *checked.headers, "problem"))
    rows = []
    for r in checked.rejected_rows:
        cells = []
        for i, cell in enumerate(r.cells):
            if i == r.column_index:
                cells.append(
                    f'<td class="bad" title="{e(r.reason)}">{e(cell) or "<i>empty</i>"}</td>'
                )
            else:
                cells.append(f"<td>{e(cell)}</td>")
        rows.append(
            f'<tr data-kind="{e(r.kind)}" data-row="{r.source_row}"><td>{r.source_row}</td>'
            + "".join(cells)
            + f'<td class="reason">{e(r.reason)}</td></tr>'
        )
    more = ""
    if checked.result.rejected > len(checked.rejected_rows):
        more = (
            f"<p class=help>Showing the first {len(checked.rejected_rows)} of {checked.result.rejected} "
            "rejected rows; the rejected file has them all.</p>"
        )
    return (
        "<label>Show "
        + select("kind", options, "", label="filter by problem", ident="kind-filter")
        + "</label>"
        f'<div class="scroll"><table id="rejected" class="rejected-rows"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def validate_body(w: Wizard) -> str:
    assert w.checked is not None and w.mapping is not None
    c = w.checked.result
    counts = table(
        ["rows", "valid", "rejected", "skipped", "valid time"],
        [[str(c.rows), str(c.valid), str(c.rejected), str(c.skipped), hours(c.total_seconds)]],
        table_id="counts",
        cls="counts",
    )
    per_user = ""
    if c.seconds_per_user:
        per_user = (
            "<h2>Valid time per user</h2><p class=help>As written in the file; the dry "
            "run checks each name against the 7pace users.</p>"
            + table(
                ["user", "hours"],
                [
                    [u or "(the token's own user)", hours(s)]
                    for u, s in sorted(c.seconds_per_user.items())
                ],
                cls="narrow",
            )
        )
    downloads = []
    if c.rejected_path is not None:
        downloads.append('<a class="button secondary" href="/validate/rejected.xlsx" '
                         'id="download-rejected">Rejected rows (XLSX, cells highlighted)</a>')  # fmt: skip
    if c.report_path is not None:
        downloads.append('<a class="button secondary" href="/validate/report.html" '
                         'target="_blank" id="download-report">HTML report</a>')  # fmt: skip
    if c.rejected:
        verdict = (
            f"<p>{c.rejected} row(s) have a problem. Fix them in your file and choose it again, "
            "or go on: rejected rows are never sent, and the import reports them again.</p>"
        )
        rejected = "<h2>Rejected rows</h2>" + rejected_table(w.checked)
    else:
        verdict = "<p class=ok>Every row is valid.</p>"
        rejected = ""
    return (
        f"<p>File <b>{e(w.file.label if w.file else '')}</b> with {e(w.mapping.label)}; checked "
        "offline, nothing was sent.</p>"
        + counts + verdict
        + f'<div class="actions">{"".join(downloads)}</div>'
        + rejected + per_user
        + nav("/mapping", "Connect to 7pace", next_href="/connect")
    )  # fmt: skip


@routes.get("/validate")
async def validate_page(request: web.Request) -> web.StreamResponse:
    need(request, "file", "mapping")
    w = wizard(request)
    assert w.file is not None and w.mapping is not None
    if w.checked is None:
        try:
            w.checked = await asyncio.to_thread(
                service.run_validate, w.file, w.mapping, w.output_dir("validate")
            )
        except TimetrackerError as exc:
            body = nav("/mapping", None)
            return render(
                request, "Validate", body, step="/validate", error=problem(exc), status=400
            )
    return render(request, "Validate", validate_body(w), step="/validate")


@routes.get("/validate/{name:rejected.xlsx|report.html}")
async def validate_download(request: web.Request) -> web.StreamResponse:
    w = wizard(request)
    c = w.checked.result if w.checked else None
    path = None
    if c is not None:
        path = c.rejected_path if request.match_info["name"] == "rejected.xlsx" else c.report_path
    if path is None or not path.exists():
        raise web.HTTPNotFound(text="no such file: validate the file first")
    if path.suffix == ".html":
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})
    stem = w.file.path.stem if w.file else "file"
    return web.FileResponse(
        path,
        headers={"Content-Disposition": f'attachment; filename="{stem}.rejected{path.suffix}"'},
    )
