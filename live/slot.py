"""The hand-off between threads of the live loop: bounded, the newest item wins, drops are counted.

A producer never waits: ``put`` on a full slot drops the oldest item nobody took yet (a stale frame) and counts it.
A consumer waits for the next item or for ``close``. Capacity one (the default) is the capture -> processing
hand-off: only the newest frame matters. The output clock -> sink hand-offs hold a few frames instead, because
there every frame is a slot of the output's cadence: a sink thread that wakes up late on a loaded machine writes
the frames it missed instead of losing them (and a sink that is really too slow still drops, bounded).
Errors do not travel through slots: each thread is a ``swapcam.core.workers.Worker`` whose exception its owner
re-raises (the one scheme, shared with ``convert``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The slot was closed and is empty: the producer is done."""


class LatestSlot(Generic[T]):
    def __init__(self, capacity: int = 1) -> None:
        self._cond = threading.Condition()
        self._items: deque[T] = deque(maxlen=capacity)
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1  # the oldest goes: deque(maxlen) discards it on append
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest waiting item (with capacity one: the newest); None after ``timeout`` seconds with nothing
        new; Closed when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if self._items:
                return self._items.popleft()
            raise Closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
