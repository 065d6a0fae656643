"""The whole wizard in headless Chromium (Playwright driving Debian's chromium) against a
sandbox, as a person would: upload, the detected preset and the live preview, validate,
fix a cell in place, connect, the dry run's plan and a one-click alias, the import's
confirmation with the run's own numbers, live progress, the result against the server's
state, undo with its paged confirmation, the runs list, and 403 without the session.

Every page is checked with axe-core (no critical or serious violations; axe-core is
fetched from the npm registry at test time) and, at 390 px wide, for sideways scrolling.

Takes the screenshots of the README and docs/ui.md (``docs/img/ui-*.png``); they are
copied there only with ``UPDATE_SCREENSHOTS=1`` so a test run leaves the work tree clean.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
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
from timetracker_import.ui.security import Guard
from timetracker_import.ui.server import make_app
from timetracker_import.ui.state import Wizard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_VERSION = "4"
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tti-axe-core"
SHOTS = (
    "ui-file.png",
    "ui-mapping.png",
    "ui-validate.png",
    "ui-fixed.png",
    "ui-dryrun.png",
    "ui-confirm.png",
    "ui-result.png",
    "ui-undo.png",
    "ui-runs.png",
    "ui-mobile-validate.png",
)

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (CI installs it with apt-get in .ci/run; "
    "locally: apt-get install chromium)",
)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's browser bundle, installed from the npm registry into a cache folder."""
    bundle = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not bundle.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to fetch axe-core for the accessibility checks")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(AXE_CACHE),
                f"axe-core@{AXE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and bundle.is_file(), done.stderr
    return bundle.read_text(encoding="utf-8")


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
            guard.bind("127.0.0.1", port)
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


def axe_problems(page: Any, source: str) -> list[str]:
    """The critical and serious axe-core violations of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))"
        ".slice(0, 3)}))"
    )
    return [json.dumps(v) for v in found if v["impact"] in ("critical", "serious")]


class Checker:
    """After each step: axe-core on the page, and the same page at 390 px wide (a second
    browser context with the same session): no sideways scrolling, axe-core again."""

    def __init__(self, page: Any, phone: Any, source: str, shots: Path) -> None:
        self.page, self.phone, self.source, self.shots = page, phone, source, shots
        self.problems: list[str] = []

    def check(self, shot: str | None = None, phone_shot: str | None = None) -> None:
        self.page.wait_for_load_state("load")
        url = self.page.url
        self.problems += [f"{url}: {p}" for p in axe_problems(self.page, self.source)]
        if shot:
            self.page.screenshot(path=str(self.shots / shot), full_page=True)
        self.phone.goto(url)  # a GET changes nothing, so it can be asked again
        width = self.phone.evaluate("document.documentElement.scrollWidth")
        if width > 391:
            self.problems.append(f"{url} at 390 px: the page is {width} px wide")
        self.problems += [f"{url} at 390 px: {p}" for p in axe_problems(self.phone, self.source)]
        if phone_shot:
            self.phone.screenshot(path=str(self.shots / phone_shot), full_page=True)


def open_session(
    browser: Any, app: RunningApp, axe_source: str, shots: Path
) -> tuple[Any, Checker, list[str]]:
    """A 1280 px page logged in with the launch link, the Checker that also looks at it at
    390 px (the same session), and the script errors and console errors it collects."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(app.launch_url)
    phone_context = browser.new_context(viewport={"width": 390, "height": 844})
    phone_context.add_cookies(context.cookies())
    return page, Checker(page, phone_context.new_page(), axe_source, shots), errors


def submit_connect(page: Any, app: RunningApp, box: RunningSandbox) -> None:
    """Open the Connect page and send the sandbox's address with alice's token."""
    page.goto(app.base + "/connect")
    page.check("#target-url")
    page.fill("#url", box.url)
    page.fill("#token", box.tokens["alice@example.com"])
    page.click("#next")


