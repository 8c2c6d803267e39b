"""Face landmarks with MediaPipe Face Mesh: 478 refined points per face, an image mode and a tracking video mode.

In video mode MediaPipe tracks each face from the previous frame's landmarks and runs its detector only when a
track is lost (or fewer faces than ``max_faces`` are tracked); on top of that we give every face a stable track
id and smooth its landmarks with a One Euro filter that is reset whenever the track restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Face, Frame
from swapcam.core.one_euro import OneEuroConfig, OneEuroFilter
from swapcam.core.tracking import Box, TrackMatcher

log = logging.getLogger(__name__)

NUM_LANDMARKS = 478
LEFT_EYE_CORNERS = (33, 133)  # the subject's right eye (on the left of a frontal image): outer, inner
RIGHT_EYE_CORNERS = (362, 263)  # the subject's left eye: inner, outer


@dataclass(frozen=True, slots=True)
class LandmarkerConfig:
    max_faces: int = 1
    video: bool = True  # track across frames (detector only on track loss); False: every call is a new image
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smoothing: OneEuroConfig | None = field(default_factory=OneEuroConfig)  # video mode only; None disables


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(2, 2) float32: the centres of the image-left and image-right eyes (mean of each eye's two corners)."""
    return np.stack(
        [landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0), landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0)]
    )


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres in pixels: the face's scale for jitter and filter speeds."""
    left, right = eye_centres(landmarks)
    return float(np.hypot(*(right - left)))


