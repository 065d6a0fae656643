"""Contract: worklog reads, filters, CRUD, batches and time approval, client vs sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.contract.conftest import Sandbox, activity_id, uid
from timetracker_import.api.client import TimetrackerClient
from timetracker_import.errors import AmbiguousOutcome, ApiError, AuthError

WEEK = "2026-11-02"  # a Monday; the demo seed has no approval records in 2026-11


def item(ts: str = "2026-11-03T09:00:00", **fields: Any) -> dict[str, Any]:
    """A worklog creation model."""
    return {"timeStamp": ts, "length": 3600, "comment": "contract"} | fields


async def create(client: TimetrackerClient, ts: str, **fields: Any) -> dict[str, Any]:
    return await client.create_worklog(item(ts, **fields))


# -- create, read, patch, delete -------------------------------------------------------------


async def test_create_worklog_shape(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        created = await client.create_worklog(
            item("2026-11-03T09:00:00+02:00", workItemId=42, activityTypeId=activity_id("Testing"))
        )
    assert created["timestamp"] == "2026-11-03T07:00:00Z"  # D6: offsets come back in UTC
    assert created["length"] == 3600
    assert created["billableLength"] is None
    assert created["workItemId"] == 42
    assert created["user"]["id"] == uid("bob")
    assert created["addedByUser"]["id"] == uid("bob")
    assert created["activityType"]["name"] == "Testing"
    assert created["flags"]["isFromApi"] is True
    assert created["flags"]["isManuallyEntered"] is True
    assert created["isCanEdit"] is None
    assert isinstance(created["id"], str) and len(created["id"]) == 36
    assert (await sandbox.stats())["worklogs"] == 1


async def test_create_validation_errors_are_definite(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        with pytest.raises(ApiError) as no_length:
            await client.create_worklog({"timeStamp": "2026-11-03T09:00:00", "comment": "x"})
        with pytest.raises(ApiError) as nothing:
            await client.create_worklog({"timeStamp": "2026-11-03T09:00:00", "length": 60})
        with pytest.raises(AuthError) as other_user:
            await client.create_worklog(item(userId=uid("carol")))
        with pytest.raises(ApiError) as locked:  # bob's week of 2026-10-05 is Submitted
            await client.create_worklog(item("2026-10-06T09:00:00"))
    assert (no_length.value.status, no_length.value.error_code) == (422, "LengthIsRequired")
    assert (nothing.value.status, nothing.value.error_code) == (422, "WorkItemIdOrCommentRequired")
    assert (other_user.value.status, other_user.value.error_code) == (
        403,
        "NoRightsToWorkLogModification",
    )
    assert (locked.value.status, locked.value.error_code) == (409, "ApprovalStateFailed")
    for err in (no_length, nothing, other_user, locked):
        assert not isinstance(err.value, AmbiguousOutcome)
    stats = await sandbox.stats()
    assert stats["worklogs"] == 0
    assert stats["calls"]["worklogs"] == 4  # definite failures are not retried


async def test_admin_creates_for_another_user(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as client:
        created = await client.create_worklog(item(userId=uid("carol")))
    assert created["user"]["id"] == uid("carol")
    assert created["addedByUser"]["id"] == uid("alice")


async def test_get_patch_delete_worklog(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as client:
        created = await create(client, "2026-11-03T09:00:00", workItemId=7)
        wid = created["id"]
        got = await client.worklog(wid, expand_display_name=True)
        assert got["id"] == wid
        assert got["user"]["displayName"] == "Bob Builder"

        patched = await client.patch_worklog(wid, {"comment": "changed", "length": 1800})
        assert patched["comment"] == "changed"
        assert patched["length"] == 1800
        assert patched["workItemId"] == 7  # fields not in the body stay (D10)
        assert patched["timestamp"] == "2026-11-03T09:00:00"
        assert patched["flags"]["isChanged"] is True
        assert (await client.worklog(wid))["comment"] == "changed"

        with pytest.raises(ApiError) as bad_patch:
            await client.patch_worklog(wid, {"length": 0})
        assert (bad_patch.value.status, bad_patch.value.error_code) == (
            422,
            "LengthMustBePositive",
        )

        await client.delete_worklog(wid)
        with pytest.raises(ApiError) as gone:
            await client.worklog(wid)
        with pytest.raises(ApiError) as delete_again:
            await client.delete_worklog(wid)
        with pytest.raises(ApiError) as patch_gone:
            await client.patch_worklog(wid, {"comment": "x"})
    for err in (gone, delete_again, patch_gone):
        assert (err.value.status, err.value.error_code) == (404, "EntityNotFound")
    assert (await sandbox.stats())["worklogs"] == 0


async def test_other_users_worklog_needs_a_reader_role(sandbox: Sandbox) -> None:
    async with sandbox.client("carol") as carol:
        wid = (await create(carol, "2026-11-03T09:00:00"))["id"]
    async with sandbox.client("bob") as bob:
        with pytest.raises(AuthError) as read:
            await bob.worklog(wid)
        with pytest.raises(AuthError) as delete:
            await bob.delete_worklog(wid)
    assert (read.value.status, read.value.error_code) == (403, "AccessDenied")
    assert (delete.value.status, delete.value.error_code) == (403, "NoRightsToWorkLogModification")
    async with sandbox.client("dave") as dave:
        assert (await dave.worklog(wid))["user"]["id"] == uid("carol")


# -- lists and filters -----------------------------------------------------------------------


async def test_worklogs_lists_only_mine_and_all_lists_everyone(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        for hour in (11, 9, 10):
            await create(bob, f"2026-11-03T{hour:02d}:00:00")
        mine = await bob.worklogs(page_size=2)
    async with sandbox.client("carol") as carol:
        await create(carol, "2026-11-03T08:00:00")
        assert len(await carol.worklogs()) == 1
    async with sandbox.client("dave") as dave:
        everyone = await dave.worklogs_all(page_size=3)
    assert [w["timestamp"][11:13] for w in mine] == ["09", "10", "11"]  # D5: by timestamp
    assert [w["timestamp"][11:13] for w in everyone] == ["08", "09", "10", "11"]
    assert {w["user"]["id"] for w in everyone} == {uid("bob"), uid("carol")}


async def test_iter_worklogs_pages(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        await bob.post_batch([item(f"2026-11-03T{h:02d}:00:00") for h in range(7)])
        pages = [len(p) async for p in bob.iter_worklogs(page_size=3)]
    async with sandbox.client("alice") as alice:
        await create(alice, "2026-11-03T12:30:00")
        pages_all = [
            [w["user"]["email"][0] for w in p] async for p in alice.iter_worklogs_all(page_size=4)
        ]
    assert pages == [3, 3, 1]
    assert pages_all == [["b"] * 4, ["b", "b", "b", "a"]]
    # a full last page needs one more (empty) request to see the end
    assert sum(1 for line in sandbox.raw_requests if "/workLogs/all?" in line) == 3


async def test_date_filters_are_strict_and_the_caller_widens(sandbox: Sandbox) -> None:
    """The server's bounds are strict (> and <); the client passes them through unchanged, so
    an inclusive day needs from = start - 1 s and to = the next midnight (§1.6, §18.6)."""
    async with sandbox.client("bob") as bob:
        for ts in (
            "2026-11-02T23:59:59",
            "2026-11-03T00:00:00",
            "2026-11-03T09:00:00",
            "2026-11-03T23:59:59",
            "2026-11-04T00:00:00",
        ):
            await create(bob, ts)

        async def stamps(**filters: Any) -> list[str]:
            return [w["timestamp"] for w in await bob.worklogs(**filters)]

        # the exact boundaries are excluded on both sides
        assert await stamps(from_ts="2026-11-03T00:00:00", to_ts="2026-11-03T23:59:59") == [
            "2026-11-03T09:00:00"
        ]
        # the inclusive intent "all of 2026-11-03": widen by one second at the start
        assert await stamps(from_ts="2026-11-02T23:59:59", to_ts="2026-11-04T00:00:00") == [
            "2026-11-03T00:00:00",
            "2026-11-03T09:00:00",
            "2026-11-03T23:59:59",
        ]
        # datetimes and dates are accepted too; an aware datetime's '+' reaches the server intact
        aware = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
        assert await stamps(from_ts=aware) == ["2026-11-03T23:59:59", "2026-11-04T00:00:00"]
        assert await stamps(to_ts=aware + timedelta(seconds=1), from_ts=date(2026, 11, 3)) == [
            "2026-11-03T09:00:00"
        ]
        assert await stamps(from_ts=datetime(2026, 11, 3, 10, 0, tzinfo=UTC).astimezone()) == [
            "2026-11-03T23:59:59",
            "2026-11-04T00:00:00",
        ]
    assert any("%2B00:00" in line for line in sandbox.raw_requests)


async def test_created_timestamp_filters_are_strict(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        first = await create(bob, "2026-11-03T09:00:00")
        created = first["createdTimestamp"]  # UTC without offset (D6)
        assert await bob.worklogs(from_created=created) == []
        assert [w["id"] for w in await bob.worklogs(to_created="2099-01-01")] == [first["id"]]
        assert await bob.worklogs(to_created=created) == []


async def test_work_item_ids_filter(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        await bob.post_batch(
            [
                item("2026-11-03T09:00:00", workItemId=42),
                item("2026-11-03T10:00:00", workItemId=43),
                item("2026-11-03T11:00:00"),
            ]
        )
        only = await bob.worklogs(work_item_ids=[42])
        both = await bob.worklogs(work_item_ids=[42, 43, 99])
        with pytest.raises(ValueError):  # the client refuses > 100 ids before sending
            await bob.worklogs(work_item_ids=list(range(1, 102)))
    assert [w["workItemId"] for w in only] == [42]
    assert [w["workItemId"] for w in both] == [42, 43]
    assert any("$workItemIds=42,43,99" in line for line in sandbox.raw_requests)
    assert (await sandbox.stats())["calls"]["worklogs"] == 2


async def test_expand_display_name_on_lists(sandbox: Sandbox) -> None:
    async with sandbox.client("alice") as alice:
        await create(alice, "2026-11-03T09:00:00")
        plain = await alice.worklogs()
        expanded = await alice.worklogs_all(expand_display_name=True)
    assert plain[0]["user"]["displayName"] is None
    assert expanded[0]["user"]["displayName"] == "Alice Admin"
    assert expanded[0]["addedByUser"]["displayName"] == "Alice Admin"


async def test_include_editable(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        wid = (await create(bob, "2026-11-03T09:00:00"))["id"]
        assert (await bob.worklog(wid))["isCanEdit"] is None
        got = await bob.worklog(wid, include_editable=True)
        assert (got["isCanEdit"], got["isCanDelete"]) == (True, True)
        assert await bob.submit_week(WEEK, uid("alice")) is True
        locked = (await bob.worklogs(include_editable=True))[0]
        assert (locked["isCanEdit"], locked["isCanDelete"]) == (False, False)
        with pytest.raises(ApiError) as patch_locked:
            await bob.patch_worklog(wid, {"comment": "late"})
        with pytest.raises(ApiError) as delete_locked:
            await bob.delete_worklog(wid)
    for err in (patch_locked, delete_locked):
        assert (err.value.status, err.value.error_code) == (409, "ApprovalStateFailed")
    async with sandbox.client("carol") as carol:
        await create(carol, "2026-11-03T09:00:00")
    async with sandbox.client("alice") as alice:
        rows = await alice.worklogs_all(include_editable=True)
    editable = {w["user"]["id"]: w["isCanEdit"] for w in rows}
    assert editable == {uid("bob"): False, uid("carol"): True}  # admin may edit unlocked


# -- batches ---------------------------------------------------------------------------------


async def test_batch_success_keeps_request_order(sandbox: Sandbox) -> None:
    items = [item(f"2026-11-0{d}T09:00:00", comment=f"c{d}") for d in (5, 3, 4)]
    async with sandbox.client("bob") as bob:
        created = await bob.post_batch(items)
        listed = await bob.worklogs()
    assert [w["comment"] for w in created] == ["c5", "c3", "c4"]
    assert all(w["id"] for w in created)
    assert {w["id"] for w in listed} == {w["id"] for w in created}
    assert (await sandbox.stats())["worklogs"] == 3


async def test_batch_validate_only_creates_nothing(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        checked = await bob.post_batch([item(), item(workItemId=5)], validate_only=True)
        assert await bob.worklogs() == []
        with pytest.raises(ApiError) as bad:
            await bob.post_batch([item(), item(length=-5)], validate_only=True)
    assert [w["id"] for w in checked] == [None, None]
    assert [w["workItemId"] for w in checked] == [None, 5]
    assert (bad.value.status, bad.value.error_code) == (422, "LengthMustBePositive")
    # both spellings are sent, so a server knowing only one can never create anything
    batch_lines = [line for line in sandbox.raw_requests if "/workLogs/batch" in line]
    assert all("validateOnly=true" in line and "$validateOnly=true" in line for line in batch_lines)
    assert (await sandbox.stats())["worklogs"] == 0


async def test_batch_is_all_or_nothing_with_the_first_error(sandbox: Sandbox) -> None:
    items = [item(), item(comment=""), item(length=0)]  # items 2 and 3 are bad
    async with sandbox.client("bob") as bob:
        with pytest.raises(ApiError) as info:
            await bob.post_batch(items)
    assert info.value.status == 422
    assert info.value.error_code == "WorkItemIdOrCommentRequired"  # the first bad item's code
    assert not isinstance(info.value, AmbiguousOutcome)
    assert (await sandbox.stats())["worklogs"] == 0


async def test_batch_over_500_is_refused_before_sending(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        with pytest.raises(ValueError, match="500"):
            await bob.post_batch([item()] * 501)
        assert len(await bob.post_batch([item()] * 500)) == 500
    stats = await sandbox.stats()
    assert stats["calls"]["batch"] == 1  # only the 500-item batch reached the server
    assert stats["worklogs"] == 500


async def test_empty_batch_sends_nothing(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        assert await bob.post_batch([]) == []
    assert sandbox.raw_requests == []


# -- time approval ---------------------------------------------------------------------------


async def test_approvals_submit_list_revoke(sandbox: Sandbox) -> None:
    async with sandbox.client("bob") as bob:
        assert await bob.submit_week(date(2026, 11, 2), uid("alice")) is True
        with pytest.raises(ApiError) as twice:
            await bob.submit_week(WEEK, uid("alice"))
        with pytest.raises(ApiError) as not_monday:
            await bob.submit_week("2026-11-03", uid("alice"))
    assert (twice.value.status, twice.value.error_code) == (409, "ApprovalStateFailed")
    assert not_monday.value.status == 422

    async with sandbox.client("alice") as alice:
        weeks = await alice.approvals(expand_display_name=True, page_size=2)
        november = await alice.approvals(from_ts="2026-11-01T00:00:00")
    assert [(w["weekStartDate"], w["user"]["email"], w["approvalState"]) for w in weeks] == [
        ("2026-10-05", "bob@example.com", 1),
        ("2026-10-05", "carol@example.com", 99),
        ("2026-10-12", "bob@example.com", 3),
        ("2026-10-19", "carol@example.com", 2),
        ("2026-11-02", "bob@example.com", 1),
    ]
    assert weeks[-1]["assignedManager"]["id"] == uid("alice")
    assert weeks[-1]["user"]["displayName"] == "Bob Builder"
    assert [w["weekStartDate"] for w in november] == ["2026-11-02"]

    async with sandbox.client("bob") as bob:
        assert await bob.revoke_week(WEEK) is True
        with pytest.raises(ApiError) as again:
            await bob.revoke_week(WEEK)
        created = await create(bob, "2026-11-03T09:00:00")  # the week is open again
    assert (again.value.status, again.value.error_code) == (409, "ApprovalStateFailed")
    assert created["id"]
    async with sandbox.client("alice") as alice:
        assert [w["weekStartDate"] for w in await alice.approvals(from_ts="2026-11-01")] == []
