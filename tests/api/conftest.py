"""Fixtures for the API client tests: settings with a known token, a client that never sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from yarl import URL

from timetracker_import.api.client import RetryEvent, TimetrackerClient
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings

TOKEN = "tt-SeCrEt-token-value-9f8e7d6c5b4a-WXYZ"
BASE = "https://contoso.timehub.7pace.com/api/rest"


def url(path: str, query: str = "") -> str:
    """The URL the client is expected to call (api-version first)."""
    tail = f"&{query}" if query else ""
    return f"{BASE}/{path}?api-version=3.2{tail}"


@pytest.fixture
def settings() -> ConnectionSettings:
    return ConnectionSettings(url="https://contoso.timehub.7pace.com", token=Secret(TOKEN))


class Recorder:
    """Collects the injected sleeps and retry events."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[RetryEvent] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(
    settings: ConnectionSettings, recorder: Recorder
) -> AsyncIterator[TimetrackerClient]:
    async with TimetrackerClient(
        settings, sleep=recorder.sleep, rand=lambda: 0.5, on_retry=recorder.events.append
    ) as c:
        yield c


class _CompatResponse(ClientResponse):
    """aioresponses 0.7.9 does not pass ``stream_writer``, which aiohttp 3.14 requires."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioresponses.core

    monkeypatch.setattr(aioresponses.core, "ClientResponse", _CompatResponse)
