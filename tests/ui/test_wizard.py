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

from tests.api.fake_store import FakeStore
from tests.ui.conftest import csrf_of, finish_job, post, post_and_finish
from timetracker_import import library
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.demo import BAD_DATE_ROW, DUPLICATE_OF, DUPLICATE_ROW, UNKNOWN_USER_ROW
from timetracker_import.ui.security import GUARD
from timetracker_import.ui.state import WIZARD


def cell_counts(html: str) -> dict[str, int]:
    """The counts table's cells (``data-count`` attribute -> number)."""
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def validate_counts(html: str) -> list[int]:
    row = re.search(r'<table class="counts" id="counts">.*?<tbody><tr>(.*?)</tr>', html, re.S)
    assert row, html
    return [int(c) for c in re.findall(r"<td>(\d+)</td>", row.group(1))]


async def choose_file(ui: TestClient, path: Path) -> Any:
    resp = await post_and_finish(ui, "/file", {"path": str(path)})
    assert resp.status == 200 and resp.url.path in ("/mapping", "/file"), await resp.text()
    return resp


async def choose_preset(ui: TestClient, name: str = "payroll-demo") -> str:
    """Choose a preset; the whole file is validated; the Validate page."""
    resp = await post_and_finish(ui, "/mapping", {"source": f"preset:{name}", "action": "next"})
    assert resp.url.path == "/validate", await resp.text()
    return await resp.text()


async def connect(ui: TestClient, box: RunningSandbox, who: str = "alice") -> Any:
    """Connect; with a file and mapping chosen, the dry run starts (its page is returned)."""
    resp = await post(
        ui, "/connect", {"target": "url", "url": box.url, "token": box.tokens[f"{who}@example.com"]}
    )
    assert resp.status == 303, await resp.text()
    if resp.headers["Location"] == "/job":
        return await finish_job(ui)
    return await ui.get(resp.headers["Location"])


