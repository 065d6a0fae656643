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
from timetracker_import.ui.security import GUARD, Guard, allowed_hosts
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
    guard.hosts = allowed_hosts("127.0.0.1", client.port)
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
