"""Draws the watermark where ``swapcam verify``'s own tracker finds each swapped face, frame by frame (issue 16).

``verify`` sees only the output: it tracks the swapped faces with the landmarker in video mode (One Euro smoothing
included) and reads each face's mark block where their landmarks put it. The embedder places the block by the
*input* face's landmarks. On a large face the two differ by an offset that is a property of the model and the
person, and ``swapcam.live.mark_align`` measures it now and then. On a model's poorer swaps of small faces the
offset wanders (2026-12-06, the `fast` model on the stage clip's 87 px faces: ±1.4 block px and ±3 % in scale,
correlated over a few frames, unexplained by the swapped crop's content or the head's pose), and no sampled
correction follows it: a correction one frame old keeps 80 % of the mark's z as written, three frames old 50 %.

``OutputTracker`` is verify's tracker run on the swapped frame before its marks are drawn. The compositor blends
every face and hands over what each mark needs (``MarkCall``); the tracker finds the swapped faces' landmarks in
the finished, unmarked frame, fits each input face's block onto the swapped face's, and the embedder then draws every
mark with its own face's fit of this very frame. It costs one face mesh per frame (about as much as the landmark
stage), so ``convert`` (offline, every frame) uses it, and the live loop keeps the sampled aligner. Measured on the
stage clip (`fast` model, 2-s windows, z as written): 27, 31, 15 with the fits of the same frame, 10-16, 6-10, 1-8
with sampled ones, 24, 29, 17 for a stand-in model that changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from swapcam.core import watermark as wm
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Frame
from swapcam.live.mark_align import MarkAlignConfig, block_fit, plausible

LIMITS = MarkAlignConfig()  # the aligner's limits on a fit: beyond them the track's last good fit is used instead
MATCH_FACE_WIDTHS = 0.25  # an output face is the input's when their block centres are this close


@dataclass(frozen=True, slots=True)
class MarkCall:
    """What the embedder needs to draw one face's mark once the frame is finished (``WatermarkEmbedder.__call__``)."""

    matrix: np.ndarray  # (2, 3) frame -> crop of the pasted face
    alpha: np.ndarray  # (h, w) float32 blend weights of the pasted rectangle (a copy)
    origin: tuple[int, int]  # that rectangle's top-left frame pixel
    track: int  # the input face's track


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
        found = [wm.block_matrix(f.landmarks) for f in faces]
        centres = [_block_centre(m) for m in found]
        for call in calls:
            m_in = embedder.frame_to_block(call.matrix, corrected=False)
            fit = None
            if found:
                here = _block_centre(m_in)
                width = wm.MARK_SPEC.face_width / math.sqrt(abs(float(np.linalg.det(m_in[:, :2]))))  # frame px
                i = int(np.argmin([math.dist(here, p) for p in centres]))
                if math.dist(here, centres[i]) <= MATCH_FACE_WIDTHS * width:
                    fit = block_fit(m_in, found[i])  # the input's block -> the output's
                    if not plausible(fit, LIMITS):
                        fit = None
            if fit is not None:
                self.corrections[call.track] = fit
                self.fitted += 1
            else:
                self.missed += 1
        if len(self.corrections) > 4 * len(calls) + 8:  # bounded whatever the video: keep this frame's tracks
            self.corrections = {k: v for k, v in self.corrections.items() if any(k == t.track for t in calls)}
        embedder.corrections, embedder.correction = self.corrections, None
        for call in calls:
            embedder(frame.image, call.matrix, call.alpha, call.origin, call.track)
        calls.clear()

    def close(self) -> None:
        self._landmarker.close()


def _block_centre(m: np.ndarray) -> tuple[float, float]:
    """Frame pixel of the mark block's centre, for a (2, 3) frame -> block matrix."""
    c = (wm.MARK_SPEC.size - 1) / 2.0
    a = m[:, :2]
    x, y = np.linalg.solve(a, np.array([c, c]) - m[:, 2])
    return float(x), float(y)
