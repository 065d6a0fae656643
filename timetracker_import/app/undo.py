"""Use case: undo one journaled run (delete what an import created; restore or re-create what
a ``worklogs update/delete`` run changed). No printing: the caller renders the outcome."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timetracker_import.errors import UsageError

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.journal.store import Journal
    from timetracker_import.journal.undo import UndoReport


@dataclass
class UndoOutcome:
    """What ``undo_run`` did (or would do, with ``dry_run``). ``report`` is an import run's
    ``UndoReport``; ``changes`` the outcome of undoing a ``worklogs update/delete`` run (it
    renders itself). Exactly one of them is set."""

    run_id: str
    dry_run: bool
    report: UndoReport | None = None
    changes: Any = None

    @property
    def failed(self) -> bool:
        done = self.report if self.report is not None else self.changes
        return bool(done.failed)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        done = self.report if self.report is not None else self.changes
        data: dict[str, Any] = done.to_dict()
        return data


def open_run(run_id: str) -> Journal:
    """The journal of ``run_id``; UsageError naming the runs directory when there is none."""
    from timetracker_import.journal.store import Journal, JournalError, runs_root

    try:
        return Journal.open(run_id)
    except JournalError:
        raise UsageError(
            f"no run {run_id!r} in {runs_root()}", hint="see `timetracker-import runs list`"
        ) from None


def check_target(journal: Journal, rest_root: str) -> None:
    """Refuse to undo against another server than the one the run wrote to: ids would not
    match there, and the report would wrongly say the worklogs are already gone."""
    from timetracker_import.journal.store import safe_base_url

    recorded = journal.info().base_url
    given = safe_base_url(rest_root)
    if recorded and given and recorded.rstrip("/").lower() != given.rstrip("/").lower():
        raise UsageError(
            f"run {journal.run_id} wrote to {recorded}, but the connection points at {given}",
            hint=f"connect to the run's server (e.g. --url for {recorded}) and undo again",
        )


async def undo_created(
    journal: Journal, client: TimetrackerClient, *, dry_run: bool
) -> UndoReport:
    """Delete the worklogs an import run created (skipping those edited since)."""
    from timetracker_import.errors import ApiError
    from timetracker_import.journal.undo import run_undo

    async def fetch(worklog_id: str) -> dict[str, Any] | None:
        try:
            return await client.worklog(worklog_id)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def delete(worklog_id: str) -> bool:
        try:
            await client.delete_worklog(worklog_id)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    return await run_undo(journal, fetch_worklog=fetch, delete_worklog=delete, dry_run=dry_run)


def undo_run(
    run_id: str, connection: ConnectionSettings, *, dry_run: bool = False, wait: float = 0.0
) -> UndoOutcome:
    """Undo ``run_id`` against ``connection`` (which must be the server the run wrote to).
    Running it again is harmless; one undo of a run at a time (``journal.lock``: another
    one waits up to ``wait`` seconds, then ``RunLocked``, exit 75; a dry run takes no lock)."""
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.app.sync import is_sync_run, undo_sync
    from timetracker_import.app.worklogs import run_kind, undo_changes
    from timetracker_import.journal.lock import undo_lock

    lock = (
        contextlib.nullcontext() if dry_run else undo_lock(connection.rest_root, run_id, wait=wait)
    )
    with open_run(run_id) as journal, lock:
        check_target(journal, connection.rest_root)
        kind = run_kind(journal)

        async def main() -> UndoOutcome:
            async with TimetrackerClient(connection) as client:
                if is_sync_run(journal):  # restore, re-create, delete; ledger updated
                    undone = await undo_sync(journal, client, dry_run=dry_run)
                    return UndoOutcome(journal.run_id, dry_run, changes=undone)
                if kind:  # a `worklogs update/delete` run: restore or re-create
                    changes = await undo_changes(journal, client, dry_run=dry_run)
                    return UndoOutcome(journal.run_id, dry_run, changes=changes)
                report = await undo_created(journal, client, dry_run=dry_run)
                return UndoOutcome(journal.run_id, dry_run, report=report)

        return asyncio.run(main())
