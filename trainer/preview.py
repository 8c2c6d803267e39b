"""Preview grids: rows A, A->A, A->B, B, B->B over fixed held-out faces, so progress is comparable over time."""

from __future__ import annotations

import cv2
import numpy as np
import torch

ROWS = ("A", "A->A", "A->B", "B", "B->B")


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 3, R, R) float [0, 1] -> (N, R, R, 3) uint8."""
    return (x.detach().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def preview_grid(rows: list[np.ndarray], *, label: str = "") -> np.ndarray:
    """rows: five (K, R, R, 3) uint8 arrays in ROWS order -> one (5 R + header, K R + margin, 3) uint8 image."""
    k, r = rows[0].shape[:2]
    margin = 56
    header = 18 if label else 0
    grid = np.full((header + len(rows) * r, margin + k * r, 3), 24, np.uint8)
    for i, (name, faces) in enumerate(zip(ROWS, rows)):
        y = header + i * r
        grid[y : y + r, margin:] = np.concatenate(list(faces), axis=1)
        cv2.putText(grid, name, (4, y + r // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    if label:
        cv2.putText(grid, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    return grid
