"""Facesets in memory for training: uint8 tensors at the training resolution, a held-out split, and batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from swapcam.core.align import AlignSpec
from swapcam.core.errors import SwapcamError
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

    def batch(self, idx: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images float32 [0, 1], masks float32 [0, 1], region codes float32) for the given indices."""
        return (
            self.images[idx].to(device).float().div_(255.0),
            self.masks[idx].to(device).float().div_(255.0),
            self.regions[idx].to(device).float(),
        )


def load_side(path: str, resolution: int, *, holdout: float, seed: int, max_faces: int | None) -> tuple[Side, AlignSpec]:
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
    )
    return side, arrays.spec
