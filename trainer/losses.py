"""Training losses: structural dissimilarity plus L1 on the masked face, eyes and mouth weighted up, and a loss
on the decoder's mask channel."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# MediaPipe Face Mesh contours: each eye with its brow, and the outer lips.
EYE_REGIONS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246, 70, 63, 105, 66, 107),
    (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398, 300, 293, 334, 296, 336),
)
MOUTH_REGION = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)

# Region codes in a weight map: 0 background, 1 face, 2 eyes, 3 mouth.
BACKGROUND, FACE, EYES, MOUTH = 0, 1, 2, 3


@dataclass(frozen=True)
class LossWeights:
    dssim: float = 1.0
    l1: float = 1.0
    mask: float = 0.5
    eyes: float = 3.0  # the L1 weight of eye and brow pixels relative to the rest of the face
    mouth: float = 2.0
    scales: int = 1  # DSSIM at this many scales (1: full resolution only; 3: also 1/2 and 1/4, averaged)
    grad: float = 0.0  # L1 of the image gradients inside the face: a light edge term against blur (issue 15)


def region_map(landmarks: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(R, R) uint8 region codes for one face: FACE where mask >= 128, EYES and MOUTH from landmark hulls
    (grown by 4% of the crop so the eyelids and lip edges are in)."""
    r = mask.shape[0]
    out = np.where(mask >= 128, FACE, BACKGROUND).astype(np.uint8)
    grow = max(1, round(0.04 * r))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    for code, regions in ((EYES, EYE_REGIONS), (MOUTH, (MOUTH_REGION,))):
        layer = np.zeros_like(out)
        for idx in regions:
            hull = cv2.convexHull(np.round(landmarks[list(idx)]).astype(np.int32))
            cv2.fillConvexPoly(layer, hull, 1)
        out[cv2.dilate(layer, kernel) > 0] = code
    return out


@lru_cache(maxsize=8)
def _gauss_1d(channels: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The 11-tap, sigma 1.5 Gaussian of SSIM as a horizontal and a vertical depthwise kernel."""
    ax = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-(ax**2) / (2 * 1.5**2))
    g = (g / g.sum()).to(device)
    return g.view(1, 1, 1, 11).expand(channels, 1, 1, 11).contiguous(), g.view(1, 1, 11, 1).expand(
        channels, 1, 11, 1
    ).contiguous()


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004, 11 px Gaussian window, sigma 1.5) of (N, C, H, W) images in [0, 1].

    The five local moments are blurred in one separable depthwise pass (22 instead of 121 taps a pixel)."""
    c = x.shape[1]
    moments = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    gx, gy = _gauss_1d(5 * c, str(x.device))
    blurred = F.conv2d(F.pad(moments, (5, 5, 0, 0), mode="reflect"), gx, groups=5 * c)
    blurred = F.conv2d(F.pad(blurred, (0, 0, 5, 5), mode="reflect"), gy, groups=5 * c)
    mu_x, mu_y, xx, yy, xy = blurred.split(c, dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def masked_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,) mean SSIM of each pair over its mask (N, 1, H, W) in [0, 1]."""
    m = ssim_map(x, y).mean(dim=1, keepdim=True)
    return (m * mask).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1.0)


def swap_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, regions: torch.Tensor, w: LossWeights
) -> torch.Tensor:
    """pred: (N, 4, R, R) RGB + mask; target: (N, 3, R, R); mask: (N, 1, R, R) in [0, 1]; regions: (N, 1, R, R)
    float codes (see ``region_map``). Returns the scalar loss."""
    rgb, pred_mask = pred[:, :3], pred[:, 3:]
    # The face is judged inside the mask only (background pixels are the blend's business, not the model's).
    face_pred, face_tgt = rgb * mask, target * mask
    dssim = (1 - ssim_map(face_pred, face_tgt).mean()) / 2
    if w.scales > 1:  # multi-scale: the coarse scales judge the face's larger structures (mouth shape, pose)
        p, t = face_pred, face_tgt
        for _ in range(w.scales - 1):
            p, t = F.avg_pool2d(p, 2), F.avg_pool2d(t, 2)
            dssim = dssim + (1 - ssim_map(p, t).mean()) / 2
        dssim = dssim / w.scales
    weights = 1.0 + (w.eyes - 1.0) * (regions == EYES) + (w.mouth - 1.0) * (regions == MOUTH)
    l1 = ((face_pred - face_tgt).abs() * weights).mean()
    loss = w.dssim * dssim + w.l1 * l1 + w.mask * F.mse_loss(pred_mask, mask)
    if w.grad > 0:
        loss = loss + w.grad * gradient_l1(face_pred, face_tgt, weights)
    return loss


def gradient_l1(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean weighted L1 between the horizontal and vertical finite differences of two (N, C, R, R) images: it
    rewards edges where the target has them, which plain L1/SSIM on a blurry start do weakly."""
    dx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return (dx.abs() * weights[..., :, 1:]).mean() + (dy.abs() * weights[..., 1:, :]).mean()