async def test_the_mapping_page_shows_the_detected_preset_and_its_evidence(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:payroll-demo" id="src-payroll-demo" checked' in html
    assert "recognised by the columns" in html and "<code>Employee Email</code>" in html
    # the preview of the detected preset: row 5's impossible date is rejected with its reason
    assert "November 2026 has 30 days" in html
    assert "2026-11-02 08:00 UTC" in html  # 09:00 Europe/Berlin


DRAFT = {
    "source": "form",
    "user.column": "0",
    "date.column": "1",
    "start.column": "2",
    "length.column": "3",
    "length.unit": "hours",
    "work_item.column": "5",
    "timezone": "UTC",
}


async def test_a_drafted_mapping_previews_downloads_and_validates(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    fragment = await (await post(ui, "/mapping/preview", DRAFT)).text()
    assert "2026-11-02 09:00 UTC" in fragment and "bob@example.com" in fragment
    resp = await post(ui, "/mapping", {**DRAFT, "action": "yaml"})
    assert resp.headers["Content-Disposition"].startswith("attachment")
    data = yaml.safe_load(await resp.text())
    assert data["fields"]["length"] == {"column": "Hours", "unit": "hours"}
    assert data["timezone"] == "UTC"
    resp = await post_and_finish(ui, "/mapping", {**DRAFT, "action": "next"})
    # issue 13: row 7, a copy of row 3, is skipped (--on-duplicate skip, the default)
    assert validate_counts(await resp.text()) == [8, 6, 1, 1]


async def test_an_incomplete_form_says_which_field_is_missing_and_keeps_the_form(
    ui: TestClient, demo_file: Path
) -> None:
    await choose_file(ui, demo_file)
    resp = await post(
        ui, "/mapping", {"source": "form", "user.column": "0", "timezone": "Asia/Tokyo"}
    )
    assert resp.status == 400
    html = await resp.text()
    assert "Problem:" in html and "fields.timestamp" in html and "Traceback" not in html
    assert 'value="Asia/Tokyo"' in html  # the field keeps its value


async def test_validate_highlights_the_offending_cell(ui: TestClient, demo_file: Path) -> None:
    await choose_file(ui, demo_file)
    html = await choose_preset(ui)
    assert validate_counts(html) == [8, 6, 1, 1]
    row = re.search(rf'<tr data-kind="[^"]*" data-row="{BAD_DATE_ROW}">(.*?)</tr>', html, re.S)
    assert row, html
    bad = re.findall(r'<td class="bad" title="([^"]*)">([^<]*)</td>', row.group(1))
    assert bad == [(bad[0][0], "2026-11-31")] and "30 days" in bad[0][0]
    # the reason comes first (second column), before the file's cells
    assert row.group(1).index('class="reason"') < row.group(1).index('class="bad"')
    assert 'id="kind-filter"' in html
    rejected = await ui.get("/validate/rejected.xlsx")
    assert rejected.status == 200 and (await rejected.read())[:2] == b"PK"
    report = await ui.get("/validate/report.html")
    assert report.status == 200 and "<html" in (await report.text()).lower()


async def test_file_errors_are_shown_on_the_page(ui: TestClient, tmp_path: Path) -> None:
    resp = await post(ui, "/file", {"path": "relative.csv"})
    assert resp.status == 400 and "not a full path" in await resp.text()
    resp = await post(ui, "/file", {"path": str(tmp_path / "missing.csv")})
    html = await resp.text()
    assert resp.status == 400 and "no such file" in html and "How to fix" in html
    assert f'value="{tmp_path / "missing.csv"}"' in html  # the path stays in its field
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("_csrf", csrf_of(await (await ui.get("/file")).text()))
    form.add_field("upload", b"a,b\n1,2\n", filename="notes.pdf")
    resp = await ui.post("/file", data=form)
    assert resp.status == 400 and "not a CSV or Excel file" in await resp.text()
    form = aiohttp.FormData()
    form.add_field("_csrf", csrf_of(await (await ui.get("/file")).text()))
    form.add_field("upload", b"not a zip", filename="hours.xlsx")
    resp = await ui.post("/file", data=form, allow_redirects=False)
    assert resp.headers["Location"] == "/job"
    resp = await finish_job(ui)
    html = await resp.text()
    assert resp.status == 400 and "not a valid .xlsx file" in html and "save it again" in html
    assert (await ui.get("/file")).status == 200  # the server keeps running


async def test_symlinks_and_other_non_regular_paths_are_refused(
    ui: TestClient, demo_file: Path, tmp_path: Path
) -> None:
    import os

    link = tmp_path / "hours.csv"
    link.symlink_to(demo_file)
    resp = await post(ui, "/file", {"path": str(link)})
    assert resp.status == 400 and "symbolic link" in await resp.text()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    resp = await post(ui, "/file", {"path": str(fifo)})
    assert resp.status == 400 and "not a regular file" in await resp.text()
    resp = await post(ui, "/file", {"path": str(tmp_path)})
    assert resp.status == 400 and "not a regular file" in await resp.text()
    assert ui.app[WIZARD].job is None  # nothing was read


async def test_an_upload_is_stored_privately_and_limited(ui: TestClient, demo_file: Path) -> None:
    import aiohttp

    from timetracker_import.ui.steps import file as file_step

    token = csrf_of(await (await ui.get("/file")).text())
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("upload", demo_file.read_bytes(), filename="../../hours demo.csv")
    resp = await ui.post("/file", data=form, allow_redirects=False)
    assert resp.status == 303
    await finish_job(ui)
    info = ui.app[WIZARD].file
    assert info.label == "hours demo.csv" and info.path.name == "hours demo.csv"
    assert info.path.parent.parent == ui.app[WIZARD].work_dir / "uploads"
    assert oct(info.path.parent.stat().st_mode & 0o777) == "0o700"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(file_step, "MAX_UPLOAD", 100)
        form = aiohttp.FormData()
        form.add_field("_csrf", token)
        form.add_field("upload", demo_file.read_bytes(), filename="big.csv")
        resp = await ui.post("/file", data=form)
        assert resp.status == 400 and "larger than" in await resp.text()


async def test_connect_shows_who_and_never_the_token(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    await connect(ui, box)
    html = await (await ui.get("/connect")).text()
    token = box.tokens["alice@example.com"]
    assert "Alice Admin" in html and "****" in html
    assert token not in html and token[:-4] not in html
    # a wrong token: the page says so, the server keeps running, the URL stays
    resp = await post(
        ui, "/connect", {"target": "url", "url": box.url, "token": "wrong-token-123456"}
    )
    html = await resp.text()
    assert resp.status == 400 and "Problem:" in html and "wrong-token-123456" not in html
    assert "401" in html and "paste a valid token" in html
    assert f'value="{box.url}"' in html  # the URL keeps its value after the error
    # no token anywhere: the fix names the box on this page
    resp = await post(ui, "/connect", {"target": "url", "url": box.url})
    html = await resp.text()
    assert "no API token found" in html and "paste the token in the Token box" in html


async def test_connect_suggests_the_7pace_address_and_gives_up_quickly(
    ui: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    html = await (await ui.get("/connect")).text()
    assert "https://ORG.timehub.7pace.com" in html and "dev.azure.com" not in html
    # a server that accepts the connection and never answers: the check stops in time
    monkeypatch.setattr(library, "CONNECT_TIMEOUT", 1.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        resp = await post(ui, "/connect", {"target": "url", "url": url, "token": "t" * 20})
        took = time.monotonic() - started
        html = await resp.text()
    finally:
        silent.close()
    assert resp.status == 400 and "did not answer within 1 seconds" in html, html
    assert took < 30  # not the client's 60 s default
    assert f'value="{url}"' in html


async def test_remembering_a_token_without_a_keyring_is_a_message(
    ui: TestClient, box: RunningSandbox
) -> None:
    resp = await post(
        ui,
        "/connect",
        {
            "target": "url",
            "url": box.url,
            "token": box.tokens["alice@example.com"],
            "remember": "1",
        },
    )
    html = await resp.text()
    assert resp.status == 400 and "keyring" in html and "How to fix" in html
    assert box.tokens["alice@example.com"] not in html


async def up_to_the_dry_run(ui: TestClient, box: RunningSandbox, demo_file: Path) -> str:
    """A fresh sandbox; the demo file with its preset, connected as alice; the dry run."""
    box.reset()
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    resp = await connect(ui, box)
    assert resp.url.path == "/dryrun", await resp.text()
    return await resp.text()


async def start_import(ui: TestClient, *, confirm: bool = True) -> Any:
    """Prepare the import, answer its confirmation, wait; the result page."""
    resp = await post(ui, "/import/start")
    assert resp.headers["Location"] == "/job", await resp.text()
    job = ui.app[WIZARD].job
    for _ in range(600):
        if job.finished.is_set() or job.confirm is not None:
            break
        await asyncio.sleep(0.05)
    if job.confirm is not None:
        page = await (await ui.get("/job")).text()
        assert "About to create" in page, page
        await post(ui, "/job/confirm", {"answer": "yes" if confirm else "no"})
    return await finish_job(ui)


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
    assert f"(row {UNKNOWN_USER_ROW})" in html and "bobb@example.com" in html
    assert f"row {DUPLICATE_ROW} is identical to row {DUPLICATE_OF}" in html
    assert "the copy is skipped (counted as skipped, not sent)" in html  # the default
    assert "November 2026" in html and "2026-W45" in html  # the grid, by month
    assert box.stats()["worklogs"] == 0  # a dry run creates nothing
    # one click: bobb@example.com is bob@example.com (the dry run runs again)
    resp = await post_and_finish(
        ui, "/dryrun/alias", {"value": "bobb@example.com", "target": "bob@example.com"}
    )
    html = await resp.text()
    assert cell_counts(html)["created"] == 6 and cell_counts(html)["rejected"] == 1
    assert "with your user aliases" in html
    html = await (await ui.get("/import")).text()
    assert "would be created" in html and "Prepare the import" in html
    resp = await post(ui, "/import/start")
    job = ui.app[WIZARD].job
    while job.confirm is None and not job.finished.is_set():
        await asyncio.sleep(0.05)
    confirm = await (await ui.get("/job")).text()
    # the run's own numbers: 6 rows, 2 + 1.5 + 3 + 4.25 + 0.75 + 1 = 12.50 h
    assert "About to create <b>6</b> worklogs (12.50 h)" in confirm, confirm
    assert box.stats()["worklogs"] == 0  # nothing before the confirmation
    await post(ui, "/job/confirm", {"answer": "yes"})
    resp = await finish_job(ui)
    assert resp.url.path == "/import/result"
    html = await resp.text()
    assert cell_counts(html) == {
        "rows": 8,
        "created": 6,
        "already_existing": 0,
        "rejected": 1,
        "unprocessed": 0,
        "skipped": 1,
    }
    assert "Done: 6 worklog(s) created" in html
    assert box.stats()["worklogs"] == 6
    run_id = ui.app[WIZARD].last_import.result.run_id
    created = await ui.get(f"/runs/{run_id}/files/created.csv")
    assert created.status == 200 and (await created.text()).count("\n") == 7
    assert (await ui.get(f"/runs/{run_id}/files/report.html")).status == 200
    assert (await ui.get(f"/runs/{run_id}/files/journal.sqlite")).status == 404
    token = box.tokens["alice@example.com"]
    for path in ui.app[WIZARD].last_import.result.run_dir.iterdir():
        assert token.encode() not in path.read_bytes(), path
    # undo: the confirmation lists what will be deleted (from the journal), then deletes it
    plan = await (await ui.get(f"/runs/{run_id}/undo")).text()
    assert plan.count("<tr><td>delete the worklog it created</td>") == 6
    assert "Delete 6 worklogs" in plan
    # whose worklogs, when and how long, from the journal (names from 7pace: connected)
    listed = re.findall(
        r"<tr><td>delete the worklog it created</td><td>([^<]*)</td><td>([^<]*)</td>"
        r"<td>([^<]*)</td>",
        plan,
    )
    assert len(listed) == 6 and all(who.endswith("@example.com&gt;") for who, _, _ in listed)
    assert all(re.fullmatch(r"2026-\d\d-\d\d \d\d:\d\d:00 UTC", at) for _, at, _ in listed)
    total = sum(float(h.removesuffix(" h")) for _, _, h in listed)
    assert f"Undo reverses up to 6 change(s) ({total:,.2f} h)" in plan
    assert box.stats()["worklogs"] == 6
    resp = await post_and_finish(ui, f"/runs/{run_id}/undo")
    assert "Undone: 6 worklog(s) deleted" in await resp.text()
    assert box.stats()["worklogs"] == 0
    runs = await (await ui.get("/runs")).text()
    # the counts column is what `runs list` prints (library.run_summaries)
    assert run_id in runs and "import (dry run)" in runs
    assert "rows 8: would create 6, rejected 1, skipped 1" in runs
    details = await (await ui.get(f"/runs/{run_id}")).text()
    assert "November 2026 has 30 days" in details and "created 6" in details
    assert "undone: 6 deleted" in details and "made in the web app" in details


async def test_declining_the_confirmation_sends_nothing(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    html = await (await start_import(ui, confirm=False)).text()
    assert "You did not confirm: nothing was sent" in html and box.stats()["worklogs"] == 0
    assert "--yes" not in html


async def test_cancel_before_anything_is_sent_says_so(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    await post(ui, "/import/start")
    job = ui.app[WIZARD].job
    while job.confirm is None and not job.finished.is_set():
        await asyncio.sleep(0.05)
    await post(ui, "/job/cancel")  # Cancel on the confirmation
    html = await (await finish_job(ui)).text()
    assert "nothing was sent" in html and box.stats()["worklogs"] == 0
    html = await (await start_import(ui)).text()
    assert cell_counts(html)["created"] == 5 and box.stats()["worklogs"] == 5
    box.reset()


def small_batches(monkeypatch: pytest.MonkeyPatch, *, cancel_after: int | None) -> dict[str, Any]:
    """Imports in batches of 2, one at a time; Cancel pressed once ``cancel_after`` rows
    were sent (while ``state['armed']``)."""
    real = library.import_file
    state: dict[str, Any] = {"armed": True}

    def patched(*args: Any, progress: Any = None, cancel: Any = None, **kw: Any) -> Any:
        def watch(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            if state["armed"] and cancel_after is not None and done >= cancel_after and cancel:
                cancel.set()

        kw.update(batch_size=2, concurrency=1)
        return real(*args, progress=watch, cancel=cancel, **kw)

    monkeypatch.setattr(library, "import_file", patched)
    return state


async def test_cancel_mid_run_stops_resumably_and_resume_finishes_with_honest_numbers(
    ui: TestClient, box: RunningSandbox, demo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    state = small_batches(monkeypatch, cancel_after=2)
    box.set_faults(["batch:latency=300ms"])  # time to see the Cancel between batches
    html = await (await start_import(ui)).text()
    counts = cell_counts(html)
    assert counts["created"] >= 2 and counts["unprocessed"] > 0, html
    assert counts["created"] + counts["unprocessed"] == 5
    assert box.stats()["worklogs"] == counts["created"]
    assert 'id="resume"' in html and "Stopped:" in html
    state["armed"] = False
    box.set_faults([])
    # resume from the Runs page: the halted run offers it; the wizard gets the file and mapping
    halted = ui.app[WIZARD].last_import.result.run_id
    details = await (await ui.get(f"/runs/{halted}")).text()
    assert "halted" in details and f'action="/runs/{halted}/resume"' in details
    resp = await post_and_finish(ui, f"/runs/{halted}/resume")
    assert resp.url.path == "/dryrun"
    assert cell_counts(await resp.text())["created"] == 5 - counts["created"]  # the rest
    # the confirmation counts what this run still creates, with those rows' hours
    await post(ui, "/import/start")
    job = ui.app[WIZARD].job
    while job.confirm is None and not job.finished.is_set():
        await asyncio.sleep(0.05)
    assert job.confirm.rows == 5 - counts["created"]
    remaining = job.confirm.seconds
    assert 0 < remaining < (2 + 1.5 + 4.25 + 0.75 + 1) * 3600  # not the whole file's 9.5 h
    await post(ui, "/job/confirm", {"answer": "yes"})
    html = await (await finish_job(ui)).text()
    assert cell_counts(html)["unprocessed"] == 0 and cell_counts(html)["rejected"] == 2
    assert ui.app[WIZARD].last_import.result.run_id == halted  # the same run, resumed
    assert box.stats()["worklogs"] == 5  # nothing twice
    box.reset()


async def test_a_cancel_that_comes_too_late_does_not_say_done(
    ui: TestClient, box: RunningSandbox, demo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await up_to_the_dry_run(ui, box, demo_file)
    small_batches(monkeypatch, cancel_after=5)  # pressed as the last batch is answered
    html = await (await start_import(ui)).text()
    assert box.stats()["worklogs"] == 5
    assert "Cancel came too late" in html and "Done:" not in html
    box.reset()


async def test_the_launch_page_after_use_redirects_a_logged_in_browser(ui: TestClient) -> None:
    guard = ui.app[GUARD]
    assert guard.launch_token is None
    resp = await ui.get("/launch?token=anything", allow_redirects=False)
    assert resp.status == 303


async def test_steps_that_need_earlier_ones_send_you_back(ui: TestClient) -> None:
    for path, back in (
        ("/mapping", "/file"),
        ("/validate", "/file"),
        ("/dryrun", "/file"),
        ("/import", "/file"),
    ):
        resp = await ui.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == back, path


async def test_a_pasted_token_is_stored_in_the_keyring_and_used_from_there(
    ui: TestClient,
    box: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from timetracker_import.api import settings as conn

    store = FakeStore()
    monkeypatch.setattr(conn, "default_token_store", lambda: store)
    token = box.tokens["bob@example.com"]
    caplog.set_level("DEBUG")
    resp = await post(
        ui, "/connect", {"target": "url", "url": box.url, "token": token, "remember": "1"}
    )
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "stored in the OS keyring" in html and "Bob Builder" in html and token not in html
    assert store.tokens == {box.url: token}  # the key `auth login --url` uses
    assert token not in caplog.text
    resp = await post(ui, "/connect", {"target": "url", "url": box.url})
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
    resp = await post(ui, "/connect", {"target": "profile:sandbox"})
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "Carol Coder" in html and "profile sandbox" in html


async def test_a_bug_shows_a_page_not_a_traceback_and_the_server_keeps_running(
    ui: TestClient, demo_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await choose_file(ui, demo_file)

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("internal detail")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(library, "presets", broken)
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
    assert "were imported" in html and "New dry run" in html and "Prepare the import" not in html
    again = await (await post_and_finish(ui, "/dryrun")).text()
    assert cell_counts(again)["already_existing"] == 5 and cell_counts(again)["created"] == 0
    html = await (await ui.get("/import")).text()
    assert "no row to create" in html
    box.reset()


async def test_an_excel_file_is_validated_with_its_highlighted_cells(ui: TestClient) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "payroll_hours.xlsx"
    await choose_file(ui, sample)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:payroll-demo" id="src-payroll-demo" checked' in html
    html = await choose_preset(ui)
    rows, valid, rejected, _skipped = validate_counts(html)
    assert rows == valid + rejected and rejected > 0
    marked = re.findall(r'<tr data-kind="[^"]*" data-row="(\d+)">(.*?)</tr>', html, re.S)
    assert len(marked) == min(rejected, 100)
    with_cell = [body for _row, body in marked if 'class="bad"' in body]
    assert with_cell and all(body.count('class="bad"') == 1 for body in with_cell)


async def test_rows_in_locked_weeks_are_listed_in_the_plan(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    from timetracker_import.ui.demo import HEADERS

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
    html = await (await connect(ui, box)).text()
    assert cell_counts(html)["created"] == 1 and cell_counts(html)["rejected"] == 1
    section = html.split("Rows in locked weeks", 1)[1].split("</ul>", 1)[0]
    assert "row 2:" in section


async def test_the_environment_connection_is_offered_and_used(
    ui: TestClient, box: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMETRACKER_URL", box.url)
    monkeypatch.setenv("TIMETRACKER_TOKEN", box.tokens["dave@example.com"])
    page = await (await ui.get("/connect")).text()
    assert 'value="env" id="target-env" checked' in page and box.url in page
    resp = await post(ui, "/connect", {"target": "env"})
    assert resp.status == 303
    html = await (await ui.get("/connect")).text()
    assert "Dave Product" in html and "from the environment" in html
    assert box.tokens["dave@example.com"] not in html


async def test_the_data_picks_among_presets_that_share_a_header(
    ui: TestClient, tmp_path: Path
) -> None:
    clockify = tmp_path / "clockify.csv"
    clockify.write_text(
        "Email,Description,Start Date,Start Time,Duration (h),Duration (decimal)\n"
        "bob@example.com,Fix #101,03/14/2026,09:00,01:30:00,1.50\n",
        encoding="utf-8",
    )
    await choose_file(ui, clockify)
    html = await (await ui.get("/mapping")).text()
    assert 'value="preset:clockify-us" id="src-clockify-us" checked' in html
    assert "the data picks it" in html and "03/14/2026" in html
