"""timetracker-import: move worklogs in and out of 7pace Timetracker (REST CRUD API v3).

The Python API (``docs/library.md``)::

    from timetracker_import import Connection, validate, import_file, export_worklogs

Its names are imported on first use, so ``import timetracker_import`` (and the command
line's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = [
    "Connection",
    "__version__",
    "export_worklogs",
    "import_file",
    "list_runs",
    "runs_frame",
    "sync_file",
    "undo_run",
    "validate",
]
_LIBRARY = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from timetracker_import.library import (
        Connection,
        export_worklogs,
        import_file,
        list_runs,
        runs_frame,
        sync_file,
        undo_run,
        validate,
    )


def __getattr__(name: str) -> Any:
    if name in _LIBRARY:
        from timetracker_import import library

        return getattr(library, name)
    raise AttributeError(f"module 'timetracker_import' has no attribute {name!r}")
