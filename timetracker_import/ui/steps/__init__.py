"""One module per wizard step: each has its ``routes`` (request handlers) and renders its
templates; the work is the library's (``timetracker_import``)."""

from __future__ import annotations

from aiohttp import web

from timetracker_import.ui.steps import (
    connect,
    dryrun,
    file,
    importing,
    jobs,
    mapping,
    runs,
    sync,
    validate,
)

MODULES = (file, mapping, validate, connect, dryrun, importing, runs, sync, jobs)


def add_routes(app: web.Application) -> None:
    for module in MODULES:
        app.router.add_routes(module.routes)
