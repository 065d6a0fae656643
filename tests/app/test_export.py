"""Export against a live sandbox: filters, windows, chunks and permissions (the round trip
runs through the CLI: tests/cli/test_export_roundtrip.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import pytest

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.export import ExportSettings, run_export
from timetracker_import.errors import ApiError, AuthError
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

REPO = Path(__file__).resolve().parents[2]
OCT_NOV: dict[str, Any] = {"first": dt.date(2026, 10, 1), "last": dt.date(2026, 11, 30)}


def conn(box: RunningSandbox, who: str = "alice") -> ConnectionSettings:
    return ConnectionSettings(url=box.url, token=Secret(box.tokens[f"{who}@example.com"]))


def import_file(settings: ConnectionSettings, path: Path, preset: str, timezone: str) -> int:
    """Seed a sandbox at the API level (map with the preset, resolve users and activity
    types, POST each valid row; rows the server refuses, e.g. approval locks, are skipped).
    Returns the number created. The round trip through the real ``import`` and ``export``
    commands is tests/cli/test_export_roundtrip.py."""
    from timetracker_import.app.validate import iter_mapped_chunks
    from timetracker_import.files.mapping_loader import load_preset
    from timetracker_import.files.readers import open_table

    rows: list[dict[Hashable, Any]] = []
    for chunk in iter_mapped_chunks(open_table(path), load_preset(preset), timezone=timezone):
        rows.extend(chunk.canonical.reset_index().to_dict("records"))

    async def post() -> int:
        created = 0
        async with TimetrackerClient(settings) as client:
            users = {u["email"].lower(): u["id"] for u in await client.users()}
            types = {a["name"]: a["id"] for a in (await client.activity_types())["activityTypes"]}
            for row in rows:
                body: dict[str, Any] = {
                    "timeStamp": row["timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "length": int(row["length_seconds"]),
                }
                if _given(row.get("billable_seconds")):
                    body["billableLength"] = int(row["billable_seconds"])
                if _given(row.get("work_item_id")):
                    body["workItemId"] = int(row["work_item_id"])
                if _given(row.get("comment")):
                    body["comment"] = row["comment"]
                if _given(row.get("user")):
                    body["userId"] = users[str(row["user"]).lower()]
                if _given(row.get("activity_type")):
                    body["activityTypeId"] = types[row["activity_type"]]
                try:
                    await client.create_worklog(body)
                except ApiError:
                    continue
                created += 1
        return created

    return asyncio.run(post())


def _given(value: Any) -> bool:
    import pandas as pd

    return value is not None and not (not isinstance(value, str) and pd.isna(value))


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with run_sandbox_in_thread() as sandbox:
        created = import_file(
            conn(sandbox), REPO / "sample_data/legacy_npm.csv", "7pace-npm", "Europe/Berlin"
        )
        assert created >= 10
        yield sandbox


def export(box: RunningSandbox, who: str = "alice", **kw: Any) -> Any:
    settings = ExportSettings(timezone=kw.pop("timezone", "Europe/Berlin"), **{**OCT_NOV, **kw})
    return asyncio.run(run_export([(None, conn(box, who))], settings))


def test_export_is_complete_and_ordered(box: RunningSandbox) -> None:
    result = export(box)
    assert len(result.rows) == box.stats()["worklogs"]
    keys = [(r["timestamp_utc"], r["id"]) for r in result.rows]
    assert keys == sorted(keys)
    assert {r["user_name"] for r in result.rows} >= {"Alice Admin", "Carol Coder"}


def test_result_repr_is_a_summary_not_the_rows(box: RunningSandbox) -> None:
    """asyncio.run formats the main task's result on exit (Python 3.11): the repr must stay
    short however many rows there are."""
    result = export(box)
    text = repr(result)
    assert text.startswith(f"ExportResult({len(result.rows)} rows, 2026-10-01..2026-11-30")
    assert result.rows[0]["id"] not in text and len(text) < 200


def test_window_count_does_not_change_the_output(box: RunningSandbox) -> None:
    one = export(box, windows=1, concurrency=1, page_size=3)
    many = export(box, windows=17, concurrency=5, page_size=2)
    assert one.rows == many.rows and len(one.rows) > 3
    assert many.requests > one.requests


def test_inclusive_days_edges(box: RunningSandbox) -> None:
    rows = export(box).rows
    day = rows[0]["date"]
    only = export(box, first=day, last=day).rows
    assert only and all(r["date"] == day for r in only)
    assert only == [r for r in rows if r["date"] == day]


def test_filters_user_activity_work_item(box: RunningSandbox) -> None:
    rows = export(box).rows
    carol = export(box, users=("CAROL@example.com",)).rows
    assert carol == [r for r in rows if r["user_email"] == "carol@example.com"]
    testing = export(box, activity_types=("testing",)).rows
    assert testing and all(r["activity_type"] == "Testing" for r in testing)
    ids = tuple(range(900, 1150))  # 250 ids: three $workItemIds chunks
    chunked = export(box, work_items=ids, windows=2)
    assert chunked.rows == [r for r in rows if r["work_item_id"] in ids]
    assert chunked.requests >= 6


def test_mine_needs_no_admin_role_but_all_does(box: RunningSandbox) -> None:
    mine = export(box, who="carol", mine=True).rows
    assert mine and {r["user_email"] for r in mine} == {"carol@example.com"}
    with pytest.raises(AuthError):
        export(box, who="carol")
    assert export(box, who="dave").rows  # Product may read workLogs/all


def test_two_organizations_merge_with_a_column(box: RunningSandbox) -> None:
    settings = ExportSettings(timezone="UTC", **OCT_NOV)
    result = asyncio.run(run_export([("b-org", conn(box)), ("a-org", conn(box, "dave"))], settings))
    assert result.columns[1] == "organization"
    n = len(export(box).rows)
    assert result.per_organization == {"a-org": n, "b-org": n}
    assert [r["organization"] for r in result.rows[:2]] == ["a-org", "b-org"]


def test_paused_gc_restores_the_collector_state() -> None:
    import gc

    from timetracker_import.app.export import paused_gc

    assert gc.isenabled()
    try:
        with pytest.raises(RuntimeError), paused_gc():
            assert not gc.isenabled()
            raise RuntimeError("boom")
        assert gc.isenabled()  # back on, even after an error
        gc.disable()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's disabled collector stays disabled
    finally:
        gc.enable()
