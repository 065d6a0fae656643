"""Use case: undo one journaled run, whatever it was (import, sync, ``worklogs update`` or
``delete``): walk its actions backwards and reverse each one that took effect.

- a **create** is deleted, unless the worklog was edited since (then it is reported);
- an **update** is PATCHed back to the values before it, unless 7pace holds something else
  than what the run wrote (edited since: reported) or the update never took effect;
- a **delete** is re-created from the worklog as it was (a new id: the API cannot restore
  one), unless the delete never took effect.

An action whose outcome the run never learnt (killed between request and answer) is judged by
what the server shows now; a later run that resolved it settled it in this run's journal
(``journal.actions.settle_elsewhere``), so undoing both runs reverses each change once. What
undo did is recorded per action, so running it again is harmless. No printing: the caller
renders the outcome. A sync's ledger follows through ``UndoHooks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from timetracker_import.app.undo_hooks import UndoHooks
from timetracker_import.core.outcomes import RunKind
from timetracker_import.errors import (
    AmbiguousOutcome,
    ApiError,
    AuthError,
    Interrupted,
    UsageError,
    delete_target_gone,
    stop_exit_code,
)

if TYPE_CHECKING:
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.api.settings import ConnectionSettings
    from timetracker_import.journal.actions import ActionRecord
    from timetracker_import.journal.store import Journal

#: ``action.undo`` while a re-creation is on the wire (its answer may be lost)
RECREATING = "recreating"
RECREATING_UNKNOWN = (
    "an earlier undo re-created it but its answer was lost; check whether it exists before "
    "re-creating it by hand"
)
RECREATED_NOTE = "re-created worklogs get new ids (the API cannot restore an id)"


@dataclass
class UndoReport:
    """What undo did (or would do, with ``dry_run``): created worklogs ``deleted``, updated
    ones ``restored``, deleted ones ``recreated`` as (old id, new id), and those left alone
    with why (``skipped``: edited since, never applied), ``already_gone`` and ``failed``."""

    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    recreated: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: stopped by ``cancel`` before the end; ``left``: the changes it did not reach
    cancelled: bool = False
    left: int = 0

    @property
    def skipped_edited(self) -> list[tuple[str, str]]:
        """The worklogs left alone, with why (the name import undo reports used)."""
        return self.skipped

    @property
    def note(self) -> str | None:
        return RECREATED_NOTE if self.recreated and not self.dry_run else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dry_run": self.dry_run,
            "deleted": list(self.deleted),
            "restored": list(self.restored),
            "recreated": [{"old_id": o, "new_id": n} for o, n in self.recreated],
            "skipped": [{"id": i, "why": w} for i, w in self.skipped],
            "skipped_edited": [{"id": i, "why": w} for i, w in self.skipped],
            "already_gone": list(self.already_gone),
            "failed": [{"id": i, "why": w} for i, w in self.failed],
            "cancelled": self.cancelled,
            "left": self.left,
            "note": self.note,
        }

    def render(self) -> str:
        """A short human summary."""
        verbs = (
            ("would delete", "would restore", "would re-create")
            if self.dry_run
            else ("deleted", "restored", "re-created")
        )
        parts = [f"{verbs[0]} {len(self.deleted)}"]
        if self.restored:
            parts.append(f"{verbs[1]} {len(self.restored)}")
        if self.recreated:
            parts.append(f"{verbs[2]} {len(self.recreated)}")
        parts += [
            f"skipped {len(self.skipped)}",
            f"already gone {len(self.already_gone)}",
            f"failed {len(self.failed)}",
        ]
        lines = [", ".join(parts)]
        if self.cancelled:
            lines.append(
                f"cancelled: {self.left} change(s) left to undo; run undo again for the rest"
            )
        lines += [f"  re-created {o} as {n}" for o, n in self.recreated if n]
        lines += [f"  skipped {i}: {w}" for i, w in self.skipped[:20]]
        lines += [f"  failed {i}: {w}" for i, w in self.failed[:20]]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)


@dataclass
class UndoOutcome:
    """What ``undo_run`` did: the run's kind and the ``UndoReport``."""

    run_id: str
    dry_run: bool
    kind: RunKind
    report: UndoReport
    #: the stop signal (SIGINT, SIGTERM, SIGHUP) that cancelled it, if one did
    stop_signal: int | None = None

    @property
    def failed(self) -> bool:
        return bool(self.report.failed)

    @property
    def exit_code(self) -> int:
        """128 + the signal when a stop signal cancelled it, 130 when cancelled otherwise
        (as an interrupted run), 1 when a step failed, else 0."""
        if self.report.cancelled:
            return stop_exit_code(self.stop_signal)
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind.value,
            "exit_code": self.exit_code,
            **self.report.to_dict(),
        }


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


def _edited(worklog: Mapping[str, Any] | None) -> str | None:
    value = (worklog or {}).get("editedTimestamp")
    return None if value is None else str(value)


