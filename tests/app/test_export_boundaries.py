"""Export windows and their edges (issue 14, part 5).

7pace's ``$fromTimestamp`` is strict ("greater than", API §1.6), so every window asks from
one second before its start; removing that widening dropped the worklogs that sit exactly on
a window's start - 00:00 of the first day, and every internal split point - with exit 0, and
no test noticed. Here worklogs sit exactly on each edge, one second either side, and on the
exclusive end (00:00 of the day after ``last``), for several window counts and zones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from timetracker_import.api.client import TimetrackerClient
from timetracker_import.api.redact import Secret
from timetracker_import.api.settings import ConnectionSettings
from timetracker_import.app.export import SPILL_AFTER, ExportSettings, run_export
from timetracker_import.core.export import day_range, split_windows
from timetracker_import.sandbox import run_sandbox_in_thread
from timetracker_import.sandbox.server import RunningSandbox

FIRST, LAST = dt.date(2026, 9, 7), dt.date(2026, 9, 10)  # four days, no locked week
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
WINDOWS = (1, 3, 4, 7)
SECOND = dt.timedelta(seconds=1)


def _edges(zone: str) -> tuple[list[dt.datetime], list[dt.datetime]]:
    """(instants that must be exported, instants that must not), in UTC: the range's start,
    every split point of every window count in WINDOWS, a second either side of each, and the
    last second; outside: a second before the start, the exclusive end and a second after."""
    days = day_range(FIRST, LAST, zone, today=dt.date(2026, 12, 1))
    inside: set[dt.datetime] = set()
    for count in WINDOWS:
        for start, _ in split_windows(days.start, days.end, count):
            inside.update({start, start + SECOND})
            if start > days.start:
                inside.add(start - SECOND)
    inside.add(days.end - SECOND)
    outside = [days.start - SECOND, days.end, days.end + SECOND]
    utc = dt.UTC
    return sorted(t.astimezone(utc) for t in inside), [t.astimezone(utc) for t in outside]


def _conn(box: RunningSandbox) -> ConnectionSettings:
    return ConnectionSettings(url=box.url, token=Secret(box.tokens["alice@example.com"]))


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[RunningSandbox, dict[str, dict[str, str]]]]:
    """A sandbox with one worklog per edge instant of every zone; ``{zone: {id: inside|
    outside}}`` (inside: in ``[start, end)`` of the zone's day range)."""
    with run_sandbox_in_thread() as box:
        expected: dict[str, dict[str, str]] = {z: {} for z in ZONES}

        async def post() -> None:
            async with TimetrackerClient(_conn(box)) as client:
                made: dict[dt.datetime, str] = {}
                for zone in ZONES:
                    inside, outside = _edges(zone)
                    for when in [*inside, *outside]:
                        if when not in made:
                            created = await client.create_worklog(
                                {
                                    "timeStamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "length": 60,
                                    "comment": f"edge {when.isoformat()}",
                                }
                            )
                            made[when] = str(created["id"])
                for zone in ZONES:
                    days = day_range(FIRST, LAST, zone, today=dt.date(2026, 12, 1))
                    for when, wid in made.items():  # the range is [start, end)
                        inside_range = days.start <= when < days.end
                        expected[zone][wid] = "inside" if inside_range else "outside"

        asyncio.run(post())
        yield box, expected


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("windows", WINDOWS)
@pytest.mark.parametrize("spill_after", [SPILL_AFTER, 2])  # in memory, or through the file
def test_worklogs_on_window_edges_are_exported_exactly_once(
    seeded: tuple[RunningSandbox, dict[str, dict[str, str]]],
    zone: str,
    windows: int,
    spill_after: int,
) -> None:
    box, expected = seeded
    settings = ExportSettings(
        timezone=zone,
        first=FIRST,
        last=LAST,
        windows=windows,
        concurrency=3,
        spill_after=spill_after,
    )
    result = asyncio.run(run_export([(None, _conn(box))], settings))
    got = Counter(str(r["id"]) for r in result.rows)
    wanted = {wid for wid, where in expected[zone].items() if where == "inside"}
    assert set(got) == wanted, sorted(wanted ^ set(got))
    assert all(n == 1 for n in got.values())  # boundary duplicates are merged


def test_the_edges_include_the_first_midnight_and_internal_split_points() -> None:
    """The fixture's instants are what the docstring says (so the test above is not empty)."""
    inside, outside = _edges("Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    first_midnight = dt.datetime(2026, 9, 7, tzinfo=berlin).astimezone(dt.UTC)
    assert first_midnight in inside
    assert dt.datetime(2026, 9, 11, tzinfo=berlin).astimezone(dt.UTC) in outside
    # windows=4 over four days: split points at each local midnight in between
    for day in (8, 9, 10):
        assert dt.datetime(2026, 9, day, tzinfo=berlin).astimezone(dt.UTC) in inside
