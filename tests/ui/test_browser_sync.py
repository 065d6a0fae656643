"""Sync in headless Chromium, as a payroll admin clicks it (issue 23, item 1): connect, the
setup, the plan, Apply; a truncated export stopped by the deletion guard, allowed, applied;
then Undo from the Runs page. The sandbox's worklogs are checked after each write, and
axe-core checks every page at 1280 and 390 px (no critical or serious violations, no
sideways scrolling). Takes docs/img/ui-sync-*.png (copied there with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.app.test_sync import expected as wanted
from tests.app.test_sync import server, write
from tests.ui.test_browser import (  # noqa: F401 (fixtures)
    BROWSER_ARGS,
    CHROMIUM,
    ROOT,
    RunningApp,
    axe_source,
    box,
    open_session,
    playwright_api,
    pytestmark,
    running_app,
    submit_connect,
)
from tests.ui.test_sync import MAPPING, ROWS
from timetracker_import import library
from timetracker_import.sandbox.server import RunningSandbox

SHOTS = (
    "ui-sync-setup.png",
    "ui-sync-plan.png",
    "ui-sync-guard.png",
    "ui-sync-result.png",
    "ui-sync-undo.png",
    "ui-sync-mobile-plan.png",
    "ui-sync-run.png",
)


def test_sync_plan_apply_guard_allow_undo_in_chromium(
    running_app: RunningApp,  # noqa: F811 - fixtures imported from test_browser
    box: RunningSandbox,  # noqa: F811
    tmp_path: Path,
    axe_source: str,  # noqa: F811
) -> None:
    library.save_mapping("hr", MAPPING)
    hours = write(tmp_path / "hours.csv", ROWS)
    shots = tmp_path / "shots"
    shots.mkdir()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            page, ax, errors = open_session(browser, running_app, axe_source, shots)

            # connect first (no file chosen: the Connect page stays)
            submit_connect(page, running_app, box)
            page.wait_for_selector("#connected")

            # the setup: the header's Sync link; nothing filled in by the page
            page.click("a.runs-link[href='/sync']")
            page.wait_for_url("**/sync")
            assert page.input_value("#source") == ""
            assert not page.is_checked("#period-dates") and not page.is_checked("#period-none")
            page.fill("#file-path", str(hours))
            page.check("#map-pick")
            page.select_option("#map-choice", "saved:hr")
            page.fill("#source", "payroll")
            page.fill("#key", "ID")
            page.check("#period-dates")
            page.fill("#period-from", "2026-11-01")
            page.fill("#period-to", "2026-11-30")
            page.check("#prune")
            ax.check("ui-sync-setup.png")
            page.click("#next")
            page.wait_for_url("**/sync/plan")
            assert page.inner_text("#sync-counts td[data-count=created]") == "12"
            assert "2026-11-01 to 2026-11-30" in page.inner_text("#sync-period")
            assert sum(server(box).values()) == 0
            ax.check("ui-sync-plan.png", "ui-sync-mobile-plan.png")

            # Apply: progress, then the result; the server holds the file
            page.click("#apply")
            page.wait_for_url("**/sync/result")
            assert page.locator("#sync-done").count() == 1
            assert server(box) == wanted(ROWS)
            ax.check()

            # a truncated export: the guard stops it, per user and week; allow, apply
            write(hours, ROWS[:4])
            page.click("a.runs-link[href='/sync']")
            page.click("#next")
            page.wait_for_url("**/sync/plan")
            page.wait_for_selector("#guard-stop")
            assert page.locator("#apply").count() == 0
            assert page.locator("#guard-table tbody tr").count() >= 2
            ax.check("ui-sync-guard.png")
            page.click("#allow")
            page.wait_for_selector("#allowed")
            page.click("#apply")
            page.wait_for_url("**/sync/result")
            assert page.inner_text("#sync-counts td[data-count=deleted]") == "8"
            assert server(box) == wanted(ROWS[:4])
            ax.check("ui-sync-result.png")

            # Undo from the Runs page: the 8 deleted worklogs come back
            page.click("#run-link")
            run_url = page.url
            page.click("#undo")
            page.wait_for_url("**/undo")
            assert page.locator("#undo-list tbody tr").count() == 8
            ax.check("ui-sync-undo.png")
            page.click("#confirm-undo")
            page.wait_for_selector("#undo-done")
            assert server(box) == wanted(ROWS)
            ax.check()
            # the run's page says what undo did, in words and local to nothing private
            page.goto(run_url)
            assert "(undone: 8 re-created)" in page.inner_text("#run-counts")
            ax.check("ui-sync-run.png")
            page.click("a.runs-link[href='/runs']")
            assert page.locator("#runs tbody tr").count() == 5  # 3 plans, 2 syncs
            ax.check()
            assert not ax.problems, "\n".join(ax.problems)
            assert not errors, errors
        finally:
            browser.close()
    for name in SHOTS:
        data = (shots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    if os.environ.get("UI_SHOTS_DIR"):
        shutil.copytree(shots, os.environ["UI_SHOTS_DIR"], dirs_exist_ok=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for name in SHOTS:
            shutil.copyfile(shots / name, ROOT / "docs" / "img" / name)
