"""Over a real loopback socket: the exact bytes of the request line (literal `$`, encoded
`+`), no redirect following, and a timeout after sending being ambiguous."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.protocol import AmbiguousWrite, Request
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.errors import TransientApiError

from .conftest import TOKEN, Recorder


def make_app(seen: list[dict[str, Any]]) -> web.Application:
    async def record(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "auth": request.headers.get("Authorization"),
                "body": await request.text(),
            }
        )
        if request.path.endswith("/moved"):
            raise web.HTTPFound("/elsewhere")
        if request.path.endswith("/slow"):
            await asyncio.sleep(2)
        return web.json_response({"data": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    return app


async def _client(server: TestServer, recorder: Recorder, **kw: Any) -> TimetrackerClient:
    settings = ConnectionSettings(url=str(server.make_url("")).rstrip("/"), token=Secret(TOKEN))
    return TimetrackerClient(settings, sleep=recorder.sleep, **kw)


async def test_query_string_reaches_the_server_byte_for_byte(
    aiohttp_server: Any, recorder: Recorder
) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(make_app(seen))
    async with await _client(server, recorder) as c:
        await c.worklogs_all(
            from_ts="2024-03-04T10:00:00+02:00", work_item_ids=[1, 2], page_size=10
        )
    assert seen[0]["raw_path"] == (
        "/api/rest/workLogs/all?api-version=3.2"
        "&$fromTimestamp=2024-03-04T10:00:00%2B02:00&$workItemIds=1,2&$count=10&$skip=0"
    )
    assert seen[0]["auth"] == f"Bearer {TOKEN}"


async def test_validate_only_batch_on_the_wire(aiohttp_server: Any, recorder: Recorder) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(make_app(seen))
    async with await _client(server, recorder) as c:
        await c.post_batch([{"length": 60, "comment": "x"}], validate_only=True)
    assert seen[0]["raw_path"] == (
        "/api/rest/workLogs/batch?api-version=3.2&validateOnly=true&$validateOnly=true"
    )
    assert seen[0]["body"] == '[{"length": 60, "comment": "x"}]'


async def test_redirect_is_not_followed_with_the_token(
    aiohttp_server: Any, recorder: Recorder
) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(make_app(seen))
    async with await _client(server, recorder) as c:
        with pytest.raises(Exception, match="redirect"):
            await c.request(Request("GET", "moved"))
    assert [s["raw_path"].split("?")[0] for s in seen] == ["/api/rest/moved"]


async def test_read_timeout_after_sending_a_post_is_ambiguous(
    aiohttp_server: Any, recorder: Recorder
) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(make_app(seen))

    async with await _client(server, recorder, timeout=aiohttp.ClientTimeout(total=0.3)) as c:
        with pytest.raises(AmbiguousWrite):
            await c.request(Request("POST", "slow", (), {"length": 1}))
    assert len(seen) == 1  # the server did receive it, and it was not re-sent
    assert recorder.sleeps == []


async def test_connection_refused_get_is_retried_then_transient(recorder: Recorder) -> None:
    # a port nobody listens on: bind, then close

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = ConnectionSettings(url=f"http://127.0.0.1:{port}", token=Secret(TOKEN))
    async with TimetrackerClient(settings, sleep=recorder.sleep) as c:
        with pytest.raises(TransientApiError) as info:
            await c.me()
    assert len(recorder.sleeps) == 4
    assert TOKEN not in str(info.value)
