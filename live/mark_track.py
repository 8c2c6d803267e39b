"""Draws the watermark where ``swapcam verify``'s own tracker finds each swapped face, frame by frame (issue 16).

``verify`` sees only the output: it tracks the swapped faces with the landmarker in video mode (One Euro smoothing
included) and reads each face's mark block where their landmarks put it. The embedder places the block by the
*input* face's landmarks. On a large face the two differ by an offset that is a property of the model and the
person, and ``swapcam.live.mark_align`` measures it now and then. On a model's poorer swaps of small faces the
offset wanders (2026-12-06, the `fast` model on the stage clip's 87 px faces: ±1.4 block px and ±3 % in scale,
correlated over a few frames, unexplained by the swapped crop's content or the head's pose), and no sampled
correction follows it: a fit one frame old keeps about three quarters of the mark's z as written, three frames old
half (docs/watermark.md).

``OutputTracker`` is verify's tracker run on the swapped frame before its marks are drawn. The compositor blends
every face and hands over what each mark needs (``MarkCall``); the tracker finds the swapped faces' landmarks in
the finished, unmarked frame, fits each input face's block onto the swapped face's, and the embedder then draws every
mark with its own face's fit of this very frame. It costs one face mesh per frame (about as much as the landmark
stage), in line: ``convert`` (offline, every frame) uses it. Measured on the stage clip (`fast` model, 2-s windows, z
as written): 27, 31, 15 with the fits of the same frame, 10-16, 6-10, 1-8 with sampled ones, 24, 29, 17 for a
stand-in model that changes nothing.

``OutputFollower`` (``live --mark-placement follow``) is the same tracker on a thread of its own, handed a copy of each
finished, unmarked frame it is free for, so that no frame waits for the mesh; each mark is drawn at once with its
face's latest fit, one frame old when the thread keeps up. It needs a core to spare: on 2 cores the mesh (13-18 ms
there) competes with the frame loop, which then runs late and drops frames, so the live loop's default stays the
sampled aligner (``swapcam.live.mark_align``). ``MARK_PLACEMENTS`` lists the three ways.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from swapcam.core import watermark as wm
from swapcam.core.errors import SwapcamError
from swapcam.core.watermark import MarkCall
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Frame
from swapcam.live.job_thread import IdleJobThread
from swapcam.live.mark_align import MarkAlignConfig, block_fit, plausible
from swapcam.live.telemetry import Telemetry

MARK_PLACEMENTS = ("sampled", "follow", "exact")  # where the marks go in video: ``PipelineConfig.mark_placement``


def check_placement(placement: str) -> str:
    """``placement`` when it is one of ``MARK_PLACEMENTS``; else one line (``SwapcamError``)."""
    if placement not in MARK_PLACEMENTS:
        raise SwapcamError(f"mark_placement must be one of {', '.join(MARK_PLACEMENTS)}, not {placement!r}")
    return placement


LIMITS = MarkAlignConfig()  # the aligner's limits on a fit: beyond them the track's last good fit is used instead
MATCH_FACE_WIDTHS = 0.25  # an output face is the input's when their block centres are this close


class OutputTracker:
    """Fits, every frame, each swapped face's mark block to where verify's tracker finds it, and draws the marks.
    Owns one video-mode landmarker with verify's settings, built here, never per frame (``max_faces``: as many as the
    frame loop tracks; a tracked face's landmarks do not depend on it, verify tracks up to 4); ``close`` releases it.
    Not thread-safe: one per frame loop, called on its thread."""

    def __init__(self, max_faces: int = 4) -> None:
        self._landmarker = FaceLandmarker(LandmarkerConfig(video=True, max_faces=max_faces))
        self.corrections: dict[int, np.ndarray] = {}  # by input track: its latest good fit, (2, 3) block -> block
        self.fitted = self.missed = 0  # faces drawn with this frame's fit / with an earlier one (or none)

    def reset(self) -> None:
        """Forgets the fits (another model paints its faces elsewhere); the output's tracks go on."""
        self.corrections = {}

    def draw(self, frame: Frame, calls: list[MarkCall], embedder: wm.WatermarkEmbedder | None) -> None:
        """Finds the swapped faces in ``frame`` (blended, not yet marked), fits each call's face, and draws every
        mark into ``frame.image`` in place. ``calls`` is emptied."""
        faces = self._landmarker(frame)  # every frame, as verify does: its tracks and smoothing need them all
        if not calls or embedder is None:
            return
        fits = match_fits([wm.block_matrix(f.landmarks) for f in faces],
                          [(embedder.frame_to_block(c.matrix, corrected=False), c.track) for c in calls])  # fmt: skip
        self.corrections, found = _merged(self.corrections, fits)
        self.fitted, self.missed = self.fitted + found, self.missed + len(fits) - found
        _draw_marks(frame, calls, embedder, self.corrections)

    def close(self) -> None:
        self._landmarker.close()


