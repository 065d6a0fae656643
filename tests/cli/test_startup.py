"""``cli.startup.preload``: the modules load, the collector is as it was, errors surface."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from timetracker_import.cli.startup import IMPORT_ALONGSIDE, IMPORT_MODULES, preload


def test_an_import_s_modules_load_with_the_collector_paused_then_restored() -> None:
    probe = (
        "import gc, sys\n"
        "from timetracker_import.cli.startup import IMPORT_ALONGSIDE, IMPORT_MODULES, preload\n"
        "preload(IMPORT_MODULES, alongside=IMPORT_ALONGSIDE)\n"
        "print(gc.isenabled(), all(m in sys.modules for m in IMPORT_MODULES + IMPORT_ALONGSIDE),"
        " 'aiohttp' in sys.modules, 'pandas' in sys.modules, 'pandera' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.split() == ["True", "True", "True", "True", "False"], done.stderr


def test_a_collector_switched_off_stays_off() -> None:
    gc.disable()
    try:
        preload(("json",), alongside=("csv",))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_module_that_cannot_load_fails_in_the_caller_s_thread() -> None:
    with pytest.raises(ModuleNotFoundError):
        preload((), alongside=("timetracker_import.no_such_module",))
    assert gc.isenabled()
    assert IMPORT_MODULES and IMPORT_ALONGSIDE
