"""ONNX Runtime engines: on the CPU (threads tuned for latency), and with the CUDA or TensorRT execution providers.

The GPU variants need the GPU build of ONNX Runtime (the `cuda12` or `cuda13` extra: onnxruntime-gpu with its CUDA
and cuDNN libraries as pip packages, which ``onnxruntime.preload_dlls()`` loads). This machine has no GPU, so the
tests reach them through injected failures (tests/test_engine_fallback.py). For the GPU providers:
- a broken install (onnxruntime and onnxruntime-gpu side by side, no CUDA libraries) is named in one line with its
  fix (swapcam.core.install_check) instead of a provider that silently is not there;
- TensorRT's engine cache lives in a folder per model content hash (ORT keys its cache by file and node names, so a
  re-exported model of the same name would run the old engine), with an explicit optimisation profile for batches
  1..max_batch (no rebuild when ``--faces all`` grows the batch);
- once the GPU provider is confirmed active, ORT's silent retry on the CPU after a failed run is switched off
  (``InferenceSession.disable_fallback``): a GPU failure is an error, not a 20x slower stream.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np

from swapcam.core import install_check
from swapcam.core.engines.base import EngineConfig, EngineUnavailable, model_sha256, refuse_for_tensorrt
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, ModelInfo

log = logging.getLogger(__name__)

_GPU_HINT = f"on a machine with an NVIDIA GPU: {install_check.EXTRA_HINT}; check with `swapcam doctor`"


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EngineUnavailable(f"onnxruntime is not installed ({exc})") from exc
    return ort


class OrtEngine:
    """One ONNX Runtime session; ``provider`` is ``cpu``, ``cuda`` or ``trt``."""

    _PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "trt": "TensorrtExecutionProvider"}

    def __init__(self, model: str | Path | bytes, info: ModelInfo, config: EngineConfig, provider: str = "cpu",
                 *, io_binding: bool | None = None) -> None:  # fmt: skip
        """``model``: a file, or a serialised model in memory (export checks a graph before writing it).
        ``io_binding``: run through ORT's IO binding into output buffers kept per batch size (default: on the GPU
        providers; on the CPU plain ``run`` is faster here, 1.2-1.9 against 1.8-2.4 ms for the tiny model)."""
        self.name = "ort-cpu" if provider == "cpu" else f"ort-{provider}"
        self.info = info
        self.session = self._binding = None
        self._outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        wanted = self._PROVIDERS[provider]
        if provider == "trt":
            refuse_for_tensorrt(info)
        if provider != "cpu":
            broken = install_check.problems()
            if broken:
                raise EngineUnavailable(f"{broken[0]} (`swapcam doctor` checks the install)")
        ort = _import_ort()
        if wanted not in ort.get_available_providers():
            raise EngineUnavailable(f"this onnxruntime has no {wanted}; {_GPU_HINT}")
        if provider != "cpu":
            _preload_cuda_libraries(ort)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1  # the graph is a chain: parallelism between ops buys nothing
        if provider == "cpu":
            opts.intra_op_num_threads = config.threads or os.cpu_count() or 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if config.spin else "0")
        opts.log_severity_level = 3  # warnings from ORT (e.g. a provider falling back) go through our log instead
        providers: list = [(wanted, self._provider_options(provider, config, model, info))]
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
            self.session = None
            raise EngineUnavailable(f"{wanted} did not start (no usable GPU or CUDA libraries); active: {active}")
        if provider != "cpu" and hasattr(self.session, "disable_fallback"):
            self.session.disable_fallback()  # the GPU provider is confirmed: no silent re-run on the CPU
        log.debug("%s: providers %s", self.name, active)
        # IO binding: the outputs go straight into host buffers allocated once per batch size, instead of new
        # arrays per run; on the GPU providers ORT copies the input in and the outputs out exactly once each.
        use_binding = provider != "cpu" if io_binding is None else io_binding
        self._binding = self.session.io_binding() if use_binding else None
        self._max_cached = max(1, config.max_batch)

    @staticmethod
    def _provider_options(provider: str, config: EngineConfig, model: str | Path | bytes, info: ModelInfo) -> dict:
        if provider == "cuda":
            return {"device_id": config.device, "cudnn_conv_algo_search": "EXHAUSTIVE"}
        if provider == "trt":
            # One folder per model content: ORT names cached engines after the graph, not its weights.
            cache = Path(config.cache_dir) / "ort-trt" / model_sha256(model)[:16]
            try:
                cache.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EngineUnavailable(f"cannot write TensorRT's engine cache {cache}: {exc.strerror or exc}; "
                                        "choose another folder (XDG_CACHE_HOME)") from exc  # fmt: skip
            r = info.resolution
            shape = lambda n: f"{INPUT_NAME}:{n}x3x{r}x{r}"  # noqa: E731
            return {
                "device_id": config.device,
                "trt_fp16_enable": config.fp16,
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(cache),
                # The dynamic batch axis gets one explicit profile, 1..max_batch faces, built once.
                "trt_profile_min_shapes": shape(1),
                "trt_profile_opt_shapes": shape(1),
                "trt_profile_max_shapes": shape(max(1, config.max_batch)),
            }
        return {}

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The outputs may be this engine's buffers for that batch size: valid until the next ``run``."""
        if self._binding is None:
            swapped, mask = self.session.run(OUTPUT_NAMES, {INPUT_NAME: aligned})
            return swapped, mask
        n = aligned.shape[0]
        out = self._outputs.get(n)
        if out is None:
            r = self.info.resolution
            out = (np.empty((n, 3, r, r), np.float32), np.empty((n, 1, r, r), np.float32))
            if len(self._outputs) >= self._max_cached:  # an unusual batch size: keep the set bounded
                self._outputs.pop(next(iter(self._outputs)))
            self._outputs[n] = out
        b = self._binding
        b.bind_cpu_input(INPUT_NAME, np.ascontiguousarray(aligned, np.float32))
        for name, arr in zip(OUTPUT_NAMES, out):
            b.bind_output(name, "cpu", 0, np.float32, arr.shape, arr.ctypes.data)
        self.session.run_with_iobinding(b)
        return out

    def close(self) -> None:
        self.session = self._binding = None
        self._outputs = {}

    def __enter__(self) -> OrtEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _preload_cuda_libraries(ort) -> None:
    """Loads the CUDA and cuDNN libraries that the extras install as pip packages (onnxruntime >= 1.21); without it
    the CUDA provider looks only on the system's library path and fails on a missing libcublasLt."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload(cuda=True, cudnn=True, msvc=False)
    except Exception as exc:  # a missing package shows up again, clearer, when the provider starts
        log.debug("onnxruntime.preload_dlls: %s", exc)


ort_cpu = functools.partial(OrtEngine, provider="cpu")
ort_cuda = functools.partial(OrtEngine, provider="cuda")
ort_trt = functools.partial(OrtEngine, provider="trt")