class OutputFollower:
    """verify's tracker on a thread of its own, for the live loop: the marks follow the swapped faces a frame or more
    behind, and no frame waits for a face mesh.

    On every swapped frame that finds the thread free (one that finds it busy is skipped and counted: the thread
    measures as often as the machine lets it, every frame on a core of its own), the frame loop hands over a copy of
    the finished, unmarked frame and where each input face's block is; the thread finds the swapped faces with
    verify's tracker (the same landmarker in video mode, on the frames it is given) and fits each input face's
    block onto its swapped face's (``match_fits``). Each mark is drawn at once with its
    track's latest fit, of an earlier frame: where ``OutputTracker`` would draw it, give or take how far the swapped
    face has wandered since. ``background=False`` measures on the calling thread (no copy) and keeps the fits for the
    next frames, as the thread does, so that a run is repeatable. With ``telemetry``, each measurement's time is the
    stage "mark follow" and the frames skipped while it was busy the counter "mark_follow_skipped". Owns one
    landmarker and the thread; ``close`` stops and releases both."""

    def __init__(self, max_faces: int = 4, *, background: bool = True, telemetry: Telemetry | None = None) -> None:
        self._telemetry = telemetry
        self._landmarker = FaceLandmarker(LandmarkerConfig(video=True, max_faces=max_faces))
        self.corrections: dict[int, np.ndarray] = {}  # by input track: its latest good fit; replaced, never changed
        self.fitted = self.missed = self.skipped = 0  # faces fitted / not found or implausible; frames skipped busy
        self._generation = 0  # bumped by reset: a fit of the model before is not kept
        self._lock = threading.Lock()  # the fits, shared with the thread
        self._worker = IdleJobThread(self._work, self._failed, "swapcam-mark-follow") if background else None

    def reset(self) -> None:
        """Forgets the fits (another model paints its faces elsewhere)."""
        with self._lock:
            self._generation += 1
            self.corrections = {}
        if self._worker is not None:
            self._worker.drop()

    def draw(self, frame: Frame, calls: list[MarkCall], embedder: wm.WatermarkEmbedder | None) -> None:
        """Draws every call's mark into ``frame.image`` (blended, not yet marked) with its track's latest fit, and has
        this frame measured for the next ones (when the thread is free). ``calls`` is emptied."""
        if not calls or embedder is None:
            return
        inputs = [(embedder.frame_to_block(c.matrix, corrected=False), c.track) for c in calls]
        generation, fits = self._generation, None

        def job() -> tuple:  # the frame is copied only when the thread takes it
            return Frame(frame.image.copy(), frame.frame_id, frame.t_capture), inputs, generation

        if self._worker is None:
            fits = self._measure(frame, inputs)  # the unmarked frame, kept for the next ones
        elif not self._worker.offer(job):
            self.skipped += 1
            if self._telemetry is not None:
                self._telemetry.count("mark_follow_skipped")
        _draw_marks(frame, calls, embedder, self.corrections)
        if fits is not None:
            self._keep(fits, generation)

    def wait(self, timeout: float = 10.0) -> None:
        """Until the thread has fitted what it was handed (tests)."""
        if self._worker is not None:
            self._worker.wait(timeout)

    def _measure(self, frame: Frame, inputs: list[tuple[np.ndarray, int]]) -> list[tuple[int, np.ndarray | None]]:
        t0 = time.perf_counter()
        faces = self._landmarker(frame)
        fits = match_fits([wm.block_matrix(f.landmarks) for f in faces], inputs)
        if self._telemetry is not None:
            self._telemetry.stage("mark follow", time.perf_counter() - t0)
        return fits

    def _keep(self, fits: list[tuple[int, np.ndarray | None]], generation: int) -> None:
        with self._lock:
            if generation != self._generation:  # the model changed meanwhile
                return
            # replaced, never changed: the frame loop reads it without the lock
            self.corrections, found = _merged(self.corrections, fits)
            self.fitted, self.missed = self.fitted + found, self.missed + len(fits) - found

    def _work(self, frame: Frame, inputs: list[tuple[np.ndarray, int]], generation: int) -> None:
        self._keep(self._measure(frame, inputs), generation)

    def _failed(self, job: tuple) -> None:
        with self._lock:  # as _keep counts
            self.missed += len(job[1])  # a failed mesh costs this fit only

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        self._landmarker.close()


