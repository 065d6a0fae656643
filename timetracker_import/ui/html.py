"""Server-side HTML: the page layout (``templates/page.html``), escaping and small builders.

Every value that comes from a file, a server or the user goes through :func:`e`.
"""

from __future__ import annotations

import html
import importlib.resources
from collections.abc import Iterable, Sequence
from functools import cache
from string import Template

from timetracker_import.ui.security import CSRF_FIELD

#: (path, label) of the wizard's steps, in order.
STEPS: tuple[tuple[str, str], ...] = (
    ("/file", "File"),
    ("/mapping", "Mapping"),
    ("/validate", "Validate"),
    ("/connect", "Connect"),
    ("/dryrun", "Dry run"),
    ("/import", "Import"),
)


def e(value: object) -> str:
    """HTML-escaped text of ``value`` (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


@cache
def _template() -> Template:
    text = importlib.resources.files("timetracker_import.ui").joinpath("templates/page.html")
    return Template(text.read_text(encoding="utf-8"))


def page(
    title: str,
    body: str,
    *,
    csrf: str,
    step: str | None = None,
    reachable: Iterable[str] = (),
    error: tuple[str, str | None] | None = None,
    notice: str | None = None,
) -> str:
    """A whole page: the step bar (``step`` current, ``reachable`` steps are links)."""
    open_steps = set(reachable)
    items = []
    for i, (path, label) in enumerate(STEPS, 1):
        text = f"<span class=stepno>{i}</span> {e(label)}"
        cls = "current" if path == step else ("done" if path in open_steps else "todo")
        if path in open_steps or path == step:
            items.append(f'<a class="{cls}" href="{path}">{text}</a>')
        else:
            items.append(f'<span class="{cls}">{text}</span>')
    messages = ""
    if error is not None:
        messages += error_box(*error)
    if notice:
        messages += f'<p class="notice" role="status">{e(notice)}</p>'
    return _template().substitute(
        title=e(title),
        csrf=e(csrf),
        steps="".join(items),
        runs_current=" current" if step == "/runs" else "",
        messages=messages,
        body=body,
    )


def error_box(message: str, hint: str | None = None) -> str:
    """The message a user can act on, with its fix."""
    fix = f'<p class="hint"><b>How to fix:</b> {e(hint)}</p>' if hint else ""
    return f'<div class="error" role="alert"><p><b>Problem:</b> {e(message)}</p>{fix}</div>'


def form(
    action: str,
    inner: str,
    *,
    csrf: str,
    multipart: bool = False,
    cls: str = "",
    form_id: str = "",
) -> str:
    """A POST form; its first field is the CSRF token (the upload check reads it first)."""
    enc = ' enctype="multipart/form-data"' if multipart else ""
    ident = f' id="{e(form_id)}"' if form_id else ""
    klass = f' class="{e(cls)}"' if cls else ""
    return (
        f'<form method="post" action="{e(action)}"{enc}{ident}{klass}>'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">{inner}</form>'
    )


def nav(back: str | None, next_label: str | None = None, *, next_href: str | None = None) -> str:
    """Back link and a Next submit button (or link)."""
    parts = [
        f'<a class="button secondary" href="{e(back)}">&larr; Back</a>' if back else "<span></span>"
    ]
    if next_label and next_href:
        parts.append(
            f'<a class="button" id="next" href="{e(next_href)}">{e(next_label)} &rarr;</a>'
        )
    elif next_label:
        parts.append(f'<button type="submit" id="next">{e(next_label)} &rarr;</button>')
    return f'<div class="nav">{"".join(parts)}</div>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    cls: str = "",
    table_id: str = "",
    raw: bool = False,
) -> str:
    """A table; cells are escaped unless ``raw`` (then they are HTML already)."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else e(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    ident = f' id="{e(table_id)}"' if table_id else ""
    return f'<table class="{e(cls)}"{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def hours(seconds: int | float) -> str:
    """Seconds as ``1.50 h``."""
    return f"{seconds / 3600:.2f} h"


def select(
    name: str,
    options: Sequence[tuple[str, str]],
    chosen: str | None,
    *,
    label: str = "",
    ident: str = "",
) -> str:
    """A ``<select>``; ``options`` are (value, text)."""
    opts = "".join(
        f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(t)}</option>'
        for v, t in options
    )
    ident_attr = f' id="{e(ident)}"' if ident else ""
    aria = f' aria-label="{e(label)}"' if label else ""
    return f'<select name="{e(name)}"{ident_attr}{aria}>{opts}</select>'
