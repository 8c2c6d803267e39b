"""The capture side of the live loop: reads the source on its own thread and, when a camera or network source fails
or stalls, reopens it with backoff instead of ending the run (issue 12).

    frames     each frame goes into a one-place slot (the newest wins; the runner counts what it had no time for)
    loss       ``read`` returned nothing, raised, or (network) waited longer than ``SourceConfig.stall_s``: the old
               source is closed and reopened, 0.25 s, 0.5 s, 1 s, then every 2 s, up to ``SourceConfig.reconnect``
               attempts per outage (-1: forever). Meanwhile the runner keeps the sinks fed with held frames.
    resume     a frame from the reopened source bumps ``generation``: the runner starts a fresh face track. A source
               that comes back at another size is scaled to the size the sinks were opened with.
    end        a file at its end (without --loop), or a source whose attempts ran out, closes the slot: the run ends.

A file that breaks off (truncated, a damaged packet the demuxer cannot get past) ends like a file at its end, with
one warning: the frames before the break were processed and the sinks are finalised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from swapcam.core.errors import SwapcamError
from swapcam.core.heap import trim_heap
from swapcam.core.messages import Frame
from swapcam.live.slot import LatestSlot
from swapcam.live.telemetry import Telemetry

log = logging.getLogger(__name__)

BACKOFF_S = (0.25, 0.5, 1.0, 2.0)  # waits between reopen attempts; the last repeats


class Capture:
    """The capture thread's work (``run``); ``source`` is already open (a bad source fails before the run starts)."""

    def __init__(self, source, reopen: Callable[[], object], slot: LatestSlot[Frame], tel: Telemetry,
                 stop: threading.Event, *, attempts: int = -1) -> None:  # fmt: skip
        self.source = source
        self._reopen = reopen
        self._slot, self._tel, self._stop = slot, tel, stop
        self._attempts = attempts
        self._size = (source.width, source.height)
        self._next_id = 0
        self.generation = 0  # bumped by each successful reopen: the runner starts a fresh track
        self.lost = False  # True while the source is being reopened
        self.reconnect_s: list[float] = []  # how long each outage lasted, loss to the first frame back
        self.last_frame_at = time.perf_counter()  # when the source last gave a frame (the output clock reads it)

    def run(self) -> None:
        lost_at: float | None = None
        while not self._stop.is_set():
            error: SwapcamError | None = None
            try:
                frame = self.source.read()
            except SwapcamError as exc:
                frame, error = None, exc
            if self._stop.is_set():  # a frame read after the stop is neither processed nor dropped
                return
            if frame is not None:
                if lost_at is not None:
                    self.reconnect_s.append(round(time.perf_counter() - lost_at, 3))
                    lost_at, self.lost = None, False
                    self.generation += 1
                self._deliver(frame)
                continue
            if self._attempts == 0 or not getattr(self.source, "reconnectable", False):  # a file's end, or off
                if error is not None:
                    log.warning("source %s broke off after %d frames: %s", self.source.name, self._next_id, error)
                    self._tel.count("source_errors")
                return
            lost_at = time.perf_counter()
            self.lost = True
            self._tel.count("source_losses")
            log.warning("source %s lost (%s); reconnecting", self.source.name, error or "no frame")
            if not self._reconnect():
                if not self._stop.is_set():
                    log.warning("source %s: gave up after %d attempts", self.source.name, self._attempts)
                return

    def _deliver(self, frame: Frame) -> None:
        self.last_frame_at = time.perf_counter()
        image = frame.image
        if (image.shape[1], image.shape[0]) != self._size:  # a camera that came back at another size
            import cv2

            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        # frame ids run on across reopens: they number what this run captured
        frame = Frame(image, self._next_id, frame.t_capture)
        self._next_id += 1
        self._tel.count("frames_in")
        self._slot.put(frame)

    def _reconnect(self) -> bool:
        """Closes the failed source and reopens it with backoff; False when the attempts ran out (or stop)."""
        try:
            self.source.close()
        except Exception as exc:  # a source that failed may fail to close too; it is replaced either way
            log.debug("closing the lost source: %s", exc)
        attempt = 0
        while not self._stop.is_set():
            if 0 <= self._attempts <= attempt:
                return False
            self._stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
            if self._stop.is_set():
                return False
            try:
                self.source = self._reopen()
            except SwapcamError as exc:
                log.debug("reopening the source (attempt %d): %s", attempt, exc)
                continue
            self._tel.count("reconnects")
            trim_heap()  # hand the closed source's freed buffers back (swapcam.core.heap)
            log.warning("source %s reopened (attempt %d)", self.source.name, attempt)
            return True
        return False

    def close(self) -> None:
        self.source.close()
