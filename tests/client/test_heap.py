"""The periodic heap trim of the app and its stream process gives freed C-heap memory back."""

from __future__ import annotations

import os

import pytest

from monitor.heap import _malloc_trim, release_free_heap

CHUNK = 64 * 1024  # under glibc's mmap threshold: these live in the heap itself
CHUNKS = 1600  # about 100 MB


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_freed_heap_memory_goes_back_to_the_os() -> None:
    blocks = [bytearray(CHUNK) for _ in range(CHUNKS)]  # zero-filled: every page resident
    pinned = blocks[-1]  # the newest block stays: free() alone cannot shrink the heap's top
    del blocks
    held = rss_bytes()
    assert release_free_heap()
    released = held - rss_bytes()
    assert released > CHUNKS * CHUNK // 2, f"only {released / 1e6:.1f} MB given back"
    assert len(pinned) == CHUNK


def test_without_malloc_trim_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.heap._malloc_trim", lambda: None)
    assert release_free_heap() is False
