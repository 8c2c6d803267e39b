"""Per-frame measurements of an (input, output) pair of frames, gathered into the report's statistics."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from swapcam.evaluate.geometry import Pose, camera_matrix, mouth_opening, outside_face, rotation_between, solve_pose
from swapcam.evaluate.identity import SAME_PERSON, Gallery
from swapcam.evaluate.report import (BackgroundStats, DetailStats, ExpressionStats, IdentityStats, JitterStats,
                                     PoseStats)  # fmt: skip
from swapcam.core.align import AlignSpec, align_face
from swapcam.core.landmarks import interocular
from swapcam.core.mask import crop_mask
from swapcam.core.messages import Face

CHANGED_LEVELS = 8  # a background pixel "changed" when a channel moved by more than this
SSIM_SPEC = AlignSpec(size=128)  # face crops for SSIM: the input face's alignment, applied to both frames


def face_ssim(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    """SSIM of two (S, S) uint8 grey crops over the (S, S) uint8 mask: the trainer's held-out SSIM, so the two
    figures mean the same thing."""
    from swapcam.trainer.losses import masked_ssim

    as_tensor = lambda im: torch.from_numpy(im).float().div_(255.0)[None, None]  # noqa: E731  (1, 1, S, S)
    return float(masked_ssim(as_tensor(x), as_tensor(y), as_tensor(mask))[0])


def laplacian_variance(grey: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian (3x3) of an (S, S) uint8 grey crop over mask >= 128: how much fine detail."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    _, std = cv2.meanStdDev(lap, mask=(mask >= 128).astype(np.uint8))
    return float(std[0, 0] ** 2)


def face_detail(before: np.ndarray, after: np.ndarray, face: Face, spec: AlignSpec) -> tuple[float, float]:
    """(input, output) Laplacian variance of the face in two (H, W, 3) uint8 RGB frames, both aligned with the
    input face's landmarks onto ``spec`` (the model's crop: the face spans there what it spans for the model)."""
    crop_in, crop_out = align_face(before, face, spec), align_face(after, face, spec)
    mask = crop_mask(crop_in.landmarks, spec.size)
    grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)  # noqa: E731
    return laplacian_variance(grey(crop_in.image), mask), laplacian_variance(grey(crop_out.image), mask)


class FrameMeasurements:
    """Feed with ``add`` once per frame, in order; read the statistics at the end.

    ``detail_spec``: the crop the detail measure resamples both faces onto (the model's alignment; 128 px default).
    """

    def __init__(self, detail_spec: AlignSpec = SSIM_SPEC) -> None:
        self._detail_spec = detail_spec
        self._detail: list[tuple[float, float]] = []  # (input, output) Laplacian variance per frame
        self._camera: np.ndarray | None = None
        self._poses: list[tuple[Pose, Pose]] = []
        self._mouth: list[tuple[float, float]] = []
        self._bg_sum = 0.0
        self._bg_changed = 0
        self._bg_pixels = 0
        self._bg_worst = 0.0
        # Landmarks of consecutive frames (None where a face is missing), scaled by the input's interocular.
        self._track: list[tuple[np.ndarray, np.ndarray, float] | None] = []
        self._ids: list[tuple[np.ndarray, np.ndarray]] = []
        self._ssim: list[float] = []

    def add(self, before: np.ndarray, after: np.ndarray, face_in: Face | None, face_out: Face | None) -> None:
        """before/after: (H, W, 3) uint8 RGB frames; faces: the largest face found in each (or None)."""
        if self._camera is None:
            self._camera = camera_matrix(before.shape[1], before.shape[0])
        self._background(before, after, face_in)
        if face_in is not None:
            crop_in, crop_out = align_face(before, face_in, SSIM_SPEC), align_face(after, face_in, SSIM_SPEC)
            grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)  # noqa: E731
            mask = crop_mask(crop_in.landmarks, SSIM_SPEC.size)
            self._ssim.append(face_ssim(grey(crop_in.image), grey(crop_out.image), mask))
            self._detail.append(face_detail(before, after, face_in, self._detail_spec))
        if face_in is None or face_out is None:
            self._track.append(None)
            return
        self._poses.append((solve_pose(face_in.landmarks, self._camera), solve_pose(face_out.landmarks, self._camera)))
        self._mouth.append((mouth_opening(face_in.landmarks), mouth_opening(face_out.landmarks)))
        self._track.append((face_in.landmarks, face_out.landmarks, max(interocular(face_in.landmarks), 1.0)))

    def add_identity(self, embedding_in: np.ndarray, embedding_out: np.ndarray) -> None:
        self._ids.append((embedding_in, embedding_out))

    def _background(self, before: np.ndarray, after: np.ndarray, face_in: Face | None) -> None:
        diff = np.abs(before.astype(np.int16) - after.astype(np.int16))  # (H, W, 3)
        if face_in is not None:
            diff = diff[outside_face(face_in.landmarks, before.shape[:2])]  # (N, 3)
        n = diff.size
        if n == 0:
            return
        total = float(diff.sum())
        self._bg_sum += total
        self._bg_pixels += n
        self._bg_changed += int((diff > CHANGED_LEVELS).sum())
        self._bg_worst = max(self._bg_worst, total / n)

    # -- statistics ---------------------------------------------------------------------------------------------

    def background(self) -> BackgroundStats:
        n = max(self._bg_pixels, 1)
        return BackgroundStats(self._bg_sum / n, self._bg_worst, self._bg_changed / n)

    def mean_face_ssim(self) -> float | None:
        """Mean SSIM of the output's face against the input's, over the face oval: structure and light kept."""
        return float(np.mean(self._ssim)) if self._ssim else None

    def detail(self) -> DetailStats | None:
        """Median over frames of output / input Laplacian variance inside the face (frames with a flat input face,
        variance < 1, are left out of the ratio)."""
        if not self._detail:
            return None
        d = np.array(self._detail)  # (N, 2): input, output
        usable = d[:, 0] >= 1.0
        ratio = float(np.median(d[usable, 1] / d[usable, 0])) if usable.any() else float("nan")
        return DetailStats(len(d), ratio, float(np.median(d[:, 0])), float(np.median(d[:, 1])), self._detail_spec.size)

    def pose(self) -> PoseStats | None:
        if not self._poses:
            return None
        d = np.array([b.angles() - a.angles() for a, b in self._poses])  # (N, 3) degrees
        rot = [rotation_between(a, b) for a, b in self._poses]
        ax = np.abs(d).mean(axis=0)
        return PoseStats(len(d), float(np.linalg.norm(d, axis=1).mean()), *map(float, ax), float(np.mean(rot)))

    def expression(self) -> ExpressionStats | None:
        if len(self._mouth) < 3:
            return None
        m = np.array(self._mouth)  # (N, 2): input, output
        moved = m[:, 0].std() > 1e-6 and m[:, 1].std() > 1e-6
        r = float(np.corrcoef(m[:, 0], m[:, 1])[0, 1]) if moved else (1.0 if np.allclose(m[:, 0], m[:, 1]) else np.nan)
        p5, p95 = np.percentile(m[:, 0], [5, 95])
        return ExpressionStats(r, float(np.abs(m[:, 1] - m[:, 0]).mean()), float(p95 - p5))

    def jitter(self) -> JitterStats | None:
        motion, acc_in, acc_out = [], [], []
        t = self._track
        for i in range(1, len(t)):
            if t[i] is None or t[i - 1] is None:
                continue
            (in0, out0, _), (in1, out1, iod) = t[i - 1], t[i]
            motion.append(np.linalg.norm((out1 - out0) - (in1 - in0), axis=1).mean() / iod)
            if i >= 2 and t[i - 2] is not None:
                inm, outm, _ = t[i - 2]
                acc_in.append(np.linalg.norm(in1 - 2 * in0 + inm, axis=1).mean() / iod)
                acc_out.append(np.linalg.norm(out1 - 2 * out0 + outm, axis=1).mean() / iod)
        if not motion:
            return None
        mean = lambda v: 100.0 * float(np.mean(v)) if v else float("nan")  # noqa: E731
        return JitterStats(len(motion), mean(motion), mean(acc_in), mean(acc_out))

    def identity(self, a: Gallery, b: Gallery, others: Sequence[Gallery] = ()) -> IdentityStats | None:
        if not self._ids:
            return None
        e_in = np.stack([i for i, _ in self._ids])  # (N, 128)
        e_out = np.stack([o for _, o in self._ids])
        dist = lambda e, g: np.linalg.norm(e - g.centroid, axis=1)  # noqa: E731
        out_a, out_b, in_a, in_b = dist(e_out, a), dist(e_out, b), dist(e_in, a), dist(e_in, b)
        return IdentityStats(
            faces=len(e_in), retrieval=float((out_b < out_a).mean()), retrieval_input=float((in_b < in_a).mean()),
            dist_out_b=float(out_b.mean()), dist_out_a=float(out_a.mean()), dist_in_a=float(in_a.mean()),
            dist_in_b=float(in_b.mean()), out_within_threshold_b=float((out_b < SAME_PERSON).mean()),
            identities=2 + len(others), retrieval_top1=self._top1(e_out, b, [a, b, *others]),
        )  # fmt: skip

    @staticmethod
    def _top1(embeddings: np.ndarray, target: Gallery, galleries: list[Gallery]) -> float:
        """Share of ``embeddings`` whose nearest gallery centroid is ``target``'s."""
        centroids = np.stack([g.centroid for g in galleries])  # (G, 128)
        nearest = np.linalg.norm(embeddings[:, None] - centroids[None], axis=2).argmin(axis=1)
        return float((nearest == galleries.index(target)).mean())
