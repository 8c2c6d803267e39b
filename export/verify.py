"""Checks of an exported model against its reference: PyTorch for fp32 parity, fp32 for the int8/fp16 variants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from swapcam.core.engines.base import EngineConfig
from swapcam.core.engines.ort import OrtEngine
from swapcam.core.model_info import ModelInfo


def cpu_engine(model_bytes: bytes, info: ModelInfo) -> OrtEngine:
    """The live loop's own CPU engine on an in-memory model: the checks run what users will run."""
    return OrtEngine(model_bytes, info, EngineConfig())


def run_batches(engine: OrtEngine, x: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Both outputs for (N, 3, R, R) inputs, in batches."""
    outs = [tuple(o.copy() for o in engine.run(x[i : i + batch])) for i in range(0, len(x), batch)]  # reused buffers
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def max_difference(engine: OrtEngine, graph: torch.nn.Module, x: np.ndarray) -> float:
    """max |ORT - PyTorch| over both outputs, on batches of 1 and of several faces (the dynamic axis)."""
    with torch.inference_mode():
        ref_rgb, ref_mask = graph(torch.from_numpy(x))
    diff = 0.0
    for batch in (1, len(x)):
        rgb, mask = run_batches(engine, x, batch)
        diff = max(diff, float(np.abs(rgb - ref_rgb.numpy()).max()), float(np.abs(mask - ref_mask.numpy()).max()))
    return diff


@dataclass(frozen=True)
class VariantCheck:
    faces: int
    ssim_mean: float  # SSIM of the variant's RGB output against fp32's, averaged over faces
    ssim_min: float
    mask_mean_abs: float  # mean |mask difference|, 0..1

    def summary(self) -> str:
        return (f"SSIM vs fp32 on {self.faces} held-out faces: mean {self.ssim_mean:.4f}, min {self.ssim_min:.4f}; "
                f"mask mean abs diff {self.mask_mean_abs:.4f}")  # fmt: skip


def compare_variant(reference: OrtEngine, variant: OrtEngine, x: np.ndarray) -> VariantCheck:
    from swapcam.trainer.losses import ssim_map

    ref_rgb, ref_mask = run_batches(reference, x)
    rgb, mask = run_batches(variant, x)
    ssim = ssim_map(torch.from_numpy(rgb), torch.from_numpy(ref_rgb)).mean(dim=(1, 2, 3)).numpy()
    return VariantCheck(len(x), float(ssim.mean()), float(ssim.min()), float(np.abs(mask - ref_mask).mean()))
