"""Facesets in memory for training: uint8 tensors at the training resolution, a held-out split, and batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from swapcam.core.align import AlignSpec
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
from swapcam.trainer.faceset import load_faceset
from swapcam.trainer.losses import region_map


@dataclass
class Side:
    """One person's faces. Images stay uint8 until a batch is drawn (a 1,000-face set at 128 px is 50 MB)."""

    name: str
    images: torch.Tensor  # (N, 3, R, R) uint8 RGB
    masks: torch.Tensor  # (N, 1, R, R) uint8
    regions: torch.Tensor  # (N, 1, R, R) uint8 region codes (swapcam.trainer.losses)
    train_idx: torch.Tensor  # (T,) int64 indices used for training
    holdout_idx: torch.Tensor  # (H,) int64 indices never trained on (SSIM, previews)
    weights: torch.Tensor | None = None  # (T,) float64 sampling weights over train_idx (None: uniform)

    def pick(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n,) int64 face indices for one batch, drawn with replacement."""
        if self.weights is None:
            return self.train_idx[torch.randint(len(self.train_idx), (n,), generator=gen)]
        return self.train_idx[torch.multinomial(self.weights, n, replacement=True, generator=gen)]

    def batch(self, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images float32 [0, 1], masks float32 [0, 1], region codes float32) for the given indices."""
        return (
            self.images[idx].to(device).float().div_(255.0),
            self.masks[idx].to(device).float().div_(255.0),
            self.regions[idx].to(device).float(),
        )


def pose_expression(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face of (N, 478, 2) landmarks: a yaw proxy (nose tip's sideways offset from the eyes' midpoint, in
    interocular distances; about 0 frontal, +-0.5 at 30 degrees) and the mouth opening (inner-lip gap in
    interocular distances, as ``swapcam eval`` measures it). Both (N,) float32."""
    left = landmarks[:, list(LEFT_EYE_CORNERS)].mean(axis=1)
    right = landmarks[:, list(RIGHT_EYE_CORNERS)].mean(axis=1)
    iod = np.maximum(np.linalg.norm(right - left, axis=1), 1.0)
    yaw = (landmarks[:, 1, 0] - (left[:, 0] + right[:, 0]) / 2) / iod
    mouth = np.linalg.norm(landmarks[:, 14] - landmarks[:, 13], axis=1) / iod
    return yaw.astype(np.float32), mouth.astype(np.float32)


def balanced_weights(landmarks: np.ndarray, strength: float, bins: int = 5) -> np.ndarray:
    """(N,) sampling weights that flatten the faces' joint histogram over yaw and mouth opening: a face in a
    crowded bin (the closed-mouth frontal majority of most footage) is drawn less, a rare wide-open mouth or turn
    more. ``strength`` 0 is uniform, 1 makes every occupied bin equally likely."""
    yaw, mouth = pose_expression(landmarks)
    cells = np.zeros(len(yaw), np.int64)
    for v in (yaw, mouth):
        lo, hi = np.percentile(v, [2, 98])
        cells = cells * bins + np.clip(((v - lo) / max(hi - lo, 1e-6) * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(cells)[cells].astype(np.float64)
    w = counts ** -strength
    return w / w.sum()


def load_side(path: str, resolution: int, *, holdout: float, seed: int, max_faces: int | None,
              balance: float = 0.0) -> tuple[Side, AlignSpec]:  # fmt: skip
    arrays = load_faceset(path, resolution, max_faces=max_faces)
    n = len(arrays)
    if n < 2:
        raise SwapcamError(f"faceset {path} has {n} face: training needs at least 2 (more than 300 is better)")
    regions = np.stack([region_map(lm, m) for lm, m in zip(arrays.landmarks, arrays.masks)])
    # A fixed, spread-out held-out split (every k-th face) so neighbouring video frames do not leak into it.
    n_hold = min(max(1, round(holdout * n)), n - 1)
    hold = np.linspace(0, n - 1, n_hold).round().astype(np.int64)
    hold = np.unique(np.roll(hold, seed % max(n_hold, 1)))
    train = np.setdiff1d(np.arange(n), hold)
    side = Side(
        name=str(path),
        images=torch.from_numpy(arrays.images).permute(0, 3, 1, 2).contiguous(),
        masks=torch.from_numpy(arrays.masks)[:, None].contiguous(),
        regions=torch.from_numpy(regions)[:, None].contiguous(),
        train_idx=torch.from_numpy(train),
        holdout_idx=torch.from_numpy(hold),
        weights=torch.from_numpy(balanced_weights(arrays.landmarks[train], balance)) if balance > 0 else None,
    )
    return side, arrays.spec
