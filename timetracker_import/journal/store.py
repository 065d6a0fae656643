"""The run journal: one SQLite file per import run, so that a run can be resumed and undone.

Write-ahead rules the import relies on:

- the intent to send a batch (``mark_sending``) is committed before the request leaves, so a
  crash leaves the batch ``sending`` and a resume reconciles it by reading back;
- created ids (``mark_created``) are committed before they are reported anywhere.

Each run lives in ``runs_root()/RUN_ID/`` (directories 0700, files 0600). The token is never
stored: the target URL is kept without user info or query, and option keys that look like
secrets are dropped.

``Journal`` is one class made of one mixin per concern, all on the connection of
``journal.db`` (which holds the one schema): ``journal.runs`` (create/open/info/finish,
summary; ``list_runs``, ``find_resumable``), ``journal.rows`` (row outcomes, rejections,
counts, ``created.csv``), ``journal.batches`` (plan, send intents, batch outcomes),
``journal.actions`` (every write: create, update, delete, with the values before it) and
``journal.undo_log`` (created worklogs, undo steps). The names importers use stay importable
from here.
"""

from __future__ import annotations

from timetracker_import.errors import JournalError
from timetracker_import.journal.actions import ActionsMixin
from timetracker_import.journal.batches import BatchesMixin
from timetracker_import.journal.db import (
    BATCH_STATES,
    JOURNAL_NAME,
    ROW_OUTCOMES,
    RUN_STATUSES,
)
from timetracker_import.journal.private_files import ensure_private_file, write_private_text
from timetracker_import.journal.rows import CREATED_CSV, RowsMixin
from timetracker_import.journal.runs import (
    STATE_DIR_ENV,
    SUMMARY_JSON,
    RunInfo,
    RunsMixin,
    find_resumable,
    fingerprint,
    list_runs,
    new_run_id,
    runs_root,
    safe_base_url,
    safe_options,
)
from timetracker_import.journal.undo_log import CreatedRecord, UndoLogMixin

__all__ = [
    "BATCH_STATES",
    "CREATED_CSV",
    "JOURNAL_NAME",
    "ROW_OUTCOMES",
    "RUN_STATUSES",
    "STATE_DIR_ENV",
    "SUMMARY_JSON",
    "CreatedRecord",
    "Journal",
    "JournalError",
    "RunInfo",
    "ensure_private_file",
    "find_resumable",
    "fingerprint",
    "list_runs",
    "new_run_id",
    "runs_root",
    "safe_base_url",
    "safe_options",
    "write_private_text",
]


class Journal(RunsMixin, RowsMixin, BatchesMixin, ActionsMixin, UndoLogMixin):
    """The journal of one run. Use ``Journal.create`` or ``Journal.open``; close when done
    (also a context manager)."""
