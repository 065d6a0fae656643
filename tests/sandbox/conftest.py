"""Fixtures for the sandbox tests: a demo sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from timetracker_import.sandbox import load_seed, make_app
from timetracker_import.sandbox.seed import stable_guid

TOKENS = load_seed("demo").tokens
V = "api-version=3.2"


def auth(who: str) -> dict[str, str]:
    """Bearer header for a demo user by first name (``bob``) or e-mail."""
    email = who if "@" in who else f"{who}@example.com"
    return {"Authorization": f"Bearer {TOKENS[email]}"}


def uid(who: str) -> str:
    """The deterministic 7pace id of a demo user."""
    return stable_guid("user", f"{who}@example.com")


class Api:
    """Tiny helper over the aiohttp test client: ``await api.get("me", who="bob")``."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        endpoint: str,
        *,
        who: str | None = "bob",
        query: str = "",
        json: Any = None,
        version: str | None = "3.2",
        prefix: str = "/api/rest/",
    ) -> tuple[int, Any, dict[str, str]]:
        parts = [p for p in ([f"api-version={version}"] if version else []) + [query] if p]
        url = f"{prefix}{endpoint}?{'&'.join(parts)}"
        headers = auth(who) if who else {}
        async with self.client.request(method, url, json=json, headers=headers) as resp:
            body = await resp.json(content_type=None) if await resp.read() else None
            return resp.status, body, dict(resp.headers)

    async def get(self, endpoint: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("GET", endpoint, **kw)

    async def post(self, endpoint: str, json: Any, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("POST", endpoint, json=json, **kw)

    async def create(self, who: str = "bob", **fields: Any) -> dict[str, Any]:
        body = {"timeStamp": "2024-03-04T09:00:00", "length": 3600, "comment": "work"} | fields
        status, data, _ = await self.post("workLogs", body, who=who)
        assert status == 200, data
        return dict(data["data"])


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(aiohttp_client: Any) -> ApiFactory:
    """Build a sandbox app with ``make_app(**kwargs)`` and return an :class:`Api` on it."""

    async def factory(**kwargs: Any) -> Api:
        return Api(await aiohttp_client(make_app(**kwargs)))

    return factory


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    """A fresh demo sandbox (in-memory db)."""
    return await make_api()


async def raw_http(api: Api, request_line: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send a request byte-for-byte (no URL library re-quoting) and return status and body."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    head = [request_line, f"Host: {server.host}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    status_line, _, rest = data.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), body
