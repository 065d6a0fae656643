"""Byte-exact golden-file comparison for the files/ tests."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def assert_golden(name: str, data: bytes) -> None:
    """Compare ``data`` with tests/golden/<name>; ``UPDATE_GOLDEN=1`` rewrites the file."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
    assert path.exists(), f"{path} missing; run with UPDATE_GOLDEN=1 to create it"
    assert data == path.read_bytes(), f"{name} differs; inspect, then UPDATE_GOLDEN=1 if intended"
