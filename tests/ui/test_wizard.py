"""The wizard's pages through aiohttp's test client: file, mapping, validate, connect, dry
run, import, undo and runs, against an in-process sandbox."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

import timetracker_import
from tests.api.fake_store import FakeStore
from tests.ui.conftest import csrf_of, post_form
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui import pages, pages_run
from timetracker_import.ui.demo import BAD_DATE_ROW, DUPLICATE_OF, DUPLICATE_ROW, UNKNOWN_USER_ROW
from timetracker_import.ui.security import GUARD
from timetracker_import.ui.state import WIZARD, Wizard


def cell_counts(html: str) -> dict[str, int]:
    """The counts table's cells (``data-count`` attribute -> number)."""
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


async def choose_file(ui: TestClient, path: Path) -> None:
    resp = await post_form(ui, "/file", "/file", {"path": str(path)})
    assert resp.status == 303 and resp.headers["Location"] == "/mapping"


async def choose_preset(ui: TestClient, name: str = "payroll-demo") -> None:
    resp = await post_form(
        ui, "/mapping", "/mapping", {"source": f"preset:{name}", "action": "next"}
    )
    assert resp.status == 303 and resp.headers["Location"] == "/validate", await resp.text()


async def connect(ui: TestClient, box: RunningSandbox, who: str = "alice") -> str:
    resp = await post_form(
        ui, "/connect", "/connect",
        {"target": "url", "url": box.url, "token": box.tokens[f"{who}@example.com"]},
    )  # fmt: skip
    assert resp.status == 303, await resp.text()
    return await (await ui.get("/connect")).text()


