"""The sandbox's aiohttp application: routing, auth, envelopes, faults and every endpoint.

An independent implementation of /work/shared/docs/7pace-api.md (section 19, D1-D24 are
binding). Nothing here imports the client side of the project.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import functools
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from timetracker_import.sandbox.faults import (
    Fault,
    FaultPlan,
    FaultSpecError,
    RateLimiter,
    as_fault_plan,
    parse_rate_limit,
)
from timetracker_import.sandbox.ntlm import NtlmAcceptor, load_ntlm_users
from timetracker_import.sandbox.seed import (
    EMPTY_GUID,
    ROLES,
    Seed,
    load_seed,
    role_id,
    stable_guid,
)
from timetracker_import.sandbox.store import (
    ApprovalRow,
    Store,
    UserRow,
    WorklogFilter,
    WorklogRow,
)
from timetracker_import.sandbox.timeparse import (
    ParsedTime,
    format_created,
    format_utc_z,
    from_key,
    parse_timestamp,
    to_key,
)

API_VERSIONS = frozenset({"3.0-preview", "3.0", "3.1", "3.2-beta", "3.2", "3.3-beta"})
MAX_PAGE = 500
MAX_BATCH = 500
MAX_WORK_ITEM_FILTER = 100
LOCKED_STATES = frozenset({1, 3, 99})  # Submitted, Approved, Closed
ALL_READERS = frozenset({"Administrator", "Budget", "Product"})


@dataclass
class SandboxState:
    """Everything the handlers share; stored on the app under :data:`STATE`."""

    seed: Seed
    store: Store
    faults: FaultPlan
    limiter: RateLimiter | None
    latency: float  # seconds added to every API call
    rate_limit_spec: str | float | RateLimiter | None = None
    calls: Counter[str] = field(default_factory=Counter)  # since start or /_sandbox/reset
    rate_limited: int = 0
    ntlm: NtlmAcceptor | None = None  # set in NTLM mode: tokens are then not accepted

    @property
    def tokens(self) -> dict[str, str]:
        """token -> user id (in memory only; never written to the db)."""
        return {u.token: u.id for u in self.seed.users if u.token}


STATE = web.AppKey("sandbox_state", SandboxState)


class ApiFail(Exception):
    """An error answer in the D3 shape."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """``{"error": {statusCode, errorCode, errorDescription, message, fields?}}`` (D3)."""
    body: dict[str, Any] = {
        "statusCode": status,
        "errorCode": code,
        "errorDescription": message,
        "message": message,
    }
    if fields:
        body["fields"] = fields
    return web.json_response({"error": body}, status=status, headers=headers)


def _bad_param(name: str, why: str) -> ApiFail:
    return ApiFail(400, "ApiVersionError", f"parameter {name}: {why}", {name: why})


def _data(payload: Any) -> web.Response:
    if isinstance(payload, RawJson):  # a list page rendered by render_worklogs
        return web.json_response(text='{"data":' + payload + "}")
    # compact separators: batches answer ~1 kB per worklog, so this is most of the encoding
    return web.json_response({"data": payload}, dumps=_compact_dumps)


def _compact_dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


# -- request context ----------------------------------------------------------------------


@dataclass
class Ctx:
    request: web.Request
    state: SandboxState
    user: UserRow
    query: dict[str, str]  # lower-cased names, %24 already decoded to $
    params: dict[str, str]
    partial_commit: bool = False

    @property
    def store(self) -> Store:
        return self.state.store

    def q(self, *names: str) -> str | None:
        for name in names:
            value = self.query.get(name.lower())
            if value is not None:
                return value
        return None

    def int_param(self, name: str, default: int, lo: int, hi: int | None = None) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise _bad_param(name, f"{raw!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            limit = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise _bad_param(name, f"must be {limit}")
        return value

    def bool_param(self, *names: str) -> bool:
        raw = self.q(*names)
        if raw is None or raw == "":
            return False
        value = raw.strip().lower()
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        raise _bad_param(names[0], f"{raw!r} is not a boolean")

    def time_param(self, name: str) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return None
        parsed = parse_timestamp(raw)
        if parsed is None:
            raise _bad_param(name, f"{raw!r} is not a date/time")
        return parsed.key

    @functools.cached_property
    def expand_display_name(self) -> bool:
        # cached: asked once per worklog when rendering a page or a batch
        raw = self.q("$expand") or ""
        return "user.displayname" in [p.strip().lower() for p in raw.split(",")]

    async def json(self) -> Any:
        raw = await self.request.read()
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise ApiFail(400, "ApiVersionError", "the request body is not valid JSON") from None


def parse_query(query_string: str) -> dict[str, str]:
    """Query names lower-cased with ``%24`` decoded to ``$`` (D4); the last value wins."""
    from urllib.parse import parse_qsl

    return {k.lower(): v for k, v in parse_qsl(query_string, keep_blank_values=True)}


def _lower_keys(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiFail(400, "ApiVersionError", f"{what} must be a JSON object")
    return {str(k).lower(): v for k, v in body.items()}


def parse_guid(value: Any, name: str) -> str:
    """A canonical GUID string, or 400 ApiVersionError (D19)."""
    if not isinstance(value, str):
        raise _bad_param(name, "expected a GUID string")
    canonical = _canonical_guid(value)
    if canonical is None:
        raise _bad_param(name, f"{value!r} is not a GUID")
    return canonical


@functools.lru_cache(maxsize=4096)
def _canonical_guid(text: str) -> str | None:
    # cached: a batch repeats the same few user and activity type ids hundreds of times
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def parse_int(value: Any, name: str) -> int | None:
    """Integers, integral floats and numeric strings (D4); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _bad_param(name, "expected a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
    raise _bad_param(name, f"{value!r} is not a whole number")


# -- JSON shapes -----------------------------------------------------------------------------


def user_json(user: UserRow, expand: bool) -> dict[str, Any]:
    """The v3.2 user object (D9)."""
    return {
        "uniqueName": user.unique_name,
        "displayName": user.name if expand else None,
        "vstsId": user.vsts_id,
        "vstsCollectionId": user.vsts_id,
        "vstsCollectionId2": user.vsts_id,
        "email": user.email,
        "name": user.name,
        "id": user.id,
    }


def week_start_of(instant: datetime) -> date:
    """The Monday of the (UTC) week containing ``instant`` (D21)."""
    day = instant.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


_DAY_US = 86_400_000_000
_EPOCH_DAY = date(1970, 1, 1)  # a Thursday: weekday 3


def _is_locked(states: dict[tuple[str, date], int], user_id: str, ts_key: int) -> bool:
    if not states:
        return False
    day = ts_key // _DAY_US  # integer UTC day: the same Monday as week_start_of, faster
    monday = _EPOCH_DAY + timedelta(days=day - (day + 3) % 7)
    return states.get((user_id, monday)) in LOCKED_STATES


def worklog_json(
    ctx: Ctx,
    row: WorklogRow,
    *,
    editable: dict[tuple[str, date], int] | None = None,
    with_id: bool = True,
    memo: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The v3.2 worklog shape; ``editable`` (approval states) fills isCanEdit/isCanDelete.

    ``memo``: a dict shared by the worklogs of one response, so the user objects, activity
    types and created stamps they repeat are built once (the JSON stays the same)."""
    memo = {} if memo is None else memo
    can: bool | None = None
    if editable is not None:
        may = row.user_id == ctx.user.id or ctx.user.role == "Administrator"
        can = may and not _is_locked(editable, row.user_id, row.ts_key)
    return {
        "timestamp": row.ts_text,
        "length": row.length,
        "billableLength": row.billable,
        "workItemId": row.work_item_id,
        "comment": row.comment,
        "user": _memo_user(ctx, memo, row.user_id),
        "addedByUser": _memo_user(ctx, memo, row.added_by),
        "editedByUser": _memo_user(ctx, memo, row.edited_by),
        "createdTimestamp": _memo_created(memo, row.created_key),
        "editedTimestamp": _memo_created(memo, row.edited_key),
        "activityType": _memo_activity(ctx, memo, row.activity_type_id),
        "flags": {
            "isTracked": False,
            "isManuallyEntered": True,
            "isChanged": row.edited_key != row.created_key,
            "isTrackedExtended": False,
            "isImported": False,
            "isFromApi": True,
            "isBillable": bool(row.billable),
        },
        "isCanEdit": can,
        "isCanDelete": can,
        "id": row.id if with_id else None,
    }


def _memo_user(ctx: Ctx, memo: dict[Any, Any], user_id: str) -> dict[str, Any]:
    key = ("user", user_id)
    if key not in memo:
        memo[key] = user_json(ctx.store.users[user_id], ctx.expand_display_name)
    result: dict[str, Any] = memo[key]
    return result


def _memo_created(memo: dict[Any, Any], key: int) -> str:
    if ("created", key) not in memo:
        memo["created", key] = format_created(from_key(key))
    return str(memo["created", key])


def _memo_activity(ctx: Ctx, memo: dict[Any, Any], type_id: str) -> dict[str, Any]:
    key = ("activity", type_id)
    if key not in memo:
        at = ctx.store.activity_types[type_id]
        memo[key] = {"color": at.color, "name": at.name, "id": at.id}
    result: dict[str, Any] = memo[key]
    return result


class RawJson(str):
    """JSON text already encoded exactly as :func:`_compact_dumps` would encode the value;
    :func:`_data` splices it into the envelope instead of encoding it again."""


_enc = json.encoder.encode_basestring_ascii  # what json.dumps uses (ensure_ascii=True)


def _js(value: str | None) -> str:
    return "null" if value is None else _enc(value)


def _ji(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


_TRUE_FALSE = ("false", "true")
_CAN = {None: "null", False: "false", True: "true"}


def render_worklogs(
    ctx: Ctx,
    rows: Iterable[tuple[Any, ...]],
    *,
    editable: dict[tuple[str, date], int] | None = None,
    with_id: bool = True,
) -> RawJson:
    """A JSON array of worklogs from ``Store.page_tuples`` rows, byte for byte what
    ``_compact_dumps([worklog_json(ctx, WorklogRow(*row), editable=editable,
    with_id=with_id), ...])`` gives (tests/sandbox/test_render.py holds it to that).

    The list endpoints answer up to 500 worklogs of ~1.5 kB each; building a dict per row and
    encoding it was most of a page's CPU. Here the user objects, activity types and created
    stamps a page repeats are encoded once, and each row is one string template."""
    users = ctx.store.users
    types = ctx.store.activity_types
    expand = ctx.expand_display_name
    me = ctx.user.id
    admin = ctx.user.role == "Administrator"
    user_js: dict[str, str] = {}
    type_js: dict[str, str] = {}
    stamp_js: dict[int, str] = {}

    def user(user_id: str) -> str:
        text = user_js.get(user_id)
        if text is None:
            text = user_js[user_id] = _compact_dumps(user_json(users[user_id], expand))
        return text

    def stamp(key: int) -> str:
        text = stamp_js.get(key)
        if text is None:
            text = stamp_js[key] = _enc(format_created(from_key(key)))
        return text

    def activity(type_id: str) -> str:
        text = type_js.get(type_id)
        if text is None:
            at = types[type_id]
            text = type_js[type_id] = _compact_dumps(
                {"color": at.color, "name": at.name, "id": at.id}
            )
        return text

    # "user" .. "isBillable": the same few users, types and stamps repeat across a page (a
    # batch shares one created stamp), so this middle part is one lookup per row
    middles: dict[tuple[Any, ...], str] = {}
    parts: list[str] = []
    for (wid, user_id, added_by, edited_by, ts_text, ts_key, length, billable, work_item,
         comment, type_id, created, edited) in rows:  # fmt: skip
        mkey = (user_id, added_by, edited_by, created, edited, type_id)
        middle = middles.get(mkey)
        if middle is None:
            middle = middles[mkey] = (
                f'"user":{user(user_id)},"addedByUser":{user(added_by)},'
                f'"editedByUser":{user(edited_by)},"createdTimestamp":{stamp(created)},'
                f'"editedTimestamp":{stamp(edited)},"activityType":{activity(type_id)},'
                f'"flags":{{"isTracked":false,"isManuallyEntered":true,'
                f'"isChanged":{_TRUE_FALSE[edited != created]},"isTrackedExtended":false,'
                f'"isImported":false,"isFromApi":true,"isBillable":'
            )
        if editable is None:
            can = "null"
        else:
            can = _CAN[(user_id == me or admin) and not _is_locked(editable, user_id, ts_key)]
        parts.append(
            f'{{"timestamp":{_enc(ts_text)},"length":{_ji(length)},'
            f'"billableLength":{_ji(billable)},"workItemId":{_ji(work_item)},'
            f'"comment":{_js(comment)},{middle}{_TRUE_FALSE[bool(billable)]}}},'
            f'"isCanEdit":{can},"isCanDelete":{can},"id":{_enc(wid) if with_id else "null"}}}'
        )
    return RawJson("[" + ",".join(parts) + "]")


# -- worklog validation (D7, D18) ------------------------------------------------------------

_FIELDS = (
    "timestamp",
    "length",
    "billablelength",
    "workitemid",
    "comment",
    "userid",
    "activitytypeid",
)


@dataclass
class WorklogInput:
    """Fields present in a creation/PATCH body, already type-checked (400s raised)."""

    present: set[str]
    timestamp: ParsedTime | None = None
    length: int | None = None
    billable: int | None = None
    work_item_id: int | None = None
    comment: str | None = None
    user_id: str | None = None
    activity_type_id: str | None = None


def parse_worklog_input(raw: Any) -> WorklogInput:
    """Type-check a creation model: case-insensitive keys, numeric strings, lenient dates."""
    body = _lower_keys(raw, "a worklog")
    out = WorklogInput(present={k for k in _FIELDS if k in body})
    if body.get("timestamp") is not None:
        out.timestamp = parse_timestamp(body["timestamp"])
        if out.timestamp is None:
            raise _bad_param("timeStamp", f"{body['timestamp']!r} is not a date/time")
    out.length = parse_int(body.get("length"), "length")
    out.billable = parse_int(body.get("billablelength"), "billableLength")
    out.work_item_id = parse_int(body.get("workitemid"), "workItemId")
    comment = body.get("comment")
    out.comment = None if comment is None else str(comment)
    if body.get("userid") is not None:
        out.user_id = parse_guid(body["userid"], "userId")
    if body.get("activitytypeid") is not None:
        out.activity_type_id = parse_guid(body["activitytypeid"], "activityTypeId")
    return out


def _fail422(code: str, message: str, fields: dict[str, Any] | None = None) -> ApiFail:
    return ApiFail(422, code, message, fields)


def build_worklog(
    ctx: Ctx,
    data: WorklogInput,
    states: dict[tuple[str, date], int],
    now: datetime,
    existing: WorklogRow | None = None,
) -> WorklogRow:
    """Merge ``data`` into ``existing`` (PATCH) or defaults (POST) and validate (D7)."""
    caller = ctx.user
    store = ctx.store
    p = data.present
    if existing is None:
        user_id = data.user_id or caller.id
        user = store.users.get(user_id)
        default_type = user.default_activity_type_id if user else EMPTY_GUID
        ts = data.timestamp
        ts_text = ts.text if ts else format_utc_z(now.replace(microsecond=0))
        ts_key = ts.key if ts else to_key(now.replace(microsecond=0))
        row = WorklogRow(
            id=str(uuid.uuid4()), user_id=user_id, added_by=caller.id, edited_by=caller.id,
            ts_text=ts_text, ts_key=ts_key, length=data.length or 0, billable=data.billable,
            work_item_id=data.work_item_id, comment=data.comment,
            activity_type_id=data.activity_type_id or default_type,
            created_key=(now_key := to_key(now)), edited_key=now_key,
        )  # fmt: skip
        length_given = data.length is not None
    else:
        changes: dict[str, Any] = {"edited_by": caller.id, "edited_key": to_key(now)}
        if data.timestamp is not None:
            changes.update(ts_text=data.timestamp.text, ts_key=data.timestamp.key)
        if data.user_id is not None:
            changes["user_id"] = data.user_id
        if "length" in p:
            changes["length"] = data.length or 0
        if "billablelength" in p:
            changes["billable"] = data.billable
        if "workitemid" in p:
            changes["work_item_id"] = data.work_item_id
        if "comment" in p:
            changes["comment"] = data.comment
        if "activitytypeid" in p:
            changes["activity_type_id"] = data.activity_type_id or EMPTY_GUID
        row = replace(existing, **changes)
        length_given = "length" not in p or data.length is not None

    if not length_given:
        raise _fail422("LengthIsRequired", "length is required (seconds)", {"length": None})
    if row.length <= 0:
        raise _fail422(
            "LengthMustBePositive", "length must be greater than 0", {"length": row.length}
        )
    if row.billable is not None and row.billable < 0:
        raise _fail422(
            "LengthMustBePositive",
            "billableLength must be 0 or more",
            {"billableLength": row.billable},
        )
    if row.work_item_id is None and not (row.comment or "").strip():
        raise _fail422(
            "WorkItemIdOrCommentRequired", "a workItemId or a non-empty comment is required"
        )
    if row.user_id not in store.users:
        raise _fail422(
            "EntityNotFound", f"user {row.user_id} does not exist", {"userId": row.user_id}
        )
    if row.activity_type_id not in store.activity_types:
        raise _fail422(
            "EntityNotFound",
            f"activity type {row.activity_type_id} does not exist",
            {"activityTypeId": row.activity_type_id},
        )
    if row.work_item_id is not None and (
        row.work_item_id <= 0
        or (
            ctx.state.seed.work_items is not None
            and row.work_item_id not in ctx.state.seed.work_items
        )
    ):
        raise _fail422(
            "EntityNotFound",
            f"work item {row.work_item_id} does not exist",
            {"workItemId": row.work_item_id},
        )
    owners = {row.user_id} | ({existing.user_id} if existing else set())
    if owners != {caller.id} and caller.role != "Administrator":
        raise ApiFail(
            403,
            "NoRightsToWorkLogModification",
            "only an Administrator may create or change another user's worklogs",
        )
    if ctx.state.seed.future_check and row.ts_key > to_key(now):
        raise _fail422("FutureCheckFailed", "time tracking beyond the present day is not allowed")
    for owner, key in (
        (row.user_id, row.ts_key),
        *(((existing.user_id, existing.ts_key),) if existing else ()),
    ):
        if _is_locked(states, owner, key):
            raise _locked(owner, key)
    return row


def _locked(user_id: str, ts_key: int) -> ApiFail:
    week = week_start_of(from_key(ts_key)).isoformat()
    return ApiFail(
        409,
        "ApprovalStateFailed",
        f"the week starting {week} is locked by time approval",
        {"weekStart": week},
    )


# -- handlers ----------------------------------------------------------------------------------

Handler = Callable[[Ctx], Awaitable[Any]]


async def h_me(ctx: Ctx) -> Any:
    seed = ctx.state.seed
    at = ctx.store.activity_types.get(ctx.user.default_activity_type_id)
    account_id = stable_guid("account", seed.account_name)
    return {
        "user": user_json(ctx.user, ctx.expand_display_name),
        "account": {
            "vstsId": account_id,
            "vstsCollectionId": account_id,
            "name": seed.account_name,
            "id": account_id,
        },
        "defaultActivityType": (
            {"color": at.color, "name": at.name, "id": at.id}
            if at and at.id != EMPTY_GUID
            else None
        ),
        "timeZone": ctx.user.time_zone,
    }


def _page(ctx: Ctx, items: Sequence[Any]) -> list[Any]:
    count = ctx.int_param("$count", MAX_PAGE, 1, MAX_PAGE)
    skip = ctx.int_param("$skip", 0, 0)
    return list(items[skip : skip + count])


def _users_sorted(ctx: Ctx) -> list[UserRow]:
    return sorted(ctx.store.users.values(), key=lambda u: (u.name.casefold(), u.id))


async def h_users(ctx: Ctx) -> Any:
    expand = ctx.expand_display_name
    return [user_json(u, expand) for u in _page(ctx, _users_sorted(ctx))]


async def h_user(ctx: Ctx) -> Any:
    user_id = parse_guid(ctx.params["id"], "id")
    user = ctx.store.users.get(user_id)
    if user is None:
        raise ApiFail(404, "EntityNotFound", f"user {user_id} does not exist")
    return user_json(user, ctx.expand_display_name)


def _require(ctx: Ctx, allowed: bool, what: str) -> None:
    if not allowed:
        raise ApiFail(403, "AccessDenied", f"access denied: {what}")


async def h_roles_get(ctx: Ctx) -> Any:
    _require(ctx, ctx.user.role == "Administrator", "users/roles needs the Administrator role")
    include_none = ctx.bool_param("includeNoneRoles")
    users = [u for u in _users_sorted(ctx) if include_none or u.role != "None"]
    expand = ctx.expand_display_name
    return [
        {**user_json(u, expand), "role": {"id": role_id(u.role), "name": u.role}}
        for u in _page(ctx, users)
    ]


def _find_role(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    s = {str(k).lower(): v for k, v in spec.items()}
    for role in ROLES:
        if s.get("id") is not None and str(s["id"]).strip().lower() == role_id(role):
            return role
        if s.get("name") is not None and str(s["name"]).strip().lower() == role.lower():
            return role
    return None


async def h_roles_post(ctx: Ctx) -> Any:
    _require(ctx, ctx.user.role == "Administrator", "users/roles needs the Administrator role")
    body = _lower_keys(await ctx.json(), "the body")
    entries = body.get("users")
    if not isinstance(entries, list):
        raise ApiFail(400, "ApiVersionError", "users must be a list")
    skip_errors = bool(body.get("skiperrors", False))
    users = ctx.store.users
    changes: list[tuple[str, str]] = []
    failed: list[dict[str, Any]] = []
    for entry in entries:
        e = _lower_keys(entry, "a users[] entry")
        found: UserRow | None = None
        keys = [k for k in ("id", "vstsid", "email") if e.get(k) is not None]
        problem: str | None = None
        if len(keys) != 1:
            problem = "name the user by exactly one of id, vstsId or email"
        elif keys[0] == "email":
            found = next(
                (u for u in users.values() if u.email.lower() == str(e["email"]).lower()), None
            )
        else:
            guid = parse_guid(e[keys[0]], keys[0])
            attr = "id" if keys[0] == "id" else "vsts_id"
            found = next((u for u in users.values() if getattr(u, attr) == guid), None)
        role = _find_role(e.get("role"))
        if problem is None and found is None:
            problem = f"user {e[keys[0]]} does not exist"
        if problem is None and role is None:
            problem = f"role {e.get('role')!r} does not exist"
        if problem is not None:
            if not skip_errors:
                raise _fail422("EntityNotFound", problem)
            failed.append({"entity": entry, "error": {"message": problem}})
            continue
        assert found is not None and role is not None
        changes.append((found.id, role))
    ctx.store.set_roles(changes)
    return {"succeeded": len(changes), "failed": len(failed), "failedEntries": failed}


def _activity_json(ctx: Ctx, type_id: str) -> dict[str, Any]:
    at = ctx.store.activity_types[type_id]
    return {"color": at.color, "name": at.name, "id": at.id}


async def h_activity_types(ctx: Ctx) -> Any:
    types = sorted(ctx.store.activity_types.values(), key=lambda a: (a.name.casefold(), a.id))
    default = ctx.state.seed.system_default_activity_type
    return {
        "enabled": True,
        "systemDefaultActivityTypeId": ctx.state.seed.activity_type_id(default),
        "activityTypes": [_activity_json(ctx, a.id) for a in types],
    }


async def h_activity_type(ctx: Ctx) -> Any:
    type_id = parse_guid(ctx.params["id"], "id")
    if type_id not in ctx.store.activity_types:
        raise ApiFail(404, "EntityNotFound", f"activity type {type_id} does not exist")
    return _activity_json(ctx, type_id)


def _worklog_filter(ctx: Ctx, user_id: str | None) -> WorklogFilter:
    ids: list[int] | None = None
    raw = ctx.q("$workItemIds")
    if raw:
        parts = [p for p in raw.split(",") if p.strip()]
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise _bad_param("$workItemIds", "expected comma-separated integers") from None
        if len(ids) > MAX_WORK_ITEM_FILTER:
            raise _fail422(
                "FilterWorkItemIdsCountExceeded",
                f"$workItemIds allows at most {MAX_WORK_ITEM_FILTER} ids",
            )
    return WorklogFilter(
        user_id=user_id,
        from_key=ctx.time_param("$fromTimestamp"),
        to_key=ctx.time_param("$toTimestamp"),
        from_created=ctx.time_param("$fromCreatedTimestamp"),
        to_created=ctx.time_param("$toCreatedTimestamp"),
        work_item_ids=ids,
    )


def _list_worklogs(ctx: Ctx, user_id: str | None) -> RawJson:
    count = ctx.int_param("$count", MAX_PAGE, 1, MAX_PAGE)
    skip = ctx.int_param("$skip", 0, 0)
    flt = _worklog_filter(ctx, user_id)
    editable = ctx.store.approval_states() if ctx.bool_param("$includeEditable") else None
    rows = ctx.store.page_tuples(flt, skip=skip, count=count)
    return render_worklogs(ctx, rows, editable=editable)


async def h_worklogs_mine(ctx: Ctx) -> Any:
    return _list_worklogs(ctx, ctx.user.id)


async def h_worklogs_all(ctx: Ctx) -> Any:
    _require(
        ctx, ctx.user.role in ALL_READERS, "workLogs/all needs Administrator, Budget or Product"
    )
    return _list_worklogs(ctx, None)


def _path_worklog(ctx: Ctx) -> WorklogRow:
    worklog_id = parse_guid(ctx.params["id"], "id")
    row = ctx.store.get_worklog(worklog_id)
    if row is None:
        raise ApiFail(404, "EntityNotFound", f"worklog {worklog_id} does not exist")
    return row


async def h_worklog_get(ctx: Ctx) -> Any:
    row = _path_worklog(ctx)
    _require(
        ctx,
        row.user_id == ctx.user.id or ctx.user.role in ALL_READERS,
        "another user's worklog needs Administrator, Budget or Product",
    )
    editable = ctx.store.approval_states() if ctx.bool_param("$includeEditable") else None
    return worklog_json(ctx, row, editable=editable)


async def h_worklog_post(ctx: Ctx) -> Any:
    data = parse_worklog_input(await ctx.json())
    row = build_worklog(ctx, data, ctx.store.approval_states(), datetime.now(UTC))
    ctx.store.insert_worklogs([row])
    return worklog_json(ctx, row)


async def h_worklog_patch(ctx: Ctx) -> Any:
    existing = _path_worklog(ctx)
    data = parse_worklog_input(await ctx.json())
    row = build_worklog(ctx, data, ctx.store.approval_states(), datetime.now(UTC), existing)
    ctx.store.replace_worklog(row)
    return worklog_json(ctx, row)


async def h_worklog_delete(ctx: Ctx) -> Any:
    row = _path_worklog(ctx)
    if row.user_id != ctx.user.id and ctx.user.role != "Administrator":
        raise ApiFail(
            403,
            "NoRightsToWorkLogModification",
            "only an Administrator may delete another user's worklogs",
        )
    if _is_locked(ctx.store.approval_states(), row.user_id, row.ts_key):
        raise _locked(row.user_id, row.ts_key)
    ctx.store.delete_worklog(row.id)
    return None


async def h_batch(ctx: Ctx) -> Any:
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
    for name in ("timeStamp", "timestamp", "length", "billableLength", "workItemId", "comment",
                 "userId", "activityTypeId")
}  # fmt: skip
_CLIENT_KEYS = frozenset(
    ("timeStamp", "length", "billableLength", "workItemId", "comment", "userId", "activityTypeId")
)
_CANONICAL_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@functools.lru_cache(maxsize=4096)
def _day_number(text: str) -> int | None:
    """Days since 1970-01-01 of ``YYYY-MM-DD``; None when it is no valid date."""
    try:
        return (date.fromisoformat(text) - _EPOCH_DAY).days
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
            (user_id, (monday - _EPOCH_DAY).days)
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
            or length <= 0
            or (billable is not None and (type(billable) is not int or billable < 0))
            or (comment is not None and type(comment) is not str)
        ):
            return None
        if work_item is None:
            if comment is None or not comment.strip():
                return None
        elif (
            type(work_item) is not int
            or work_item <= 0
            or (self.work_items is not None and work_item not in self.work_items)
        ):
            return None
        if user_id is None:
            user_id = self.caller
        elif type(user_id) is not str or (user_id := _canonical_guid(user_id)) is None:
            return None
        user = self.users.get(user_id)
        if user is None or (user_id != self.caller and not self.admin):
            return None
        if type_id is None:
            type_id = user.default_activity_type_id
        elif type(type_id) is not str or (type_id := _canonical_guid(type_id)) is None:
            return None
        if type_id not in self.types or (self.future_check and ts_key > self.now_key):
            return None
        if self.locked:
            day = ts_key // _DAY_US
            if (user_id, day - (day + 3) % 7) in self.locked:
                return None
        now_key = self.now_key
        return (new_id, user_id, self.caller, self.caller, ts_text, ts_key, length, billable,
                work_item, comment, type_id, now_key, now_key)  # fmt: skip


def _approval_json(ctx: Ctx, a: ApprovalRow) -> dict[str, Any]:
    users = ctx.store.users
    expand = ctx.expand_display_name

    def maybe(uid: str | None) -> dict[str, Any] | None:
        return user_json(users[uid], expand) if uid and uid in users else None

    return {
        "id": a.id,
        "weekStartDate": a.week_start.isoformat(),
        "weekEndDate": (a.week_start + timedelta(days=6)).isoformat(),
        "user": maybe(a.user_id),
        "approvalState": a.state,
        "modificationTimestamp": a.modified,
        "submittedTimestamp": a.submitted,
        "approvalTimestamp": a.approved,
        "assignedManager": maybe(a.manager_id),
        "approvedByManager": maybe(a.approved_by),
    }


async def h_approvals(ctx: Ctx) -> Any:
    _require(
        ctx,
        ctx.user.approval_manager or ctx.user.role == "Administrator",
        "timeApproval/all needs an approval manager or Administrator",
    )
    start, end = ctx.time_param("$fromTimestamp"), ctx.time_param("$toTimestamp")
    week = 7 * 86_400 * 1_000_000
    items = []
    for a in ctx.store.approvals():
        key = to_key(datetime(a.week_start.year, a.week_start.month, a.week_start.day, tzinfo=UTC))
        # Weeks that contain or follow / contain or precede the given instant (D21).
        if start is not None and key + week <= start:
            continue
        if end is not None and key > end:
            continue
        items.append(a)
    users = ctx.store.users
    items.sort(key=lambda a: (a.week_start, users[a.user_id].name.casefold(), a.user_id))
    return [_approval_json(ctx, a) for a in _page(ctx, items)]


def _week_param(value: Any, name: str) -> date:
    parsed = parse_timestamp(value) if value is not None else None
    if parsed is None:
        raise _bad_param(name, "expected a date (YYYY-MM-DD)")
    day = parsed.instant.date()
    if day.weekday() != 0:
        raise _fail422(
            "DbValidationError", f"{name} {day.isoformat()} is not a Monday", {name: str(value)}
        )
    return day


async def h_week_post(ctx: Ctx) -> Any:
    _require(ctx, ctx.user.role != "None", "time approval needs a role other than None")
    body = _lower_keys(await ctx.json(), "the body")
    week = _week_param(body.get("weekstart"), "weekStart")
    manager_id: str | None = None
    if body.get("assignedmanagerid") is not None:
        manager_id = parse_guid(body["assignedmanagerid"], "assignedManagerId")
        if manager_id not in ctx.store.users:
            raise _fail422("EntityNotFound", f"user {manager_id} does not exist")
    current = ctx.store.approval_states().get((ctx.user.id, week))
    if current in (1, 3):
        raise ApiFail(
            409, "ApprovalStateFailed", f"the week starting {week} is already submitted or approved"
        )
    stamp = format_created(datetime.now(UTC))
    row = ApprovalRow(
        id=stable_guid("approval", f"{ctx.user.email}:{week}"), user_id=ctx.user.id, week_start=week,
        state=1, manager_id=manager_id, approved_by=None, modified=stamp, submitted=stamp, approved=None,
    )  # fmt: skip
    ctx.store.submit_week(row)
    return True


async def h_week_delete(ctx: Ctx) -> Any:
    _require(ctx, ctx.user.role != "None", "time approval needs a role other than None")
    week = _week_param(ctx.q("weekStart", "$weekStart"), "weekStart")
    if ctx.store.approval_states().get((ctx.user.id, week)) != 1:
        raise ApiFail(
            409, "ApprovalStateFailed", f"the week starting {week} is not in the Submitted state"
        )
    ctx.store.delete_week(ctx.user.id, week)
    return True


# -- routing -----------------------------------------------------------------------------------

# (method, lower-cased path pattern, endpoint selector, handler); "{id}" captures a segment.
ROUTES: list[tuple[str, tuple[str, ...], str, Handler]] = [
    ("GET", ("me",), "me", h_me),
    ("GET", ("users",), "users", h_users),
    ("GET", ("users", "roles"), "roles", h_roles_get),
    ("POST", ("users", "roles"), "roles", h_roles_post),
    ("GET", ("users", "{id}"), "users", h_user),
    ("GET", ("activitytypes",), "activitytypes", h_activity_types),
    ("GET", ("activitytypes", "{id}"), "activitytypes", h_activity_type),
    ("GET", ("worklogs",), "worklogs", h_worklogs_mine),
    ("POST", ("worklogs",), "worklogs", h_worklog_post),
    ("GET", ("worklogs", "all"), "worklogs-all", h_worklogs_all),
    ("POST", ("worklogs", "batch"), "batch", h_batch),
    ("GET", ("worklogs", "{id}"), "worklogs", h_worklog_get),
    ("PATCH", ("worklogs", "{id}"), "worklogs", h_worklog_patch),
    ("DELETE", ("worklogs", "{id}"), "worklogs", h_worklog_delete),
    ("GET", ("timeapproval", "all"), "approvals", h_approvals),
    ("POST", ("timeapproval", "week"), "approvals", h_week_post),
    ("DELETE", ("timeapproval", "week"), "approvals", h_week_delete),
]


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want == "{id}":
            params["id"] = got
        elif want != got.lower():
            return None
    return params


def resolve(method: str, segments: list[str]) -> tuple[str, Handler, dict[str, str]] | int:
    """The route for a request, or 404/405."""
    hits = [(r, p) for r in ROUTES if (p := _match(r[1], segments)) is not None]
    literal = [(r, p) for r, p in hits if "{id}" not in r[1]]
    hits = literal or hits
    if not hits:
        return 404
    for (m, _, endpoint, handler), params in hits:
        if m == method:
            return endpoint, handler, params
    return 405


def _api_segments(path: str) -> list[str] | None:
    """Segments after ``/api/rest/`` or ``/api/{collection}/rest/`` (D1), else None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "api":
        if parts[1].lower() == "rest":
            return parts[2:]
        if len(parts) >= 3 and parts[2].lower() == "rest":
            return parts[3:]
    return None


def _authenticate(request: web.Request, state: SandboxState) -> UserRow | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    token: str | None = None
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if sep and user == "":
            token = password
    user_id = state.tokens.get(token) if token else None
    return state.store.users.get(user_id) if user_id else None


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status
    if status == 429:
        seconds = int(fault.seconds)
        retry = (
            email.utils.formatdate(time.time() + seconds, usegmt=True)
            if fault.retry_as_date
            else str(seconds)
        )
        return error_response(
            429,
            "QuoteExceededError",
            "The request has been canceled because your API usage was exceeded.",
            {"retryAfter": str(seconds)},
            headers={"Retry-After": retry},
        )
    code = {401: "UnauthorizedError", 403: "AccessDenied", 404: "EntityNotFound"}.get(
        status, "UnexpectedError" if status >= 500 else "DbValidationError"
    )
    return error_response(status, code, f"injected fault ({fault.spec})")


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; aiohttp then discards the returned response."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Single entry point: control endpoints, then the API pipeline."""
    state = request.app[STATE]
    segments = _api_segments(request.path)
    parts = [p for p in request.path.split("/") if p]
    if parts and parts[0].lower() == "_sandbox":
        return await control(request, state, [p.lower() for p in parts[1:]])
    if segments is None:
        return web.json_response({"Message": f"No resource at {request.path}."}, status=404)
    ntlm_user_id: str | None = None
    ntlm_reason = ""
    if state.ntlm is not None:
        # The negotiate leg is answered before routing and is not counted (nor faulted).
        outcome = state.ntlm.accept(request)
        if outcome.challenge is not None:
            await request.read()  # drain any body so the connection stays usable
            return error_response(
                401,
                "UnauthorizedError",
                "NTLM challenge",
                headers={"WWW-Authenticate": f"{outcome.scheme} {outcome.challenge}"},
            )
        ntlm_user_id, ntlm_reason = outcome.user_id, outcome.reason
    route = resolve(request.method, segments)
    if isinstance(route, int):
        message = (
            "No HTTP resource was found that matches the request URI."
            if route == 404
            else f"The requested resource does not support http method '{request.method}'."
        )
        return web.json_response({"Message": message}, status=route)
    endpoint, handler, params = route
    state.calls[endpoint] += 1
    state.calls["any"] += 1
    hits = state.faults.record_call(endpoint)
    pre_delay = state.latency + sum(
        h.seconds for h in hits if h.kind in ("latency", "delay") and not h.after_commit
    )
    action = next((h for h in hits if h.kind not in ("latency", "delay") or h.after_commit), None)
    if pre_delay > 0:
        await asyncio.sleep(pre_delay)
    if action is not None and not action.after_commit:
        if action.kind == "drop":
            return _drop(request)
        return _fault_response(action)
    if state.limiter is not None:
        wait = state.limiter.acquire()
        if wait is not None:
            state.rate_limited += 1
            return error_response(
                429,
                "QuoteExceededError",
                "The request has been canceled because your API usage was exceeded.",
                {"retryAfter": str(wait)},
                headers={"Retry-After": str(wait)},
            )
    query = parse_query(request.query_string)
    version = query.get("api-version")
    if version not in API_VERSIONS:
        response = error_response(
            400,
            "ApiVersionError",
            f"api-version {version!r} is missing or not supported; use one of "
            + ", ".join(sorted(API_VERSIONS)),
        )
    else:
        if state.ntlm is None:
            user = _authenticate(request, state)
        else:
            user = state.store.users.get(ntlm_user_id) if ntlm_user_id else None
        if user is None and state.ntlm is not None:
            response = error_response(
                401,
                "UnauthorizedError",
                ntlm_reason,
                headers={"WWW-Authenticate": "NTLM"},
            )
        elif user is None:
            response = error_response(
                401, "UnauthorizedError", "missing or invalid credentials (Bearer token or Basic)"
            )
        else:
            ctx = Ctx(request, state, user, query, params)
            ctx.partial_commit = action is not None and action.kind == "partial-commit-drop"
            try:
                response = _data(await handler(ctx))
            except ApiFail as fail:
                response = error_response(fail.status, fail.code, fail.message, fail.fields)
    if action is not None:  # after-commit faults: the work above is already stored
        if action.kind == "delay":
            await asyncio.sleep(action.seconds)
            return response
        if action.kind in ("drop", "partial-commit-drop"):
            return _drop(request)
        return _fault_response(action)
    return response


async def control(request: web.Request, state: SandboxState, parts: list[str]) -> web.Response:
    """Sandbox-only endpoints (no token): stats, faults, reset."""
    route = (request.method, "/".join(parts))
    if route == ("GET", "stats"):
        return web.json_response(
            {
                "calls": dict(state.calls),
                "worklogs": state.store.count_worklogs(),
                "rateLimited": state.rate_limited,
                "faults": [f.spec for f in state.faults.faults],
                "faultCalls": dict(state.faults.calls),
                "fired": dict(state.faults.fired),
            }
        )
    if route == ("GET", "faults"):
        return web.json_response({"faults": [f.spec for f in state.faults.faults]})
    if route == ("POST", "faults"):
        try:
            body = json.loads((await request.read()) or b"[]")
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        specs = body.get("faults", []) if isinstance(body, dict) else body
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            return web.json_response({"error": "expected a list of fault specs"}, status=400)
        try:
            state.faults.set(specs)
        except FaultSpecError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.faults.calls.clear()  # "batch#3" counts from now on
        return web.json_response({"faults": [f.spec for f in state.faults.faults]})
    if route == ("POST", "reset"):
        state.faults.reset()
        state.calls.clear()
        state.rate_limited = 0
        state.limiter = _limiter(state.rate_limit_spec)
        state.store.apply_seed(state.seed, wipe=True)
        return web.json_response({"reset": True})
    return web.json_response({"Message": "unknown sandbox control endpoint"}, status=404)


# -- factory -----------------------------------------------------------------------------------


def _limiter(spec: str | float | RateLimiter | None) -> RateLimiter | None:
    if spec is None or isinstance(spec, RateLimiter):
        return spec
    if isinstance(spec, int | float):
        return RateLimiter(float(spec), max(1.0, float(spec)))
    return parse_rate_limit(spec)


def make_app(
    *,
    seed: str | Path | dict[str, Any] | Seed = "demo",
    db: str | Path = ":memory:",
    faults: FaultPlan | Iterable[str] | None = None,
    latency_ms: float = 0,
    rate_limit: str | float | RateLimiter | None = None,
    auth: str = "token",
    ntlm_users: str | Path | None = None,
) -> web.Application:
    """Build the sandbox application.

    ``seed``: ``"demo"``, a YAML/JSON path, a dict or a :class:`Seed`; ``db``: ``":memory:"``
    or a SQLite file (worklogs persist across restarts); ``faults``: fault specs (see
    docs/sandbox.md) or a :class:`FaultPlan`; ``latency_ms``: added to every API call;
    ``rate_limit``: ``"10/s"``, ``"100/min"`` or requests per second; ``auth``: ``"token"``
    (Bearer/Basic) or ``"ntlm"`` (Windows authentication checked against the ``ntlm_users``
    file, see docs/sandbox.md). Raises ``SeedError``, ``FaultSpecError`` or
    ``NtlmUsersError`` (all ``ValueError``) for bad input.
    """
    if auth not in ("token", "ntlm"):
        raise ValueError(f"auth must be 'token' or 'ntlm', not {auth!r}")
    if (auth == "ntlm") != (ntlm_users is not None):
        raise ValueError("auth='ntlm' needs ntlm_users (and ntlm_users needs auth='ntlm')")
    loaded = seed if isinstance(seed, Seed) else load_seed(seed)
    acceptor = None
    if ntlm_users is not None:
        acceptor = NtlmAcceptor(load_ntlm_users(ntlm_users, {u.email: u.id for u in loaded.users}))
    plan = as_fault_plan(faults)
    limiter = _limiter(rate_limit)
    store = Store(db, loaded)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = SandboxState(
        seed=loaded,
        store=store,
        faults=plan,
        limiter=limiter,
        latency=latency_ms / 1000,
        rate_limit_spec=rate_limit,
        ntlm=acceptor,
    )
    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def close_store(_: web.Application) -> None:
        store.close()
        if acceptor is not None:
            acceptor.close()

    app.on_cleanup.append(close_store)
    return app
