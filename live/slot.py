"""The hand-off between threads of the live loop: capacity one, the newest item wins, drops are counted.

A producer never waits: ``put`` replaces an item nobody took yet (a stale frame) and counts it as dropped. A
consumer waits for the next item or for ``close``. A worker's exception is stored with ``fail`` and re-raised in
the thread that calls ``get`` (and by ``raise_if_failed``), so no thread dies silently.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The slot was closed and is empty: the producer is done."""


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._error: BaseException | None = None
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The newest item; None after ``timeout`` seconds with nothing new; Closed when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed or self._error, timeout):
                return None
            self.raise_if_failed()
            if self._full:
                item, self._item, self._full = self._item, None, False
                return item
            raise Closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
