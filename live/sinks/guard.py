"""Sink isolation (issue 12): a sink that fails is reported once and never stops the others.

``GuardedSink`` wraps one sink on its own thread. A write that raises closes that sink (a file is finalised, so
what was written stays playable: live MP4/MOV files are fragmented) and is reported once, as a warning on stderr
and in the stats. A network sink is then reopened with backoff (0.5 s, 1 s, 2 s, then every 4 s) while the
frames meant for it are counted as lost; any other sink stays closed for the rest of the run ("failed for good").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from swapcam.core.errors import SwapcamError
from swapcam.core.heap import trim_heap

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1.0, 2.0, 4.0)


class GuardedSink:
    def __init__(self, sink, reopen: Callable[[], object] | None = None) -> None:
        self.sink = sink
        self.name = sink.name
        self._reopen = reopen  # None: not reopened after a failure
        self._frames_before = 0  # frames the earlier, failed incarnations wrote
        self.errors: list[str] = []  # one line per failure
        self.reconnects = 0
        self.reconnect_s: list[float] = []  # per outage: seconds from the failure to the first frame written again
        self._failed_at = 0.0
        self.lost = 0  # frames that arrived while the sink was down
        self._attempt = 0
        self._retry_at = 0.0
        self._probation = False  # reopened, no frame written yet

    @property
    def frames(self) -> int:
        return self._frames_before + (self.sink.frames if self.sink is not None else 0)

    @property
    def failed_for_good(self) -> bool:
        """Down at the end of the run (a file that hit a full disk, a stream whose receiver never came back)."""
        return self.sink is None

    def write(self, frame, t_out: float | None = None) -> bool:
        """Writes or drops ``frame``; True when it was written."""
        if self.sink is None and not self._try_reopen():
            self.lost += 1
            return False
        try:
            self.sink.write(frame, t_out)
        except Exception as exc:  # any sink, any failure: isolated here, reported once
            if self._probation:  # reopened but never written: streams connect on their first packet
                self._retry_later(self.sink, exc)
            else:
                self._fail(exc)
            self.lost += 1
            return False
        if self._probation:
            self._probation = False
            self.reconnects += 1
            self.reconnect_s.append(round(time.perf_counter() - self._failed_at, 3))
            log.warning("sink %s reconnected after %.1f s", self.name, self.reconnect_s[-1])
        return True

    def _retry_later(self, sink, exc: BaseException) -> None:
        """A reopened sink whose first write failed: another attempt later, quietly (the failure was reported)."""
        self.sink, self._probation = None, False
        self._frames_before += sink.frames
        self._close(sink)
        self._retry_at = time.perf_counter() + BACKOFF_S[min(self._attempt, len(BACKOFF_S) - 1)]
        log.debug("reopening %s (attempt %d): %s", self.name, self._attempt, exc)

    def _fail(self, exc: BaseException) -> None:
        line = str(exc) if isinstance(exc, SwapcamError) else f"{type(exc).__name__}: {exc}"
        then = "reconnecting" if self._reopen is not None else "closed; the other sinks go on"
        log.warning("sink %s failed (%s); %s", self.name, line, then)
        self.errors.append(line)
        sink, self.sink = self.sink, None
        self._frames_before += sink.frames
        self._close(sink)
        self._attempt = 0
        self._failed_at = time.perf_counter()
        self._retry_at = self._failed_at + BACKOFF_S[0]

    def _try_reopen(self) -> bool:
        if self._reopen is None or time.perf_counter() < self._retry_at:
            return False
        self._attempt += 1
        try:
            self.sink = self._reopen()
        except SwapcamError as exc:
            self._retry_at = time.perf_counter() + BACKOFF_S[min(self._attempt, len(BACKOFF_S) - 1)]
            log.debug("reopening %s (attempt %d): %s", self.name, self._attempt, exc)
            return False
        self._probation = True  # counted as reconnected once a frame went through
        trim_heap()  # hand the failed writer's freed buffers back (swapcam.core.heap)
        return True

    @staticmethod
    def _close(sink) -> None:
        try:
            sink.close()
        except Exception as exc:  # it failed already; closing is best effort and was reported
            log.debug("closing %s after its failure: %s", sink.name, exc)

    def release_on_thread(self) -> None:
        release = getattr(self.sink, "release_on_thread", None)  # GUI sinks clean up on their own thread
        if release is not None:
            release()

    def close(self) -> None:
        """Closes the current sink; a failure to finalise it counts as its failure (reported once)."""
        if self.sink is None:
            return
        sink, self.sink = self.sink, None
        try:
            sink.close()
        except Exception as exc:
            self._frames_before += sink.frames
            line = str(exc) if isinstance(exc, SwapcamError) else f"{type(exc).__name__}: {exc}"
            log.warning("sink %s failed (%s)", self.name, line)
            self.errors.append(line)
            return
        self._frames_before += sink.frames
        self.sink = _Closed(sink.name)  # closed cleanly: not a failure

    def stats(self) -> dict:
        return {"frames": self.frames, "errors": list(self.errors), "reconnects": self.reconnects,
                "reconnect_s": list(self.reconnect_s), "frames_lost": self.lost,
                "failed": self.failed_for_good}  # fmt: skip


class _Closed:
    """Stands in for a sink that was closed cleanly at the end of the run."""

    frames = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, frame, t_out=None) -> None:
        raise SwapcamError(f"{self.name} is closed")

    def close(self) -> None:
        pass
