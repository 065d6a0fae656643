"""``POST workLogs/batch`` (D8), with a fast path for the common valid item."""

from __future__ import annotations

import functools
import os
import re
from datetime import UTC, date, datetime
from typing import Any

from timetracker_import.sandbox.context import (
    INT32_MAX,
    ApiFail,
    Ctx,
    canonical_guid,
    require_a_role,
)
from timetracker_import.sandbox.render import render_worklogs
from timetracker_import.sandbox.timeparse import to_key
from timetracker_import.sandbox.validation import (
    MAX_COMMENT_CHARS,
    build_worklog,
    parse_worklog_input,
)
from timetracker_import.sandbox.weeks import DAY_US, EPOCH_DAY, LOCKED_STATES

MAX_BATCH = 500


async def h_batch(ctx: Ctx) -> Any:
    require_a_role(ctx, "workLogs/batch")
    body = await ctx.json()
    if not isinstance(body, list):
        raise ApiFail(400, "ApiVersionError", "the batch body must be a JSON array of worklogs")
    if len(body) > MAX_BATCH:
        raise ApiFail(
            413, "RequestTooLarge", f"a request cannot contain more than {MAX_BATCH} items"
        )
    validate_only = ctx.bool_param("$validateOnly", "validateOnly")
    states = ctx.store.approval_states()
    now = datetime.now(UTC)
    fast = _FastItems(ctx, states, now)
    ids = _new_ids(len(body))
    # First invalid item wins; its error carries no index on purpose (D8). Items the fast
    # check does not accept go the full way, which builds the same row or raises the error.
    rows: list[tuple[Any, ...]] = []
    for item, new_id in zip(body, ids, strict=True):
        row = fast.row(item, new_id)
        if row is None:
            row = build_worklog(ctx, parse_worklog_input(item), states, now).as_tuple()
        rows.append(row)
    if validate_only:
        return render_worklogs(ctx, rows, with_id=False)
    if ctx.partial_commit:
        rows = rows[: len(rows) // 2]
    ctx.store.insert_worklog_tuples(rows)
    return render_worklogs(ctx, rows)


# A creation model as this project's client (and most JSON serialisers) sends it.
_FAST_KEYS = {
    name: name.lower()
    for name in (
        "timeStamp",
        "timestamp",
        "length",
        "billableLength",
        "workItemId",
        "comment",
        "userId",
        "activityTypeId",
    )
}
_CLIENT_KEYS = frozenset(
    ("timeStamp", "length", "billableLength", "workItemId", "comment", "userId", "activityTypeId")
)
_CANONICAL_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@functools.lru_cache(maxsize=4096)
def _day_number(text: str) -> int | None:
    """Days since 1970-01-01 of ``YYYY-MM-DD``; None when it is no valid date."""
    try:
        return (date.fromisoformat(text) - EPOCH_DAY).days
    except ValueError:
        return None


def _canonical_z_key(text: str) -> int | None:
    """The key of ``YYYY-MM-DDTHH:MM:SSZ`` (what parse_timestamp gives, and it echoes such
    a text unchanged); None for any other text, which then takes the full parser."""
    if _CANONICAL_Z.fullmatch(text) is None:
        return None
    day = _day_number(text[:10])
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    return (day * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000


def _new_ids(count: int) -> list[str]:
    """``count`` random version-4 UUIDs, as ``str(uuid.uuid4())`` writes them (one urandom
    call per batch instead of a UUID object per worklog)."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
    text = raw.hex()
    ids = []
    for i in range(0, 32 * count, 32):
        h = text[i : i + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


class _FastItems:
    """Accepts the common, valid batch item without the general machinery: exact key
    spellings, ints as ints, canonical UTC timestamps, known ids, no rule broken. Returns
    None for anything else; build_worklog then decides (same row, or the error)."""

    def __init__(self, ctx: Ctx, states: dict[tuple[str, date], int], now: datetime) -> None:
        self.caller = ctx.user.id
        self.admin = ctx.user.role == "Administrator"
        self.users = ctx.store.users
        self.types = ctx.store.activity_types
        self.work_items = ctx.state.seed.work_items
        self.future_check = ctx.state.seed.future_check
        self.now_key = to_key(now)
        # (user id, Monday as days since the epoch) of every locked week
        self.locked = {
            (user_id, (monday - EPOCH_DAY).days)
            for (user_id, monday), state in states.items()
            if state in LOCKED_STATES
        }

    def row(self, item: Any, new_id: str) -> tuple[Any, ...] | None:
        """The stored row (``WORKLOG_COLUMNS`` order) for a valid common item, else None."""
        if type(item) is not dict:
            return None
        if item.keys() <= _CLIENT_KEYS:
            # the spellings this project's client sends: no two can name the same field,
            # so the values are read straight from the item (one set check per item)
            ts_text = item.get("timeStamp")
            length = item.get("length")
            billable = item.get("billableLength")
            work_item = item.get("workItemId")
            comment = item.get("comment")
            user_id = item.get("userId")
            type_id = item.get("activityTypeId")
        else:
            fields: dict[str, Any] = {}
            for key, value in item.items():
                name = _FAST_KEYS.get(key)
                if name is None or name in fields:
                    return None
                fields[name] = value
            ts_text = fields.get("timestamp")
            length = fields.get("length")
            billable = fields.get("billablelength")
            work_item = fields.get("workitemid")
            comment = fields.get("comment")
            user_id = fields.get("userid")
            type_id = fields.get("activitytypeid")
        if type(ts_text) is not str:
            return None
        ts_key = _canonical_z_key(ts_text)
        if (
            ts_key is None
            or type(length) is not int
            or not 0 < length <= INT32_MAX
            or (
                billable is not None
                and (type(billable) is not int or not 0 <= billable <= INT32_MAX)
            )
            or (
                comment is not None
                and (type(comment) is not str or len(comment) > MAX_COMMENT_CHARS)
            )
        ):
            return None
        if work_item is None:
            if comment is None or not comment.strip():
                return None
        elif (
            type(work_item) is not int
            or not 0 < work_item <= INT32_MAX
            or (self.work_items is not None and work_item not in self.work_items)
        ):
            return None
        if user_id is None:
            user_id = self.caller
        elif type(user_id) is not str or (user_id := canonical_guid(user_id)) is None:
            return None
        user = self.users.get(user_id)
        if user is None or (user_id != self.caller and not self.admin):
            return None
        if type_id is None:
            type_id = user.default_activity_type_id
        elif type(type_id) is not str or (type_id := canonical_guid(type_id)) is None:
            return None
        if type_id not in self.types or (self.future_check and ts_key > self.now_key):
            return None
        if self.locked:
            day = ts_key // DAY_US
            if (user_id, day - (day + 3) % 7) in self.locked:
                return None
        now_key = self.now_key
        return (
            new_id,
            user_id,
            self.caller,
            self.caller,
            ts_text,
            ts_key,
            length,
            billable,
            work_item,
            comment,
            type_id,
            now_key,
            now_key,
        )
