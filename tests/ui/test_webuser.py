"""What a non-technical user met when driving the web app through a migration (a dirty Toggl
export, a Clockify workbook) and three paydays of sync, each fixed in ui/: the problem
filter and the row reasons in the pages' words, a fix that moves the problem naming the new
column, a skipped preview row not called rejected, the connection's words, where the sync's
settings came from, and the run page's file, mapping, times and undo counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.app.test_sync import expected as wanted
from tests.app.test_sync import server, write
from tests.ui.conftest import csrf_token, finish_job, post, post_and_finish
from tests.ui.test_sync import BOB, ROWS, apply, entry, form, plan, ready, text, wait_for  # noqa: F401
from tests.ui.test_wizard import choose_file, choose_preset, connect
from timetracker_import import library
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.state import WIZARD

TOGGL = (
    "User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,"
    "End time,Duration,Tags,Amount (EUR)"
)


def toggl_file(path: Path, rows: list[str]) -> Path:
    """A Toggl detailed report CSV (UTF-8 with a BOM, CRLF, as Toggl writes it)."""
    path.write_text("\ufeff" + "\r\n".join([TOGGL, *rows]) + "\r\n", encoding="utf-8")
    return path


DIRTY = [
    "Alice A,alice@example.com,,Web,,#101 Hero,Yes,2026-11-02,09:00:00,2026-11-02,10:30:00,"
    "01:30:00,,",
    "Dave D,,,Internal,,#104 no email,No,2026-11-05,10:00:00,2026-11-05,11:00:00,01:00:00,,",
    'Alice A,alice@example.com,,Internal,,"",No,2026-11-06,08:45:10,2026-11-06,08:45:10,00:00:00,,',
    "Dave D,dave@example.com,,Internal,,#104 late,No,2026-11-05,25:00:00,2026-11-05,"
    "26:00:00,01:00:00,,",
]


def options(html: str) -> list[str]:
    """The labels of the Validate page's problem filter."""
    select = re.search(r'<select name="kind" id="kind-filter">(.*?)</select>', html, re.S)
    assert select, html
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


async def test_the_problem_filter_and_the_reasons_speak_the_pages_words(
    ui: TestClient, tmp_path: Path
) -> None:
    """The filter showed `timetracker-import mapping show PRESET > my.yaml` and "…pace
    requires" (the 7 of 7pace taken for a value); the reasons `default: me` on fields.user
    and "(in a copy of the preset: the command line)"."""
    await choose_file(ui, toggl_file(tmp_path / "toggl.csv", DIRTY))
    html = await choose_preset(ui, "toggl")
    labels = options(html)
    assert len(labels) == 4, labels
    shown = " ".join(labels) + " " + text(html)
    assert "mapping show" not in shown and "…pace" not in shown
    assert "fields.user" not in shown and "command line" not in shown
    assert "7pace requires a length" in " ".join(labels)
    assert "More settings" in shown  # where the web app books empty users to you


async def test_a_fix_that_moves_the_problem_names_the_column_it_is_in_now(
    ui: TestClient, tmp_path: Path
) -> None:
    """Fixing a start time of 25:00 left the end time 26:00: the page said "0 of the 1
    row(s) you fixed are valid now. Row 5 still: not a time of day", as if the fix had not
    been taken; it now names the column the problem is in."""
    await choose_file(ui, toggl_file(tmp_path / "toggl.csv", DIRTY[3:]))
    html = await choose_preset(ui, "toggl")
    field = re.search(r'name="(fix:2:\d+)" value="25:00:00"', html)
    assert field, html
    html = await (await post_and_finish(ui, "/validate/fix", {field.group(1): "10:00:00"})).text()
    assert "0 of the 1 row(s) you fixed are valid now" in html
    assert re.search(r"Row 2 still, in <b>End time</b>: not a time of day", html), text(html)


async def test_a_skipped_row_in_the_preview_is_not_called_rejected(
    ui: TestClient, tmp_path: Path
) -> None:
    """A Clockify break row (Type = Break) is left out by the preset's skip rule: the
    preview called it "rejected: left out by the mapping's skip rules"."""
    head = (
        '"Project","Client","Description","Task","User","Group","Email","Tags","Type",'
        '"Billable","Start Date","Start Time","End Date","End Time","Duration (h)",'
        '"Duration (decimal)"'
    )
    rows = [
        '"Web","","#201 Hero","","Alice","","alice@example.com","","Regular","Yes",'
        '"09/11/2026","09:00","09/11/2026","10:30","1:30","1.50"',
        '"Web","","Lunch","","Bob","","bob@example.com","","Break","No",'
        '"09/11/2026","12:30","09/11/2026","13:00","0:30","0.50"',
    ]
    path = tmp_path / "clockify.csv"
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    await choose_file(ui, path)
    resp = await post(ui, "/mapping/preview", {"source": "preset:clockify-eu"})
    html = await resp.text()
    assert resp.status == 200, html
    assert "rejected: left out" not in html
    assert re.search(r'<tr class="skipped">.*skipped: left out by the mapping', html, re.S), html


