"""Reduced-precision variants of an exported fp32 model: int8 by ONNX Runtime's static quantisation (for CPUs),
fp16 (for GPUs). Both keep the float32 input and outputs, so the runtime treats all three alike."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from swapcam.export.onnx_graph import set_metadata
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, ModelInfo

log = logging.getLogger(__name__)


CALIBRATION_MEMORY = 3 << 29  # 1.5 GiB of activations held by the int8 calibrator (peak memory is about 2.5x)


def activation_bytes(model: onnx.ModelProto) -> int:
    """Bytes of all intermediate float tensors for one face (batch 1), from ONNX shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    total = 0
    for vi in inferred.graph.value_info:
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        total += int(np.prod(dims)) * 4 if dims else 0
    return total


def quantize_int8(fp32: onnx.ModelProto, info: ModelInfo, calibration: np.ndarray) -> onnx.ModelProto:
    """Static int8 quantisation in QDQ form (weights int8 per channel, activations uint8), with activation
    ranges from ``calibration`` (N, 3, R, R) float32 faces run one at a time, as the live loop feeds them.

    The output head (the last conv, its sigmoid and the RGB/mask slices) stays in float: 8-bit logits become
    steps of about 5/255 after the sigmoid, which alone cost 0.02 SSIM; keeping the head in float restores it
    (SSIM vs fp32 0.976 -> 0.994 on a `fast` person_a -> person_b model) for a tenth of the int8 speed-up."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # The calibrator keeps every activation of every calibration face in memory until it computes the ranges
    # (about 190 MB a face for the 256 px `quality` preset: 128 faces went past 24 GB), so the number of faces
    # is capped by a memory budget.
    per_face = activation_bytes(fp32)
    n = int(min(len(calibration), max(8, CALIBRATION_MEMORY // max(per_face, 1))))
    if n < len(calibration):
        log.info("int8: calibrating on %d of %d faces (%.0f MB of activations a face)", n, len(calibration),
                 per_face / 2**20)  # fmt: skip
        calibration = calibration[np.linspace(0, len(calibration) - 1, n).round().astype(int)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._faces = iter(calibration)

        def get_next(self):
            face = next(self._faces, None)
            return None if face is None else {INPUT_NAME: face[None]}

    with tempfile.TemporaryDirectory(prefix="swapcam-int8-") as tmp:
        src, prep, out = (Path(tmp) / n for n in ("fp32.onnx", "prep.onnx", "int8.onnx"))
        onnx.save(fp32, str(src))
        quant_pre_process(str(src), str(prep))  # shape inference and graph clean-up, as the ORT docs advise
        with contextlib.redirect_stdout(io.StringIO()):  # the calibrator prints its progress
            quantize_static(
            str(prep), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": 99.999},
            nodes_to_exclude=_output_head(onnx.load(str(prep)).graph),
            )  # fmt: skip
        model = onnx.load(str(out))
    return set_metadata(model, replace(info, precision="int8"))


def _output_head(graph: onnx.GraphProto) -> list[str]:
    """Names of the sigmoid nodes, the nodes after them (slices) and the convs that feed them."""
    sigmoids = [n for n in graph.node if n.op_type == "Sigmoid"]
    logits = {t for n in sigmoids for t in n.input}
    activations = {t for n in sigmoids for t in n.output}
    head = [n.name for n in graph.node if set(n.output) & logits or set(n.input) & activations]
    return head + [n.name for n in sigmoids]


def convert_fp16(fp32: onnx.ModelProto, info: ModelInfo) -> onnx.ModelProto:
    """Weights and activations in float16, float32 at the input and outputs (for GPU engines)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        model = convert_float_to_float16(fp32, keep_io_types=True)
    except Exception as exc:  # the converter raises plain exceptions on graphs it cannot handle
        raise SwapcamError(f"fp16 conversion failed: {exc}") from exc
    return set_metadata(model, replace(info, precision="fp16"))
