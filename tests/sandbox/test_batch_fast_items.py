"""The batch handler's fast item check accepts only what the full path accepts, and builds
exactly the row the full path builds; everything else goes the full way (same errors)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import Api, uid
from timetracker_import.sandbox import make_app
from timetracker_import.sandbox.context import STATE, ApiFail, Ctx
from timetracker_import.sandbox.routes.batch import _canonical_z_key, _FastItems, _new_ids
from timetracker_import.sandbox.timeparse import parse_timestamp
from timetracker_import.sandbox.validation import build_worklog, parse_worklog_input

STATE_OBJ = make_app()[STATE]
USERS = sorted(STATE_OBJ.store.users)
TYPES = sorted(STATE_OBJ.store.activity_types)
NOW = datetime(2026, 11, 15, 12, 30, 5, 123456, tzinfo=UTC)
ID = "00000000-0000-4000-8000-000000000001"

# around the demo seed's locked October 2026, with invalid dates and odd forms mixed in
stamps = st.one_of(
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format,
        st.sampled_from([0, 1969, 1970, 2024, 2026, 2027, 9999]),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
    ),
    st.sampled_from(
        [
            "2026-09-30T23:59:59Z",
            "2026-10-05T00:00:00Z",
            "2026-10-04T23:59:59Z",
            "2026-10-01T10:00:00+02:00",
            "2026-10-01T10:00:00",
            "2026-10-01 10:00:00Z",
            "2026-10-01T10:00:00.5Z",
            " 2026-10-01T10:00:00Z",
            "10/1/2026, 9:00:00 AM",
            "2026-11-16T00:00:00Z",
            "",
            "nope",
            "２０２６-10-01T10:00:00Z",
        ]
    ),
)
guids = st.sampled_from(USERS) | st.sampled_from(
    [USERS[0].upper(), "{" + USERS[1] + "}", "nope", "", "00000000-0000-0000-0000-000000000000"]
)
type_ids = st.sampled_from(TYPES) | st.sampled_from([TYPES[0].upper(), "x", ""])
numbers = st.integers(-3, 3) | st.sampled_from([900, 2.0, 1.5, "60", True, None, "x"])
comments = st.none() | st.sampled_from(["", "  ", "fixed bug", 7])
KEYS = {
    "timestamp": ("timeStamp", "timestamp", "TIMESTAMP"),
    "length": ("length", "Length"),
    "billable": ("billableLength",),
    "work_item": ("workItemId", "workitemid"),
    "comment": ("comment",),
    "user": ("userId", "USERID"),
    "type": ("activityTypeId",),
}
values = {
    "timestamp": stamps | st.none() | st.just(5),
    "length": numbers,
    "billable": numbers,
    "work_item": numbers | st.sampled_from([100, 10**9]),
    "comment": comments,
    "user": guids | st.none() | st.just(3),
    "type": type_ids | st.none(),
}


@st.composite
def items(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, [], "x", 5]))
    item: dict[str, Any] = {}
    for field, spellings in KEYS.items():
        for spelling in draw(st.lists(st.sampled_from(spellings), max_size=2)):
            item[spelling] = draw(values[field])
    if draw(st.booleans()):
        item["extra"] = 1
    return item


@st.composite
def client_items(draw: st.DrawFn) -> dict[str, Any]:
    """The shape this project's client sends, mostly valid (locked weeks, other users,
    unknown work items and future dates still reach the rules)."""
    day = draw(st.integers(1, 60))  # 2026-09-01 .. 2026-10-30 (October is partly locked)
    item: dict[str, Any] = {
        "timeStamp": f"2026-{9 + (day - 1) // 30:02d}-{(day - 1) % 30 + 1:02d}T"
        f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00Z",
        "length": draw(st.sampled_from([900, 900, 900, 1, 0, -60])),
        "userId": draw(st.sampled_from(USERS)),
    }
    if draw(st.booleans()):
        item["workItemId"] = draw(st.sampled_from([100, 101, 7, 0]))
    if draw(st.booleans()):
        item["comment"] = draw(st.sampled_from(["work", " ", ""]))
    if draw(st.booleans()):
        item["billableLength"] = draw(st.sampled_from([0, 300, -1]))
    if draw(st.booleans()):
        item["activityTypeId"] = draw(st.sampled_from(TYPES))
    return item


def ctx_for(user_id: str) -> Ctx:
    return Ctx(None, STATE_OBJ, STATE_OBJ.store.users[user_id], {}, {})  # type: ignore[arg-type]


def full_path(ctx: Ctx, item: Any, states: Any) -> tuple[Any, ...] | ApiFail:
    try:
        return replace(build_worklog(ctx, parse_worklog_input(item), states, NOW), id=ID).as_tuple()
    except ApiFail as fail:
        return fail


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    item=client_items() | items(),
    caller=st.sampled_from(USERS),
    future_check=st.booleans(),
    work_items=st.sampled_from([None, frozenset({100, 101})]),
)
def test_fast_row_is_the_full_paths_row_or_none(
    item: Any, caller: str, future_check: bool, work_items: frozenset[int] | None
) -> None:
    state = replace(
        STATE_OBJ, seed=replace(STATE_OBJ.seed, future_check=future_check, work_items=work_items)
    )
    ctx = Ctx(None, state, state.store.users[caller], {}, {})  # type: ignore[arg-type]
    states = state.store.approval_states()
    fast = _FastItems(ctx, states, NOW).row(item, ID)
    expected = full_path(ctx, item, states)
    if fast is not None:
        assert fast == expected
    elif (
        isinstance(item, dict)
        and set(item) == {"timeStamp", "length", "workItemId", "userId"}
        and not isinstance(expected, ApiFail)
        and type(item["length"]) is int
        and type(item["workItemId"]) is int
        and item["userId"] in USERS
        and _canonical_z_key(item["timeStamp"]) is not None
    ):
        raise AssertionError(f"the client's common shape should take the fast path: {item}")


def test_canonical_z_key_matches_the_full_parser() -> None:
    for text in ("2026-10-01T10:00:00Z", "1969-12-31T23:59:59Z", "2024-02-29T00:00:00Z"):
        parsed = parse_timestamp(text)
        assert parsed is not None and parsed.text == text
        assert _canonical_z_key(text) == parsed.key
    for text in (
        "2023-02-29T00:00:00Z",
        "2026-10-01T24:00:00Z",
        "2026-10-01T10:00:00",
        "2026-10-01T10:00:00.1Z",
        "0000-01-01T00:00:00Z",
    ):
        assert _canonical_z_key(text) is None


def test_new_ids_are_canonical_random_v4_uuids() -> None:
    ids = _new_ids(2000)
    assert len(set(ids)) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert _new_ids(0) == []


async def test_mixed_batch_over_http_keeps_order_and_odd_forms(api: Api) -> None:
    admin, bob = uid("alice"), uid("bob")
    body = [
        {"timeStamp": "2026-09-01T08:00:00Z", "length": 900, "userId": bob, "workItemId": 100},
        {"TimeStamp": "9/1/2026, 9:00:00 AM", "length": "600", "comment": "legacy form"},
        {
            "timeStamp": "2026-09-01T10:00:00+02:00",
            "length": 60.0,
            "userId": bob.upper(),
            "comment": "offset",
        },
    ]
    status, answer, _ = await api.post("workLogs/batch", body, who="alice")
    assert status == 200, answer
    data = answer["data"]
    assert [w["timestamp"] for w in data] == [
        "2026-09-01T08:00:00Z",
        "9/1/2026, 9:00:00 AM",
        "2026-09-01T08:00:00Z",
    ]
    assert [w["user"]["id"] for w in data] == [bob, admin, bob]
    assert [w["length"] for w in data] == [900, 600, 60]
    assert len({w["id"] for w in data}) == 3
    status, listed, _ = await api.get("workLogs/all", who="alice")
    assert status == 200 and {w["id"] for w in data} <= {w["id"] for w in listed["data"]}
