"""Sync in the web app (issue 23, item 1): the setup fills in nothing itself, bad setups are
refused in the page's words, setups are saved and used again; plan, apply, change, undo; the
deletion guard stops a truncated file until allowed; an empty export deletes nothing; Cancel
during apply and during undo; a confirmation when the numbers changed since the plan; the
period kept after midnight; the Runs page says what `runs list` says. Each test checks the
sandbox's worklogs."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from tests.app.test_sync import expected as wanted
from tests.app.test_sync import server, write
from tests.ui.conftest import finish_job, post, post_and_finish
from tests.ui.test_features import CLI_TEXT
from tests.ui.test_wizard import connect
from timetracker_import import library
from timetracker_import.sandbox.server import RunningSandbox
from timetracker_import.ui.state import WIZARD

MAPPING = {
    "version": 1,
    "header": True,
    "timezone": "UTC",
    "fields": {
        "user": {"column": "User"},
        "timestamp": {"column": "Start"},
        "length": {"column": "Minutes", "unit": "minutes"},
        "work_item": {"column": "WorkItem"},
        "comment": {"column": "Comment"},
    },
}
BOB, CAROL = "bob@example.com", "carol@example.com"
NOVEMBER = {"period_kind": "dates", "period_from": "2026-11-01", "period_to": "2026-11-30"}


def entry(i: int, user: str, day: int, minutes: int = 60) -> dict[str, Any]:
    return {
        "ID": f"E{i}",
        "User": user,
        "Start": f"2026-11-{day:02d}T09:00:00Z",
        "Minutes": minutes,
        "WorkItem": 42,
        "Comment": f"entry {i}",
    }


#: 12 entries of bob and carol in November's first weeks
ROWS = [entry(i, BOB if i % 2 else CAROL, 2 + i % 10) for i in range(1, 13)]


async def wait_for(job: Any, ready: Callable[[Any], bool]) -> None:
    """Wait until ``ready(job)`` or the job is over."""
    while not ready(job) and not job.finished.is_set():
        await asyncio.sleep(0.02)


def form(path: Path, **extra: str) -> dict[str, str]:
    """A complete setup: the file by path, the saved mapping, source payroll, November."""
    return {
        "file_kind": "path",
        "file_path": str(path),
        "mapping": "pick",
        "mapping_pick": "saved:hr",
        "source": "payroll",
        **NOVEMBER,
        **extra,
    }


@pytest.fixture
async def ready(ui: TestClient, box: RunningSandbox) -> TestClient:
    """Connected to an empty sandbox, with the mapping saved as ``hr``."""
    box.reset()
    library.save_mapping("hr", MAPPING)
    await connect(ui, box)
    return ui


async def plan(ui: TestClient, data: dict[str, str]) -> str:
    resp = await post_and_finish(ui, "/sync", data)
    html = await resp.text()
    assert resp.url.path == "/sync/plan", html
    return html


async def apply(ui: TestClient) -> str:
    resp = await post_and_finish(ui, "/sync/apply")
    html = await resp.text()
    assert resp.url.path == "/sync/result", html
    return html


def counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --------------------------------------------------------------------------- setup


async def test_the_page_fills_in_neither_source_nor_period(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    html = await (await ready.get("/sync")).text()
    assert 'name="source" id="source" size="24" value=""' in html
    assert not re.search(r'name="period_kind" value="\w+" id="[\w-]+" checked', html)
    assert "No period: nothing is ever deleted" in html
    for word in ("A <b>source</b> is", "The <b>period</b> is", "The <b>deletion guard</b>"):
        assert word in html
    # without a source, without a period: refused, in the page's words, the form kept
    data = form(path)
    del data["source"]
    resp = await post(ready, "/sync", data)
    html = await resp.text()
    assert resp.status == 400 and "no source named" in html and str(path) in html
    data = {k: v for k, v in form(path).items() if not k.startswith("period")}
    resp = await post(ready, "/sync", data)
    html = await resp.text()
    assert resp.status == 400 and "no period chosen" in html and 'value="payroll"' in html
    assert ready.app[WIZARD].job is None and sum(server(box).values()) == 0


async def test_bad_setups_are_refused_in_the_pages_words(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    link = tmp_path / "link.csv"
    link.symlink_to(path)
    cases = [
        (form(link), "is a symbolic link"),
        (form(path, period_from="2026-11-30", period_to="2026-11-01"), "ends"),
        (form(path, period_kind="relative"), "no relative period chosen"),
        (form(path, limit_kind="count", limit_count="many"), "whole number"),
        (form(path, limit_kind="share", limit_share="150"), "between 0 and 100"),
        (form(path, timezone="Mars/Olympus"), "is not a time zone"),
        (form(path, mapping_pick=""), "no mapping chosen"),
    ]
    for data, words in cases:
        resp = await post(ready, "/sync", data)
        html = await resp.text()
        assert resp.status == 400 and words in html, (words, text(html)[:400])
        assert "Problem:" in html and not re.search(r"(?<![\w-])--[a-z]", text(html))
    # deleting with "No period" (nothing is ever deleted, even if the mapping names a window)
    resp = await post(ready, "/sync", form(path, period_kind="none", prune="1"))
    html = await resp.text()
    assert resp.status == 400 and "needs a period" in html and ready.app[WIZARD].job is None
    # a library refusal shows in the page's words: a file whose times need a zone, none given
    library.save_mapping("no-zone", {k: v for k, v in MAPPING.items() if k != "timezone"})
    naive = write(tmp_path / "naive.csv", [{**r, "Start": r["Start"][:-1]} for r in ROWS])
    html = await (
        await post_and_finish(ready, "/sync", form(naive, mapping_pick="saved:no-zone"))
    ).text()
    assert "will not guess the time zone" in html and "time zone field" in html
    assert not re.search(r"(?<![\w-])--[a-z]", text(html)), text(html)
    assert sum(server(box).values()) == 0


async def test_a_setup_is_saved_and_used_again(ready: TestClient, tmp_path: Path) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    data = form(
        path,
        key="ID",
        prune="1",
        limit_kind="count",
        limit_count="3",
        period_kind="relative",
        period_relative="week:previous",
        timezone="Europe/Berlin",
        action="save",
        save_name="payroll weekly",
    )
    resp = await post(ready, "/sync", data)
    assert resp.status == 200 and "Saved the setup" in await resp.text()
    saved = library.sync_setups_dir() / "payroll weekly.yaml"
    assert saved.is_file() and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert library.saved_sync_setup("payroll weekly")["period"] == "week:previous"
    ready.app[WIZARD].sync_setup = None
    resp = await post(ready, "/sync/use", {"name": "payroll weekly"})
    assert resp.status == 303
    html = await (await ready.get("/sync")).text()
    assert 'value="payroll"' in html and 'value="week:previous" selected' in html
    assert 'value="relative" id="period-relative" checked' in html
    assert 'value="3"' in html and 'value="Europe/Berlin"' in html
    assert re.search(r"The saved setup.s: your saved mapping hr", html), html
    # the name is taken: refused unless replaced
    resp = await post(ready, "/sync", data)
    assert resp.status == 400 and "exists already" in await resp.text()


async def test_a_setup_before_connecting_is_planned_right_after(
    ui: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    box.reset()
    library.save_mapping("hr", MAPPING)
    path = write(tmp_path / "hours.csv", ROWS)
    resp = await post(ui, "/sync", form(path, key="ID"))
    assert resp.status == 303 and resp.headers["Location"] == "/connect?next=/sync"
    assert 'name="next" value="/sync"' in await (await ui.get("/connect?next=/sync")).text()
    resp = await post(
        ui,
        "/connect",
        {
            "target": "url",
            "url": box.url,
            "next": "/sync",
            "token": box.tokens["alice@example.com"],
        },
    )
    assert resp.status == 303 and resp.headers["Location"] == "/job"
    html = await (await finish_job(ui)).text()
    assert counts(html)["created"] == 12 and sum(server(box).values()) == 0


# --------------------------------------------------------------------------- plan, apply


async def test_plan_apply_change_and_undo(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    html = await plan(ready, form(path, key="ID", prune="1"))
    assert counts(html)["created"] == 12 and sum(server(box).values()) == 0
    assert "2026-11-03 09:00" in html and "Showing" not in html
    assert "(typed on the Sync page)" in html and "chosen on the Sync page" in html
    html = await apply(ready)
    assert "Done: 12 created, 0 changed, 0 deleted" in html
    assert server(box) == wanted(ROWS)
    # a corrected export: one changed, one removed
    second = [dict(r) for r in ROWS if r["ID"] != "E4"]
    second[0]["Minutes"] = 90
    write(path, second)
    html = await plan(ready, form(path, key="ID", prune="1"))
    c = counts(html)
    assert (c["updated"], c["deleted"], c["unchanged"]) == (1, 1, 10), c
    assert "1.00 h" in html and "1.50 h" in html  # old -> new
    assert 'id="sync-deletes"' in html and 'id="sync-hours"' in html
    assert server(box) == wanted(ROWS)  # planning wrote nothing
    html = await apply(ready)
    assert "Done: 0 created, 1 changed, 1 deleted" in html
    assert server(box) == wanted(second)
    run_id = ready.app[WIZARD].last_sync.result.run_id
    # undo from the Runs page puts both back
    page = await (await ready.get(f"/runs/{run_id}")).text()
    assert 'id="undo"' in page and "Undo this sync" in page and "resume" not in page.lower()
    confirm = await (await ready.get(f"/runs/{run_id}/undo")).text()
    assert "put the old values back" in confirm and "re-create the worklog" in confirm
    html = await (await post_and_finish(ready, f"/runs/{run_id}/undo")).text()
    assert "1 put back to their old values, 1 re-created" in html
    assert server(box) == wanted(ROWS)
    page = await (await ready.get(f"/runs/{run_id}")).text()
    assert 'id="undo"' not in page  # nothing left to reverse

    # none of the pages shows command-line text, format codes or exception names
    for route in ("/sync", "/sync/result", f"/runs/{run_id}", f"/runs/{run_id}/undo", "/runs"):
        shown = text(await (await ready.get(route)).text())
        assert not CLI_TEXT.findall(shown), (route, CLI_TEXT.findall(shown))


async def test_the_guard_stops_a_truncated_file_until_allowed(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path, key="ID", prune="1"))
    await apply(ready)
    truncated = ROWS[:4]
    write(path, truncated)
    html = await plan(ready, form(path, key="ID", prune="1"))
    assert 'id="guard-stop"' in html and 'id="apply"' not in html
    assert "it would delete 8 worklog(s)" in html
    guard = re.search(r'<table id="guard-table">.*?</table>', html, re.S)
    assert guard and "bob@example.com" in guard.group(0) and "2026-11-" in guard.group(0)
    assert not re.search(r"(?<![\w-])--[a-z]", text(html)), text(html)
    # applying anyway (an old tab) writes nothing: the real run stops at the guard too
    html = await apply(ready)
    assert "The deletion guard stopped this sync" in html
    assert server(box) == wanted(ROWS)
    html = await plan(ready, form(path, key="ID", prune="1"))
    resp = await post_and_finish(ready, "/sync/allow", {"allow": "8"})
    html = await resp.text()
    assert 'id="allowed"' in html and 'id="apply"' in html and 'id="guard-ok"' in html
    await apply(ready)
    assert server(box) == wanted(truncated)
    # the allowance was for that sync only: the saved setup's limit is unchanged
    assert ready.app[WIZARD].sync_setup.limit is None


async def test_a_feed_under_a_new_source_name_is_stopped_before_it_writes(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path))
    await apply(ready)
    corrected = [dict(ROWS[0], Minutes=90), *ROWS[1:]]
    write(path, corrected)
    html = await plan(ready, form(path, source="payroll-2026"))  # the source typed anew
    assert 'id="renamed-stop"' in html and 'id="apply"' not in html
    shown = text(html)
    assert "first sync of the source payroll-2026" in shown and "source to payroll" in shown
    assert not re.search(r"(?<![\w-])--[a-z]", shown), shown
    html = await apply(ready)  # an old tab: the real run stops as well
    assert server(box) == wanted(ROWS)  # never 90 minutes beside the hour
    html = await plan(ready, form(path))  # source payroll again: the correction
    await apply(ready)
    assert server(box) == wanted(corrected)


async def test_an_empty_export_deletes_nothing(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path, key="ID", prune="1", limit_kind="share", limit_share="100"))
    await apply(ready)
    write(path, [])
    html = await plan(ready, form(path, key="ID", prune="1"))
    assert 'id="guard-stop"' in html and "no rows at all" in html
    await apply(ready)
    assert server(box) == wanted(ROWS)
    # a number of deletions does not let an empty file delete: the button allows every
    # deletion (it offered "Allow 12 deletions", which planned the same stop again)
    html = await plan(ready, form(path, key="ID", prune="1"))
    assert "Allow every deletion (12) and plan again" in html
    resp = await post_and_finish(ready, "/sync/allow", {"allow": "all"})
    html = await resp.text()
    assert 'id="allowed"' in html and "every deletion is allowed" in html
    assert 'id="apply"' in html and 'id="guard-ok"' in html
    await apply(ready)
    assert not server(box)
    assert ready.app[WIZARD].sync_setup.limit is None


async def test_a_sync_without_a_period_keeps_what_left_the_file(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path, key="ID", period_kind="none"))
    await apply(ready)
    write(path, ROWS[:6])
    html = await plan(ready, form(path, key="ID", period_kind="none"))
    assert counts(html)["deleted"] == 0 and 'id="sync-kept"' in html
    assert "no period: nothing is deleted" in text(html).lower() or "none: nothing" in html
    assert server(box) == wanted(ROWS)


async def test_lists_are_paged_and_say_how_much_they_show(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    rows = [entry(i, BOB, 1 + i % 30, 5) for i in range(1, 131)]
    path = write(tmp_path / "hours.csv", rows)
    html = await plan(ready, form(path, key="ID"))
    assert "Showing 1–100 of 130" in html
    second = await (await ready.get("/sync/plan?creates=2")).text()
    assert "Showing 101–130 of 130" in second


# --------------------------------------------------------------------------- cancel, confirm


async def test_cancel_during_apply_stops_and_the_rest_follows(
    ready: TestClient, box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [entry(i, BOB, 1 + i % 30, 5) for i in range(1, 41)]
    path = write(tmp_path / "hours.csv", rows)
    await plan(ready, form(path, key="ID"))
    box.set_faults(["batch:latency=300ms"])
    real = library.sync_file

    def small(*args: Any, **kw: Any) -> Any:
        return real(*args, **{**kw, "batch_size": 5, "concurrency": 1})

    monkeypatch.setattr(library, "sync_file", small)
    await post(ready, "/sync/apply")
    job = ready.app[WIZARD].job
    await wait_for(job, lambda j: j.done >= 5)
    assert job.unit == "changes made" and job.total == 40
    await post(ready, "/job/cancel")
    html = await (await finish_job(ready)).text()
    box.set_faults([])
    assert "Stopped by Cancel" in html
    made = sum(server(box).values())
    assert 5 <= made < 40 and counts(html)["created"] == made
    html = await plan(ready, form(path, key="ID"))
    assert counts(html)["created"] == 40 - made
    await apply(ready)
    assert server(box) == wanted(rows)


async def test_cancel_during_undo_and_undo_the_rest(
    ready: TestClient, box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [entry(i, BOB, 1 + i % 30, 5) for i in range(1, 21)]
    path = write(tmp_path / "hours.csv", rows)
    await plan(ready, form(path, key="ID"))
    await apply(ready)
    run_id = ready.app[WIZARD].last_sync.result.run_id
    box.set_faults(["worklogs:latency=100ms"])
    await post(ready, f"/runs/{run_id}/undo")
    job = ready.app[WIZARD].job
    await wait_for(job, lambda j: j.done >= 3)
    assert job.unit == "changes undone" and job.total == 20
    await post(ready, "/job/cancel")
    html = await (await finish_job(ready)).text()
    box.set_faults([])
    left = sum(server(box).values())
    assert 0 < left < 20 and f"{left} left" in html and 'id="undo-rest"' in html
    html = await (await post_and_finish(ready, f"/runs/{run_id}/undo")).text()
    assert "Undone:" in html and sum(server(box).values()) == 0


async def test_numbers_changed_since_the_plan_are_asked_about(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path, key="ID"))
    write(path, ROWS + [entry(13, CAROL, 20)])  # the file grew after the plan
    await post(ready, "/sync/apply")
    job = ready.app[WIZARD].job
    await wait_for(job, lambda j: j.confirm is not None)
    html = await (await ready.get("/job")).text()
    assert 'id="confirm-compare"' in html and 'data-now="creates">13<' in html
    assert "<td>12</td>" in html
    assert sum(server(box).values()) == 0
    await post(ready, "/job/confirm", {"answer": "no"})
    html = await (await finish_job(ready)).text()
    assert 'id="sync-declined"' in html and sum(server(box).values()) == 0
    assert not re.search(r"(?<![\w-])--[a-z]", text(html))
    await plan(ready, form(path, key="ID"))
    await apply(ready)
    assert sum(server(box).values()) == 13


async def test_the_period_of_the_plan_is_kept_after_midnight(
    ready: TestClient, box: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planned on Sunday 2026-11-15 23:59 for "the last 7 days"; applied after midnight:
    the same 7 days, not 11-10..11-16."""
    path = write(tmp_path / "hours.csv", [entry(1, BOB, 9), entry(2, BOB, 10)])
    real = library.sync_file
    days: list[dt.date | None] = []

    def on(day: dt.date) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            days.append(kw.get("today"))
            return real(*args, **{**kw, "today": kw.get("today") or day})

        return call

    monkeypatch.setattr(library, "sync_file", on(dt.date(2026, 11, 15)))
    html = await plan(
        ready, form(path, key="ID", period_kind="relative", period_relative="last:7d")
    )
    assert "2026-11-09 to 2026-11-15" in text(html) and counts(html)["created"] == 2
    monkeypatch.setattr(library, "sync_file", on(dt.date(2026, 11, 16)))
    html = await apply(ready)
    assert days[-1] == dt.date(2026, 11, 15)
    assert "2026-11-09 to 2026-11-15" in text(html) and counts(html)["created"] == 2
    assert sum(server(box).values()) == 2


