"""Giving the C heap's free pages back to the OS: the app and its stream process both do it.

No Textual, no asyncio: `release_free_heap()` is called on a timer by each process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

HEAP_TRIM_INTERVAL = 30.0  # seconds between giving the C heap's free pages back to the OS


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_heap() -> bool:
    """Return the free pages inside the C heap to the OS; False where that is not possible.

    At thousands of events a second glibc's heap fragments: memory in use stays flat, but free
    chunks it keeps grew RSS by about 2 MB a minute (bench/NOTES.md, "Monitor memory").
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
