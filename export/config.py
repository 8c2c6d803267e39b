"""Export settings: one dataclass, defaults that work (``swapcam export RUN_DIR -o MODEL.onnx``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportConfig:
    run: str  # a run folder (its newest checkpoint) or one checkpoint file
    out: str  # the fp32 model; variants go beside it as NAME.int8.onnx / NAME.fp16.onnx
    direction: str = "a2b"  # a2b: the camera shows --from, the output is --to (as trained); b2a the reverse
    faces: str | None = None  # faceset of real faces for the parity check (default: the training faceset)
    int8: bool = False
    calibration: str | None = None  # faceset for int8 calibration and its held-out check (default: as `faces`)
    fp16: bool = False
    tensorrt: str | None = None  # also build a native TensorRT plan here (needs an NVIDIA GPU)
    opset: int = 17
    parity_tolerance: float = 1e-4  # max |ORT - PyTorch| over both outputs, fp32
    int8_min_ssim: float = 0.98  # mean SSIM of int8 vs fp32 on held-out faces
    fp16_min_ssim: float = 0.99
    calibration_faces: int = 128
    check_faces: int = 32