def to_reverse(action: ActionRecord) -> bool:
    """Whether undo still has something to reverse for ``action``: a write that took effect
    (or whose outcome is unknown) and that no undo has reversed yet."""
    if action.undo:
        return False
    if action.kind == "create":
        return action.state == "done"
    return action.state not in ("failed", "gone")


async def undo_actions(
    journal: Journal,
    client: TimetrackerClient,
    *,
    dry_run: bool = False,
    hooks: UndoHooks | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> UndoReport:
    """Reverse the run's actions, last first (see the module docstring).
    ``progress(done, total)`` is called after each change still to reverse (``total``: how
    many there were when undo began); setting ``cancel`` stops before the next action (the
    step in flight finishes): the report says ``cancelled`` and how many are ``left``."""
    hooks = hooks or UndoHooks()
    report = UndoReport(dry_run=dry_run)
    actions = list(reversed(journal.actions()))
    total = sum(1 for a in actions if to_reverse(a))
    done = 0
    if progress is not None:
        progress(0, total)
    for i, action in enumerate(actions):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            report.left = sum(1 for a in actions[i:] if to_reverse(a))
            break
        counted = to_reverse(action)
        await _undo_one(journal, client, action, report, hooks, dry_run)
        if counted:
            done += 1
            if progress is not None:
                progress(done, total)
    hooks.close()
    return report


async def _undo_one(
    journal: Journal,
    client: TimetrackerClient,
    action: ActionRecord,
    report: UndoReport,
    hooks: UndoHooks,
    dry_run: bool,
) -> None:
    """Reverse one action by the rules of the module docstring (errors of the server for
    this action go into the report; an authentication error stops the undo)."""
    from timetracker_import.app.stages.edits import worklog_or_none

    wid = action.worklog_id or ""
    try:
        if action.kind == "create":
            await _undo_create(journal, client, action, report, hooks, dry_run)
        elif action.state in ("failed", "gone"):
            return  # never took effect
        elif action.undo == RECREATING:
            report.skipped.append((wid, RECREATING_UNKNOWN))
        elif action.undo:
            report.skipped.append((wid, f"already undone ({action.undo})"))
        elif action.kind == "update":
            current = await worklog_or_none(client, wid)
            await _undo_update(journal, client, action, current, report, hooks, dry_run)
        else:
            # a delete known to be done needs no look: its worklog is gone for good
            current = None if action.state == "done" else await worklog_or_none(client, wid)
            await _undo_delete(journal, client, action, current, report, hooks, dry_run)
    except AuthError:
        raise
    except AmbiguousOutcome as exc:
        # the step's intent stays; a later undo judges it by what the server shows
        report.failed.append((wid, exc.message))
    except ApiError as exc:
        report.failed.append((wid, exc.message))


async def _undo_create(
    journal: Journal,
    client: TimetrackerClient,
    action: ActionRecord,
    report: UndoReport,
    hooks: UndoHooks,
    dry_run: bool,
) -> None:
    from timetracker_import.app.stages.edits import worklog_or_none
    from timetracker_import.core.worklog import same_edited_timestamp

    wid = action.worklog_id or ""
    if action.state != "done":
        return
    current = await worklog_or_none(client, wid)
    if current is None:
        report.already_gone.append(wid)
        if not dry_run:
            journal.record_undo(wid, "already_gone")
            journal.mark_action_undo(action.id, "already gone")
            hooks.deleted(action)
        return
    edited = _edited(current)
    if action.edited_after is not None and not same_edited_timestamp(action.edited_after, edited):
        why = (
            f"edited since the run (editedTimestamp {edited}, was {action.edited_after}); "
            "delete it by hand if it should go"
        )
        report.skipped.append((wid, why))
        if not dry_run:
            journal.record_undo(wid, "skipped_edited", why)
        return
    if dry_run:
        report.deleted.append(wid)
        return
    try:
        await client.delete_worklog(wid)
    except ApiError as exc:
        if not delete_target_gone(exc) or isinstance(exc, AuthError):
            journal.record_undo(wid, "failed", exc.message)
            raise
        report.already_gone.append(wid)
        journal.record_undo(wid, "already_gone")
    else:
        report.deleted.append(wid)
        journal.record_undo(wid, "deleted")
    journal.mark_action_undo(action.id, "deleted")
    hooks.deleted(action)


async def _undo_update(
    journal: Journal,
    client: TimetrackerClient,
    action: ActionRecord,
    current: Mapping[str, Any] | None,
    report: UndoReport,
    hooks: UndoHooks,
    dry_run: bool,
) -> None:
    from timetracker_import.core.worklog import ServerWorklog, diff_content, same_edited_timestamp

    wid = action.worklog_id or ""
    if current is None:
        report.skipped.append((wid, "deleted since the run; nothing to restore"))
        return
    # an update known to be done is undone only while 7pace holds our write (the same
    # editedTimestamp): an edit since - even of another field - may have confirmed it.
    # One whose outcome was never learnt is judged by the fields it wrote: still holding
    # its values -> put the old ones back; holding the old ones -> it never took effect.
    held = ServerWorklog.from_api(current).content
    if action.state == "done" and action.edited_after is not None:
        if not same_edited_timestamp(action.edited_after, _edited(current)):
            report.skipped.append(
                (
                    wid,
                    f"edited since the run (editedTimestamp "
                    f"{_edited(current)}); restore it by hand",
                )
            )
            return
    elif diff_content(action.body, held):
        if not diff_content(action.before, held):
            report.skipped.append((wid, "the update never took effect"))
        else:
            report.skipped.append(
                (
                    wid,
                    f"edited since the run (editedTimestamp "
                    f"{_edited(current)}); restore it by hand",
                )
            )
        return
    report.restored.append(wid)
    if dry_run:
        return
    body = {k: ("" if k == "comment" and v is None else v) for k, v in action.before.items()}
    answer = await client.patch_worklog(wid, body)
    journal.mark_action_undo(action.id, "restored")
    hooks.restored(action, answer)


async def _undo_delete(
    journal: Journal,
    client: TimetrackerClient,
    action: ActionRecord,
    current: Mapping[str, Any] | None,
    report: UndoReport,
    hooks: UndoHooks,
    dry_run: bool,
) -> None:
    from timetracker_import.core.worklog import ServerWorklog

    wid = action.worklog_id or ""
    if current is not None:
        report.skipped.append((wid, "the delete never took effect; it still exists"))
        return
    if dry_run:
        report.recreated.append((wid, ""))
        return
    journal.mark_action_undo(action.id, RECREATING)  # intent, before the POST
    try:
        created = await client.create_worklog(ServerWorklog.from_api(action.before).recreate_body())
    except AmbiguousOutcome:
        raise  # the intent stays: a later undo does not send it again
    except ApiError:
        journal.mark_action_undo(action.id, None)  # refused: a later undo may retry
        raise
    new_id = str(created.get("id"))
    journal.mark_action_undo(action.id, f"recreated as {new_id}")
    report.recreated.append((wid, new_id))
    hooks.recreated(action, created)


def undo_run(
    run_id: str,
    connection: ConnectionSettings,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> UndoOutcome:
    """Undo ``run_id`` against ``connection`` (which must be the server the run wrote to).
    Running it again is harmless. It holds the server's writer lock (``journal.lock``): a
    run still writing there - the run to undo itself, or any other - makes it wait up to
    ``wait`` seconds, then ``RunLocked`` (exit 75); a dry run takes no lock.
    ``progress`` and ``cancel``: see ``undo_actions``."""
    from timetracker_import.api.client import TimetrackerClient
    from timetracker_import.app.stages.execute import stop_signals
    from timetracker_import.journal.lock import target_lock

    lock = (
        contextlib.nullcontext()
        if dry_run
        else target_lock(
            connection.rest_root, what=f"writing to this server (undo of {run_id})", wait=wait
        )
    )
    with open_run(run_id) as journal, lock:
        check_target(journal, connection.rest_root)
        kind = journal.kind
        hooks = _hooks_for(journal, dry_run)

        async def main() -> UndoOutcome:
            stopping = _Stopping(cancel)
            async with TimetrackerClient(connection) as client:
                with stop_signals(stopping.on_signal):
                    stopping.task = asyncio.ensure_future(
                        undo_actions(
                            journal,
                            client,
                            dry_run=dry_run,
                            hooks=hooks,
                            progress=progress,
                            cancel=stopping.event,
                        )
                    )
                    try:
                        report = await stopping.task
                    except asyncio.CancelledError:
                        raise stopping.interrupted() from None
            return UndoOutcome(journal.run_id, dry_run, kind, report, stopping.signal)

        return asyncio.run(main())


class _Stopping:
    """SIGINT, SIGTERM or SIGHUP during an undo: the first one sets ``event`` (the change in
    flight finishes, the report says what is left, exit 128 + the signal); a second one
    cancels the undo at once (the journal holds each change's intent before its request, so
    undoing again still reverses each change once)."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.event = cancel if cancel is not None else threading.Event()
        self.signal: int | None = None
        self.task: asyncio.Future[UndoReport] | None = None

    def on_signal(self, signo: int) -> None:
        if self.signal is None:
            self.signal = signo
            self.event.set()
        elif self.task is not None:
            self.task.cancel()

    def interrupted(self) -> Interrupted:
        from timetracker_import.app.stages.execute import interrupted_error

        return interrupted_error(
            self.signal,
            "undo",
            hint="what was undone is recorded; run the same undo again for the rest",
        )


def _hooks_for(journal: Journal, dry_run: bool) -> UndoHooks:
    if journal.kind != RunKind.SYNC or dry_run:
        return UndoHooks()
    from timetracker_import.app.sync_undo import LedgerUndoHooks

    return LedgerUndoHooks.open(journal)
