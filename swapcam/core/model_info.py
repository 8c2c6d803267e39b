"""What a swapcam model file says about itself: the ONNX metadata written by ``swapcam export`` and read by the
live loop, so that the model file alone is enough to run it.

The graph (one face-swap direction):
    input  ``aligned``  (N, 3, R, R) float32, RGB, values in [0, 1] (uint8 / 255), N dynamic; an aligned crop made
                        by ``swapcam.core.align.align_face`` with the model's ``AlignSpec`` (size R, coverage, template)
    output ``swapped``  (N, 3, R, R) float32, RGB in [0, 1]: the face rendered as the target person
    output ``mask``     (N, 1, R, R) float32 in [0, 1]: where the decoder painted face
The int8 and fp16 variants keep this float32 interface (fp16 converts inside the graph).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from swapcam.core.version import __version__
from swapcam.core.align import AlignSpec
from swapcam.core.errors import SwapcamError
from swapcam.core.provenance import SYNTHETIC_NOTE

MODEL_FORMAT = "swapcam-onnx/1"
INPUT_NAME = "aligned"
OUTPUT_NAMES = ("swapped", "mask")

# The interface this runtime speaks; a file that declares anything else is refused.
INTERFACE = {
    "input.name": INPUT_NAME,
    "input.layout": "NCHW",
    "input.dtype": "float32",
    "input.channels": "RGB",
    "input.normalisation": "x = uint8 / 255 (range 0..1)",
    "output.names": ",".join(OUTPUT_NAMES),
    "output.layout": "NCHW; swapped (N,3,R,R) RGB 0..1, mask (N,1,R,R) 0..1",
}
PRECISIONS = ("fp32", "int8", "fp16")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    align: AlignSpec  # align.size is the model's resolution R
    preset: str  # trainer preset name (fast, quality, tiny)
    step: int  # training step of the checkpoint it came from
    source: str  # label of the person the camera sees (the input face)
    target: str  # label of the person rendered (the output face)
    direction: str  # "a2b" or "b2a", as trained
    precision: str = "fp32"
    model_args: str = "{}"  # JSON of swapcam.trainer.model.ModelArgs
    exported_by: str = f"swapcam {__version__}"
    # JSON {"yaw": [lo, hi], "pitch": [lo, hi], "mouth": [lo, hi]}: what both people's training footage showed
    # (degrees; mouth opening in inter-ocular distances; issue 15). "{}" for models exported before it existed.
    coverage: str = "{}"

    @property
    def resolution(self) -> int:
        return self.align.size

    def coverage_ranges(self) -> dict[str, tuple[float, float]]:
        """The training coverage as {axis: (low, high)} (empty when the model does not say)."""
        d = json.loads(self.coverage)
        try:
            return {str(k): (float(v[0]), float(v[1])) for k, v in d.items()}
        except (AttributeError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"train.coverage is not {{axis: [low, high]}}: {self.coverage[:80]!r}") from exc

    def to_metadata(self) -> dict[str, str]:
        return {
            "swapcam.format": MODEL_FORMAT,
            **self.align.to_metadata(),
            **INTERFACE,
            "model.preset": self.preset,
            "model.args": self.model_args,
            "model.precision": self.precision,
            "train.step": str(self.step),
            "swap.source": self.source,
            "swap.target": self.target,
            "swap.direction": self.direction,
            "exported_by": self.exported_by,
            "train.coverage": self.coverage,
            "provenance": SYNTHETIC_NOTE,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], *, origin: str = "model") -> ModelInfo:
        """Validates and reads the metadata; a SwapcamError naming ``origin`` for a foreign or newer file."""
        fmt = meta.get("swapcam.format")
        if fmt is None:
            raise SwapcamError(f"{origin} is not a swapcam model (no swapcam metadata); make one with `swapcam export`")
        if fmt != MODEL_FORMAT:
            raise SwapcamError(f"{origin} has model format {fmt!r}; this swapcam reads {MODEL_FORMAT!r}")
        for key, want in INTERFACE.items():
            if meta.get(key) != want:
                raise SwapcamError(f"{origin}: {key} is {meta.get(key)!r}, this runtime needs {want!r}")
        try:
            info = cls(
                AlignSpec.from_metadata(meta), meta["model.preset"], int(meta["train.step"]), meta["swap.source"],
                meta["swap.target"], meta["swap.direction"], meta["model.precision"], meta.get("model.args", "{}"),
                meta.get("exported_by", "unknown"), meta.get("train.coverage", "{}"),
            )  # fmt: skip
            json.loads(info.model_args)
            info.coverage_ranges()
        except SwapcamError as exc:
            raise SwapcamError(f"{origin}: {exc}") from exc
        except (KeyError, ValueError) as exc:
            raise SwapcamError(f"{origin}: swapcam metadata incomplete or malformed ({exc})") from exc
        if info.precision not in PRECISIONS:
            raise SwapcamError(f"{origin}: unknown precision {info.precision!r}")
        return info


_VERIFIED: set[tuple] = set()
WEIGHTS_KEY = "weights.sha256"  # metadata: SHA-256 of the weights (``weights_digest``), written by `swapcam export`


def weights_digest(model) -> str:
    """SHA-256 over every weight tensor of an ``onnx.ModelProto`` (initializers and Constant nodes' tensors, in
    name order: name, type, shape, bytes). Metadata is not part of it, so it can be stored there."""
    import hashlib

    from onnx import AttributeProto, numpy_helper

    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node for a in n.attribute if a.type == AttributeProto.TENSOR]
    h = hashlib.sha256()
    for t in sorted(tensors, key=lambda t: t.name):
        h.update(f"{t.name}|{t.data_type}|{tuple(t.dims)}|".encode())
        h.update(t.raw_data if t.raw_data else numpy_helper.to_array(t).tobytes())  # raw: no copy
    return h.hexdigest()


def read_model_info(path: str | Path) -> ModelInfo:
    """Reads a model file's metadata without building an inference session (the graph is not checked here; the
    engine does that when it loads)."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise SwapcamError(f"no such model file: {p}")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, onnx its own types, for a file that is not ONNX
        raise SwapcamError(f"{p} is not an ONNX model file ({type(exc).__name__})") from exc
    meta = {prop.key: prop.value for prop in model.metadata_props}
    info = ModelInfo.from_metadata(meta, origin=str(p))
    recorded = meta.get(WEIGHTS_KEY)  # models exported before issue 12 have none: they load unverified
    stat = p.stat()
    key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns, recorded)
    if recorded is not None and key not in _VERIFIED and weights_digest(model) != recorded:
        raise SwapcamError(f"{p}: its weights do not match the hash recorded at export (a damaged or altered file); "
                           "export it again")  # fmt: skip
    _VERIFIED.add(key)  # the runner and FaceSwap both read the file: it is hashed once per process
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != [INPUT_NAME] or tuple(outputs) != OUTPUT_NAMES:
        raise SwapcamError(f"{p}: graph inputs {inputs} / outputs {outputs} do not match its swapcam metadata")
    return info
