"""What a command imports before its work begins, with the cyclic garbage collector paused.

Importing pandas, numpy, pydantic and aiohttp creates ~0.5 million objects, and the
collector's passes over them while they load took ~15% of the import time (~50 ms of a
small import's start-up); nothing they create at import is garbage. Commands stay lazy:
each names the modules it is about to need, and only those load, here, at its start.
"""

from __future__ import annotations

import gc
import importlib

#: what every ``import`` loads: the mapping models (pandas, pydantic), the HTTP client
#: (aiohttp), the pipeline and its journal
IMPORT_MODULES = (
    "timetracker_import.files.mapping_loader",
    "timetracker_import.app.importer",
    "timetracker_import.api.client",
    "timetracker_import.journal.store",
    "timetracker_import.app.poster",
)


def preload(modules: tuple[str, ...]) -> None:
    """Import ``modules`` with the collector paused (restored as it was: a caller that had
    switched it off keeps it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        if was_enabled:
            gc.enable()
