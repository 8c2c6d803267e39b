"""The output clock of the live loop (issue 12): the sinks receive frames at the source's rate, whatever happens
upstream, because call apps treat an irregular or stalled v4l2 device as a frozen camera.

Time is cut into windows one frame interval wide. Each window gets exactly one output: a processed frame the
moment it arrives, or, when none arrived in the window, a repeat of the previous output stamped with the window's
time (file and stream timestamps follow it). A second frame in the same window waits for the next one (a newer
frame replaces it), so the output never runs faster than the source and never slower:

    processing slower than the source    repeats fill the gaps ("frames_repeated")
    no frame for ``timeout_s``           the last output is held ("frames_held"; "seconds_without_source")
    held for ``marked_after_s`` while    a clearly marked frame: the last output dimmed with "reconnecting..."
    the source is being reopened         (or a still the user supplies); made once per outage

The count cannot fall behind: windows are laid on absolute instants (``slot += interval``, never "now +
interval"), so a wait or a sleep that overshoots is made up by the repeats of the windows it passed, each stamped
with its own instant. Their phase follows when processed frames arrive, a little per frame (``PHASE_GAIN``), so
that a frame goes out as it arrives rather than waiting for a window laid by the first frame's timing. A loaded
machine that holds up this thread or a sink thread for a while is made up too: a sink's slot (``CadenceSlot``)
folds repeats of the frame at its tail into that frame (``Output.repeats``) instead of dropping older frames, and
the sink writes each of them when it gets to it. Only a stall longer than
``CATCH_UP_S`` is given up (counted as "frames_skipped").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from swapcam.core.messages import Frame
from swapcam.live.slot import Closed, LatestSlot
from swapcam.live.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class Output:
    """A frame handed to the sinks: ``t_out`` is the output clock's instant for it (file/stream pts follow it);
    ``fresh`` is False for a repeated or held frame (it adds no latency sample). ``repeats``: the instants of the
    later windows the same frame fills, folded in while the sink was behind (see ``CadenceSlot``)."""

    frame: Frame
    t_out: float
    fresh: bool
    repeats: tuple[float, ...] = ()

    @property
    def instants(self) -> tuple[float, ...]:
        """Every window this output fills, in order: write the frame once for each."""
        return (self.t_out, *self.repeats)


class CadenceSlot(LatestSlot[Output]):
    """The output clock -> one sink hand-off: at most ``capacity`` outputs waiting (the oldest dropped when full,
    counted per window it filled), except that a repeat of the frame at the tail joins it as one more instant
    instead of taking a place, up to ``max_repeats`` (then the oldest instants go, counted). A sink thread or an
    output clock held up for a moment by a loaded machine then costs no windows: the sink writes the frames it
    missed, in order, when it gets the CPU back. Repeats share their frame's image: no memory per window."""

    def __init__(self, capacity: int, max_repeats: int) -> None:
        super().__init__(capacity)
        self._max_repeats = max_repeats

    def put(self, item: Output) -> None:
        with self._cond:
            items = self._items
            if not item.fresh and items and items[-1].frame is item.frame:
                tail = items[-1]
                repeats = (*tail.repeats, item.t_out)
                if len(repeats) > self._max_repeats:
                    repeats = repeats[1:]
                    self.dropped += 1
                items[-1] = replace(tail, repeats=repeats)
            else:
                if len(items) == items.maxlen:
                    self.dropped += len(items[0].instants)  # the oldest goes: deque(maxlen) discards it on append
                items.append(item)
            self._cond.notify()


def marked_frame(image: np.ndarray, text: str = "reconnecting...") -> np.ndarray:
    """(H, W, 3) uint8 RGB: ``image`` dimmed to 35 % with ``text`` in the middle, a new array."""
    import cv2

    out = (image.astype(np.uint16) * 90 >> 8).astype(np.uint8)
    h, w = out.shape[:2]
    scale = max(0.5, w / 900)
    thickness = max(1, round(2 * scale))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    org = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


CATCH_UP_S = 1.0  # a clock thread held up longer than this starts again from now (skipped windows are counted)
# The windows follow when processed frames arrive (a phase-locked loop): each fresh frame moves them PHASE_GAIN of the
# way towards its arrival, by at most PHASE_STEP of an interval (so the windows' spacing stays within 5 % of it).
# Without it the windows kept the phase of the first frame for the whole run; that frame is often late (the model's
# first inferences are slower), and every later frame then arrived before its window and waited for it: 3.6 ms a
# frame for a first frame 20 ms late, 14 ms for 30 ms at 30 fps, and in the live benchmark some runs of the same
# clip sat at p50 36-50 ms against 22 (2026-12-06, benchmarks/bench_live.py --mark-ab).
PHASE_GAIN = 0.1
PHASE_STEP = 0.05


