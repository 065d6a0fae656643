"""The aiohttp application of the web app and the loop that serves it."""

from __future__ import annotations

import asyncio
import logging
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui.html import error_box, page
from timetracker_import.ui.security import (
    GUARD,
    Guard,
    allowed_hosts,
    guard_middleware,
    is_loopback,
)
from timetracker_import.ui.state import WIZARD, Wizard

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: Reports and rejected files we generated: their own inline style, no scripts.
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An error a user caused becomes a page with its fix; a bug becomes a page saying so
    (the traceback goes to the terminal, not the browser); the server keeps running."""
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except TimetrackerError as exc:
        return _error_page(request, exc.message, exc.hint, 400)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error_page(
            request,
            "something went wrong inside the app (this is a bug, not your data)",
            "go back and try again; the details are in the terminal running "
            "`timetracker-import ui`, please report them",
            500,
        )
    if isinstance(response, web.FileResponse):
        response.headers["Content-Security-Policy"] = FILE_CSP
    return response


def _error_page(request: web.Request, message: str, hint: str | None, status: int) -> web.Response:
    guard: Guard = request.app[GUARD]
    wizard: Wizard = request.app[WIZARD]
    body = (
        '<div class="nav"><a class="button secondary" href="/">&larr; Back to the wizard</a></div>'
    )
    text = page("Something needs fixing", error_box(message, hint) + body, csrf=guard.csrf_token,
                reachable=wizard.reachable())  # fmt: skip
    return web.Response(text=text, content_type="text/html", status=status)


def make_app(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    guard: Guard | None = None,
    wizard: Wizard | None = None,
) -> web.Application:
    """The app; ``guard`` holds the launch token (a fresh one by default)."""
    from timetracker_import.ui import pages, pages_run

    guard = guard or Guard(hosts=allowed_hosts(host, port))
    app = web.Application(
        middlewares=[guard_middleware(guard, public=("/favicon.ico",)), errors_middleware],
        client_max_size=1024 * 1024,  # forms; uploads are streamed (pages.MAX_UPLOAD)
    )
    app[GUARD] = guard
    app[WIZARD] = wizard or Wizard()
    app.router.add_routes(pages.routes)
    app.router.add_routes(pages_run.routes)
    app.router.add_static("/static", STATIC, append_version=False)
    app.router.add_get("/favicon.ico", _favicon)

    async def cleanup(app: web.Application) -> None:
        job = app[WIZARD].job
        if job is not None and not job.finished.is_set():
            job.cancel.set()  # stop a running import resumably
            await asyncio.to_thread(job.finished.wait, 30)
        app[WIZARD].remove()

    app.on_cleanup.append(cleanup)
    return app


async def _favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


def check_host(host: str, allow_remote: bool) -> str | None:
    """None for a loopback host; a warning text when remote access was allowed; else
    UsageError."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise UsageError(
            f"--host {host} is not a loopback address: the app would be reachable from other "
            "machines",
            hint="leave --host at 127.0.0.1 (the default); add --allow-remote only if you "
            "mean it and trust the network",
        )
    return (
        f"warning: serving on {host}: anyone who can reach this address and gets the launch "
        "link can use your 7pace token through this app; traffic is not encrypted (plain HTTP)"
    )


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = True,
    allow_remote: bool = False,
    echo: Callable[[str], Any] = lambda text: print(text, file=sys.stderr, flush=True),
    ready: Callable[[str], Any] | None = None,
    initial_file: Path | None = None,
) -> None:
    """Serve until Ctrl-C: print the launch URL (and open the browser). ``initial_file``
    is chosen on the File page already (``make ui``'s demo file)."""
    warning = check_host(host, allow_remote)
    if warning:
        echo(warning)

    async def main() -> None:
        nonlocal port
        runner: web.AppRunner | None = None
        guard = Guard(hosts=frozenset())
        wizard = Wizard()
        if initial_file is not None:
            from timetracker_import.ui.service import open_file

            wizard.set_file(open_file(initial_file, str(initial_file)))
        app = make_app(host=host, port=port, guard=guard, wizard=wizard)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another program uses that port: pick another with --port N "
                "(or --port 0 for any free one)",
            ) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            port = sockets[0].getsockname()[1]
        guard.hosts = allowed_hosts(host, port)
        shown = f"[{host}]" if ":" in host else host
        if host in ("0.0.0.0", "::"):
            import socket

            shown = socket.gethostname()
        url = guard.launch_url(f"http://{shown}:{port}")
        echo(
            f"timetracker-import ui is running at http://{shown}:{port}\n"
            f"open this link (it works once; it logs this browser in):\n  {url}\n"
            "stop with Ctrl-C"
        )
        if ready is not None:
            ready(url)
        if open_browser:
            await asyncio.to_thread(webbrowser.open, url)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, web.GracefulExit):
        echo("stopped")
