"""ONNX Runtime engines: on the CPU (threads tuned for latency), and with the CUDA or TensorRT execution providers.

The GPU variants need the `gpu` extra (onnxruntime-gpu, tensorrt); this machine has no GPU, so CI checks them only
for a clear "unavailable" reason. TensorRT's provider keeps its built engines and timing cache on disk
(``EngineConfig.cache_dir``), so only the first start on a machine pays the build.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np

from swapcam.core.engines.base import EngineConfig, EngineUnavailable
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, ModelInfo

log = logging.getLogger(__name__)

_GPU_HINT = "install the gpu extra (pip install 'swapcam[gpu]') on a machine with an NVIDIA GPU"


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EngineUnavailable(f"onnxruntime is not installed ({exc})") from exc
    return ort


class OrtEngine:
    """One ONNX Runtime session; ``provider`` is ``cpu``, ``cuda`` or ``trt``."""

    _PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "trt": "TensorrtExecutionProvider"}

    def __init__(self, model: str | Path | bytes, info: ModelInfo, config: EngineConfig, provider: str = "cpu") -> None:
        """``model``: a file, or a serialised model in memory (export checks a graph before writing it)."""
        ort = _import_ort()
        self.name = "ort-cpu" if provider == "cpu" else f"ort-{provider}"
        self.info = info
        wanted = self._PROVIDERS[provider]
        if wanted not in ort.get_available_providers():
            raise EngineUnavailable(f"this onnxruntime has no {wanted}; {_GPU_HINT}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1  # the graph is a chain: parallelism between ops buys nothing
        if provider == "cpu":
            opts.intra_op_num_threads = config.threads or os.cpu_count() or 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if config.spin else "0")
        opts.log_severity_level = 3  # warnings from ORT (e.g. a provider falling back) go through our log instead
        providers: list = [(wanted, self._provider_options(provider, config))]
        if provider != "cpu":
            providers.append("CPUExecutionProvider")  # ops the GPU provider lacks
        try:
            self.session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                                providers=providers)  # fmt: skip
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for a bad graph or a missing library
            if provider == "cpu":
                what = "the model" if isinstance(model, bytes) else model
                raise SwapcamError(f"onnxruntime cannot load {what}: {str(exc).splitlines()[0]}") from exc
            raise EngineUnavailable(f"{wanted} failed to start: {str(exc).splitlines()[0]}") from exc
        active = self.session.get_providers()
        if active[0] != wanted:  # ORT falls back to the CPU quietly when CUDA libraries or the GPU are missing
            raise EngineUnavailable(f"{wanted} did not start (no usable GPU or CUDA libraries); active: {active}")
        log.debug("%s: providers %s", self.name, active)

    @staticmethod
    def _provider_options(provider: str, config: EngineConfig) -> dict:
        if provider == "cuda":
            return {"device_id": config.device, "cudnn_conv_algo_search": "EXHAUSTIVE"}
        if provider == "trt":
            cache = Path(config.cache_dir) / "ort-trt"
            cache.mkdir(parents=True, exist_ok=True)
            return {
                "device_id": config.device,
                "trt_fp16_enable": config.fp16,
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(cache),
            }
        return {}

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        swapped, mask = self.session.run(OUTPUT_NAMES, {INPUT_NAME: aligned})
        return swapped, mask

    def close(self) -> None:
        self.session = None

    def __enter__(self) -> OrtEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


ort_cpu = functools.partial(OrtEngine, provider="cpu")
ort_cuda = functools.partial(OrtEngine, provider="cuda")
ort_trt = functools.partial(OrtEngine, provider="trt")