class Pacer:
    """The pacer thread's work (``run``): from the processed-frame slot to every sink's slot, at ``fps``."""

    def __init__(self, fps: float, sinks: list[LatestSlot[Output]], tel: Telemetry, *, timeout_s: float | None = None,
                 marked_after_s: float = 1.0, source_lost: Callable[[], bool] = lambda: False,
                 source_age: Callable[[], float] | None = None,
                 still: np.ndarray | None = None) -> None:  # fmt: skip
        self.interval = 1.0 / max(fps, 1.0)
        self.timeout_s = timeout_s if timeout_s is not None else 3 * self.interval
        self._sinks, self._tel = sinks, tel
        self._marked_after = marked_after_s
        self._source_lost = source_lost
        # seconds since the source last gave a frame (default: since the last processed frame): it tells a lost
        # source (held frames) from processing that is slower than the source (repeated frames)
        self._source_age = source_age
        self._still = still  # (H, W, 3) uint8 RGB shown instead of the dimmed frame, sized like the frames
        self.held = 0  # repeats while the source gave nothing for longer than timeout_s
        self.repeated = 0  # repeats because processing was slower than the source
        self.seconds_without_source = 0.0
        self.dropped = 0  # processed frames replaced by a newer one before their slot came
        self.skipped = 0  # windows given up after this thread was held up for longer than CATCH_UP_S
        self.emitted = 0  # frames handed to the sinks (fresh, repeated and held)
        self.phase_shift = 0.0  # s: how far the windows have moved in all towards when frames arrive (PHASE_GAIN)
        self.max_phase_shift = 0.0  # s: the largest |phase_shift| so far
        self._marked: Frame | None = None  # this outage's marked frame

    def _emit(self, frame: Frame, t_out: float, fresh: bool) -> None:
        out = Output(frame, t_out, fresh)
        self.emitted += 1
        for slot in self._sinks:
            slot.put(out)

    def run(self, frames: LatestSlot[Frame]) -> None:
        """Time is cut into windows one interval wide, centred on the clock's slots; each window gets exactly one
        output: the processed frame that arrived in it (sent the moment it arrives), else, at the window's end,
        a repeat of the previous output stamped with the slot's time."""
        clock, half = time.perf_counter, self.interval / 2
        last: Frame | None = None  # the last processed frame sent
        last_fresh = 0.0
        slot = 0.0  # the centre of the current window
        try:
            while True:
                timeout = 0.5 if last is None else max(0.0, slot + half - clock())
                try:
                    frame = frames.get(timeout=timeout)
                except Closed:
                    break
                now = clock()
                if last is not None:
                    if now - slot > CATCH_UP_S:  # far behind (a machine that stalled us): start again from now
                        skipped = int((now - half - slot) / self.interval)
                        self.skipped += skipped
                        slot += skipped * self.interval
                    while now >= slot + half:  # windows that passed without a frame: repeats, on the clock
                        age = self._source_age() if self._source_age is not None else now - last_fresh
                        self._repeat(last, slot, age)
                        slot += self.interval
                if frame is None:
                    continue
                if last is None:
                    slot = now
                else:  # the windows move a little towards when frames arrive (see PHASE_GAIN)
                    step = PHASE_STEP * self.interval
                    nudge = min(max(PHASE_GAIN * (now - slot), -step), step)
                    slot += nudge
                    self.phase_shift += nudge
                    self.max_phase_shift = max(self.max_phase_shift, abs(self.phase_shift))
                if now < slot - half:  # this window had its frame: wait for the next (a newer may replace it)
                    time.sleep(slot - half - now)
                    try:
                        newer = frames.get(timeout=0)
                    except Closed:  # the end: this frame is the last
                        newer = None
                    if newer is not None:
                        frame = newer
                        self.dropped += 1
                    now = min(clock(), slot + half)  # a sleep that overshot: still this window's frame
                self._emit(frame, now, True)
                last, last_fresh, self._marked = frame, now, None
                slot += self.interval
        finally:
            for out in self._sinks:
                out.close()
            self._tel.count("frames_held", self.held)
            self._tel.count("frames_repeated", self.repeated)
            self._tel.count("frames_skipped", self.skipped)

    def _repeat(self, last: Frame, t_out: float, source_age: float) -> None:
        if source_age <= self.timeout_s:  # the source delivers; processing is slower than it
            self.repeated += 1
            self._emit(last, t_out, False)
            return
        self.held += 1  # the source gave nothing for longer than its timeout
        self.seconds_without_source += self.interval
        if source_age >= self._marked_after and self._source_lost():
            if self._marked is None:  # made once per outage
                image = self._still if self._still is not None else marked_frame(last.image)
                self._marked = Frame(image, last.frame_id, last.t_capture)
            self._emit(self._marked, t_out, False)
        else:
            self._emit(last, t_out, False)
