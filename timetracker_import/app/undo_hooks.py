"""The hooks through which what a run kind keeps besides the journal follows an undo
(``app.undo``). Apart from the undo, which picks the hooks of a run's kind, so that the
sync's ledger hooks (``app.sync_undo``) extend them without importing the undo back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timetracker_import.journal.actions import ActionRecord


class UndoHooks:
    """What a run kind keeps besides the journal and must follow an undo (a sync's
    ledger). Each is called after the server confirmed the step."""

    def deleted(self, action: ActionRecord) -> None:
        """A worklog the run created is gone (deleted now, or already)."""

    def restored(self, action: ActionRecord, answer: Mapping[str, Any]) -> None:
        """An updated worklog holds its values from before the run again."""

    def recreated(self, action: ActionRecord, created: Mapping[str, Any]) -> None:
        """A worklog the run deleted exists again (with a new id)."""

    def close(self) -> None:
        """The undo is over."""
