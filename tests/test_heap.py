"""Handing freed heap memory back (swapcam.core.heap, issue 12): on glibc, memory freed in the middle of the heap
stays resident until it is trimmed; the live loop trims after a reconnect."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from benchmarks.bench_soak import _proc  # the soak's own reading of /proc/self: RSS, threads, descriptors
from swapcam.core.heap import trim_heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not ctypes.util.find_library("c"),
                    reason="malloc_trim is glibc's: elsewhere trim_heap does nothing")  # fmt: skip
def test_trim_returns_memory_freed_in_the_middle_of_the_heap():
    blocks = [bytes(2048) for _ in range(60_000)]  # ~120 MB of malloc'd (not pymalloc) objects
    kept = blocks[::10]  # every 10th stays alive: the freed ones sit between them, where free() cannot return them
    del blocks
    before = _proc()["rss_mb"]
    assert trim_heap()
    after = _proc()["rss_mb"]
    assert before - after > 50, (before, after)
    assert len(kept) == 6000
