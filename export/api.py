"""``export_model(ExportConfig)``: checkpoint -> checked ONNX model file (+ int8, fp16, TensorRT plan).

Nothing is written unless it passed its check: the fp32 graph must match PyTorch within ``parity_tolerance`` on
real aligned faces, the int8 variant must keep SSIM >= ``int8_min_ssim`` against fp32 on held-out faces.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from swapcam.export.config import ExportConfig
from swapcam.export.faces import check_faces, to_input
from swapcam.export.onnx_graph import graph_from_checkpoint, to_onnx
from swapcam.export.variants import convert_fp16, quantize_int8
from swapcam.export.verify import VariantCheck, compare_variant, cpu_engine, max_difference
from swapcam.core.atomic import write_atomic
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import ModelInfo
from swapcam.trainer.checkpoint import load_checkpoint
from swapcam.trainer.coverage import run_coverage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    info: ModelInfo
    parity_max_diff: float  # max |ORT - PyTorch|, fp32, both outputs
    parity_faces: str  # what the check ran on
    int8_path: Path | None = None
    int8_check: VariantCheck | None = None
    fp16_path: Path | None = None
    fp16_check: VariantCheck | str | None = None  # a check, or why it could not run here
    plan_path: Path | None = None


def variant_path(out: str | Path, precision: str) -> Path:
    """MODEL.onnx -> MODEL.int8.onnx / MODEL.fp16.onnx."""
    out = Path(out)
    return out.with_name(f"{out.stem}.{precision}{out.suffix or '.onnx'}")


def _training_faceset(state: dict, run: Path, direction: str) -> str | None:
    """The faceset of the face the camera sees, found as given at training time or beside the run folder."""
    cfg = state.get("config") or {}
    path = cfg.get("faceset_a" if direction == "a2b" else "faceset_b")
    if not path:
        return None
    run_dir = run if run.is_dir() else run.parent.parent  # RUN/checkpoints/step-N.pt
    for candidate in (Path(path), run_dir.parent / path):
        if candidate.is_dir():
            return str(candidate)
    return path


def split_heldout(faces: np.ndarray, calib: int, check: int) -> tuple[np.ndarray, np.ndarray]:
    """Every fifth face is held out for checking (at most ``check``); the others calibrate (at most ``calib``)."""
    idx = np.arange(len(faces))
    held = idx[idx % 5 == 4][:check] if len(faces) >= 5 else idx[len(faces) // 2 :]
    rest = np.setdiff1d(idx, held)[:calib]
    return faces[rest], faces[held]


def export_model(config: ExportConfig) -> ExportResult:
    run = Path(config.run)
    out = Path(config.out)
    if out.suffix != ".onnx":
        raise SwapcamError(f"the model file should end in .onnx: {out}")
    if not out.parent.is_dir():
        raise SwapcamError(f"output folder does not exist: {out.parent}")
    state = load_checkpoint(run)
    graph, info = graph_from_checkpoint(state, config.direction)
    info = replace(info, coverage=json.dumps(run_coverage(run) or {}))  # the run's coverage report (issue 15)
    model = to_onnx(graph, info, config.opset)
    data = model.SerializeToString()

    source = config.faces or _training_faceset(state, run, config.direction)
    faces, described = check_faces(source, info.align, config.check_faces)
    x = to_input(faces)
    fp32 = cpu_engine(data, info)
    diff = max_difference(fp32, graph, x)
    log.info("parity on %d faces from %s: max |ORT - PyTorch| = %.2e", len(x), described, diff)
    if not diff <= config.parity_tolerance:
        raise SwapcamError(f"parity check failed: ONNX Runtime differs from PyTorch by {diff:.2e} "
                           f"(> {config.parity_tolerance:.0e}); nothing written")  # fmt: skip
    write_atomic(out, data)
    result = ExportResult(out, info, diff, f"{len(x)} faces from {described}")

    if config.int8:
        src = config.calibration or source
        calib_faces, _ = check_faces(src, info.align, config.calibration_faces + config.check_faces)
        calib, held = split_heldout(to_input(calib_faces), config.calibration_faces, config.check_faces)
        int8 = quantize_int8(model, info, calib)
        check = compare_variant(fp32, cpu_engine(int8.SerializeToString(), info), held)
        log.info("int8: %s", check.summary())
        if not check.ssim_mean >= config.int8_min_ssim:
            raise SwapcamError(f"int8 check failed: {check.summary()} (needs mean >= {config.int8_min_ssim}); "
                               f"the fp32 model {out} was written, the int8 one was not")  # fmt: skip
        path = write_atomic(variant_path(out, "int8"), int8.SerializeToString())
        result = replace(result, int8_path=path, int8_check=check)

    if config.fp16:
        fp16 = convert_fp16(model, info)
        fp16_data = fp16.SerializeToString()
        try:
            fcheck: VariantCheck | str = compare_variant(fp32, cpu_engine(fp16_data, info), x)
        except Exception as exc:  # ORT's CPU provider lacks fp16 kernels for some ops; the GPU engines have them
            fcheck = f"not checked on this CPU ({str(exc).splitlines()[0][:120]})"
        if isinstance(fcheck, VariantCheck) and not fcheck.ssim_mean >= config.fp16_min_ssim:
            raise SwapcamError(f"fp16 check failed: {fcheck.summary()} (needs mean >= {config.fp16_min_ssim})")
        path = write_atomic(variant_path(out, "fp16"), fp16_data)
        result = replace(result, fp16_path=path, fp16_check=fcheck)

    if config.tensorrt:
        from swapcam.core.engines.base import EngineConfig, EngineUnavailable
        from swapcam.core.engines.tensorrt import build_plan

        try:
            plan = build_plan(out, config.tensorrt, info, EngineConfig())
        except EngineUnavailable as exc:
            raise SwapcamError(f"cannot build a TensorRT plan here: {exc} (the ONNX files were written)") from exc
        result = replace(result, plan_path=plan)
    return result
