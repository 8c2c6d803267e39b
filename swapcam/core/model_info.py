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


def weights_digest(model, initializers=None) -> str:
    """SHA-256 over every weight tensor of an ``onnx.ModelProto`` (initializers and Constant nodes' tensors, in
    name order: name, type, shape, bytes). Metadata is not part of it, so it can be stored there. ``initializers``:
    the graph's initializers when they were read apart from ``model``, as (TensorProto, its raw bytes) pairs
    (``read_model_info``)."""
    import hashlib

    from onnx import AttributeProto, numpy_helper

    tensors = [(t, t.raw_data) for t in model.graph.initializer] if initializers is None else list(initializers)
    tensors += [(a.t, a.t.raw_data) for n in model.graph.node for a in n.attribute if a.type == AttributeProto.TENSOR]
    h = hashlib.sha256()
    for t, raw in sorted(tensors, key=lambda pair: pair[0].name):
        h.update(f"{t.name}|{t.data_type}|{tuple(t.dims)}|".encode())
        h.update(raw if raw else numpy_helper.to_array(t).tobytes())
    return h.hexdigest()


def _records(data: memoryview, start: int = 0, end: int | None = None):
    """The fields of one serialised protobuf message, in file order: (field number, wire type, record start,
    payload start, record end); a length-delimited payload (wire type 2) is ``data[payload start:record end]``."""
    i, end = start, len(data) if end is None else end

    def varint(i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[i]
            value |= (byte & 0x7F) << shift
            i += 1
            if byte < 0x80:
                return value, i
            shift += 7

    while i < end:
        record = i
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        payload = i
        if wire == 0:
            _, i = varint(i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            n, payload = varint(i)
            i = payload + n
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {record}")
        if i > end:
            raise ValueError(f"protobuf field {field} runs past its message at byte {record}")
        yield field, wire, record, payload, i


# ModelProto.graph, GraphProto.initializer, TensorProto.raw_data (onnx.proto3)
_GRAPH, _INITIALIZER, _RAW_DATA = 7, 5, 9


def _load_in_pieces(data: bytes):
    """``data`` (a serialised ModelProto) -> (the model without its initializers, each initializer's serialised
    TensorProto: a list of memoryviews of ``data``). One ``onnx.load`` of a 40 MB model is one C call that holds
    Python's GIL for 40-90 ms, a stall of the live loop when the control panel reads a model on the side (issue 13);
    this way the protobuf parser sees only the small rest, and ``_weights`` the tensors one by one."""
    import onnx

    view = memoryview(data)
    top, graphs = [], []
    for field, wire, record, payload, end in _records(view):
        (graphs if (field, wire) == (_GRAPH, 2) else top).append((record, payload, end))
    model = onnx.ModelProto.FromString(b"".join(view[a:c] for a, _, c in top))
    rest, initializers = [], []
    for _, start, stop in graphs:
        for field, wire, record, payload, end in _records(view, start, stop):
            if (field, wire) == (_INITIALIZER, 2):
                initializers.append(view[payload:end])
            else:
                rest.append(view[record:end])
    model.graph.ParseFromString(b"".join(rest))
    return model, initializers


def _weights(tensor: memoryview):
    """A serialised TensorProto -> (the TensorProto without its raw data, the raw data: a view, not a copy). A
    16 MB weight copied by the parser holds the GIL for 30-50 ms on a busy machine; hashlib reads the view with
    the GIL released."""
    import onnx

    rest, raw = [], None
    for field, wire, record, payload, end in _records(tensor):
        if (field, wire) == (_RAW_DATA, 2):
            raw = tensor[payload:end]  # a repeated field: the last one counts, as for the parser
        else:
            rest.append(tensor[record:end])
    return onnx.TensorProto.FromString(b"".join(rest)), raw


def read_model_info(path: str | Path) -> ModelInfo:
    """Reads a model file's metadata without building an inference session (the graph is not checked here; the
    engine does that when it loads). The weights are checked against the hash recorded at export once per file
    and process."""
    p = Path(path)
    if not p.is_file():
        raise SwapcamError(f"no such model file: {p}")
    stat = p.stat()
    data = p.read_bytes()
    try:
        model, initializers = _load_in_pieces(data)
    except Exception as exc:  # protobuf raises DecodeError, the walk ValueError/IndexError, for a file that is not ONNX
        raise SwapcamError(f"{p} is not an ONNX model file ({type(exc).__name__})") from exc
    meta = {prop.key: prop.value for prop in model.metadata_props}
    info = ModelInfo.from_metadata(meta, origin=str(p))
    recorded = meta.get(WEIGHTS_KEY)  # models exported before issue 12 have none: they load unverified
    key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns, recorded)
    if recorded is not None and key not in _VERIFIED:
        try:
            tensors = [_weights(t) for t in initializers]
        except Exception as exc:
            raise SwapcamError(f"{p} is not an ONNX model file ({type(exc).__name__})") from exc
        if weights_digest(model, tensors) != recorded:
            raise SwapcamError(f"{p}: its weights do not match the hash recorded at export (a damaged or altered "
                               "file); export it again")  # fmt: skip
    _VERIFIED.add(key)  # the runner and FaceSwap both read the file: it is hashed once per process
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != [INPUT_NAME] or tuple(outputs) != OUTPUT_NAMES:
        raise SwapcamError(f"{p}: graph inputs {inputs} / outputs {outputs} do not match its swapcam metadata")
    return info
