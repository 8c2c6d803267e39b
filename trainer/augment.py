"""Batch augmentation in torch: one call per batch, no Python loop over samples.

- ``random_affine``: a small rotation, zoom, shift and optional flip, applied alike to input, target and maps.
- ``random_warp``: a smooth random displacement of the *input only* (the faceswap/DeepFaceLab trick: the model
  learns to produce the undistorted face from a distorted one, which is what makes it generalise to a new face).
- ``color_jitter``: brightness, contrast and saturation, applied alike to input and target.
- ``match_colors``: per-channel masked mean and std of each face matched to another face's (optional colour
  transfer between the two facesets).

Images are (N, C, R, R) float32 in [0, 1]; generators make every batch a pure function of (seed, rank, step).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rand(n: int, gen: torch.Generator, device: torch.device, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=gen, device="cpu").to(device) * (hi - lo) + lo


def random_affine(
    tensors: list[torch.Tensor], gen: torch.Generator, *, rotate_deg: float = 10.0, zoom: float = 0.05,
    shift: float = 0.05, flip: float = 0.5, nearest: tuple[bool, ...] = (),
) -> list[torch.Tensor]:  # fmt: skip
    """The same random similarity transform per sample for every tensor in ``tensors`` (all (N, C, R, R));
    ``nearest[i]`` samples tensor i without interpolation (for label maps)."""
    x = tensors[0]
    n, device = x.shape[0], x.device
    angle = _rand(n, gen, device, -rotate_deg, rotate_deg) * (math.pi / 180)
    scale = _rand(n, gen, device, 1 - zoom, 1 + zoom)
    tx, ty = _rand(n, gen, device, -shift, shift) * 2, _rand(n, gen, device, -shift, shift) * 2
    mirror = torch.where(torch.rand(n, generator=gen).to(device) < flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, tx], 1), torch.stack([sin * mirror, cos, ty], 1)], 1
    )  # (N, 2, 3): output -> input sampling grid, normalised coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    modes = [("nearest" if i < len(nearest) and nearest[i] else "bilinear") for i in range(len(tensors))]
    return [F.grid_sample(t, grid, mode=m, padding_mode="border", align_corners=False) for t, m in zip(tensors, modes)]


def random_warp(x: torch.Tensor, gen: torch.Generator, *, strength: float = 1.0, cells: int = 5) -> torch.Tensor:
    """Displaces ``x`` by a smooth random field: a ``cells`` x ``cells`` grid of offsets (std 2.5% of the image
    times ``strength``), upsampled bicubically. Only the model's input is warped; its target stays straight."""
    n, _, h, w = x.shape
    coarse = torch.randn(n, 2, cells, cells, generator=gen).to(x.device) * (0.05 * strength)
    flow = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    ys = torch.linspace(-1, 1, h, device=x.device)
    xs = torch.linspace(-1, 1, w, device=x.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (h, w, 2) as (x, y)
    return F.grid_sample(x, base + flow, mode="bilinear", padding_mode="border", align_corners=True)


def color_jitter(
    tensors: list[torch.Tensor], gen: torch.Generator, *, strength: float = 1.0
) -> list[torch.Tensor]:
    """The same brightness (+-10%), contrast (+-15%) and saturation (+-20%) change per sample, times ``strength``."""
    x = tensors[0]
    n, device = x.shape[0], x.device
    b = _rand(n, gen, device, -0.1, 0.1).view(n, 1, 1, 1) * strength
    c = 1 + _rand(n, gen, device, -0.15, 0.15).view(n, 1, 1, 1) * strength
    s = 1 + _rand(n, gen, device, -0.2, 0.2).view(n, 1, 1, 1) * strength
    out = []
    for t in tensors:
        grey = t.mean(dim=1, keepdim=True)
        t = grey + (t - grey) * s
        mean = t.mean(dim=(1, 2, 3), keepdim=True)
        out.append(((t - mean) * c + mean + b).clamp(0, 1))
    return out


def match_colors(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor, ref_mask: torch.Tensor) -> torch.Tensor:
    """Each face of ``x`` (N, 3, R, R) takes the masked per-channel mean and std of the face of ``ref`` at the
    same index; masks are (N, 1, R, R) in [0, 1]."""

    def stats(t: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = m / m.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
        mean = (t * w).sum(dim=(2, 3), keepdim=True)
        std = (((t - mean) ** 2) * w).sum(dim=(2, 3), keepdim=True).clamp_min(1e-6).sqrt()
        return mean, std

    mu, sd = stats(x, mask)
    mu_r, sd_r = stats(ref, ref_mask)
    return ((x - mu) * (sd_r / sd) + mu_r).clamp(0, 1)
