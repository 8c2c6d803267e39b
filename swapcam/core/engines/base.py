"""The inference-engine interface: a model file in, swapped faces out. Engines differ only in where they run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from swapcam.core.model_info import ModelInfo


class EngineUnavailable(Exception):
    """This engine cannot run here (a package, a GPU or a provider is missing); the message says which."""


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
    fp16: bool = True  # TensorRT: build in fp16 where the GPU supports it
    max_batch: int = 4  # TensorRT: largest batch the engine is built for (faces per frame)
    cache_dir: str = field(default_factory=_default_cache)  # TensorRT engines and timing caches
    plan: str | None = None  # native TensorRT: a plan from `swapcam export --tensorrt` instead of the cache


class Engine(Protocol):
    """``run`` takes (N, 3, R, R) float32 RGB in [0, 1] (C-contiguous) and returns ``swapped`` (N, 3, R, R) and
    ``mask`` (N, 1, R, R), float32 in [0, 1]. The arrays returned may be reused by the next call."""

    name: str
    info: ModelInfo

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...
