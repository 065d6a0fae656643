"""The C allocator's settings for the commands that hold a whole file (``import``).

glibc's malloc serves a block of 128 KiB or more with its own ``mmap`` (and gives it back on
``free``), but it raises that threshold each time such a block is freed, up to 32 MiB; from
then on the arrays of a large run (a chunk's columns, a million-row frame's) come out of the
heap, whose freed middle pages are rarely returned. A million-row import then held ~600 MB
at its peak of which ~170 MB was freed memory still mapped. Fixing the threshold keeps
large arrays on ``mmap``, so the process holds what is alive. Elsewhere (another C library,
another OS) nothing is changed.
"""

from __future__ import annotations

import contextlib
import sys

#: glibc's ``M_MMAP_THRESHOLD`` (``malloc.h``)
_M_MMAP_THRESHOLD = -3
#: blocks of this size or more are mapped on their own (glibc's initial threshold, 128 KiB,
#: doubled: smaller arrays are too short-lived to be worth a system call each)
MMAP_THRESHOLD = 256 * 1024


def keep_large_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold (see the module's text); True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None:
            return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return False
