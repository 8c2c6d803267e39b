"""PyTorch checkpoint -> ONNX graph with swapcam's metadata (swapcam.core.model_info describes the interface)."""

from __future__ import annotations

import io
import json
import warnings

import onnx
import torch
from torch import nn

from swapcam.core.align import AlignSpec
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, WEIGHTS_KEY, ModelInfo, weights_digest
from swapcam.trainer.model import ModelArgs, SwapAutoencoder, SwapDirection


class ExportGraph(nn.Module):
    """One swap direction with the interface of swapcam.core.model_info: RGB and mask as two outputs."""

    def __init__(self, model: SwapAutoencoder, side: int) -> None:
        super().__init__()
        self.net = SwapDirection(model, side)

    def forward(self, aligned: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(aligned)  # (N, 4, R, R)
        return out[:, :3], out[:, 3:]


def graph_from_checkpoint(state: dict, direction: str) -> tuple[ExportGraph, ModelInfo]:
    """The eval-mode graph for ``direction`` and the ModelInfo describing it."""
    if direction not in ("a2b", "b2a"):
        raise SwapcamError(f"direction must be a2b or b2a, not {direction!r}")
    args = ModelArgs.from_dict(state["model_args"])
    model = SwapAutoencoder(args)
    model.load_state_dict(state["model"])
    side = 1 if direction == "a2b" else 0  # the decoder of the person rendered
    labels = state.get("identities", {"a": "a", "b": "b"})
    source, target = (labels["a"], labels["b"]) if direction == "a2b" else (labels["b"], labels["a"])
    spec = AlignSpec.from_metadata(state["align"])
    if spec.size != args.resolution:
        raise SwapcamError(f"checkpoint alignment size {spec.size} differs from its model resolution {args.resolution}")
    info = ModelInfo(spec, state.get("preset", "custom"), int(state["step"]), source, target, direction,
                     "fp32", json.dumps(args.to_dict(), separators=(",", ":")))  # fmt: skip
    return ExportGraph(model, side).eval(), info


def set_metadata(model: onnx.ModelProto, info: ModelInfo) -> onnx.ModelProto:
    del model.metadata_props[:]
    for key, value in info.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    model.metadata_props.add(key=WEIGHTS_KEY, value=weights_digest(model))  # verified by read_model_info
    model.producer_name = "swapcam"
    model.doc_string = (f"swapcam face swap {info.source} -> {info.target} ({info.precision}); input 'aligned' "
                        "(N,3,R,R) float32 RGB 0..1; outputs 'swapped' (N,3,R,R), 'mask' (N,1,R,R). Synthetic media.")
    return model


def to_onnx(graph: ExportGraph, info: ModelInfo, opset: int) -> onnx.ModelProto:
    """Traces ``graph`` with a dynamic batch axis and returns the checked ONNX model with metadata."""
    r = info.resolution
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter is deprecated in favour of torch.export, but it handles this plain conv net
        # without the extra onnxscript dependency and gives the same graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph, (torch.rand(1, 3, r, r),), buf, input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes={n: {0: "batch"} for n in (INPUT_NAME, *OUTPUT_NAMES)}, opset_version=opset, dynamo=False,
        )  # fmt: skip
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    return set_metadata(model, info)