async def test_the_mapping_page_shows_the_detected_preset_and_its_evidence(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:payroll-demo" checked' in html
    assert "recognised by the columns" in html and "<code>Employee Email</code>" in html
    # the preview of the detected preset: row 5's impossible date is rejected with its reason
    assert "November 2026 has 30 days" in html
    assert "2026-11-02 08:00 UTC" in html  # 09:00 Europe/Berlin


async def test_a_drafted_mapping_previews_downloads_and_validates(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    form = {"source": "form", "user.column": "0", "date.column": "1", "start.column": "2",
            "length.column": "3", "length.unit": "hours", "work_item.column": "5",
            "timezone": "UTC"}  # fmt: skip
    resp = await post_form(ui, "/mapping", "/mapping/preview", form)
    fragment = await resp.text()
    assert "2026-11-02 09:00 UTC" in fragment and "bob@example.com" in fragment
    # the YAML the CLI takes
    resp = await post_form(ui, "/mapping", "/mapping", {**form, "action": "yaml"})
    assert resp.headers["Content-Disposition"].startswith("attachment")
    data = yaml.safe_load(await resp.text())
    assert data["fields"]["length"] == {"column": "Hours", "unit": "hours"}
    assert data["timezone"] == "UTC"
    resp = await post_form(ui, "/mapping", "/mapping", {**form, "action": "next"})
    assert resp.headers["Location"] == "/validate"
    html = await (await ui.get("/validate")).text()
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert cell_counts_from_validate(html) == [8, 6, 1, 1]


def cell_counts_from_validate(html: str) -> list[int]:
    row = re.search(r'<table class="counts" id="counts">.*?<tbody><tr>(.*?)</tr>', html, re.S)
    assert row
    return [int(c) for c in re.findall(r"<td>(\d+)</td>", row.group(1))]


async def test_an_incomplete_form_says_which_field_is_missing(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    resp = await post_form(ui, "/mapping", "/mapping", {"source": "form", "user.column": "0"})
    assert resp.status == 400
    html = await resp.text()
    assert "Problem:" in html and "fields.timestamp" in html and "Traceback" not in html


async def test_validate_highlights_the_offending_cell(ui: TestClient, demo_file: Path) -> None:
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    html = await (await ui.get("/validate")).text()
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert cell_counts_from_validate(html) == [8, 6, 1, 1]
    row = re.search(rf'<tr data-kind="[^"]*" data-row="{BAD_DATE_ROW}">(.*?)</tr>', html)
    assert row, html
    bad = re.findall(r'<td class="bad" title="([^"]*)">([^<]*)</td>', row.group(1))
    assert bad == [(bad[0][0], "2026-11-31")] and "30 days" in bad[0][0]
    assert 'id="kind-filter"' in html
    rejected = await ui.get("/validate/rejected.xlsx")
    assert rejected.status == 200 and (await rejected.read())[:2] == b"PK"
    report = await ui.get("/validate/report.html")
    assert report.status == 200 and "<html" in (await report.text()).lower()


async def test_file_errors_are_shown_on_the_page(ui: TestClient, tmp_path: Path) -> None:
    resp = await post_form(ui, "/file", "/file", {"path": "relative.csv"})
    assert resp.status == 400 and "not a full path" in await resp.text()
    resp = await post_form(ui, "/file", "/file", {"path": str(tmp_path / "missing.csv")})
    html = await resp.text()
    assert resp.status == 400 and "no such file" in html and "How to fix" in html
    token = csrf_of(await (await ui.get("/file")).text())
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("upload", b"a,b\n1,2\n", filename="notes.pdf")
    resp = await ui.post("/file", data=form)
    assert resp.status == 400 and "not a CSV or Excel file" in await resp.text()
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("upload", b"not a zip", filename="hours.xlsx")
    resp = await ui.post("/file", data=form)
    html = await resp.text()
    assert resp.status == 400 and "not a valid .xlsx file" in html and "save it again" in html
    assert (await ui.get("/file")).status == 200  # the server keeps running


async def test_an_upload_is_stored_privately_and_limited(ui: TestClient, demo_file: Path) -> None:
    import aiohttp

    token = csrf_of(await (await ui.get("/file")).text())
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("upload", demo_file.read_bytes(), filename="../../hours demo.csv")
    resp = await ui.post("/file", data=form, allow_redirects=False)
    assert resp.status == 303
    info = ui.app[WIZARD].file
    assert info.label == "hours demo.csv"
    assert info.path.parent.parent == ui.app[WIZARD].work_dir and info.path.name == "hours demo.csv"
    assert oct(info.path.parent.stat().st_mode & 0o777) == "0o700"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pages, "MAX_UPLOAD", 100)
        form = aiohttp.FormData()
        form.add_field("_csrf", token)
        form.add_field("upload", demo_file.read_bytes(), filename="big.csv")
        resp = await ui.post("/file", data=form)
        assert resp.status == 400 and "larger than" in await resp.text()


async def test_connect_shows_who_and_never_the_token(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    html = await connect(ui, box)
    token = box.tokens["alice@example.com"]
    assert "Alice Admin" in html and "****" in html
    assert token not in html
    assert token[:-4] not in html
    # a wrong token: the page says so, the server keeps running
    resp = await post_form(
        ui, "/connect", "/connect", {"target": "url", "url": box.url, "token": "wrong-token-123456"}
    )
    html = await resp.text()
    assert resp.status == 400 and "Problem:" in html and "wrong-token-123456" not in html
    assert "401" in html and "paste a valid token" in html
    # no token anywhere: the fix names the box on this page
    resp = await post_form(ui, "/connect", "/connect", {"target": "url", "url": box.url})
    html = await resp.text()
    assert "no API token found" in html and "paste the token in the Token box" in html


async def test_remembering_a_token_without_a_keyring_is_a_message(
    ui: TestClient, box: RunningSandbox
) -> None:
    resp = await post_form(
        ui, "/connect", "/connect",
        {"target": "url", "url": box.url, "token": box.tokens["alice@example.com"], "remember": "1"},
    )  # fmt: skip
    html = await resp.text()
    assert resp.status == 400 and "keyring" in html and "How to fix" in html
    assert box.tokens["alice@example.com"] not in html


async def wait_for_job(ui: TestClient) -> None:
    job = ui.app[WIZARD].job
    for _ in range(200):
        if job.finished.is_set():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def test_dry_run_alias_import_undo_against_the_sandbox(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    html = await up_to_the_dry_run(ui, box, demo_file)
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert cell_counts(html) == {
        "rows": 8,
        "created": 5,
        "already_existing": 0,
        "rejected": 2,
        "unprocessed": 0,
        "skipped": 1,
    }
    assert f"row {UNKNOWN_USER_ROW})" in html and "bobb@example.com" in html
    assert f"row {DUPLICATE_ROW} is identical to row {DUPLICATE_OF}" in html
    assert "the copy is skipped (counted as skipped, not sent)" in html  # the default
    assert box.stats()["worklogs"] == 0  # a dry run creates nothing
    # one click: bobb@example.com is bob@example.com
    resp = await post_form(ui, "/dryrun", "/dryrun/alias",
                           {"value": "bobb@example.com", "target": "bob@example.com"})  # fmt: skip
    assert resp.headers["Location"] == "/dryrun"
    html = await (await ui.get("/dryrun")).text()
    assert cell_counts(html)["created"] == 6 and cell_counts(html)["rejected"] == 1
    assert "with your user aliases" in html
    confirm = await (await ui.get("/import")).text()
    assert "About to create <b>6</b> worklogs" in confirm
    resp = await post_form(ui, "/import", "/import/start", {})
    assert resp.headers["Location"] == "/import/progress"
    await wait_for_job(ui)
    events = await (await ui.get("/import/events")).text()
    assert 'event: progress\ndata: {"done": 6, "total": 6}' in events
    assert "event: done" in events
    html = await (await ui.get("/import/result")).text()
    assert cell_counts(html) == {
        "rows": 8,
        "created": 6,
        "already_existing": 0,
        "rejected": 1,
        "unprocessed": 0,
        "skipped": 1,
    }
    assert box.stats()["worklogs"] == 6
    run_id = ui.app[WIZARD].job.result.run_id
    created = await ui.get(f"/runs/{run_id}/files/created.csv")
    assert created.status == 200 and (await created.text()).count("\n") == 7
    assert (await ui.get(f"/runs/{run_id}/files/report.html")).status == 200
    assert (await ui.get(f"/runs/{run_id}/files/journal.sqlite")).status == 404
    # the run directory holds no token
    token = box.tokens["alice@example.com"]
    for path in ui.app[WIZARD].job.result.run_dir.iterdir():
        assert token.encode() not in path.read_bytes(), path
    # undo: the confirmation lists what will be deleted, then deletes it
    plan = await (await ui.get(f"/runs/{run_id}/undo")).text()
    assert plan.count("<tr><td><code>") == 6 and "Delete 6 worklogs" in plan
    assert box.stats()["worklogs"] == 6
    resp = await post_form(ui, f"/runs/{run_id}/undo", f"/runs/{run_id}/undo", {})
    assert "Undone: 6 worklog(s) deleted" in await resp.text()
    assert box.stats()["worklogs"] == 0
    runs = await (await ui.get("/runs")).text()
    assert run_id in runs and "dry run: would create 6" in runs
    details = await (await ui.get(f"/runs/{run_id}")).text()
    assert "November 2026 has 30 days" in details and "created 6" in details
    assert "undone: 6 deleted" in details and "made in the web app" in details


async def up_to_the_dry_run(ui: TestClient, box: RunningSandbox, demo_file: Path) -> str:
    """A fresh sandbox; the demo file with its preset, connected as alice; the dry run page."""
    box.reset()
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    await connect(ui, box)
    return await (await ui.get("/dryrun")).text()


async def start_import(ui: TestClient) -> None:
    resp = await post_form(ui, "/import", "/import/start", {})
    assert resp.headers["Location"] == "/import/progress"
    await wait_for_job(ui)


async def test_cancel_before_anything_is_sent_says_so(
    ui: TestClient, box: RunningSandbox, demo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    real = pages_run._start

    def start_cancelled(wizard: Wizard, loop: asyncio.AbstractEventLoop) -> None:
        real(wizard, loop)
        assert wizard.job is not None
        wizard.job.cancel.set()

    monkeypatch.setattr(pages_run, "_start", start_cancelled)
    await start_import(ui)
    html = await (await ui.get("/import/result")).text()
    assert "cancelled before anything was sent" in html and box.stats()["worklogs"] == 0
    monkeypatch.setattr(pages_run, "_start", real)
    await start_import(ui)
    html = await (await ui.get("/import/result")).text()
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert cell_counts(html)["created"] == 5 and box.stats()["worklogs"] == 5
    box.reset()


async def test_cancel_mid_run_stops_resumably_and_resume_finishes(
    ui: TestClient, box: RunningSandbox, demo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    real_import = timetracker_import.import_file

    def small_batches(*args: Any, progress: Any = None, cancel: Any = None, **kw: Any) -> Any:
        def watch(done: int, total: int) -> None:
            if progress is not None:  # None for the dry run
                progress(done, total)
            if done >= 2 and first_run and cancel is not None:
                cancel.set()  # Cancel pressed after the first batch

        kw.update(batch_size=2, concurrency=1)
        return real_import(*args, progress=watch, cancel=cancel, **kw)

    first_run = True
    monkeypatch.setattr(timetracker_import, "import_file", small_batches)
    box.set_faults(["batch:latency=300ms"])  # time to see the Cancel between batches
    await start_import(ui)
    html = await (await ui.get("/import/result")).text()
    counts = cell_counts(html)
    assert counts["created"] >= 2 and counts["unprocessed"] > 0, html
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert counts["created"] + counts["unprocessed"] == 5
    assert box.stats()["worklogs"] == counts["created"]
    assert 'id="resume"' in html
    first_run = False
    box.set_faults([])
    # resume from the Runs page: the halted run offers it; the wizard gets the file and mapping
    halted = ui.app[WIZARD].job.result.run_id
    details = await (await ui.get(f"/runs/{halted}")).text()
    assert "halted" in details and f'action="/runs/{halted}/resume"' in details
    resp = await post_form(ui, f"/runs/{halted}", f"/runs/{halted}/resume", {})
    assert resp.headers["Location"] == "/dryrun"
    plan = await (await ui.get("/dryrun")).text()
    assert cell_counts(plan)["created"] == 5 - counts["created"]  # the rest
    await start_import(ui)
    html = await (await ui.get("/import/result")).text()
    assert cell_counts(html)["unprocessed"] == 0 and cell_counts(html)["rejected"] == 2
    assert ui.app[WIZARD].job.result.run_id == halted  # the same run, resumed
    assert box.stats()["worklogs"] == 5  # nothing twice
    box.reset()


async def test_the_launch_page_after_use_redirects_a_logged_in_browser(ui: TestClient) -> None:
    guard = ui.app[GUARD]
    assert guard.launch_token is None
    resp = await ui.get("/launch?token=anything", allow_redirects=False)
    assert resp.status == 303


async def test_steps_that_need_earlier_ones_send_you_back(ui: TestClient) -> None:
    for path, back in (("/mapping", "/file"), ("/validate", "/file"), ("/dryrun", "/file"),
                       ("/import", "/file")):  # fmt: skip
        resp = await ui.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == back, path


async def test_a_pasted_token_is_stored_in_the_keyring_and_used_from_there(
    ui: TestClient, box: RunningSandbox, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from timetracker_import.api import settings as conn

    store = FakeStore()
    monkeypatch.setattr(conn, "default_token_store", lambda: store)
    token = box.tokens["bob@example.com"]
    caplog.set_level("DEBUG")
    resp = await post_form(ui, "/connect", "/connect",
                           {"target": "url", "url": box.url, "token": token, "remember": "1"})  # fmt: skip
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "stored in the OS keyring" in html and "Bob Builder" in html and token not in html
    assert store.tokens == {box.url: token}  # the key `auth login --url` uses
    assert token not in caplog.text
    # next time nothing is pasted: the keyring's token is found as the CLI finds it
    resp = await post_form(ui, "/connect", "/connect", {"target": "url", "url": box.url})
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "from the OS keyring" in html and "Bob Builder" in html


async def test_a_profile_is_offered_and_its_keyring_token_used(
    ui: TestClient, box: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timetracker_import.api import settings as conn

    store = FakeStore()
    store.set("profile:sandbox", box.tokens["carol@example.com"])
    monkeypatch.setattr(conn, "default_token_store", lambda: store)
    conn.save_profile("sandbox", url=box.url)
    page = await (await ui.get("/connect")).text()
    assert 'value="profile:sandbox"' in page
    resp = await post_form(ui, "/connect", "/connect", {"target": "profile:sandbox"})
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "Carol Coder" in html and "profile sandbox" in html


async def test_a_bug_shows_a_page_not_a_traceback_and_the_server_keeps_running(
    ui: TestClient, demo_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from timetracker_import.ui import service

    await choose_file(ui, demo_file)

    def broken(info: object) -> object:
        raise RuntimeError("internal detail")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(service, "detect", broken)
        resp = await ui.get("/mapping")
        html = await resp.text()
    assert resp.status == 500 and "this is a bug" in html
    assert "internal detail" not in html and "Traceback" not in html
    assert "internal detail" in caplog.text  # the terminal gets the details
    assert (await ui.get("/mapping")).status == 200


async def test_after_an_import_the_import_step_asks_for_a_new_dry_run(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    await start_import(ui)
    html = await (await ui.get("/import")).text()
    assert "were imported" in html and "New dry run" in html and "About to create" not in html
    again = await (await ui.get("/dryrun?again=1")).text()
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert cell_counts(again)["already_existing"] == 5 and cell_counts(again)["created"] == 0
    html = await (await ui.get("/import")).text()
    assert "no row to create" in html
    box.reset()


async def test_an_excel_file_is_validated_with_its_highlighted_cells(ui: TestClient) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "payroll_hours.xlsx"
    await choose_file(ui, sample)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:payroll-demo" checked' in html
    await choose_preset(ui)
    html = await (await ui.get("/validate")).text()
    rows, valid, rejected, _skipped = cell_counts_from_validate(html)
    assert rows == valid + rejected and rejected > 0
    marked = re.findall(r'<tr data-kind="[^"]*" data-row="(\d+)">(.*?)</tr>', html)
    assert len(marked) == rejected
    # each rejected row with a column names has exactly that cell highlighted
    with_cell = [body for _row, body in marked if 'class="bad"' in body]
    assert with_cell and all(body.count('class="bad"') == 1 for body in with_cell)


async def test_rows_in_locked_weeks_are_listed_in_the_plan(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    from timetracker_import.ui.demo import HEADERS

    # bob's week of 2026-10-05 is Submitted in the demo seed
    locked = tmp_path / "locked.csv"
    locked.write_text(
        ",".join(HEADERS) + "\n"
        "bob@example.com,2026-10-06,09:00,2,2,101,Development,In a submitted week\n"
        "bob@example.com,2026-11-03,09:00,2,2,101,Development,Open week\n",
        encoding="utf-8",
    )
    box.reset()
    await choose_file(ui, locked)
    await choose_preset(ui)
    await connect(ui, box)
    html = await (await ui.get("/dryrun")).text()
    assert cell_counts(html)["created"] == 1 and cell_counts(html)["rejected"] == 1
    section = html.split("Rows in locked weeks", 1)[1].split("</ul>", 1)[0]
    assert "row 2:" in section


async def test_the_environment_connection_is_offered_and_used(
    ui: TestClient, box: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMETRACKER_URL", box.url)
    monkeypatch.setenv("TIMETRACKER_TOKEN", box.tokens["dave@example.com"])
    page = await (await ui.get("/connect")).text()
    assert 'value="env" checked' in page and box.url in page
    resp = await post_form(ui, "/connect", "/connect", {"target": "env"})
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "Dave Product" in html and "from the environment ($TIMETRACKER_TOKEN)" in html
    assert box.tokens["dave@example.com"] not in html


async def test_the_data_picks_among_presets_that_share_a_header(
    ui: TestClient, tmp_path: Path
) -> None:
    from timetracker_import.core import preset_detect

    if not hasattr(preset_detect, "choose_preset"):
        pytest.skip("core.preset_detect.choose_preset (data evidence, issue 13) is not merged yet")
    clockify = tmp_path / "clockify.csv"
    clockify.write_text(
        "Email,Description,Start Date,Start Time,Duration (h),Duration (decimal)\n"
        "bob@example.com,Fix #101,03/14/2026,09:00,01:30:00,1.50\n",
        encoding="utf-8",
    )
    await choose_file(ui, clockify)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:clockify-us" checked' in html
    assert "the data picks it" in html and "03/14/2026" in html
