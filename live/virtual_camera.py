"""A still image seen through a moving, re-lit virtual camera: the demo's stand-in for footage of a person.

Every parameter follows its own smooth random curve (a sum of a few sinusoids, seeded): small in-plane rotation,
zoom, shift, mild perspective (homography terms that mimic a little yaw and pitch) and lighting (brightness,
contrast, gamma, colour temperature). Frame ``i`` is a pure function of (image, config, focus, i). The focus box
(the face) is kept fully inside every frame, so a face detector finds it throughout.

This gives a clip pose and lighting variety, never expression variety: the face itself is the one in the still.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from swapcam.core.version import __version__
from swapcam.core.errors import SwapcamError


@dataclass(frozen=True, slots=True)
class CameraConfig:
    width: int = 384  # output frame size in pixels (even: H.264 in yuv420p needs it)
    height: int = 384
    frames: int = 300
    fps: int = 30
    seed: int = 0
    fill: float = 0.55  # the focus box's larger side at zoom 1, as a fraction of the frame's shorter side
    rotation_deg: float = 8.0  # in-plane rotation, +-
    zoom: tuple[float, float] = (0.9, 1.15)  # min, max (1: the focus box fills ``fill``)
    shift: float = 0.04  # +- fraction of the frame size
    perspective: float = 0.08  # +-: the frame's left/right (top/bottom) edge is magnified by up to 1 +- this
    brightness: float = 0.06  # +- offset, in units of full scale
    contrast: float = 0.12  # +-: contrast 1 +- this about mid-grey
    gamma: float = 0.15  # +-: gamma exp(+- this)
    temperature: float = 0.05  # +-: red gain 1 + t, blue gain 1 - t (warm or cool light)
    hz: tuple[float, float] = (0.05, 0.35)  # frequency range of the motion curves (at least one cycle per clip)

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise SwapcamError(f"virtual camera frame size must be even and >= 16 px, not {self.width}x{self.height}")
        if self.frames < 1 or self.fps < 1:
            raise SwapcamError(f"virtual camera needs frames >= 1 and fps >= 1 (got {self.frames}, {self.fps})")
        if not 0 < self.zoom[0] <= self.zoom[1] or not 0 < self.fill <= 1:
            raise SwapcamError(f"virtual camera zoom {self.zoom} / fill {self.fill} out of range")


def _curve(rng: np.random.Generator, n: int, fps: int, hz: tuple[float, float], parts: int = 3) -> np.ndarray:
    """(n,) float64 in [-1, 1], reaching +-1: a sum of ``parts`` sinusoids of random frequency, phase and weight."""
    t = np.arange(n) / fps
    freq = np.maximum(rng.uniform(*hz, parts), fps / max(n, 1))  # a short clip still sweeps the whole range
    phase = rng.uniform(0, 2 * np.pi, parts)
    weight = rng.uniform(0.5, 1.0, parts)
    s = (weight[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])).sum(axis=0)
    return s / max(float(np.abs(s).max()), 1e-9)


def _corners(box: tuple[float, float, float, float]) -> np.ndarray:
    """(4, 1, 2) float64, the box's corners in the layout ``cv2.perspectiveTransform`` takes."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64).reshape(-1, 1, 2)


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)


