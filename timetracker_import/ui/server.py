"""The aiohttp application of the web app and the loop that serves it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import import library as lib
from timetracker_import.errors import TimetrackerError, UsageError
from timetracker_import.ui.render import page
from timetracker_import.ui.security import (
    CONTROL_HEADER,
    GUARD,
    NEW_LINK_PATH,
    Guard,
    allowed_hosts,
    guard_middleware,
    is_loopback,
)
from timetracker_import.ui.state import WIZARD, FileInfo, Wizard

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: Reports and rejected files we generated: their own inline style, no scripts.
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
#: an upload no unfinished run needs is removed this long after it was made
UPLOAD_DAYS = 1


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
        return page(
            request,
            "job_error.html",
            title="Something needs fixing",
            error=(exc.message, exc.hint),
            back="/",
            status=400,
        )
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return page(
            request,
            "job_error.html",
            title="Something needs fixing",
            back="/",
            error=(
                "something went wrong inside the app (this is a bug, not your data)",
                "go back and try again; the details are in the terminal running "
                "the app, please report them",
            ),
            status=500,
        )
    if isinstance(response, web.FileResponse):
        response.headers["Content-Security-Policy"] = FILE_CSP
    return response


def make_app(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    guard: Guard | None = None,
    wizard: Wizard | None = None,
) -> web.Application:
    """The app; ``guard`` holds the launch token (a fresh one by default)."""
    from timetracker_import.ui import steps

    if guard is None:
        guard = Guard(hosts=frozenset())
        guard.bind(host, port)
    app = web.Application(
        middlewares=[guard_middleware(guard, public=("/favicon.ico",)), errors_middleware],
        client_max_size=4 * 1024 * 1024,  # forms (a page of fixes); uploads are streamed
    )
    app[GUARD] = guard
    app[WIZARD] = wizard or Wizard(
        work_dir=Path(tempfile.mkdtemp(prefix="tti-ui-")), uploads_dir=lib.uploads_dir()
    )
    steps.add_routes(app)
    app.router.add_static("/static", STATIC, append_version=False)
    app.router.add_get("/favicon.ico", _favicon)

    async def cleanup(app: web.Application) -> None:
        job = app[WIZARD].job
        if job is not None and not job.finished.is_set():
            job.cancel.set()  # stop a running import resumably
            job.answer.set()
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


def prune_uploads(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the upload folders no unfinished run needs that are older than UPLOAD_DAYS
    (an import that stopped keeps its upload, so Resume works after a restart). Returns
    the folders removed."""
    if not folder.is_dir():
        return []
    needed = {
        Path(r.input_path).parent
        for r in lib.run_overviews()
        if r.input_path and r.status != "complete" and not r.dry_run
    }
    limit = (now or time.time()) - UPLOAD_DAYS * 86400
    removed = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and entry not in needed and entry.stat().st_mtime < limit:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def control_file(port: int) -> Path:
    """Where a running app leaves the secret that gets a fresh link (private to the user):
    ``<config folder>/ui/port-PORT.control`` (the folder of the profiles and saved mappings,
    the same for ``make ui``'s demo, which has its own state folder)."""
    return lib.mappings_dir().parent / "ui" / f"port-{port}.control"


def _write_control(port: int, secret: str) -> Path:
    path = control_file(port)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret)
    return path


def fresh_link(host: str, port: int) -> str | None:
    """Ask the app running on ``host:port`` for a fresh launch link (None: no app of ours
    answers there)."""
    import urllib.error
    import urllib.request

    path = control_file(port)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    request = urllib.request.Request(
        f"{base}{NEW_LINK_PATH}", method="POST", headers={CONTROL_HEADER: secret}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
            token = answer.read().decode("ascii").strip()
    except (urllib.error.URLError, OSError, UnicodeDecodeError):
        return None
    return f"{base}/launch?token={token}"


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
    """Serve until Ctrl-C: print the launch URL (and open the browser). When an app of ours
    runs on that port already, print a fresh link to it instead. ``initial_file`` is chosen
    on the File page already (``make ui``'s demo file)."""
    warning = check_host(host, allow_remote)
    if warning:
        echo(warning)

    async def main() -> None:
        nonlocal port
        guard = Guard(hosts=frozenset())
        wizard = Wizard(
            work_dir=Path(tempfile.mkdtemp(prefix="tti-ui-")), uploads_dir=lib.uploads_dir()
        )
        with contextlib.suppress(OSError, TimetrackerError):
            for gone in await asyncio.to_thread(prune_uploads, lib.uploads_dir()):
                log.info("removed old upload %s", gone)
        if initial_file is not None:
            table = lib.inspect_table(initial_file)
            wizard.set_file(
                FileInfo(initial_file, str(initial_file), table, lib.detect_preset(initial_file))
            )
        app = make_app(host=host, port=port, guard=guard, wizard=wizard)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            link = await asyncio.to_thread(fresh_link, host, port) if port else None
            if link is not None:
                echo(
                    "timetracker-import ui is running on that port already; a fresh link "
                    f"to it (it works once):\n  {link}"
                )
                if open_browser:
                    await asyncio.to_thread(webbrowser.open, link)
                return
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another program uses that port: pick another with --port N "
                "(or --port 0 for any free one)",
            ) from None
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            port = sockets[0].getsockname()[1]
        guard.bind(host, port)
        control = _write_control(port, guard.control_secret)
        shown = f"[{host}]" if ":" in host else host
        if host in ("0.0.0.0", "::"):
            import socket

            shown = socket.gethostname()
        url = guard.launch_url(f"http://{shown}:{port}")
        echo(
            f"timetracker-import ui is running at http://{shown}:{port}\n"
            f"open this link (it works once; it logs this browser in):\n  {url}\n"
            f"another link: run `timetracker-import ui --port {port}` again\n"
            "stop with Ctrl-C"
        )
        if ready is not None:
            ready(url)
        if open_browser:
            await asyncio.to_thread(webbrowser.open, url)
        try:
            await asyncio.Event().wait()
        finally:
            control.unlink(missing_ok=True)
            await runner.cleanup()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, web.GracefulExit):
        echo("stopped")


__all__ = ["allowed_hosts", "check_host", "fresh_link", "make_app", "prune_uploads", "serve"]
