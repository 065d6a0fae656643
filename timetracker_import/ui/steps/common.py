"""What every step needs: the wizard, "send me back to the missing step", form values."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from timetracker_import.errors import TimetrackerError
from timetracker_import.ui.state import WIZARD, Job, Wizard


def wizard(request: web.Request) -> Wizard:
    return request.app[WIZARD]


def need(request: web.Request, *what: str) -> Wizard:
    """The wizard, after sending the user back to the first step that is still missing."""
    w = wizard(request)
    if "file" in what and w.file is None:
        raise web.HTTPSeeOther("/file")
    if "mapping" in what and w.mapping is None:
        raise web.HTTPSeeOther("/mapping")
    if "connection" in what and w.connection is None:
        raise web.HTTPSeeOther("/connect")
    return w


def problem(exc: TimetrackerError) -> tuple[str, str | None]:
    """(message, hint) of an error a user can fix."""
    return exc.message, exc.hint


def values(data: Any) -> dict[str, str]:
    """A posted form's text fields (never the CSRF token, never a token)."""
    return {
        k: str(v) for k, v in data.items() if isinstance(v, str) and k not in ("_csrf", "token")
    }


def start(w: Wizard, job: Job, work: Any) -> web.HTTPSeeOther:
    """Start ``job`` (unless another one runs) and go to its progress page."""
    if w.busy():
        return web.HTTPSeeOther("/job")
    w.job = job
    job.run(work)
    return web.HTTPSeeOther("/job")
