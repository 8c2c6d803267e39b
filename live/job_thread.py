"""A background thread that takes a job only when it is idle (the watermark's fits, issue 16).

The frame loop hands a costly measurement (a face mesh) to ``IdleJobThread`` and goes on; while the thread is busy, or
a job still waits, the next one is refused, so nothing queues up behind a slow machine and the caller counts the
skip. The job is built only once it is taken (``offer``'s ``make``), so a refused frame costs no copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class IdleJobThread:
    """One daemon thread running ``work(*job)`` for one job at a time. An exception in ``work`` costs that job only:
    ``on_error(job)`` is called and the thread goes on. ``close`` stops it (a job running finishes first)."""

    def __init__(self, work: Callable[..., Any], on_error: Callable[[tuple], None], name: str) -> None:
        self._work, self._on_error = work, on_error
        self._cond = threading.Condition()
        self._job: tuple | None = None
        self._busy = self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, make: Callable[[], tuple]) -> bool:
        """Takes the job ``make()`` builds, unless one is waiting or running (then ``make`` is not called): whether
        it was taken."""
        with self._cond:
            if self._busy or self._job is not None or self._closed:
                return False
            self._job = make()
            self._cond.notify_all()
            return True

    def drop(self) -> None:
        """Forgets a job not yet started."""
        with self._cond:
            self._job = None

    def wait(self, timeout: float = 10.0) -> None:
        """Until no job waits or runs (tests)."""
        with self._cond:
            self._cond.wait_for(lambda: self._job is None and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                job, self._job, self._busy = self._job, None, True
            try:
                self._work(*job)
            except Exception:  # a failed measurement costs this job only, never the frame loop
                self._on_error(job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)
