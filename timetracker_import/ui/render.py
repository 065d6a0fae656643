"""Pages from Jinja2 templates (``ui/templates``, autoescaped: every value from a file, a
server or the user is text, never markup)."""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import cache
from typing import Any

import jinja2
from aiohttp import web

from timetracker_import.ui.security import CSRF_FIELD, GUARD
from timetracker_import.ui.state import WIZARD
from timetracker_import.ui.words import for_page, problem

#: (path, label) of the wizard's steps, in order.
STEPS: tuple[tuple[str, str], ...] = (
    ("/file", "File"),
    ("/mapping", "Mapping"),
    ("/validate", "Validate"),
    ("/connect", "Connect"),
    ("/dryrun", "Dry run"),
    ("/import", "Import"),
)
#: rows a list shows per page (the rest: "showing N of M" and the next page)
PAGE_ROWS = 100


def cell(value: object) -> str:
    """A cell as a person reads it: '' for empty/NaN, dates without a midnight time, times
    as HH:MM, whole floats without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    text = str(value)
    return "" if text in ("nan", "NaT", "<NA>") else text


#: the step of the run that rejected a row (``Rejection.stage``), as a person says it
STAGE_WORDS = {
    "read": "reading the file",
    "map": "reading the values",
    "validate": "checking the row",
    "resolve": "finding it in 7pace",
    "preflight": "checking 7pace's locked weeks",
    "duplicate": "looking for repeated rows",
    "server": "7pace refused it",
}


def stage(name: object) -> str:
    """A rejection's stage in words (an unknown one as it is)."""
    return STAGE_WORDS.get(str(name or ""), str(name or ""))


def hours(seconds: int | float | None) -> str:
    """Seconds as ``1.50 h`` (thousands separated)."""
    return f"{(seconds or 0) / 3600:,.2f} h"


def number(value: int | float | None) -> str:
    return f"{value or 0:,}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("timetracker_import.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cell=cell, hours=hours, number=number, words=for_page, stage=stage)
    env.tests["search"] = lambda value, pattern: re.search(pattern, str(value)) is not None
    env.globals.update(STEPS=STEPS, CSRF_FIELD=CSRF_FIELD, PAGE_ROWS=PAGE_ROWS)
    return env


def page(
    request: web.Request,
    template: str,
    *,
    title: str,
    step: str | None = None,
    error: tuple[str, str | None] | None = None,
    notice: str | None = None,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """Render ``template`` as the whole page (step bar, messages) and answer with it."""
    text = (
        environment()
        .get_template(template)
        .render(
            title=title,
            step=step,
            error=problem(error),
            notice=None if notice is None else for_page(notice),
            csrf=request.app[GUARD].csrf_token,
            reachable=request.app[WIZARD].reachable(),
            **context,
        )
    )
    return web.Response(text=text, content_type="text/html", status=status)


def fragment(template: str, **context: Any) -> str:
    """A part of a page (the mapping preview the script asks for)."""
    return environment().get_template(template).render(**context)


def paged(items: list[Any], request: web.Request, name: str = "page") -> dict[str, Any]:
    """One page of ``items`` (``?page=N``, 1-based) and what the pager says."""
    try:
        number_ = max(1, int(request.query.get(name, "1")))
    except ValueError:
        number_ = 1
    pages = max(1, -(-len(items) // PAGE_ROWS))
    number_ = min(number_, pages)
    first = (number_ - 1) * PAGE_ROWS
    return {
        "items": items[first : first + PAGE_ROWS],
        "first": first + 1 if items else 0,
        "last": min(first + PAGE_ROWS, len(items)),
        "total": len(items),
        "page": number_,
        "pages": pages,
        "param": name,
    }
