"""``cli.allocator``: large blocks stay on mmap for a large import (glibc only)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from timetracker_import.cli.allocator import keep_large_blocks_mapped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_threshold_is_set_on_linux_in_a_fresh_interpreter() -> None:
    probe = (
        "from timetracker_import.cli.allocator import keep_large_blocks_mapped\n"
        "print(keep_large_blocks_mapped())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "True", done.stderr


def test_elsewhere_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_large_blocks_mapped() is False
