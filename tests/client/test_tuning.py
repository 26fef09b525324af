"""Process-wide tuning: the C heap kept small (large blocks stay mapped, the periodic trim gives
freed memory back), the collector calmed, and one switch that turns all of it off."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.client.tuning import (
    GC_YOUNG_THRESHOLD,
    SWITCH_VARIABLE,
    _glibc,
    calm_garbage_collector,
    map_large_blocks,
    release_free_heap,
)

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024  # under glibc's mmap threshold: these live in the heap itself
CHUNKS = 1600  # about 100 MB


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(_glibc("malloc_trim") is None, reason="the C library has no malloc_trim")
def test_freed_heap_memory_goes_back_to_the_os() -> None:
    blocks = [bytearray(CHUNK) for _ in range(CHUNKS)]  # zero-filled: every page resident
    pinned = blocks[-1]  # the newest block stays: free() alone cannot shrink the heap's top
    del blocks
    held = rss_bytes()
    assert release_free_heap()
    released = held - rss_bytes()
    assert released > CHUNKS * CHUNK // 2, f"only {released / 1e6:.1f} MB given back"
    assert len(pinned) == CHUNK


def test_without_glibc_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.client.tuning._glibc", lambda name: None)
    assert release_free_heap() is False
    assert map_large_blocks() is False


# Frees a mapped block of 1 MiB (glibc then raises its threshold to that), then allocates 512 KiB
# and says whether that block was mapped too. `{call}` runs first, as each process does.
LARGE_BLOCK = """
import ctypes
from monitor.client.tuning import map_large_blocks
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
{call}
freed = bytearray(2**20)
del freed
mapped = mallinfo2().hblkhd
block = bytearray(2**19)
print(mallinfo2().hblkhd - mapped >= 2**19)
"""


def mapped_after_a_large_free(call: str) -> bool:
    done = subprocess.run([sys.executable, "-c", LARGE_BLOCK.format(call=call)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip() == "True"


@pytest.mark.skipif(_glibc("mallinfo2") is None, reason="not glibc 2.33 or newer")
def test_large_blocks_stay_mapped_after_a_larger_one_is_freed() -> None:
    assert not mapped_after_a_large_free("")  # glibc's own rule: the heap takes it
    assert mapped_after_a_large_free("assert map_large_blocks()")


def test_one_switch_turns_all_of_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    threshold = gc.get_threshold()
    monkeypatch.setenv(SWITCH_VARIABLE, "off")
    assert calm_garbage_collector() is False
    assert gc.get_threshold() == threshold
    assert map_large_blocks() is False
    assert release_free_heap() is False
    assert not mapped_after_a_large_free("assert not map_large_blocks()")  # glibc's own rule


def test_the_collector_is_calmed_when_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SWITCH_VARIABLE, raising=False)
    before = gc.get_threshold()
    try:
        assert calm_garbage_collector() is True
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
