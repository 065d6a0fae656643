"""Fixtures for the contract suite: a live sandbox driven only through the project's client.

The sandbox runs in-process on a real loopback port (pytest-aiohttp's ``aiohttp_server``), so
every call goes through the client's full stack: URL building, headers, aiohttp, retries.
The sandbox side is only inspected through its own control endpoint ``/_sandbox/stats`` and
the raw request lines it received (recorded on ``on_response_prepare``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from timetracker_import.api.client import RetryEvent, TimetrackerClient
from timetracker_import.api.redact import Secret
from timetracker_import.api.retry import RetryPolicy
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.sandbox import load_seed, make_app
from timetracker_import.sandbox.seed import stable_guid

DEMO_TOKENS = load_seed("demo").tokens


def uid(who: str) -> str:
    """The sandbox's deterministic 7pace id of a demo user (``bob`` or an e-mail)."""
    email = who if "@" in who else f"{who}@example.com"
    return stable_guid("user", email)


def activity_id(name: str) -> str:
    """The sandbox's deterministic id of a seeded activity type."""
    return stable_guid("activity", name)


class SleepRecorder:
    """An injected ``sleep`` that records each delay and returns at once (no real waiting)."""

    def __init__(self, on_sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.delays: list[float] = []
        self.events: list[RetryEvent] = []
        self._on_sleep = on_sleep

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._on_sleep is not None:
            await self._on_sleep(seconds)
        await asyncio.sleep(0)


@dataclass
class Sandbox:
    """A running sandbox plus helpers to talk to it through ``TimetrackerClient``."""

    server: TestServer
    app: web.Application
    tokens: dict[str, str] = field(repr=False)
    raw_requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the server part; the client adds ``/api/rest``)."""
        return str(self.server.make_url("")).rstrip("/")

    def settings(self, who: str = "bob", **overrides: Any) -> ConnectionSettings:
        """Connection settings for a seeded user (``bob`` or an e-mail address)."""
        email = who if "@" in who else f"{who}@example.com"
        token = overrides.pop("token", None) or self.tokens[email]
        return ConnectionSettings(url=self.url, token=Secret(token), **overrides)

    @asynccontextmanager
    async def client(
        self,
        who: str = "bob",
        *,
        sleep: SleepRecorder | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        settings: ConnectionSettings | None = None,
        **overrides: Any,
    ) -> AsyncIterator[TimetrackerClient]:
        """A ``TimetrackerClient`` for ``who`` with a never-waiting injected sleep."""
        recorder = sleep or SleepRecorder()
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = timeout
        async with TimetrackerClient(
            settings or self.settings(who, **overrides),
            sleep=recorder,
            retry_policy=retry_policy,
            rand=lambda: 0.0,
            on_retry=recorder.events.append,
            **kwargs,
        ) as client:
            yield client

    async def control(self, method: str, name: str, body: Any = None) -> Any:
        """Call a sandbox control endpoint (``stats``, ``faults``, ``reset``); no token."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.url}/_sandbox/{name}", json=body) as resp,
        ):
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``: call counts per endpoint and stored worklogs."""
        result: dict[str, Any] = await self.control("GET", "stats")
        return result

    async def set_faults(self, specs: list[str]) -> None:
        """Replace the sandbox's fault rules (their call counters restart)."""
        await self.control("POST", "faults", specs)


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def make_sandbox(aiohttp_server: Any) -> SandboxFactory:
    """Start a sandbox with ``make_app(**kwargs)`` (in-memory db) on a free loopback port."""

    async def factory(**kwargs: Any) -> Sandbox:
        app = make_app(**kwargs)
        raw: list[str] = []

        async def record(request: web.Request, response: web.StreamResponse) -> None:
            raw.append(f"{request.method} {request.raw_path}")

        app.on_response_prepare.append(record)
        server = await aiohttp_server(app)
        seed = kwargs.get("seed", "demo")
        tokens = load_seed(seed).tokens if isinstance(seed, str | dict) else DEMO_TOKENS
        return Sandbox(server=server, app=app, tokens=tokens, raw_requests=raw)

    return factory


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    """A fresh demo sandbox."""
    return await make_sandbox()