async def test_the_connection_says_where_the_token_came_from_in_words(
    ui: TestClient, box: RunningSandbox
) -> None:
    """ "token ****0001 (from pasted here)"; a refused token showed "401 UnauthorizedError"."""
    resp = await post(
        ui, "/connect", {"target": "url", "url": box.url, "token": "not-a-token-1234"}
    )
    html = await resp.text()
    assert "401" in html and "UnauthorizedError" not in html and box.url in html
    await connect(ui, box)
    html = await (await ui.get("/connect")).text()
    assert "(from this page)" in text(html) and "from pasted here" not in html


async def test_the_plan_says_where_its_settings_came_from_and_the_run_page_what_undo_did(
    ready: TestClient,  # noqa: F811 (the fixture imported above)
    box: RunningSandbox,
    tmp_path: Path,
) -> None:
    """The plan said "(chosen on this page)" of the period and zone chosen on the Sync page;
    the sync's run page said "mapping (given as data)", showed microseconds, and after an undo
    that deleted 8 and re-created 4 said "(undone: 8 deleted)"."""
    path = write(tmp_path / "hours.csv", ROWS[:4])
    html = await plan(ready, form(path, key="ID", prune="1", timezone="Europe/Berlin"))
    found = re.search(r'<dl class="facts" id="sync-facts">.*?</dl>', html, re.S)
    assert found, html
    facts = text(found.group(0))
    assert "chosen on this page" not in facts
    assert "(chosen on the Sync page)" in facts and "(typed on the Sync page)" in facts
    await apply(ready)
    write(path, ROWS[4:])
    await plan(ready, form(path, key="ID", prune="1", limit_kind="none"))
    await apply(ready)
    assert server(box) == wanted(ROWS[4:])
    run_id = ready.app[WIZARD].last_sync.result.run_id
    await post_and_finish(ready, f"/runs/{run_id}/undo")
    assert server(box) == wanted(ROWS[:4])
    page = text(await (await ready.get(f"/runs/{run_id}")).text())
    assert "given as data" not in page and "made in the web app" in page
    assert "(undone: 8 deleted, 4 re-created)" in page, page
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page), page


async def test_the_run_page_does_not_show_the_apps_private_upload_folder(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    """An uploaded file's run showed /home/…/state/uploads/20261205T112829-3/hours.csv."""
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("_csrf", csrf_token(ui))
    form.add_field("upload", demo_file.read_bytes(), filename="hours-demo.csv")
    assert (await ui.post("/file", data=form, allow_redirects=False)).status == 303
    await finish_job(ui)
    await choose_preset(ui)
    await connect(ui, box)  # the dry run: a journaled run of the uploaded file
    run_id = library.run_overviews()[0].run_id
    page = await (await ui.get(f"/runs/{run_id}")).text()
    folder = ui.app[WIZARD].file.path.parent
    assert str(folder) not in page and str(folder.parent) not in page
    assert "hours-demo.csv (kept by the app)" in text(page)
    box.reset()


async def test_the_question_before_a_changed_sync_does_not_blame_7pace_for_the_file(
    ready: TestClient,  # noqa: F811 (the fixture imported above)
    box: RunningSandbox,
    tmp_path: Path,
) -> None:
    """The payroll file grew after the plan; the question began "7pace changed since the
    plan", though 7pace had not changed at all."""
    path = write(tmp_path / "hours.csv", ROWS[:4])
    await plan(ready, form(path, key="ID"))
    write(path, ROWS[:5])
    await post(ready, "/sync/apply")
    job = ready.app[WIZARD].job
    await wait_for(job, lambda j: j.confirm is not None)
    html = text(await (await ready.get("/job")).text())
    assert not re.search(r"(?<!file or )7pace changed since the plan", html), html
    assert "The file or 7pace changed since the plan" in html
    await post(ready, "/job/confirm", {"answer": "no"})
    html = await (await finish_job(ready)).text()
    assert sum(server(box).values()) == 0
    # "Plan again" plans again (it was a link back to the setup, as "Back to the setup" is)
    replan = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>(?:(?!</form>).)*>Plan again<', html, re.S
    )
    assert replan, html
    html = await (await post_and_finish(ready, replan.group(1))).text()
    assert 'data-count="created">5<' in html and sum(server(box).values()) == 0
    # the result page's way back says where it goes ("Sync again" led to the setup)
    await post_and_finish(ready, "/sync/apply")
    html = await (await ready.get("/sync/result")).text()
    assert ">Sync again<" not in html and "Back to the setup" in html
    assert server(box) == wanted(ROWS[:5])


