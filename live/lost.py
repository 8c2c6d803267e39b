"""What the output shows where the swapped face was lost while swapping is on (issue 12): the raw face must not
appear, because someone using swapcam for privacy would be shown exactly what they wanted hidden.

    passthrough   the frame as captured (the old behaviour)
    hold          the last swapped output frame, whole, until the face is tracked again
    blur          (default) the last swapped face pasted where it was for up to ``HOLD_S``, then the last known face
                  region, grown by half its size, blurred beyond recognition, until the face is tracked again
    still:IMAGE   the user's still (scaled to the frame) until the face is tracked again

Frames where no face was ever seen pass through. A frame where the landmarker finds the face again is swapped as
usual, so with any policy but passthrough the unswapped face of a tracked person is never shown.
"""

from __future__ import annotations

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Face, Frame

POLICIES = ("passthrough", "hold", "blur")  # and "still:IMAGE"
HOLD_S = 0.3  # blur: how long the last swapped face stands in before the region is blurred


def check_policy(value: str) -> None:
    """Raises one line for anything but a policy name or ``still:`` followed by an image path."""
    if value in POLICIES or (value.startswith("still:") and len(value) > len("still:")):
        return
    raise SwapcamError(f"on_lost must be one of {', '.join(POLICIES)} or still:IMAGE, not {value!r}")


class LostPolicy:
    """Applies the policy to frames in place; call it on every frame after the swap (``__call__``)."""

    def __init__(self) -> None:
        self._region: tuple[slice, slice] | None = None  # the last swapped faces' box grown by half its size
        self._patch: np.ndarray | None = None  # (h, w, 3) uint8: that region of the last swapped output
        self._frame: np.ndarray | None = None  # (H, W, 3) uint8: the last swapped output frame (hold)
        self._t_swapped = 0.0
        self._stills: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self.applied = 0  # frames the policy changed

    def load_still(self, policy: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The ``still:IMAGE`` picture as (H, W, 3) uint8 RGB of ``shape`` (loaded once); None for other policies.
        A missing or unreadable image raises one line (checked when the run starts)."""
        if not policy.startswith("still:"):
            return None
        key = (policy, tuple(shape[:2]))
        if key not in self._stills:
            import cv2

            from swapcam.core.media_io import load_image

            image = load_image(policy[len("still:") :])
            self._stills[key] = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return self._stills[key]

    @staticmethod
    def _grown(faces: tuple[Face, ...], shape: tuple[int, ...]) -> tuple[slice, slice]:
        x0 = min(f.box[0] for f in faces)
        y0 = min(f.box[1] for f in faces)
        x1 = max(f.box[2] for f in faces)
        y1 = max(f.box[3] for f in faces)
        dx, dy = (x1 - x0) / 4, (y1 - y0) / 4  # grown by half its size: a quarter on each side
        h, w = shape[:2]
        return (slice(max(0, int(y0 - dy)), min(h, int(np.ceil(y1 + dy)))),
                slice(max(0, int(x0 - dx)), min(w, int(np.ceil(x1 + dx)))))  # fmt: skip

    def __call__(self, frame: Frame, *, policy: str, swapped: int, faces: tuple[Face, ...], enabled: bool) -> bool:
        """``frame.image`` after the swap; ``swapped`` faces were swapped out of ``faces`` found. Returns True when
        the policy changed the frame."""
        image = frame.image
        if not enabled:  # the user turned the swap off: they see themselves, by choice
            return False
        if swapped > 0:
            self._region = self._grown(faces, image.shape)
            self._patch = image[self._region].copy()
            self._frame = image
            self._t_swapped = frame.t_capture
            return False
        if self._region is None or policy == "passthrough":  # no face seen yet: nothing to hide
            return False
        if policy == "hold":
            if self._frame.shape == image.shape:
                image[:] = self._frame
        elif policy == "blur":
            region = self._region
            if frame.t_capture - self._t_swapped <= HOLD_S and self._patch.shape == image[region].shape:
                image[region] = self._patch
            else:
                image[region] = _blurred(image[region])
        else:
            image[:] = self.load_still(policy, image.shape)
        self.applied += 1
        return True


def _blurred(roi: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> the same size, averaged down to about 6 px across and scaled back up: no features left."""
    import cv2

    h, w = roi.shape[:2]
    if h < 2 or w < 2:
        return roi
    small = cv2.resize(roi, (max(1, w // 32), max(1, h // 32)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
