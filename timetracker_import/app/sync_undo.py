"""A sync's ledger during ``runs undo`` of that sync: the undo itself is the one undo of
every run (``app.undo``); this keeps the source's ledger equal to what the undo leaves on
the server, holding the ledger's lock while it does."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timetracker_import.app.undo_hooks import UndoHooks

if TYPE_CHECKING:
    from timetracker_import.journal.actions import ActionRecord
    from timetracker_import.journal.ledger import Ledger
    from timetracker_import.journal.store import Journal


class LedgerUndoHooks(UndoHooks):
    """Follow an undo in the sync's ledger: a deleted creation leaves it, a restored worklog
    gets the content from before, a re-created one its new id - in the source's scopes
    under other key columns too, as a sync's own writes (``Ledger.settle``)."""

    def __init__(
        self, ledger: Ledger, scope: str, run_id: str, stack: contextlib.ExitStack
    ) -> None:
        self.ledger, self.scope, self.run_id = ledger, scope, run_id
        self._stack = stack
        self._by_worklog = {e.worklog_id: e for e in ledger.entries(scope).values()}

    @classmethod
    def open(cls, journal: Journal) -> LedgerUndoHooks:
        from timetracker_import.journal.ledger import Ledger
        from timetracker_import.journal.lock import ledger_lock

        options = journal.options
        path = Path(str(options["ledger"]))
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(ledger_lock(path))
            ledger = stack.enter_context(Ledger(path))
        except BaseException:
            stack.close()
            raise
        return cls(ledger, str(options.get("scope") or ""), journal.run_id, stack)

    def deleted(self, action: ActionRecord) -> None:
        if action.worklog_id:
            self.ledger.remove_worklogs(self.scope, [action.worklog_id])

    def restored(self, action: ActionRecord, answer: Mapping[str, Any]) -> None:
        from timetracker_import.core.worklog import ServerWorklog

        entry = self._by_worklog.get(action.worklog_id or "")
        if entry is None:
            return
        restored = ServerWorklog.from_api(answer)
        content = {
            **entry.content,
            **{k: v for k, v in action.before.items() if k in entry.content},
        }
        self.ledger.settle(
            self.scope,
            entries=[
                replace(
                    entry,
                    content=content,
                    edited_ts=restored.edited_ts,
                    pending=None,
                    state="ok",
                    timestamp=restored.timestamp,
                    user_id=restored.user_id,
                )
            ],
            run_id=self.run_id,
        )

    def recreated(self, action: ActionRecord, created: Mapping[str, Any]) -> None:
        from timetracker_import.core.sync_plan import LedgerEntry
        from timetracker_import.core.worklog import ServerWorklog

        if not action.key:
            return
        w = ServerWorklog.from_api(created)
        known = ServerWorklog.from_api(action.before).content
        self.ledger.settle(
            self.scope,
            entries=[
                LedgerEntry(
                    action.key,
                    w.id,
                    w.user_id,
                    w.timestamp,
                    {k: w.content.get(k) for k in known if known.get(k) is not None},
                    w.edited_ts,
                )
            ],
            run_id=self.run_id,
        )

    def close(self) -> None:
        self._stack.close()