@contextlib.contextmanager
def _mediapipe_stderr_muted() -> Iterator[None]:
    """MediaPipe's C++ side prints warnings straight to file descriptor 2 while it builds its graphs (absl ignores
    GLOG_minloglevel), which would bury our one-line messages. Mute fd 2 for that moment only;
    SWAPCAM_MEDIAPIPE_LOGS=1 keeps them."""
    if os.environ.get("SWAPCAM_MEDIAPIPE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        _libc_fflush()  # C stdio may still hold the graph's lines: let them go to /dev/null, not to the user
        os.dup2(saved, 2)
        os.close(saved)


def _libc_fflush() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - not a glibc-like platform
        pass


# A serialised NormalizedLandmarkList whose landmarks all carry exactly x, y, z is a run of 17-byte records:
# field-1 tag and length (0x0a 0x0f), then tag 0x0d + float x, 0x15 + float y, 0x1d + float z (little-endian).
# Reading that with numpy is ~15x faster than 478 Python attribute loops (0.03 vs 0.42 ms a face).
_RECORD = np.dtype([("head", "u1", 3), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")])
_HEAD = np.array([0x0A, 0x0F, 0x0D], np.uint8)


def _mesh_points(mesh) -> np.ndarray:
    """(N, 3) float32 normalised landmarks of a NormalizedLandmarkList protobuf."""
    data = mesh.SerializeToString()
    if len(data) % _RECORD.itemsize == 0:
        rec = np.frombuffer(data, _RECORD)
        if (rec["head"] == _HEAD).all() and (rec["ty"] == 0x15).all() and (rec["tz"] == 0x1D).all():
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    return np.array([(p.x, p.y, p.z) for p in mesh.landmark], dtype=np.float32)  # any other layout


_DRAWING = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")


def _face_solutions():
    """MediaPipe's face_detection and face_mesh modules, imported without the drawing helpers that its package
    imports eagerly: they load matplotlib.pyplot, 0.7 of the ~0.95 s mediapipe's import costs, on the way to the
    first live frame (issue 11). Stand-ins take their place during the import and are removed after it, so a program
    that later imports the real helpers gets them."""
    import sys
    import types

    stubs = {name: types.ModuleType(name) for name in _DRAWING if name not in sys.modules}
    sys.modules.update(stubs)
    try:
        from mediapipe.python.solutions import face_detection, face_mesh
    except ImportError as exc:  # pragma: no cover - mediapipe is a hard dependency
        raise SwapcamError(f"mediapipe is not importable ({exc}); run `make install`") from exc
    finally:
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
            package, _, attr = name.rpartition(".")
            if getattr(sys.modules.get(package), attr, None) is stub:
                delattr(sys.modules[package], attr)
    return face_detection, face_mesh


class FaceLandmarker:
    """A stage: ``Frame -> tuple[Face, ...]``. Owns its MediaPipe graphs; use as a context manager."""

    def __init__(self, config: LandmarkerConfig = LandmarkerConfig()) -> None:
        face_detection, face_mesh = _face_solutions()
        self.config = config
        with _mediapipe_stderr_muted():
            self._build(config, face_detection, face_mesh)
            # MediaPipe opens its calculators (and logs) on worker threads after start-up; one blank image waits
            # for that inside the muted window. No face in it, so no track state is touched.
            blank = np.zeros((64, 64, 3), np.uint8)
            self._mesh.process(blank)
            self._detector.process(blank)
        self._seen_face = False  # MediaPipe logs once more when it first projects landmarks: mute until then
        self._matcher = TrackMatcher()
        self._filters: dict[int, OneEuroFilter] = {}
        self._scores: dict[int, float] = {}
        self._closed = False

    def _build(self, config: LandmarkerConfig, face_detection, face_mesh) -> None:
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=not config.video,
            max_num_faces=config.max_faces,
            refine_landmarks=True,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )
        # Face Mesh does not report a confidence; the short-range detector (the one inside Face Mesh) gives it,
        # run once per image in image mode and once per new track in video mode.
        self._detector = face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=config.min_detection_confidence
        )

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._mesh.close()
            self._detector.close()

    def reset(self) -> None:
        """Forget all tracks (e.g. after a scene cut or when the source changes)."""
        self._matcher.reset()
        self._filters.clear()
        self._scores.clear()

    def __call__(self, frame: Frame) -> tuple[Face, ...]:
        image = frame.image
        h, w = image.shape[:2]
        if self._seen_face:
            result = self._mesh.process(image)
        else:
            with _mediapipe_stderr_muted():
                result = self._mesh.process(image)
            self._seen_face = bool(result.multi_face_landmarks)
        meshes = result.multi_face_landmarks or []
        raw: list[np.ndarray] = []
        for mesh in meshes:
            pts = _mesh_points(mesh)  # (478, 3) float32, normalised
            # Normalised coordinates put the image's left edge at 0; pixel centres sit at i + 0.5.
            pts[:, 0] = pts[:, 0] * w - 0.5
            pts[:, 1] = pts[:, 1] * h - 0.5
            pts[:, 2] *= w
            raw.append(pts)
        boxes: list[Box] = [
            (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())) for p in raw
        ]
        if not self.config.video:
            scores = self._detect_scores(image, boxes)
            return tuple(
                Face(frame.frame_id, frame.t_capture, i, p[:, :2].copy(), p[:, 2].copy(), boxes[i], scores[i])
                for i, p in enumerate(raw)
            )

        matches = self._matcher.match(boxes)
        fresh = [i for i, (_, new) in enumerate(matches) if new]
        if fresh:
            scores = self._detect_scores(image, [boxes[i] for i in fresh])
            for i, score in zip(fresh, scores):
                tid = matches[i][0]
                self._scores[tid] = score
                if tid in self._filters:
                    self._filters[tid].reset()
        live_ids = set(self._matcher.tracks)
        for tid in [t for t in self._filters if t not in live_ids]:
            del self._filters[tid], self._scores[tid]

        faces = []
        for (tid, _), pts, box in zip(matches, raw, boxes):
            xy = pts[:, :2]
            if self.config.smoothing is not None:
                filt = self._filters.setdefault(tid, OneEuroFilter(self.config.smoothing))
                xy = filt(xy, frame.t_capture, scale=max(interocular(xy), 1.0))
            else:
                xy = xy.copy()
            faces.append(Face(frame.frame_id, frame.t_capture, tid, xy, pts[:, 2].copy(), box, self._scores[tid]))
        return tuple(faces)

    def _detect_scores(self, image: np.ndarray, boxes: list[Box]) -> list[float]:
        """Detector confidence for each landmark box: the best detection whose centre lies inside it, else 0."""
        if not boxes:
            return []
        h, w = image.shape[:2]
        found = self._detector.process(image).detections or []
        centres = []
        for det in found:
            rb = det.location_data.relative_bounding_box
            centres.append(((rb.xmin + rb.width / 2) * w, (rb.ymin + rb.height / 2) * h, float(det.score[0])))
        scores = []
        for x0, y0, x1, y1 in boxes:
            inside = [s for cx, cy, s in centres if x0 <= cx <= x1 and y0 <= cy <= y1]
            scores.append(max(inside, default=0.0))
        return scores
