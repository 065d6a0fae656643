"""What a command imports before its work begins, with the cyclic garbage collector paused.

Importing pandas, numpy, pydantic and aiohttp creates ~0.5 million objects, and the
collector's passes over them while they load took ~15% of the import time (~50 ms of a
small import's start-up); nothing they create at import is garbage. Commands stay lazy:
each names the modules it is about to need, and only those load, here, at its start.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading

#: what every ``import`` loads: the mapping models (pandas, pydantic), the HTTP client
#: (aiohttp), the pipeline and its journal
IMPORT_MODULES = (
    "timetracker_import.files.mapping_loader",
    "timetracker_import.app.importer",
    "timetracker_import.journal.store",
    "timetracker_import.app.poster",
)
#: loaded in a second thread meanwhile (see ``preload``)
IMPORT_ALONGSIDE = ("timetracker_import.api.client",)


def preload(modules: tuple[str, ...], *, alongside: tuple[str, ...] = ()) -> None:
    """Import ``modules`` with the collector paused (restored as it was: a caller that had
    switched it off keeps it off); ``alongside`` in a second thread meanwhile (aiohttp:
    reading the system's CA certificates for its default TLS contexts, ~45 ms, lets the
    main thread go on loading pandas). A module the second thread fails to load is loaded
    again here, so any error is raised where it would have been."""
    was_enabled = gc.isenabled()
    gc.disable()
    helper = None
    if alongside:
        helper = threading.Thread(target=_quietly, args=(alongside,), name="preload", daemon=True)
        helper.start()
    try:
        for name in modules:
            importlib.import_module(name)
        if helper is not None:
            helper.join()
        for name in alongside:
            importlib.import_module(name)  # already loaded, unless the helper failed
    finally:
        if was_enabled:
            gc.enable()


def _quietly(modules: tuple[str, ...]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
