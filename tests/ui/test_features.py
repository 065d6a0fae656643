"""Issue 23's web app: no side-effect GETs, CSRF on every state change, sessions per port and
a fresh link without a restart, uploads kept for Resume, complete preset copies, saved
mappings, the sheet picker, Jira conversion, fixing cells in place, paged lists, words a
person reads, and the layer rule (the web app reaches the package through library.py)."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import openpyxl
import pytest
import yaml
from aiohttp.test_utils import TestClient

from tests.ui.conftest import post, post_and_finish
from tests.ui.test_wizard import choose_file, choose_preset, connect, validate_counts
from timetracker_import import library
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.demo import BAD_DATE_ROW, HEADERS
from timetracker_import.ui.security import GUARD, Guard
from timetracker_import.ui.server import prune_uploads
from timetracker_import.ui.state import WIZARD

ROOT = Path(__file__).resolve().parents[2]
PRESET_DATA = ROOT / "tests" / "data" / "presets"


# --------------------------------------------------------------------------- security


async def test_no_get_has_a_side_effect(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    """An <img> on another local port pointing at a GET must not start anything: every GET
    of every route leaves the wizard, its jobs and 7pace as they were."""
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    await connect(ui, box)
    w = ui.app[WIZARD]
    box.reset()
    before = (
        w.job,
        w.dry_run,
        w.checked,
        w.file,
        w.mapping,
        w.sync_setup,
        w.sync_plan,
        w.last_sync,
        box.stats(),
    )
    paths = [
        "/dryrun?again=1",
        "/dryrun",
        "/import",
        "/import/result",
        "/validate",
        "/job",
        "/import/start",
        "/job/cancel",
        "/dryrun/alias?value=a&target=b",
        "/runs/x/undo",
        "/runs/x/resume",
        "/file/convert",
        "/validate/fix?fix:2:1=x",
        "/mappings/use?source=preset:toggl",
        "/launch/new",
        "/sync",
        "/sync/plan",
        "/sync/result",
        "/sync/apply",
        "/sync/allow?allow=5",
        "/sync/use?name=x",
        "/sync?source=payroll&period_kind=none&file_kind=path&file_path=/etc/hosts",
        "/runs/x/undone",
    ]
    for path in paths:
        resp = await ui.get(path, allow_redirects=False)
        assert resp.status in (200, 303, 400, 403, 404, 405), (path, resp.status)
    assert (
        w.job,
        w.dry_run,
        w.checked,
        w.file,
        w.mapping,
        w.sync_setup,
        w.sync_plan,
        w.last_sync,
        box.stats(),
    ) == before


async def test_every_state_changing_route_is_a_post_that_needs_the_csrf_token(
    ui: TestClient,
) -> None:
    methods = {
        (r.method, r.resource.canonical) for r in ui.app.router.routes() if r.resource is not None
    }
    posts = sorted(path for method, path in methods if method == "POST")
    assert {
        "/file",
        "/mapping",
        "/validate",
        "/validate/fix",
        "/connect",
        "/dryrun",
        "/dryrun/alias",
        "/import/start",
        "/job/cancel",
        "/job/confirm",
        "/runs/{run_id}/undo",
        "/runs/{run_id}/resume",
        "/sync",
        "/sync/use",
        "/sync/allow",
        "/sync/apply",
    } <= set(posts)
    assert not {m for m, _ in methods} - {"GET", "HEAD", "POST"}
    for path in posts:
        concrete = path.replace("{run_id}", "20260101T000000Z-abcd")
        resp = await ui.post(concrete, data={"x": "1"}, allow_redirects=False)
        assert resp.status == 403 and "security token" in await resp.text(), path


async def test_two_apps_on_two_ports_keep_their_own_sessions(anon: TestClient) -> None:
    first: Guard = anon.app[GUARD]
    other = Guard(hosts=frozenset())
    assert anon.port is not None
    other.bind("127.0.0.1", anon.port + 1)
    assert first.cookie_name != other.cookie_name
    resp = await anon.get(f"/launch?token={first.launch_token}", allow_redirects=False)
    assert first.cookie_name in resp.cookies and other.cookie_name not in resp.cookies


async def test_a_fresh_launch_link_without_a_restart(anon: TestClient) -> None:
    guard: Guard = anon.app[GUARD]
    first = guard.launch_token
    assert (await anon.get(f"/launch?token={first}", allow_redirects=False)).status == 303
    anon.session.cookie_jar.clear()  # another browser
    assert (await anon.get(f"/launch?token={first}", allow_redirects=False)).status == 403
    # only the app's own command (which can read the private control file) gets a link
    assert (await anon.post("/launch/new")).status == 403
    assert (await anon.post("/launch/new", headers={"X-Control-Secret": "guess"})).status == 403
    assert (
        await anon.get("/launch/new", headers={"X-Control-Secret": guard.control_secret})
    ).status == 403
    resp = await anon.post("/launch/new", headers={"X-Control-Secret": guard.control_secret})
    fresh = await resp.text()
    assert resp.status == 200 and fresh != first
    assert (await anon.get(f"/launch?token={fresh}", allow_redirects=False)).status == 303
    assert (await anon.get("/file")).status == 200


def test_a_second_ui_on_the_same_port_prints_a_fresh_link(cli_env: None) -> None:
    """`timetracker-import ui --port N` while the app runs there: a fresh link to it."""
    import subprocess
    import sys

    from timetracker_import.ui.server import control_file, fresh_link

    proc = subprocess.Popen(
        [sys.executable, "-m", "timetracker_import", "ui", "--port", "0", "--no-open"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = ""
        for line in proc.stderr:
            if "/launch?token=" in line:
                break
        match = re.search(r"http://127\.0\.0\.1:(\d+)/launch\?token=(\S+)", line)
        assert match, line
        port = int(match.group(1))
        assert oct(control_file(port).stat().st_mode & 0o777) == "0o600"
        again = subprocess.run(
            [sys.executable, "-m", "timetracker_import", "ui", "--port", str(port), "--no-open"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        assert "running on that port already" in again.stderr
        fresh = re.search(r"/launch\?token=(\S+)", again.stderr)
        assert fresh and fresh.group(1) != match.group(2)
        assert fresh_link("127.0.0.1", port) is not None
    finally:
        proc.terminate()
        proc.wait(30)


async def test_uploads_stay_until_their_runs_are_finished_or_old(
    cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    needed, done, fresh = (folder / n for n in ("a", "b", "c"))
    for f in (needed, done, fresh):
        f.mkdir(parents=True)
        (f / "hours.csv").write_text("x\n", encoding="utf-8")
    old = time.time() - 3 * 86400
    import os

    for f in (needed, done):
        os.utime(f, (old, old))

    class Run:
        def __init__(self, path: Path, status: str) -> None:
            self.input_path, self.status, self.dry_run = str(path / "hours.csv"), status, False

    monkeypatch.setattr(
        library, "run_overviews", lambda: [Run(needed, "halted"), Run(done, "complete")]
    )
    removed = prune_uploads(folder)
    assert removed == [done]
    assert needed.is_dir() and fresh.is_dir() and not done.exists()


# --------------------------------------------------------------------------- mappings


async def test_copying_a_preset_into_the_form_keeps_everything(ui: TestClient) -> None:
    """toggl's work item comes from the description by a regex: the copy keeps it (before,
    the copy lost it and every preview row was rejected)."""
    await choose_file(ui, PRESET_DATA / "toggl-report.csv")
    resp = await post(ui, "/mapping", {"source": "preset:toggl", "action": "edit"})
    html = await resp.text()
    assert resp.status == 200 and "are in the form now, all of them" in html
    base = re.search(r'<textarea name="base" id="base"[^>]*>(.*?)</textarea>', html, re.S)
    assert base and "regex" in base.group(1)
    form = dict(
        re.findall(
            r'<select name="([\w.]+)"[^>]*>(?:(?!</select>).)*?<option value="(\d*)" selected',
            html,
            re.S,
        )
    )
    form.update(
        {
            "source": "form",
            "base": base.group(1).replace("&#39;", "'").replace("&#34;", '"'),
            "action": "yaml",
        }
    )
    data = yaml.safe_load(await (await post(ui, "/mapping", form)).text())
    assert (
        data["fields"]["work_item"]["regex"]
        == library.preset_mapping("toggl")["fields"]["work_item"]["regex"]
    )
    fragment = await (await post(ui, "/mapping/preview", {**form, "action": ""})).text()
    preset = await (await post(ui, "/mapping/preview", {"source": "preset:toggl"})).text()
    assert fragment == preset and fragment.count("rejected:") < fragment.count("UTC")


async def test_a_mapping_is_saved_listed_and_chosen_again(ui: TestClient, demo_file: Path) -> None:
    from tests.ui.test_wizard import DRAFT

    await choose_file(ui, demo_file)
    resp = await post(ui, "/mapping", {**DRAFT, "action": "save", "save_name": "payroll 2026"})
    html = await resp.text()
    assert resp.status == 200 and "Saved as “payroll 2026”" in html
    saved = library.saved_mappings()
    assert [m.name for m in saved] == ["payroll 2026"]
    assert yaml.safe_load(saved[0].path.read_text())["fields"]["length"]["unit"] == "hours"
    # the name is taken unless replacing
    resp = await post(ui, "/mapping", {**DRAFT, "action": "save", "save_name": "payroll 2026"})
    assert resp.status == 400 and "exists already" in await resp.text()
    resp = await post(ui, "/mapping", {**DRAFT, "action": "save", "save_name": "../evil"})
    assert resp.status == 400 and "not a usable mapping name" in await resp.text()
    listing = await (await ui.get("/mappings")).text()
    assert "payroll 2026" in listing and "toggl" in listing
    shown = await (await ui.get("/mappings?show=saved:payroll%202026")).text()
    assert "unit: hours" in shown
    # another file: the saved mapping is offered and chosen
    await choose_file(ui, demo_file)
    html = await (await ui.get("/mapping")).text()
    assert '<option value="payroll 2026"' in html
    resp = await post_and_finish(ui, "/mapping", {"source": "saved", "saved_name": "payroll 2026"})
    assert validate_counts(await resp.text()) == [8, 6, 1, 1]
    assert "your saved mapping payroll 2026" in await resp.text()


async def test_the_sheet_picker_reads_another_sheet(
    ui: TestClient, demo_file: Path, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["Read me"])
    hours = book.create_sheet("Hours")
    hours.append(list(HEADERS))
    hours.append(["alice@example.com", "2026-11-02", "09:00", 2, 2, 101, "Development", "x"])
    path = tmp_path / "two-sheets.xlsx"
    book.save(path)
    await choose_file(ui, path)
    html = await (await ui.get("/file")).text()
    assert 'id="sheet-pick"' in html and ">Hours</option>" in html
    resp = await post_and_finish(ui, "/file/sheet", {"sheet": "Hours"})
    assert resp.url.path == "/mapping"
    info = ui.app[WIZARD].file
    assert info.sheet == "Hours" and "Employee Email" in info.headers
    assert 'value="preset:payroll-demo" id="src-payroll-demo" checked' in await resp.text()


async def test_a_jira_issue_export_is_converted_in_the_file_step(
    ui: TestClient, tmp_path: Path
) -> None:
    import shutil

    source = tmp_path / "jira-issues.csv"
    shutil.copyfile(PRESET_DATA / "jira-issues.csv", source)
    before = source.read_bytes()
    resp = await choose_file(ui, source)
    assert resp.url.path == "/file"
    html = await resp.text()
    assert "Jira issue export" in html and 'id="convert"' in html
    resp = await post_and_finish(ui, "/file/convert")
    assert resp.url.path == "/mapping"
    info = ui.app[WIZARD].file
    assert "converted" in info.label and "Issue Key" in info.headers
    assert 'value="preset:jira-worklogs"' in await resp.text()
    assert source.read_bytes() == before


# --------------------------------------------------------------------------- fix in place


async def test_fixing_a_cell_in_place_revalidates_and_imports_the_corrected_copy(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    original = demo_file.read_bytes()
    await choose_file(ui, demo_file)
    html = await choose_preset(ui)
    assert validate_counts(html) == [8, 6, 1, 1]
    name = re.search(rf'name="(fix:{BAD_DATE_ROW}:\d+)" value="2026-11-31"', html)
    assert name, html
    resp = await post_and_finish(ui, "/validate/fix", {name.group(1): "2026-11-30"})
    html = await resp.text()
    assert validate_counts(html) == [8, 7, 0, 1]
    assert "1 of the 1 row(s) you fixed are valid now" in html
    assert demo_file.read_bytes() == original  # never modified
    corrected = await ui.get("/validate/corrected")
    text = await corrected.text()
    assert corrected.status == 200 and "2026-11-30" in text and "2026-11-31" not in text
    assert "hours-demo.corrected.csv" in corrected.headers["Content-Disposition"]
    # the dry run reads the corrected copy
    html = await (await connect(ui, box)).text()
    assert "2026-11-31" not in html and "November 2026 has 30 days" not in html
    assert ui.app[WIZARD].file.corrected_from == demo_file
    box.reset()


async def validated(ui: TestClient, path: Path, rows: list[str]) -> str:
    """Write a demo-layout CSV of ``rows``, choose it with its preset: the Validate page."""
    path.write_text(",".join(HEADERS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await choose_file(ui, path)
    return await choose_preset(ui)


async def test_one_fix_for_every_equal_cell(ui: TestClient, tmp_path: Path) -> None:
    rows = [f"carol@example.com,2026-11-31,{9 + i}:00,1,1,103,Meetings,x{i}" for i in range(3)]
    html = await validated(ui, tmp_path / "three.csv", rows)
    assert "3 rejected cells of <b>Date</b> hold <code>2026-11-31</code>" in html
    col = re.search(r'name="all_col" value="(\d+)"', html)
    assert col
    resp = await post_and_finish(
        ui, "/validate/fix", {"all_col": col.group(1), "from": "2026-11-31", "to": "2026-11-27"}
    )
    assert validate_counts(await resp.text()) == [3, 3, 0, 0]


# --------------------------------------------------------------------------- lists, words


async def test_a_cut_list_says_how_much_it_shows(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    """The dry run showed 500 of 4,000 rejected rows without saying so; every cut list now
    says how much it shows and pages on."""
    lines = [f"carol@example.com,2026-11-31,09:00,1,1,103,Meetings,row {i}" for i in range(250)]
    lines.append("alice@example.com,2026-11-02,09:00,1,1,101,Development,ok")
    html = await validated(ui, tmp_path / "many.csv", lines)
    assert "Showing 1–100 of 250." in html
    assert html.count("<tr data-kind=") == 100
    page3 = await (await ui.get("/validate?kind=&page=3")).text()
    assert "Showing 201–250 of 250." in page3 and page3.count("<tr data-kind=") == 50
    box.reset()
    plan = await (await connect(ui, box)).text()
    assert "Showing 1–100 of 250." in plan
    table = plan.split('id="plan-rejected"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr><td>") == 100
    last = await (await ui.get("/dryrun?page=3")).text()
    assert "Showing 201–250 of 250." in last


CLI_TEXT = re.compile(r"(?<![\w-])--[a-z][\w-]+|%[dmYHMS]\b|\b\w+Error\b|Traceback|/tmp/tti-ui")


async def test_pages_speak_to_people_not_to_terminals(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    """No command-line flags, format codes, exception names or private temp paths."""
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    await connect(ui, box)
    seen = []
    for path in (
        "/file",
        "/mapping",
        "/validate",
        "/connect",
        "/dryrun",
        "/import",
        "/runs",
        "/mappings",
        "/sync",
    ):
        html = await (await ui.get(path)).text()
        text = re.sub(r"<[^>]+>", " ", html)
        seen += [(path, m) for m in CLI_TEXT.findall(text)]
    assert not seen, seen
    box.reset()


def test_the_web_app_reaches_the_package_only_through_the_library() -> None:
    allowed = ("timetracker_import.library", "timetracker_import.errors", "timetracker_import.ui")
    offenders = []
    for path in sorted((ROOT / "timetracker_import" / "ui").rglob("*.py")):
        if path.name == "demo.py":
            continue  # `make ui`'s launcher: starts a sandbox beside the app, like a command
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = (
                    [node.module]
                    if node.module != "timetracker_import"
                    else [f"timetracker_import.{a.name}" for a in node.names]
                )
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("timetracker_import") and not name.startswith(allowed):
                    offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders


async def test_formula_text_in_a_comment_is_shown_as_text_and_sent_as_text(
    ui: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "formula.csv"
    path.write_text(
        ",".join(HEADERS) + "\n"
        'alice@example.com,2026-11-02,09:00,1,1,101,Development,"=HYPERLINK(""http://x"")"\n'
        "alice@example.com,2026-11-31,09:00,1,1,101,Development,<script>alert(1)</script>\n",
        encoding="utf-8",
    )
    await choose_file(ui, path)
    html = await (await ui.get("/mapping")).text()
    assert "=HYPERLINK(&#34;http://x&#34;)" in html and "<script>alert" not in html
    html = await choose_preset(ui)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # a corrected copy as XLSX keeps formula-looking text as text
    out = tmp_path / "out.xlsx"
    library.write_corrected(path, out, edits={3: {1: "2026-11-30"}})
    sheet = openpyxl.load_workbook(out).active
    assert sheet["H2"].data_type == "s" and sheet["H2"].value == '=HYPERLINK("http://x")'
    assert sheet["B3"].value == "2026-11-30"