# --------------------------------------------------------------------------- runs, words


async def test_the_runs_page_says_what_runs_list_says(
    ready: TestClient, box: RunningSandbox, tmp_path: Path
) -> None:
    from timetracker_import.cli.main import cli

    path = write(tmp_path / "hours.csv", ROWS)
    await plan(ready, form(path, key="ID"))
    await apply(ready)
    listed = CliRunner().invoke(cli, ["runs", "list"])
    assert listed.exit_code == 0, listed.output
    lines = [line.split("  ") for line in listed.output.strip().splitlines()]
    html = await (await ready.get("/runs")).text()
    cells = re.findall(r'<td class="counts-text">([^<]*)</td>', html)
    by_id = dict(
        re.findall(
            r'<a href="/runs/([^"]+)">[^<]*</a>.*?<td class="counts-text">'
            r"([^<]*)</td>",
            html,
            re.S,
        )
    )
    assert len(cells) == len(lines) == 2  # the plan (a dry run) and the sync
    for parts in lines:
        run_id, described = parts[0], parts[-1]
        assert by_id[run_id] == described, (by_id, listed.output)
    assert "sync (dry run)" in html and "rows 12: created 12, updated 0, unchanged 0" in html


def test_library_messages_lose_their_flags() -> None:
    from timetracker_import.ui.words import for_page

    said = (
        "the deletion guard stopped this sync before its first write: it would delete 30 "
        "worklog(s); If that is what you want, run again with --max-delete 30 (or a share "
        "such as --max-delete 50%); add --window FROM..TO, --prune, --source NAME, "
        "--timezone Etc/UTC, --key COLUMN, --wait SECONDS, --token-file PATH, --frob; see "
        "`timetracker-import runs list`"
    )
    page = for_page(said)
    assert not re.search(r"(?<![\w-])--[a-z]", page) and "timetracker-import" not in page
    assert "Allow 30 deletions" in page and "50% of the worklogs" in page
    assert "the period" in page and "the time zone field Etc/UTC" in page
    said = (
        "not a date/time in the declared format '%m/%d/%Y'; map it in a lookup file "
        "(`timetracker-import mapping init FILE -o mapping.yaml` writes one)"
    )
    page = for_page(said)
    assert "'MM/DD/YYYY'" in page and "%" not in page and ".yaml`" not in page
