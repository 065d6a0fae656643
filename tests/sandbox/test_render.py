"""The list endpoints' fast renderer gives exactly the bytes of the reference encoder."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import Api, auth, uid
from timetracker_import.sandbox import make_app
from timetracker_import.sandbox.context import STATE, Ctx, RawJson, compact_dumps
from timetracker_import.sandbox.render import render_worklogs, worklog_json
from timetracker_import.sandbox.store import WorklogRow
from timetracker_import.sandbox.timeparse import to_key

STATE_OBJ = make_app()[STATE]
USERS = sorted(STATE_OBJ.store.users)
TYPES = sorted(STATE_OBJ.store.activity_types)
# around the demo seed's locked weeks (October 2026) so isCanEdit takes both values
OCT_2026 = to_key(datetime(2026, 10, 1, tzinfo=UTC))
DAY = 86_400_000_000

texts = st.text(st.characters(codec="utf-8"), max_size=12)
rows = st.tuples(
    texts,  # id
    st.sampled_from(USERS),
    st.sampled_from(USERS),
    st.sampled_from(USERS),
    texts,  # ts_text
    st.integers(OCT_2026 - 7 * DAY, OCT_2026 + 35 * DAY),
    st.integers(-(2**40), 2**40),
    st.none() | st.integers(-5, 2**40),
    st.none() | st.integers(-5, 2**31),
    st.none() | texts,
    st.sampled_from(TYPES),
    st.sampled_from([0, OCT_2026, OCT_2026 + 1, OCT_2026 + 1234567]),
    st.sampled_from([0, OCT_2026, OCT_2026 + 1, OCT_2026 + 1234567]),
)


def ctx_for(user_id: str, expand: bool) -> Ctx:
    query = {"$expand": "user.displayName"} if expand else {}
    return Ctx(None, STATE_OBJ, STATE_OBJ.store.users[user_id], query, {})  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    page=st.lists(rows, max_size=6),
    caller=st.sampled_from(USERS),
    expand=st.booleans(),
    editable=st.booleans(),
    with_id=st.booleans(),
)
def test_render_matches_reference_encoder(
    page: list[tuple[Any, ...]], caller: str, expand: bool, editable: bool, with_id: bool
) -> None:
    ctx = ctx_for(caller, expand)
    states = STATE_OBJ.store.approval_states() if editable else None
    expected = compact_dumps(
        [worklog_json(ctx, WorklogRow(*r), editable=states, with_id=with_id) for r in page]
    )
    rendered = render_worklogs(ctx, page, editable=states, with_id=with_id)
    assert isinstance(rendered, RawJson)
    assert rendered == expected


async def test_list_page_over_http_is_the_reference_shape(api: Api) -> None:
    """Through the endpoint: envelope, content type, a locked week's isCanEdit, and the same
    bytes as the reference encoder over the stored rows."""
    first = await api.create(who="bob", timeStamp="2026-10-02T09:00:00", comment='q " \\ é')
    state = api.client.app[STATE]
    stored = state.store.get_worklog(first["id"])
    assert stored is not None
    # the store takes a row in a locked week (the API would refuse to create it)
    locked = replace(
        stored,
        id=str(uuid.UUID(int=7)),
        ts_text="2026-10-05T09:00:00",
        ts_key=to_key(datetime(2026, 10, 5, 9, tzinfo=UTC)),
        comment="locked week",
    )
    state.store.insert_worklogs([locked])
    query = "$includeEditable=true&$expand=user.displayName"
    async with api.client.get(
        f"/api/rest/workLogs?api-version=3.2&{query}", headers=auth("bob")
    ) as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        raw = await resp.read()
    data = json.loads(raw)["data"]
    assert [w["comment"] for w in data] == ['q " \\ é', "locked week"]
    assert [w["isCanEdit"] for w in data] == [True, False]  # 2026-10-05 is Submitted
    bob = state.store.users[uid("bob")]
    assert data[0]["user"]["displayName"] == bob.name
    ctx = Ctx(None, state, bob, {"$expand": "user.displayName"}, {})  # type: ignore[arg-type]
    states = state.store.approval_states()
    stored = [state.store.get_worklog(w["id"]) for w in data]
    reference = [worklog_json(ctx, r, editable=states) for r in stored if r is not None]
    assert raw.decode() == '{"data":' + compact_dumps(reference) + "}"
