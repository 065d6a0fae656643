"""The web app's gate: launch token, session, CSRF, Host header, headers, remote hosts."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.ui.conftest import csrf_of
from timetracker_import.errors import UsageError
from timetracker_import.ui.security import GUARD, SESSION_COOKIE, Guard, allowed_hosts, is_loopback
from timetracker_import.ui.server import check_host


async def test_every_page_is_403_without_the_session(anon: TestClient) -> None:
    for path in (
        "/",
        "/file",
        "/mapping",
        "/validate",
        "/connect",
        "/dryrun",
        "/runs",
        "/static/app.js",
        "/mapping.yaml",
    ):
        resp = await anon.get(path, allow_redirects=False)
        assert resp.status == 403, path
        assert "no session" in await resp.text()
    resp = await anon.post("/file", data={"path": "/etc/passwd"})
    assert resp.status == 403


async def test_the_launch_token_works_once(anon: TestClient) -> None:
    guard: Guard = anon.app[GUARD]
    token = guard.launch_token
    resp = await anon.get(f"/launch?token={token}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies[guard.cookie_name]
    assert guard.cookie_name == f"{SESSION_COOKIE}_{anon.port}"
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await anon.get("/file")).status == 200
    anon.session.cookie_jar.clear()
    again = await anon.get(f"/launch?token={token}", allow_redirects=False)
    assert again.status == 403
    assert "used" in await again.text()
    assert (await anon.get("/file")).status == 403


async def test_a_wrong_launch_token_or_cookie_is_refused(anon: TestClient) -> None:
    resp = await anon.get("/launch?token=guess", allow_redirects=False)
    assert resp.status == 403
    guard0: Guard = anon.app[GUARD]
    resp = await anon.get("/file", headers={"Cookie": f"{guard0.cookie_name}=guess"})
    assert resp.status == 403
    # the right token still works after a wrong try
    guard: Guard = anon.app[GUARD]
    resp = await anon.get(f"/launch?token={guard.launch_token}", allow_redirects=False)
    assert resp.status == 303


async def test_a_foreign_host_header_is_refused_even_with_the_session(ui: TestClient) -> None:
    resp = await ui.get("/file", headers={"Host": f"evil.example:{ui.port}"})
    assert resp.status == 403
    assert "Host header refused" in await resp.text()
    assert (await ui.get("/file", headers={"Host": f"localhost:{ui.port}"})).status == 200


async def test_posts_without_or_with_a_wrong_csrf_token_are_refused(ui: TestClient) -> None:
    page = await (await ui.get("/file")).text()
    token = csrf_of(page)
    resp = await ui.post("/file", data={"path": "/nonexistent.csv"})
    assert resp.status == 403 and "security token" in await resp.text()
    resp = await ui.post("/file", data={"_csrf": "wrong", "path": "/nonexistent.csv"})
    assert resp.status == 403
    resp = await ui.post("/file", data={"_csrf": token, "path": "/nonexistent.csv"})
    assert resp.status == 400  # past the gate: the page says what is wrong
    assert "no such file" in await resp.text()


async def test_a_cross_site_origin_is_refused_even_with_the_token(ui: TestClient) -> None:
    token = csrf_of(await (await ui.get("/file")).text())
    resp = await ui.post(
        "/file", data={"_csrf": token, "path": "/x.csv"}, headers={"Origin": "http://evil.example"}
    )
    assert resp.status == 403
    resp = await ui.post(
        "/file",
        data={"_csrf": token, "path": "/x.csv"},
        headers={"Origin": f"http://127.0.0.1:{ui.port}"},
    )
    assert resp.status == 400


async def test_pages_carry_the_security_headers(ui: TestClient) -> None:
    resp = await ui.get("/file")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "DENY"
    html = await resp.text()
    assert "http://" not in html.replace(f"127.0.0.1:{ui.port}", "")  # nothing remote
    assert "https://" not in html.split("placeholder")[0]


def test_allowed_hosts_and_loopback() -> None:
    assert allowed_hosts("127.0.0.1", 8766) == {"127.0.0.1:8766", "localhost:8766", "[::1]:8766"}
    assert allowed_hosts("192.168.1.5", 80) == {"192.168.1.5:80", "192.168.1.5"}
    import socket

    every = allowed_hosts("0.0.0.0", 9000)  # --allow-remote on every interface
    assert f"{socket.gethostname().lower()}:9000" in every and "127.0.0.1:9000" in every
    assert "evil.example:9000" not in every
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_a_remote_host_needs_allow_remote_and_warns() -> None:
    assert check_host("127.0.0.1", False) is None
    with pytest.raises(UsageError, match="not a loopback"):
        check_host("0.0.0.0", False)
    warning = check_host("0.0.0.0", True)
    assert warning is not None and warning.startswith("warning:")


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(port: str) -> None:
    from click.testing import CliRunner

    from timetracker_import.cli.main import cli

    result = CliRunner().invoke(cli, ["ui", "--port", port, "--no-open"])
    assert result.exit_code == 2 and "is not in the range 0<=x<=65535" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