def match_fits(found: list[np.ndarray], inputs: list[tuple[np.ndarray, int]]) -> list[tuple[int, np.ndarray | None]]:
    """For each (input face's (2, 3) frame -> block matrix, track) of ``inputs``: its track and the fit of its block
    onto the swapped face found nearest (``found``: their (2, 3) frame -> block matrices, from verify's tracker), or
    None when no face is found within ``MATCH_FACE_WIDTHS`` or the fit is beyond ``LIMITS``."""
    centres = [_block_centre(m) for m in found]
    out = []
    for m_in, track in inputs:
        fit = None
        if found:
            here = _block_centre(m_in)
            width = wm.MARK_SPEC.face_width / math.sqrt(abs(float(np.linalg.det(m_in[:, :2]))))  # frame px
            i = int(np.argmin([math.dist(here, p) for p in centres]))
            if math.dist(here, centres[i]) <= MATCH_FACE_WIDTHS * width:
                fit = block_fit(m_in, found[i])  # the input's block -> the output's
                if not plausible(fit, LIMITS):
                    fit = None
        out.append((track, fit))
    return out


def _merged(corrections: dict[int, np.ndarray],
            fits: list[tuple[int, np.ndarray | None]]) -> tuple[dict[int, np.ndarray], int]:  # fmt: skip
    """A new dict: ``corrections`` with each track's fit of ``fits`` that was found (the others keep their last),
    bounded whatever the video (past a few more tracks than ``fits`` has, only theirs); and how many were found."""
    merged = {**corrections, **{track: fit for track, fit in fits if fit is not None}}
    if len(merged) > 4 * len(fits) + 8:
        tracks = {track for track, _ in fits}
        merged = {k: v for k, v in merged.items() if k in tracks}
    return merged, sum(fit is not None for _, fit in fits)


def _draw_marks(frame: Frame, calls: list[MarkCall], embedder: wm.WatermarkEmbedder,
                corrections: dict[int, np.ndarray]) -> None:  # fmt: skip
    """Draws every call's mark into ``frame.image`` with its track's correction (none: where the input's landmarks
    put it); ``calls`` is emptied."""
    embedder.corrections, embedder.correction = corrections, None
    for call in calls:
        embedder(frame.image, call.matrix, call.alpha, call.origin, call.track)
    calls.clear()


def _block_centre(m: np.ndarray) -> tuple[float, float]:
    """Frame pixel of the mark block's centre, for a (2, 3) frame -> block matrix."""
    c = (wm.MARK_SPEC.size - 1) / 2.0
    a = m[:, :2]
    x, y = np.linalg.solve(a, np.array([c, c]) - m[:, 2])
    return float(x), float(y)
