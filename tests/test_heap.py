"""Handing freed heap memory back (swapcam.core.heap, issue 12): on glibc, memory freed in the middle of the heap
stays resident until it is trimmed; the live loop trims after a reconnect."""

from __future__ import annotations

import ctypes.util
import os
import platform

import pytest

from swapcam.core.heap import trim_heap


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not ctypes.util.find_library("c"),
                    reason="malloc_trim is glibc's: elsewhere trim_heap does nothing")  # fmt: skip
def test_trim_returns_memory_freed_in_the_middle_of_the_heap():
    blocks = [bytes(2048) for _ in range(60_000)]  # ~120 MB of malloc'd (not pymalloc) objects
    kept = blocks[::10]  # every 10th stays alive: the freed ones sit between them, where free() cannot return them
    del blocks
    before = _rss_mb()
    assert trim_heap()
    after = _rss_mb()
    assert before - after > 50, (before, after)
    assert len(kept) == 6000
