"""Running the sandbox: in a background thread (tests) or in the foreground (the command)."""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import.sandbox.app import make_app
from timetracker_import.sandbox.context import STATE


@dataclass
class RunningSandbox:
    """A live sandbox: its base URL, the seeded tokens (email -> token) and its db file."""

    url: str
    tokens: dict[str, str] = field(repr=False)
    db: Path | None

    @property
    def api_url(self) -> str:
        """The cloud-style API root, ``{url}/api/rest``."""
        return f"{self.url}/api/rest"

    def _control(self, method: str, name: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_sandbox/{name}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read())

    def set_faults(self, specs: list[str]) -> None:
        """Replace the fault rules (call counters restart at 0)."""
        self._control("POST", "faults", specs)

    def reset(self) -> None:
        """Clear faults, counters and all data, then re-seed."""
        self._control("POST", "reset", {})

    def stats(self) -> dict[str, Any]:
        """Call counts per endpoint and the number of stored worklogs."""
        result: dict[str, Any] = self._control("GET", "stats")
        return result


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start ``app`` on host:port (0 = any free port); return the runner and the base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    return runner, f"http://{shown}:{bound[1]}"


@contextmanager
def run_sandbox_in_thread(**make_app_kwargs: Any) -> Iterator[RunningSandbox]:
    """Serve a sandbox on 127.0.0.1 (a free port) in a daemon thread for the ``with`` block.

    Takes :func:`make_app`'s keyword arguments. Without ``db`` a temporary SQLite file is
    used (removed afterwards), so ``.db`` is always a path other processes can open.
    """
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if "db" not in make_app_kwargs:
        tmp = tempfile.TemporaryDirectory(prefix="sandbox-")
        make_app_kwargs["db"] = Path(tmp.name) / "sandbox.sqlite"
    db = make_app_kwargs["db"]
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        box["loop"] = loop
        stop = asyncio.Event()
        box["stop"] = stop

        async def main() -> None:
            try:
                app = make_app(**make_app_kwargs)
                runner, url = await start_site(app, "127.0.0.1", 0)
            except BaseException as exc:  # hand it to the caller's thread
                box["error"] = exc
                ready.set()
                return
            box["url"] = url
            box["tokens"] = app[STATE].seed.tokens
            ready.set()
            await stop.wait()
            await runner.cleanup()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="7pace-sandbox", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    try:
        if "error" in box:
            raise box["error"]
        if "url" not in box:
            raise RuntimeError("the sandbox did not start within 30 s")
        yield RunningSandbox(
            url=box["url"],
            tokens=box["tokens"],
            db=None if str(db) == ":memory:" else Path(db),
        )
    finally:
        if "loop" in box and not box["loop"].is_closed():
            with suppress(RuntimeError):
                box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=10)
        if tmp is not None:
            tmp.cleanup()


def serve_forever(
    app: web.Application, host: str, port: int, on_started: Callable[[str], None]
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_started(base_url)`` runs once the port is bound."""

    async def main() -> None:
        runner, url = await start_site(app, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            on_started(url)
            await stop.wait()
        finally:
            await runner.cleanup()

    with suppress(KeyboardInterrupt):
        asyncio.run(main())
