"""A tiny threaded 7pace fake for CLI tests (sync tests cannot share pytest's event loop).

Serves ``me``, ``users`` (paged) and ``activityTypes`` for one bearer token; everything else
is 404. It is not the sandbox: just enough to prove a live HTTP round trip.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

ME = {
    "user": {
        "uniqueName": "alice@example.com",
        "displayName": "Alice Example",
        "email": "alice@example.com",
        "name": "Alice Example",
        "id": "11111111-1111-1111-1111-111111111111",
    },
    "account": {"name": "contoso", "id": "a"},
    "defaultActivityType": {"color": "46aee8", "name": "Development", "id": "t1"},
    "timeZone": 60,
}
USERS = [
    {
        "name": f"User {i:02d}",
        "displayName": f"User {i:02d}",
        "uniqueName": f"u{i}@x.com",
        "email": f"u{i}@x.com",
        "id": f"id-{i}",
        "vstsId": f"v-{i}",
    }
    for i in range(3)
]
ACTIVITY_TYPES: dict[str, Any] = {
    "enabled": True,
    "systemDefaultActivityTypeId": "t1",
    "activityTypes": [
        {"color": "ffffff", "name": "[Not Set]", "id": "00000000-0000-0000-0000-000000000000"},
        {"color": "46aee8", "name": "Development", "id": "t1"},
    ],
}


class FakeServer:
    """Start with ``with FakeServer(token) as server:``; ``server.url`` is the base URL."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"raw_path": request.raw_path, "auth": request.headers.get("Authorization")}
        )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {
                    "error": {
                        "statusCode": 401,
                        "errorCode": "UnauthorizedError",
                        "errorDescription": "invalid token",
                    }
                },
                status=401,
            )
        name = request.path.rsplit("/", 1)[-1].lower()
        if name == "me":
            return web.json_response({"data": ME})
        if name == "users":
            count = int(request.query.get("$count", 500))
            skip = int(request.query.get("$skip", 0))
            return web.json_response({"data": USERS[skip : skip + count]})
        if name == "activitytypes":
            return web.json_response({"data": ACTIVITY_TYPES})
        return web.json_response({"Message": "not found"}, status=404)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