async def test_after_a_cancel_the_hours_table_says_what_7pace_holds(
    ready: TestClient,  # noqa: F811 (the fixture imported above)
    box: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancel during the deletes of a cut-off export: the table said bob's week went to
    0.00 h while 7pace still held the worklogs the cancel had spared."""
    rows = [entry(i, BOB, 2 + i % 5, 60) for i in range(1, 21)]
    path = write(tmp_path / "hours.csv", rows)
    await plan(ready, form(path, key="ID", prune="1"))
    await apply(ready)
    write(path, rows[:1])
    await plan(ready, form(path, key="ID", prune="1", limit_kind="none"))
    box.set_faults(["worklogs:latency=200ms"])
    real = library.sync_file
    monkeypatch.setattr(library, "sync_file", lambda *a, **kw: real(*a, **{**kw, "concurrency": 1}))
    await post(ready, "/sync/apply")
    job = ready.app[WIZARD].job
    await wait_for(job, lambda j: j.done >= 3)
    await post(ready, "/job/cancel")
    html = await (await finish_job(ready)).text()
    box.set_faults([])
    left = sum(server(box).values())
    assert "Stopped by Cancel" in html and 1 < left < 20, left
    # bob's week: 20 h before, and after what 7pace still holds (the library counts the
    # deletes the cancel spared; the page had to warn that it did not)
    table = html[html.index('id="sync-hours"') :]
    cells = re.findall(r"<td>([^<]*)</td>", table[: table.index("</table>")])
    assert cells[:4] == [BOB, "2026-11-02", "20.00 h", f"{left:.2f} h"], cells[:4]


async def test_a_rejected_rows_step_is_said_in_words(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    """The dry run's and the run page's rejected rows had a column "step" holding the
    pipeline's stage names: "resolve", "validate"."""
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    html = await (await connect(ui, box)).text()
    table = re.search(r'<table id="plan-rejected">.*?</table>', html, re.S)
    assert table, html
    assert "<td>resolve</td>" not in table.group(0) and "<td>validate</td>" not in table.group(0)
    assert "<td>finding it in 7pace</td>" in table.group(0)
    run_id = library.run_overviews()[0].run_id
    page = await (await ui.get(f"/runs/{run_id}")).text()
    assert "<td>reading the values</td>" in page and "<td>map</td>" not in page
    box.reset()


async def test_an_unknown_user_without_a_close_match_can_be_aliased_too(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    """frank@example.com matches no 7pace user closely: the dry run said "fix the cell in
    your file", though the web app promises never to change the file and its Validate step
    (offline) finds nothing to fix there. Now the person can name the 7pace user."""
    from timetracker_import.ui.demo import HEADERS

    path = tmp_path / "frank.csv"
    path.write_text(
        ",".join(HEADERS)
        + "\nfrank@example.com,2026-11-02,09:00,2,2,101,Development,x"
        + "\nalice@example.com,2026-11-02,11:00,1,1,101,Development,y\n",
        encoding="utf-8",
    )
    await choose_file(ui, path)
    await choose_preset(ui)
    html = await (await connect(ui, box)).text()
    assert "fix the cell in your file" not in html
    assert re.search(r'<input name="target" id="alias-1" required', html), html
    resp = await post_and_finish(
        ui, "/dryrun/alias", {"value": "frank@example.com", "target": "erin@example.com"}
    )
    html = await resp.text()
    assert resp.url.path == "/dryrun" and 'data-count="created">2<' in html, text(html)
    assert box.stats()["worklogs"] == 0
    box.reset()


async def test_rows_outside_the_period_are_explained_without_the_command_lines_syntax(
    ready: TestClient,  # noqa: F811 (the fixture imported above)
    box: RunningSandbox,
    tmp_path: Path,
) -> None:
    """Rows outside a chosen "this week" read "outside the period 2026-11-30..2026-12-06
    (week:current) this sync is about (the period); ... or declare a period"."""
    from timetracker_import.ui.words import for_page

    path = write(tmp_path / "hours.csv", ROWS[:2])
    html = text(
        await plan(
            ready,
            form(
                path,
                key="ID",
                period_kind="dates",
                period_from="2026-12-01",
                period_to="2026-12-31",
            ),
        )
    )
    assert "is outside the period 2026-12-01 to 2026-12-31 this sync is about;" in html, html
    assert ".." not in html and "(the period)" not in html and "declare a period" not in html
    said = for_page(
        "2026-11-16 is outside the period 2026-11-30..2026-12-06 (week:current) this sync is "
        "about (--window); fix the date, or declare a period that includes it"
    )
    assert said == (
        "2026-11-16 is outside the period 2026-11-30 to 2026-12-06 (this week) this sync is "
        "about; fix the date, or choose a period that includes it"
    )
    moved = for_page(  # main's message for a moved worklog outside the period
        "its worklog lies outside the period 2026-11-01..2026-11-30 this sync is about "
        "(--window); moving it would change a day outside the period: declare a period that "
        "includes 2026-10-30 to move it"
    )
    assert ".." not in moved and "(--window)" not in moved and "declare" not in moved
    assert (
        for_page("2026-11-23..2026-12-06 (last:2w)")
        == "2026-11-23 to 2026-12-06 (the last 2 weeks)"
    )
    assert sum(server(box).values()) == 0


async def test_a_path_that_cannot_be_read_is_still_in_the_field_after_going_back(
    ui: TestClient, tmp_path: Path
) -> None:
    """A path typed on the File page whose reading fails (here: a .py file) ends on the
    job's page; its "Back" led to an empty File page, the path gone."""
    script = tmp_path / "notes.py"
    script.write_text("print('hi')\n", encoding="utf-8")
    resp = await post(ui, "/file", {"path": str(script), "sheet": ""})
    assert resp.status == 303
    html = await (await finish_job(ui)).text()
    assert "unsupported file type" in html and 'href="/file"' in html
    page = await (await ui.get("/file")).text()
    assert f'value="{script}"' in page
    # a file read fine clears it
    good = toggl_file(tmp_path / "toggl.csv", DIRTY[:1])
    await choose_file(ui, good)
    assert f'value="{good}"' not in await (await ui.get("/file")).text()


async def test_the_preview_puts_why_a_row_is_not_sent_first(ui: TestClient, tmp_path: Path) -> None:
    """At 1280 px a rejected preview row's reason sat after every column of the file, cut
    off at "rejected: '2026-11-31' is"; as on the Validate page, it now comes first."""
    await choose_file(ui, toggl_file(tmp_path / "toggl.csv", DIRTY))
    html = await (await post(ui, "/mapping/preview", {"source": "preset:toggl"})).text()
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", html, re.S)
    assert head and re.findall(r">([^<]*)</th>", head.group(1))[:3] == ["row", "problem", "Email"]
    assert re.search(r'<tr class="rejected"><td>3</td><td class="reason">rejected: user is', html)
    assert re.search(r"<tr><td>2</td><td></td><td>alice@example.com</td>", html), html
    # a preview where every row is sent has no empty problem column
    await choose_file(ui, toggl_file(tmp_path / "clean.csv", DIRTY[:1]))
    html = await (await post(ui, "/mapping/preview", {"source": "preset:toggl"})).text()
    assert ">problem</th>" not in html and "<tr><td>2</td><td>alice@example.com</td>" in html


async def test_preset_descriptions_do_not_name_commands(ui: TestClient, demo_file: Path) -> None:
    """The Mappings page and the Mapping page's list said "Jira worklogs converted by
    `convert jira`" and "the file `convert split-days` writes"."""
    await choose_file(ui, demo_file)
    for route in ("/mappings", "/mapping"):
        html = await (await ui.get(route)).text()
        assert "`convert" not in html, route
        assert "Jira worklogs converted on the File page" in html, route


async def test_the_dry_runs_hours_say_they_count_rows_already_in_7pace(
    ui: TestClient, box: RunningSandbox, demo_file: Path
) -> None:
    """The Clockify file dry-run again after its import: "0 would be created, 5 already in
    7pace" above "Hours per user and week: 7.25 h in all", as if 7.25 h were coming."""
    import asyncio

    box.reset()
    await choose_file(ui, demo_file)
    await choose_preset(ui)
    await connect(ui, box)
    await post(ui, "/import/start")
    job = ui.app[WIZARD].job
    while job.confirm is None and not job.finished.is_set():
        await asyncio.sleep(0.05)
    await post(ui, "/job/confirm", {"answer": "yes"})
    await finish_job(ui)
    assert box.stats()["worklogs"] == 5
    html = await (await post_and_finish(ui, "/dryrun")).text()
    assert 'data-count="already_existing">5<' in html and 'data-count="created">0<' in html
    help_ = re.search(r'<p class="help" id="grid-help">([^<]*)</p>', html)
    assert help_ and "counting the 5 row(s) already in 7pace" in help_.group(1), html
    box.reset()


def test_an_unknown_users_fix_is_the_alias_on_a_page() -> None:
    """main's unknown-user reasons name `map: {...}` on fields.user, `timetracker-import
    mapping show PRESET > my.yaml` and --mapping; on a page the fix is the dry run's alias."""
    from timetracker_import.ui.words import for_page

    example = "`map: {'Jane D': jane@example.com}` on fields.user"
    for said in (
        "unknown user 'frank@example.com'; no 7pace user has this e-mail or uniqueName: check "
        "the spelling, add the person to the organization, or turn it into a 7pace user's "
        f"e-mail with {example} in a mapping of your own (`timetracker-import mapping show "
        "toggl > my.yaml`, then --mapping my.yaml)",
        "unknown user 'Frank'; no 7pace user has this e-mail, uniqueName or display name: turn "
        f"it into a 7pace user's e-mail with {example} in the mapping, or add the person to "
        "the organization",
        f"'Jo' matches more than one user: a, b; say which: turn it into a 7pace user's e-mail "
        f"with {example} in /home/me/hr.yaml",
    ):
        page = for_page(said)
        assert "`" not in page and "fields.user" not in page and "--" not in page, page
        assert "name the 7pace user it stands for (on the dry run's page: an alias)" in page


def test_the_same_start_note_points_to_the_sync_page() -> None:
    """main's dry-run note on rows that start beside a worklog names `timetracker-import
    sync` (docs/sync.md) and `worklogs delete`; a page points to the Sync page."""
    from timetracker_import.ui.words import for_page

    page = for_page(
        "2 row(s) start at the same second as a worklog of the same user already in 7pace but "
        "differ from it (length, work item or comment): import adds them beside it and changes "
        "no worklog, so if they correct rows imported before, both will count; to replace the "
        "old worklogs use `timetracker-import sync` (docs/sync.md), or fix them with "
        "`timetracker-import worklogs update` / `worklogs delete`: row 2 (bob, ...)"
    )
    assert "`" not in page and "docs/" not in page and "command line" not in page, page
    assert "use the Sync page (it changes worklogs in place), or correct them in 7pace:" in page


async def test_what_a_run_notes_is_on_its_pages(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    """The Validate, dry-run and import-result pages never showed the run's notes, which the
    command line prints: here that the rows without a user (a Toggl report without a user
    column) are booked to the token's own user."""
    path = tmp_path / "toggl-2025.csv"
    path.write_text(
        "\ufeff" + '"Description",Duration,Project,Start date,Start time,Stop date,Stop time\n'
        '"#101 Hero",1:30:00,Web,2026-11-02,09:00:00,2026-11-02,10:30:00\n',
        encoding="utf-8",
    )
    await choose_file(ui, path)
    html = await choose_preset(ui, "toggl-2025")
    note = "1 row(s) have no user and are booked to the token's own user"
    assert note in html.replace("&#39;", "'") and 'id="notes"' in html, text(html)
    html = (await (await connect(ui, box)).text()).replace("&#39;", "'")
    assert 'id="notes"' in html and "token's own user" in html, text(html)
    assert "fields.user" not in html
    box.reset()


def test_the_zone_notes_name_no_api_field() -> None:
    """The dry run's zone note said "(me.timeZone)" and "give the time zone field"."""
    from timetracker_import.ui.words import for_page

    page = for_page(
        "times were read in Etc/UTC (UTC+00:00 today), but the token's 7pace user is at "
        "UTC+01:00 today (me.timeZone); if the file's times are that user's local times, give "
        "--timezone with their zone"
    )
    assert "me.timeZone" not in page and "--" not in page, page
    assert page.endswith("fill in the time zone field with their zone")


async def test_the_list_of_equal_cells_says_when_it_is_cut(ui: TestClient, tmp_path: Path) -> None:
    """ "Fix every equal cell at once" listed the 20 most frequent repeated values and said
    nothing of the others."""
    from timetracker_import.ui.demo import HEADERS

    rows = [
        f"carol@example.com,2026-11-{31 + day // 2}x,09:00,1,1,103,Meetings,r{day}"
        for day in range(50)
    ]
    path = tmp_path / "many-values.csv"
    path.write_text(",".join(HEADERS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await choose_file(ui, path)
    html = await choose_preset(ui)
    assert html.count('name="all_col"') == 20
    assert "Showing the 20 most frequent of 25 repeated values." in html
