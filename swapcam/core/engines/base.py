"""The inference-engine interface: a model file in, swapped faces out. Engines differ only in where they run."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from swapcam.core.model_info import ModelInfo


class EngineUnavailable(Exception):
    """This engine cannot run here (a package, a GPU or a provider is missing); the message says which."""


# TensorRT's ONNX parser rejects the int8 variant (uint8 QDQ with non-zero zero points), so the TensorRT engines
# refuse it up front and ``auto`` goes on to CUDA or the CPU, where it runs.
TENSORRT_PRECISIONS = ("fp32", "fp16")


def model_sha256(model: str | Path | bytes) -> str:
    """The SHA-256 of a model's bytes (a file or the serialised model): what engine caches are keyed by, so a model
    re-exported under the same name never runs an engine built from the old weights."""
    h = hashlib.sha256()
    if isinstance(model, bytes):
        h.update(model)
        return h.hexdigest()
    with open(model, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def refuse_for_tensorrt(info: ModelInfo) -> None:
    if info.precision not in TENSORRT_PRECISIONS:
        raise EngineUnavailable(f"{info.precision} model: TensorRT's ONNX parser rejects its uint8 QDQ nodes; "
                                "the fp32 or fp16 model runs on TensorRT")  # fmt: skip


def _default_cache() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swapcam" / "engines")


@dataclass(frozen=True)
class EngineConfig:
    threads: int | None = None  # CPU engines: intra-op threads (default: the machine's cores)
    # CPU engines: let idle threads spin. Off by default: in the frame loop spinning ORT threads take the cores
    # MediaPipe, the decoder and the encoder need (720p convert: 49 -> 63 fps with it off, benchmarks/bench_live);
    # on for a model timed alone (benchmarks/bench_engines), where it saves ~0.3 ms a face.
    spin: bool = False
    device: int = 0  # GPU engines: CUDA device index
    fp16: bool = True  # TensorRT: build in fp16 where the GPU supports it (TensorRT 11: use the fp16 model)
    max_batch: int = 4  # TensorRT: optimisation profile for batches 1..max_batch (faces per frame)
    cache_dir: str = field(default_factory=_default_cache)  # TensorRT engines and timing caches
    plan: str | None = None  # native TensorRT: a plan from `swapcam export --tensorrt` instead of the cache


class Engine(Protocol):
    """``run`` takes (N, 3, R, R) float32 RGB in [0, 1] (C-contiguous) and returns ``swapped`` (N, 3, R, R) and
    ``mask`` (N, 1, R, R), float32 in [0, 1]. The arrays returned may be reused by the next call."""

    name: str
    info: ModelInfo

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...
