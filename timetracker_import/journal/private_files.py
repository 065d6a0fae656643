"""Files only the user may read: run directories 0700, journal and output files 0600."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700, whatever the umask."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` if needed and make it 0600 (before anything is written to it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically to ``path`` with mode 0600 (temp file, then rename)."""
    return write_private_stream(path, lambda handle: handle.write(text))


def write_private_stream(path: Path, write: Callable[[TextIO], object]) -> Path:
    """``write_private_text`` for text written piece by piece: ``write(handle)`` writes into
    the temp file (a million-row ``created.csv`` never exists as one string)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