def test_the_whole_wizard_in_chromium(
    running_app: RunningApp, box: RunningSandbox, tmp_path: Path, axe_source: str
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

            page, ax, errors = open_session(browser, running_app, axe_source, shots)
            assert page.url == running_app.base + "/file"
            ax.check("ui-file.png")
            # the skip link is the first thing the keyboard reaches
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            assert page.locator("a[aria-current=step]").inner_text().endswith("File")

            # File: upload; reading runs as a job, then the Mapping page
            page.set_input_files("#upload", str(demo))
            page.click("#upload-next")
            page.wait_for_url("**/mapping")

            # Mapping: the detected preset, its evidence, and a live preview of the form
            assert page.is_checked("#src-payroll-demo")
            assert "Employee Email" in page.inner_text(".evidence")
            assert "2026-11-02 08:00 UTC" in page.inner_text("#preview")
            page.select_option("select[name='length.unit']", "minutes")
            page.wait_for_selector("#preview[data-updated]")
            assert page.is_checked("#source-form")  # editing the form picks it
            row = page.locator("#preview tbody tr").first.inner_text()
            assert "0.03" in row and "alice@example.com" in row
            ax.check("ui-mapping.png")
            page.check("#src-payroll-demo")
            page.click("#next")
            page.wait_for_url("**/validate")

            # Validate: counts, the offending cell highlighted with its reason
            assert page.inner_text("#counts tbody").split() == ["8", "6", "1", "1", "12.50", "h"]
            bad = page.locator(f"#rejected tr[data-row='{BAD_DATE_ROW}'] td.bad")
            assert bad.count() == 1 and bad.inner_text() == "2026-11-31"
            assert "30 days" in (bad.get_attribute("title") or "")
            background = bad.evaluate("el => getComputedStyle(el).backgroundColor")
            assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
            ax.check("ui-validate.png")
            # fix the cell in place: the corrected copy is checked again
            page.fill(f"#fix-{BAD_DATE_ROW}", "2026-11-30")
            page.click("#apply-fixes")
            page.wait_for_selector("#fixed")
            assert page.inner_text("#counts tbody").split()[:4] == ["8", "7", "0", "1"]
            assert "2026-11-31" in demo.read_text()  # the original is unchanged
            ax.check("ui-fixed.png", "ui-mobile-validate.png")
            page.click("#next")
            page.wait_for_url("**/connect")

            # Connect: paste the token (never shown again); the dry run starts
            token = box.tokens["alice@example.com"]
            assert page.get_attribute("#url", "placeholder") == "https://ORG.timehub.7pace.com"
            ax.check()
            page.check("#target-url")
            page.fill("#url", box.url)
            page.fill("#token", token)
            page.click("#next")
            page.wait_for_url("**/dryrun")
            assert token not in page.content()

            # Dry run: the plan, the unknown user with a one-click alias, the duplicate
            assert counts(page) == {
                "rows": 8,
                "created": 6,
                "already_existing": 0,
                "rejected": 1,
                "unprocessed": 0,
                "skipped": 1,
            }
            assert "bobb@example.com" in page.inner_text("#unknown-users")
            assert f"row {DUPLICATE_ROW} is identical to row {DUPLICATE_OF}" in page.inner_text(
                "#duplicates"
            )
            assert "2026-W45" in page.inner_text("#grid") and "November 2026" in page.inner_text(
                "#grid"
            )
            assert box.stats()["worklogs"] == 0
            ax.check("ui-dryrun.png")
            page.click("text=It is bob@example.com")
            page.wait_for_selector("#counts")
            page.wait_for_url("**/dryrun")
            assert counts(page)["created"] == 7 and counts(page)["rejected"] == 0
            page.click("#next")
            page.wait_for_url("**/import")
            ax.check()

            # Import: prepare, confirm with the run's own numbers, live progress, the result
            page.click("#next")
            page.wait_for_selector("#confirm-text")
            assert "About to create 7 worklogs (14.50 h)" in page.inner_text("#confirm-text")
            assert box.stats()["worklogs"] == 0
            ax.check("ui-confirm.png")
            page.click("#next")
            page.wait_for_url("**/import/result")
            assert counts(page) == {
                "rows": 8,
                "created": 7,
                "already_existing": 0,
                "rejected": 0,
                "unprocessed": 0,
                "skipped": 1,
            }
            assert box.stats()["worklogs"] == 7  # the server agrees
            assert page.locator("#file-created-csv").count() == 1
            ax.check("ui-result.png")

            # Undo: the confirmation lists what will be deleted, then the deletion
            page.click("#undo")
            page.wait_for_url("**/undo")
            assert page.locator("#undo-list tbody tr").count() == 7
            ax.check("ui-undo.png")
            assert box.stats()["worklogs"] == 7
            page.click("#confirm-undo")
            page.wait_for_selector("#undo-done")
            assert box.stats()["worklogs"] == 0
            ax.check()

            # Runs: the history shows the dry runs and the import
            page.click("a.runs-link[href='/runs']")
            assert page.locator("#runs tbody tr").count() == 3
            ax.check("ui-runs.png")
            page.goto(running_app.base + "/mappings")
            ax.check()
            assert not ax.problems, "\n".join(ax.problems)

            assert not errors, errors
        finally:
            browser.close()
    for name in SHOTS:
        data = (shots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    if os.environ.get("UI_SHOTS_DIR"):  # every page, for a look at them
        shutil.copytree(shots, os.environ["UI_SHOTS_DIR"], dirs_exist_ok=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for name in SHOTS:
            shutil.copyfile(shots / name, ROOT / "docs" / "img" / name)


def test_mappings_jira_sheets_and_cancel_in_chromium(
    running_app: RunningApp, box: RunningSandbox, tmp_path: Path, axe_source: str
) -> None:
    """The other flows as a person clicks them: a Jira issue export converted on the File
    page, a mapping saved and listed, a workbook's other sheet picked, and a slow dry run
    followed on its progress page and cancelled."""
    import openpyxl

    from timetracker_import.ui.demo import HEADERS

    jira = tmp_path / "jira-issues.csv"
    shutil.copyfile(ROOT / "tests" / "data" / "presets" / "jira-issues.csv", jira)
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Read me first"])
    sheet = book.create_sheet("Hours")
    sheet.append(list(HEADERS))
    sheet.append(["alice@example.com", "2026-11-02", "09:00", 2, 2, 101, "Development", "x"])
    workbook = tmp_path / "two-sheets.xlsx"
    book.save(workbook)
    shots = tmp_path / "shots"
    shots.mkdir()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            page, ax, _errors = open_session(browser, running_app, axe_source, shots)

            # a Jira issue export: recognised on the File page, converted with one click
            page.set_input_files("#upload", str(jira))
            page.click("#upload-next")
            page.wait_for_selector("#jira")
            ax.check("ui-jira.png")
            page.click("#convert")
            page.wait_for_url("**/mapping")
            assert page.is_checked("#src-jira-worklogs")

            # save the mapping, find it on the Mappings page
            page.fill("#save-name", "jira weekly")
            page.click("#save")
            page.wait_for_selector("text=Saved as “jira weekly”")
            page.click("a.runs-link[href='/mappings']")
            assert "jira weekly" in page.inner_text("#saved-mappings")
            ax.check("ui-mappings.png")

            # a workbook: pick the sheet with the hours
            page.goto(running_app.base + "/file")
            page.set_input_files("#upload", str(workbook))
            page.click("#upload-next")
            page.wait_for_url("**/mapping")
            page.goto(running_app.base + "/file")
            page.select_option("#sheet-pick", "Hours")
            page.click("#sheet-next")
            page.wait_for_url("**/mapping")
            assert page.is_checked("#src-payroll-demo")
            page.click("#next-top")
            page.wait_for_url("**/validate")

            # a slow server: the dry run's progress page, then Cancel
            box.set_faults(["batch:latency=3000ms"])
            submit_connect(page, running_app, box)
            page.wait_for_url("**/job")
            page.wait_for_selector("#cancel")
            ax.check("ui-progress.png")
            page.click("#cancel")
            page.wait_for_selector("text=Cancelled; nothing was changed.")
            assert box.stats()["worklogs"] == 0
            assert not ax.problems, "\n".join(ax.problems)
        finally:
            box.set_faults([])
            browser.close()
    for name in ("ui-jira.png", "ui-mappings.png", "ui-progress.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shots / name, ROOT / "docs" / "img" / name)
    if os.environ.get("UI_SHOTS_DIR"):
        shutil.copytree(shots, os.environ["UI_SHOTS_DIR"], dirs_exist_ok=True)
