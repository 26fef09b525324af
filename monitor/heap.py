"""Keeping the C heap from holding what it freed: the app and its stream process both do it.

No Textual, no asyncio: each process calls `map_large_blocks()` as it starts and
`release_free_heap()` on a timer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

HEAP_TRIM_INTERVAL = 30.0  # seconds between giving the C heap's free pages back to the OS
M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # bytes: blocks this large are mapped, and unmapped when freed


@functools.cache
def _glibc(function: str) -> Callable[..., int] | None:
    """A function of glibc's malloc, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), function) if name else None
    except (OSError, AttributeError):
        return None


def map_large_blocks() -> bool:
    """Keep glibc's mmap threshold at MMAP_THRESHOLD; False where that is not possible.

    glibc raises the threshold to the size of each mapped block freed (up to 32 MB), and from
    then on the pipe's batches fragment the heap instead: the stream process's RSS grew by
    0.17 MB a minute in a soak, and stayed flat with the threshold fixed (bench/NOTES.md).
    """
    mallopt = _glibc("mallopt")
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def release_free_heap() -> bool:
    """Return the free pages inside the C heap to the OS; False where that is not possible.

    At thousands of events a second glibc's heap fragments: memory in use stays flat, but free
    chunks it keeps grew RSS by about 2 MB a minute (bench/NOTES.md, "Monitor memory").
    """
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True
