"""Fixtures for the web app tests: the app under aiohttp's test client, logged in or not."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.cli.conftest import cli_env  # noqa: F401 (a private config, state dir, no keyring)
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.demo import write_demo_file
from timetracker_import.ui.security import GUARD, Guard
from timetracker_import.ui.server import make_app
from timetracker_import.ui.state import Wizard

MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def anon(
    aiohttp_client: MakeClient,
    tmp_path: Path,
    cli_env: None,  # noqa: F811 (the fixture imported above)
) -> TestClient:
    """The app's client without a session (the launch token is in ``client.app['guard']``)."""
    guard = Guard(hosts=frozenset())
    app = make_app(guard=guard, wizard=Wizard(work_dir=tmp_path / "work"))
    (tmp_path / "work").mkdir()
    client = await aiohttp_client(app)
    assert client.port is not None
    guard.bind("127.0.0.1", client.port)
    return client


@pytest.fixture
async def ui(anon: TestClient) -> TestClient:
    """The app's client after opening the launch link (session cookie set)."""
    guard: Guard = anon.app[GUARD]
    resp = await anon.get(f"/launch?token={guard.launch_token}", allow_redirects=False)
    assert resp.status == 303
    return anon


def csrf_of(html: str) -> str:
    """The CSRF token a page carries."""
    match = re.search(r'name="_csrf" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert match, "page without a CSRF token"
    return match.group(1)


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    """One demo sandbox for a test module (tests reset it when they need it empty)."""
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    """The demo CSV: unknown user (row 4), bad date (row 5), row 7 a copy of row 3."""
    return write_demo_file(tmp_path / "hours-demo.csv")


async def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    """GET ``page`` for its CSRF token, then POST ``data`` to ``action`` (no redirects)."""
    token = csrf_of(await (await client.get(page)).text())
    return await client.post(action, data={"_csrf": token, **data}, allow_redirects=False)


def csrf_token(client: TestClient) -> str:
    return str(client.app[GUARD].csrf_token)


async def post(client: TestClient, action: str, data: dict[str, str] | None = None) -> Any:
    """POST ``data`` (with the session's CSRF token) to ``action``, no redirects."""
    return await client.post(
        action, data={"_csrf": csrf_token(client), **(data or {})}, allow_redirects=False
    )


async def finish_job(client: TestClient, timeout: float = 60) -> Any:
    """Wait for the wizard's background job, then GET ``/job`` (it redirects to the page
    the job leads to, or shows why it stopped) and return that response."""
    import asyncio
    import time

    from timetracker_import.ui.state import WIZARD

    job = client.app[WIZARD].job
    assert job is not None, "no job was started"
    deadline = time.monotonic() + timeout
    while not job.finished.is_set():
        assert time.monotonic() < deadline, f"{job.title} did not finish"
        await asyncio.sleep(0.05)
    return await client.get("/job")


async def post_and_finish(
    client: TestClient, action: str, data: dict[str, str] | None = None, timeout: float = 60
) -> Any:
    """POST a form that starts a job; wait for it; the page it leads to."""
    resp = await post(client, action, data)
    assert resp.status == 303 and resp.headers["Location"] == "/job", (
        resp.status,
        await resp.text(),
    )
    return await finish_job(client, timeout)
