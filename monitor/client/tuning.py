"""Everything the monitor changes for its whole process, in one place, with one switch off.

- The collector: what start-up built is frozen out of full passes (`gc.freeze`) and young passes
  run less often, so that thousands of short-lived items a second do not stall the event loop
  (https://docs.python.org/3/library/gc.html#gc.freeze).
- glibc's malloc: its mmap threshold stays fixed (glibc raises it after every large free, and then
  the heap fragments; https://man7.org/linux/man-pages/man3/mallopt.3.html, M_MMAP_THRESHOLD),
  and free pages inside the heap go back to the OS on a timer (malloc_trim).

`SSE_MONITOR_TUNING=off` in the environment turns all of it off, for the app and its stream
process. No Textual, no asyncio: each process calls these as it starts and on its own timer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
from collections.abc import Callable

SWITCH_VARIABLE = "SSE_MONITOR_TUNING"  # "off": leave the collector and malloc as they are
HEAP_TRIM_INTERVAL = 30.0  # seconds between giving the C heap's free pages back to the OS
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)
M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # bytes: blocks this large are mapped, and unmapped when freed


def enabled() -> bool:
    """False when the user switched the tuning off."""
    return os.environ.get(SWITCH_VARIABLE, "").strip().lower() not in ("off", "0", "no")


@functools.cache
def _glibc(function: str) -> Callable[..., int] | None:
    """A function of glibc's malloc, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), function) if name else None
    except (OSError, AttributeError):
        return None


def calm_garbage_collector() -> bool:
    """Freeze what exists now out of full passes and make young passes rarer; False when off."""
    if not enabled():
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return True


def map_large_blocks() -> bool:
    """Keep glibc's mmap threshold at MMAP_THRESHOLD; False when off or not possible."""
    mallopt = _glibc("mallopt") if enabled() else None
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def release_free_heap() -> bool:
    """Return the free pages inside the C heap to the OS; False when off or not possible."""
    trim = _glibc("malloc_trim") if enabled() else None
    if trim is None:
        return False
    trim(0)
    return True
