"""The whole wizard in headless Chromium (Playwright driving Debian's chromium) against a
sandbox: upload, the detected preset and the live preview, the highlighted cells, connect,
the dry run's plan and a one-click alias, the import with live progress against the
server's state, undo, the runs list, and 403 without the session.

Takes the README's screenshots (``docs/img/ui-validate.png``, ``docs/img/ui-dryrun.png``);
they are copied into docs/img only with ``UPDATE_SCREENSHOTS=1`` so a test run leaves the
work tree clean.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.demo import BAD_DATE_ROW, DUPLICATE_OF, DUPLICATE_ROW, write_demo_file
from timetracker_import.ui.security import Guard, allowed_hosts
from timetracker_import.ui.server import make_app
from timetracker_import.ui.state import Wizard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (CI installs it with apt-get in .ci/run; "
    "locally: apt-get install chromium)",
)


@dataclass
class RunningApp:
    base: str
    launch_url: str


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        yield sandbox


@pytest.fixture
def running_app(tmp_path: Path, cli_env: None) -> Iterator[RunningApp]:
    """The web app served on a free loopback port in a thread."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        stop = asyncio.Event()
        state["stop"] = stop

        async def main() -> None:
            guard = Guard(hosts=frozenset())
            (tmp_path / "work").mkdir()
            app = make_app(guard=guard, wizard=Wizard(work_dir=tmp_path / "work"))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            guard.hosts = allowed_hosts("127.0.0.1", port)
            state["app"] = RunningApp(
                f"http://127.0.0.1:{port}", guard.launch_url(f"http://127.0.0.1:{port}")
            )
            ready.set()
            await stop.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, name="tti-ui", daemon=True)
    thread.start()
    assert ready.wait(30), "the app did not start"
    try:
        yield state["app"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def counts(page: Any) -> dict[str, int]:
    cells = page.locator("#counts td[data-count]")
    return {
        cells.nth(i).get_attribute("data-count"): int(cells.nth(i).inner_text())
        for i in range(cells.count())
    }


def test_the_whole_wizard_in_chromium(
    running_app: RunningApp, box: RunningSandbox, tmp_path: Path
) -> None:
    demo = write_demo_file(tmp_path / "hours-demo.csv")
    shots = tmp_path / "shots"
    shots.mkdir()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            # a browser without the session gets 403 on every page
            stranger = browser.new_page()
            for path in ("/file", "/runs", "/static/app.js"):
                response = stranger.goto(running_app.base + path)
                assert response is not None and response.status == 403, path
            stranger.close()

            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(running_app.launch_url)
            assert page.url == running_app.base + "/file"

            # File: upload
            page.screenshot(path=str(shots / "file.png"), full_page=True)
            page.set_input_files("input[name=upload]", str(demo))
            page.click("#upload-next")
            page.wait_for_url("**/mapping")

            # Mapping: the detected preset, its evidence, and a live preview of the form
            assert page.is_checked("input[value='preset:payroll-demo']")
            assert "Employee Email" in page.inner_text(".evidence")
            assert "2026-11-02 08:00 UTC" in page.inner_text("#preview")
            # the drafted form: lengths read as minutes -> 2 becomes 0.03 h, live
            page.select_option("select[name='length.unit']", "minutes")
            page.wait_for_selector("#preview[data-updated]")
            assert page.is_checked("#source-form")  # editing the form picks it
            row = page.locator("#preview tbody tr").first.inner_text()
            assert "0.03" in row and "alice@example.com" in row
            page.screenshot(path=str(shots / "mapping.png"), full_page=True)
            page.check("input[value='preset:payroll-demo']")
            page.click("#next")
            page.wait_for_url("**/validate")

            # Validate: counts, the offending cell highlighted with its reason, the filter
            # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
            assert page.inner_text("#counts tbody").split() == ["8", "6", "1", "1", "12.50", "h"]
            bad = page.locator(f"#rejected tr[data-row='{BAD_DATE_ROW}'] td.bad")
            assert bad.count() == 1 and bad.inner_text() == "2026-11-31"
            assert "30 days" in (bad.get_attribute("title") or "")
            background = bad.evaluate("el => getComputedStyle(el).backgroundColor")
            assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")  # highlighted
            options = page.locator("#kind-filter option")
            assert options.count() == 2  # all, and the one problem
            page.select_option("#kind-filter", index=1)
            assert page.locator("#rejected tbody tr:visible").count() == 1
            page.select_option("#kind-filter", index=0)
            page.screenshot(path=str(shots / "ui-validate.png"), full_page=True)
            page.click("#next")
            page.wait_for_url("**/connect")

            # Connect: paste the token (never shown again)
            token = box.tokens["alice@example.com"]
            page.check("#target-url")
            page.fill("#url", box.url)
            page.fill("#token", token)
            page.screenshot(path=str(shots / "connect.png"), full_page=True)
            page.click("#next")
            page.wait_for_url("**/dryrun")
            assert token not in page.content()

            # Dry run: the plan, the unknown user with a one-click alias, the duplicate
            assert counts(page) == {"rows": 8, "created": 5, "already_existing": 0,
                                    "rejected": 2, "unprocessed": 0, "skipped": 1}  # fmt: skip
            assert "bobb@example.com" in page.inner_text("#unknown-users")
            assert f"row {DUPLICATE_ROW} is identical to row {DUPLICATE_OF}" in page.inner_text(
                "#duplicates"
            )
            assert "2026-W45" in page.inner_text("#grid")
            assert box.stats()["worklogs"] == 0
            page.screenshot(path=str(shots / "ui-dryrun.png"), full_page=True)
            page.click("text=It is bob@example.com")
            page.wait_for_url("**/dryrun")
            assert counts(page)["created"] == 6 and counts(page)["rejected"] == 1
            page.click("#next")
            page.wait_for_url("**/import")

            # Import: confirm, live progress over server-sent events, the result
            assert "About to create 6 worklogs" in page.inner_text("#confirm-text")
            page.click("#next")
            page.wait_for_url("**/import/result")
            assert counts(page) == {"rows": 8, "created": 6, "already_existing": 0,
                                    "rejected": 1, "unprocessed": 0, "skipped": 1}  # fmt: skip
            assert box.stats()["worklogs"] == 6  # the server agrees
            assert page.locator("#file-created-csv").count() == 1
            page.screenshot(path=str(shots / "result.png"), full_page=True)

            # Undo: the confirmation lists what will be deleted
            page.click("#undo")
            page.wait_for_url("**/undo")
            assert page.locator("#undo-list tbody tr").count() == 6
            page.screenshot(path=str(shots / "undo.png"), full_page=True)
            assert box.stats()["worklogs"] == 6
            page.click("#confirm-undo")
            page.wait_for_selector("#undo-done")
            assert box.stats()["worklogs"] == 0

            # Runs: the history shows the dry runs and the import
            page.click("a.runs-link")
            assert page.locator("#runs tbody tr").count() == 3
            page.screenshot(path=str(shots / "runs.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    for name in ("ui-validate.png", "ui-dryrun.png"):
        data = (shots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        if os.environ.get("UI_SHOTS_DIR"):  # every page, for a look at them
            shutil.copytree(shots, os.environ["UI_SHOTS_DIR"], dirs_exist_ok=True)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shots / name, ROOT / "docs" / "img" / name)
