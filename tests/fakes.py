"""An in-memory 7pace for the stage and planner tests: ``FakeTimetracker`` has the
``TimetrackerClient`` methods the stages call, over users, activity types, approval states
and worklogs held in dicts. No network, no sandbox; failures are scripted per call.

It is a test double, not a second server: it keeps only what the stages read (the worklog's
API shape, strict time bounds, the batch's all-or-nothing), and it answers at once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from timetracker_import.errors import AmbiguousOutcome, ApiError

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient

ALICE = "00000000-0000-4000-8000-00000000000a"  # the token's own user
BOB = "00000000-0000-4000-8000-00000000000b"
CAROL = "00000000-0000-4000-8000-00000000000c"
DEV = "00000000-0000-4000-8000-0000000000d0"  # the default activity type
TEST = "00000000-0000-4000-8000-0000000000d1"
#: the users of tests.helpers.make_rows
USERS = [
    {
        "id": uid,
        "email": f"{name}@example.com",
        "uniqueName": f"{name}@example.com",
        "displayName": name.title(),
    }
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"))
]
ACTIVITY_TYPES = {
    "enabled": True,
    "systemDefaultActivityTypeId": DEV,
    "activityTypes": [{"id": DEV, "name": "Development"}, {"id": TEST, "name": "Testing"}],
}

#: creation-body and PATCH field -> where the API shows it on a worklog
_FIELD = {"timeStamp": "timestamp", "userId": "user", "activityTypeId": "activityType"}


@dataclass
class Fault:
    """What the next call of a method does instead of answering: raise ``error``, after
    applying the write first when ``applied`` (the answer was lost on the way back)."""

    error: Exception
    applied: bool = False


def not_found(worklog_id: str) -> ApiError:
    return ApiError(f"no worklog {worklog_id}", status=404, error_code="EntityNotFound")


def lost_answer() -> AmbiguousOutcome:
    return AmbiguousOutcome("no answer after sending", status=None)


def _instant(value: Any) -> datetime:
    """A bound or a worklog's timestamp as an aware UTC datetime (naive: UTC)."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    else:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class FakeTimetracker:
    """Users, activity types, approvals and worklogs in dicts, behind the client's methods.

    ``calls`` records each call as ``(method, argument)``; ``fail(method, ...)`` queues a
    ``Fault`` for that method's next call."""

    def __init__(
        self,
        *,
        me: str = ALICE,
        users: Sequence[Mapping[str, Any]] = USERS,
        activity_types: Mapping[str, Any] = ACTIVITY_TYPES,
        approvals: Sequence[Mapping[str, Any]] = (),
        time_zone: int = 0,
    ) -> None:
        self.me_id = me
        self.user_list = [dict(u) for u in users]
        self.activity_payload = dict(activity_types)
        self.approval_items = [dict(a) for a in approvals]
        self.time_zone = time_zone
        #: work items the server does not know: a batch naming one is refused (404)
        self.unknown_work_items: set[int] = set()
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self._ids = itertools.count(1)
        self._last = datetime.min.replace(tzinfo=UTC)
        self.on_retry: Any = None
        self.opened = self.closed = 0

    def factory(self, connection: Any, on_retry: Any = None) -> TimetrackerClient:
        """A ``RetryingClientFactory``: this fake as the run's client (``on_retry`` is kept,
        to play a retry the real client would report)."""
        del connection
        self.on_retry = on_retry
        return self.client

    async def __aenter__(self) -> FakeTimetracker:
        self.opened += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed += 1

    @property
    def client(self) -> TimetrackerClient:
        """This fake where the stages expect a ``TimetrackerClient`` (it has the methods
        they call)."""
        return cast("TimetrackerClient", self)

    # -- setting up --------------------------------------------------------------------

    def add(self, **body: Any) -> dict[str, Any]:
        """Store a worklog from a creation body (``timeStamp``, ``length``, ``userId``...)."""
        return self._create(body)

    def fail(self, method: str, error: Exception, *, applied: bool = False) -> None:
        self.faults.setdefault(method, []).append(Fault(error, applied))

    def _fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        return queue.pop(0) if queue else None

    def _stamp(self) -> str:
        """Now, as the server writes createdTimestamp/editedTimestamp: later at every write."""
        now = datetime.now(UTC)
        self._last = now = max(now, self._last + timedelta(microseconds=1))
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        stamp = self._stamp()
        worklog: dict[str, Any] = {
            "id": f"w{next(self._ids)}",
            "createdTimestamp": stamp,
            "editedTimestamp": stamp,
        }
        self._apply(worklog, {"userId": self.me_id, **body})
        worklog.setdefault(
            "activityType", {"id": self.activity_payload.get("systemDefaultActivityTypeId")}
        )
        self.store[worklog["id"]] = worklog
        return dict(worklog)

    @staticmethod
    def _apply(worklog: dict[str, Any], fields: Mapping[str, Any]) -> None:
        for name, value in fields.items():
            shown = _FIELD.get(name, name)
            worklog[shown] = {"id": value} if shown in ("user", "activityType") else value

    # -- reads -------------------------------------------------------------------------

    async def me(self, *, expand_display_name: bool = False) -> dict[str, Any]:
        self.calls.append(("me", None))
        return {"user": {"id": self.me_id}, "timeZone": self.time_zone}

    async def users(self, **_: Any) -> list[dict[str, Any]]:
        self.calls.append(("users", None))
        return [dict(u) for u in self.user_list]

    async def activity_types(self) -> dict[str, Any]:
        self.calls.append(("activityTypes", None))
        return dict(self.activity_payload)

    async def approvals(self, **bounds: Any) -> list[dict[str, Any]]:
        self.calls.append(("approvals", bounds))
        fault = self._fault("approvals")
        if fault:
            raise fault.error
        return [dict(a) for a in self.approval_items]

    async def worklog(self, worklog_id: str, **_: Any) -> dict[str, Any]:
        self.calls.append(("worklog", worklog_id))
        fault = self._fault("worklog")
        if fault:
            raise fault.error
        if worklog_id not in self.store:
            raise not_found(worklog_id)
        return dict(self.store[worklog_id])

    def _between(self, from_ts: Any, to_ts: Any, user: str | None) -> list[dict[str, Any]]:
        """The worklogs strictly inside (from_ts, to_ts), as the server's bounds are."""
        lo = None if from_ts is None else _instant(from_ts)
        hi = None if to_ts is None else _instant(to_ts)
        found = []
        for worklog in self.store.values():
            at = _instant(worklog["timestamp"])
            if (
                (lo is None or at > lo)
                and (hi is None or at < hi)
                and (user is None or worklog["user"]["id"] == user)
            ):
                found.append(dict(worklog))
        return found

    async def worklogs_all(
        self, *, from_ts: Any = None, to_ts: Any = None, **_: Any
    ) -> list[dict[str, Any]]:
        self.calls.append(("worklogs_all", (from_ts, to_ts)))
        fault = self._fault("worklogs_all")
        if fault:
            raise fault.error
        return self._between(from_ts, to_ts, None)

    async def worklogs(
        self, *, from_ts: Any = None, to_ts: Any = None, **_: Any
    ) -> list[dict[str, Any]]:
        """The token's own worklogs."""
        self.calls.append(("worklogs", (from_ts, to_ts)))
        return self._between(from_ts, to_ts, self.me_id)

    # -- writes ------------------------------------------------------------------------

    async def post_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        validate_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        """All or nothing: an unknown work item or a scripted fault refuses (or loses) the
        whole batch."""
        self.calls.append(("post_batch", [dict(i) for i in items]))
        await asyncio.sleep(0)
        unknown = [i["workItemId"] for i in items if i.get("workItemId") in self.unknown_work_items]
        if unknown:
            raise ApiError(
                f"work item {unknown[0]} does not exist", status=404, error_code="EntityNotFound"
            )
        fault = self._fault("post_batch")
        if fault and not fault.applied:
            raise fault.error
        created = [] if validate_only else [self._create(i) for i in items]
        if fault:
            raise fault.error
        if fields is not None:
            return [{name: w.get(name) for name in fields} for w in created]
        return created

    async def patch_worklog(self, worklog_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("patch", worklog_id))
        await asyncio.sleep(0)
        fault = self._fault("patch")
        if fault and not fault.applied:
            raise fault.error
        if worklog_id not in self.store:
            raise not_found(worklog_id)
        worklog = self.store[worklog_id]
        self._apply(worklog, body)
        worklog["editedTimestamp"] = self._stamp()
        if fault:
            raise fault.error
        return dict(worklog)

    async def delete_worklog(self, worklog_id: str) -> None:
        self.calls.append(("delete", worklog_id))
        await asyncio.sleep(0)
        fault = self._fault("delete")
        if fault and not fault.applied:
            raise fault.error
        if self.store.pop(worklog_id, None) is None:
            raise not_found(worklog_id)
        if fault:
            raise fault.error