class VirtualCamera:
    """Renders frame ``i`` of a still seen through the moving camera: ``camera(i)`` -> (H, W, 3) uint8 RGB."""

    def __init__(self, image: np.ndarray, config: CameraConfig = CameraConfig(), *,
                 focus: tuple[float, float, float, float] | None = None) -> None:  # fmt: skip
        """``image``: (h, w, 3) uint8 RGB. ``focus``: (x0, y0, x1, y1) source pixels to keep in every frame and to
        centre on as far as the still allows (the face, with some margin); default the whole image."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SwapcamError(f"the virtual camera needs (H, W, 3) uint8 RGB, not {image.shape} {image.dtype}")
        self.image = np.ascontiguousarray(image)
        self.config = c = config
        h, w = image.shape[:2]
        self.focus = tuple(float(v) for v in (focus or (0, 0, w - 1, h - 1)))
        x0, y0, x1, y1 = self.focus
        scale = c.fill * min(c.width, c.height) / max(x1 - x0, y1 - y0, 1.0)  # source -> frame pixels at zoom 1
        # The point the camera looks at: the focus centre, moved towards the image centre just enough that the
        # widest view (smallest zoom) stays inside the still where it can, so little of the border is made up.
        look = []
        for centre, half_view, size in ((x0 + x1) / 2, c.width / 2, w), ((y0 + y1) / 2, c.height / 2, h):
            half = half_view / (scale * c.zoom[0])
            look.append(float(np.clip(centre, half, size - half)) if size > 2 * half else size / 2)

        rng = np.random.default_rng(c.seed)
        n = c.frames

        def curve() -> np.ndarray:
            return _curve(rng, n, c.fps, c.hz)

        angle = np.deg2rad(c.rotation_deg) * curve()
        lo, hi = np.log(c.zoom[0]), np.log(c.zoom[1])
        zoom = np.exp((lo + hi) / 2 + (hi - lo) / 2 * curve())
        dx, dy = c.shift * c.width * curve(), c.shift * c.height * curve()
        yaw, pitch = c.perspective * curve(), c.perspective * curve()
        brightness, contrast = c.brightness * curve(), 1 + c.contrast * curve()
        gamma, temperature = np.exp(c.gamma * curve()), c.temperature * curve()

        corners = _corners(self.focus)
        self.homographies = np.empty((n, 3, 3), np.float64)  # source pixels -> frame pixels
        self.luts = np.empty((n, 1, 256, 3), np.uint8)  # per-channel tone curves (lighting)
        ramp = np.linspace(0.0, 1.0, 256)
        gains = np.ones(3)
        for i in range(n):
            cos, sin = np.cos(angle[i]) * scale * zoom[i], np.sin(angle[i]) * scale * zoom[i]
            rotate_zoom = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
            # A projective row in frame-centred pixels: x' = x / (1 + 2 yaw x / W + 2 pitch y / H).
            tilt = np.array([[1, 0, 0], [0, 1, 0], [2 * yaw[i] / c.width, 2 * pitch[i] / c.height, 1]])
            m = tilt @ rotate_zoom @ _translate(-look[0], -look[1])
            m = _translate(c.width / 2 + dx[i], c.height / 2 + dy[i]) @ m
            box = cv2.perspectiveTransform(corners, m).reshape(-1, 2)
            # Keep the focus box inside the frame: move the frame (the last translation) back where it left it.
            nudge = [np.clip(0.0, 1 - box[:, k].min(), size - 2 - box[:, k].max()) for k, size in
                     ((0, c.width), (1, c.height))]  # fmt: skip
            self.homographies[i] = _translate(*nudge) @ m
            tone = np.clip((ramp - 0.5) * contrast[i] + 0.5 + brightness[i], 0.0, 1.0) ** gamma[i]
            gains[0], gains[2] = 1 + temperature[i], 1 - temperature[i]
            self.luts[i, 0] = np.clip(np.outer(tone, gains) * 255 + 0.5, 0, 255).astype(np.uint8)

    def __len__(self) -> int:
        return self.config.frames

    def __call__(self, index: int) -> np.ndarray:
        """Frame ``index``: (H, W, 3) uint8 RGB, a new array (callers may keep it)."""
        c = self.config
        frame = cv2.warpPerspective(self.image, self.homographies[index], (c.width, c.height), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
        return cv2.LUT(frame, self.luts[index], dst=frame)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self(i) for i in range(len(self)))

    def focus_corners(self, index: int) -> np.ndarray:
        """(4, 2) float64: the focus box's corners in frame ``index``, frame pixels."""
        return cv2.perspectiveTransform(_corners(self.focus), self.homographies[index]).reshape(-1, 2)

    def describe(self) -> str:
        """The camera's settings and focus as compact JSON: two clips with equal descriptions (and stills) match."""
        return json.dumps({**asdict(self.config), "focus": [round(v, 1) for v in self.focus]}, separators=(",", ":"))


def clip_tags(source: str) -> dict[str, str]:
    """Container metadata of a clip made from a still (``comment`` is what most players show)."""
    return {
        "comment": f"Generated from a still image ({source}) by the swapcam {__version__} demo's virtual camera: "
        "the camera motion and lighting changes are synthetic, the face is the still's.",
        "swapcam_virtual_camera": "true",
        "swapcam_source_still": source,
        "encoder_note": f"swapcam {__version__}",
    }


def write_clip(path: str | Path, camera: VirtualCamera, *, source: str, provenance: bool = True,
               crf: int = 18) -> Path:  # fmt: skip
    """Writes every frame of ``camera`` as an H.264 MP4 (frame i at pts i / fps). The file appears complete or not
    at all. It carries ``clip_tags(source)`` unless ``provenance`` is False, and always the camera's settings
    (tag ``swapcam_camera``) so a later run can tell whether it may reuse the clip."""
    from swapcam.core.video import VideoWriter

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")  # same suffix: it picks the muxer
    c = camera.config
    tags = clip_tags(source) if provenance else {}
    try:
        with VideoWriter(str(tmp), c.width, c.height, Fraction(c.fps), live=False, provenance=False,
                         time_base=Fraction(1, c.fps), crf=crf,
                         metadata={**tags, "swapcam_camera": camera.describe()}) as out:  # fmt: skip
            for i, image in enumerate(camera):
                out.write(image, i)  # frame i at pts i / fps
    except SwapcamError:
        tmp.unlink(missing_ok=True)
        raise
    return tmp.replace(path)
