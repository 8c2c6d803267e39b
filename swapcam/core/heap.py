"""Handing freed heap memory back to the system (glibc's ``malloc_trim``), for the long-running live loop.

A reopened source (a camera or stream back after an outage) or sink replaces a decoder or encoder and its threads.
glibc keeps what they freed in its arenas, resident, wherever live blocks still sit around it; a trim returns the
whole free pages. In the 30-minute soak (benchmarks/bench_soak.py, issue 12) this handed back about 15 MB at one
outage and nothing visible at others; the step in resident size at the soak's second outage builds up after the
reconnect and remains. Elsewhere (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def trim_heap() -> bool:
    """Returns free memory at the top of every arena, and free whole pages inside them, to the system. True when
    glibc released something; takes a few milliseconds, so call it after rare events (a reconnect), not per frame."""
    fn = _malloc_trim()
    if fn is None:
        return False
    return bool(fn(0))
