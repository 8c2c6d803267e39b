"""Native TensorRT: build a serialised plan from the ONNX file (fp16, a timing cache on disk), run it with the
``tensorrt`` Python API and cuda-python for device memory.

A plan only runs on the TensorRT version and GPU model that built it, so every plan has a JSON sidecar
(``PLAN.json``) naming both and the ONNX file's hash; a plan whose sidecar does not match this machine and model is
refused (a given ``--plan``) or rebuilt (the cache). Needs the `gpu` extra and an NVIDIA GPU; CI has no GPU, so
this file is exercised here only up to its "unavailable" reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from swapcam.core.atomic import write_atomic
from swapcam.core.engines.base import EngineConfig, EngineUnavailable
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, ModelInfo

log = logging.getLogger(__name__)

_HINT = "install the gpu extra (pip install 'swapcam[gpu]') on a machine with an NVIDIA GPU"


def _imports():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EngineUnavailable(f"the tensorrt package is not installed; {_HINT}") from exc
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as exc:
            raise EngineUnavailable(f"cuda-python is not installed; {_HINT}") from exc
    return trt, cudart


def _check(result):
    """cuda-python returns (error, *values); raise on an error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EngineUnavailable(f"CUDA call failed: {err}")
    return values[0] if len(values) == 1 else values


def _gpu_name(cudart, device: int) -> str:
    count = _check(cudart.cudaGetDeviceCount())
    if count <= device:
        raise EngineUnavailable(f"no CUDA device {device} (found {count})")
    prop = _check(cudart.cudaGetDeviceProperties(device))
    name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
    return f"{name.strip(chr(0))} (sm_{prop.major}{prop.minor})"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_plan(onnx_path: str | Path, plan_path: str | Path, info: ModelInfo, config: EngineConfig) -> Path:
    """Builds a TensorRT plan for batches 1..max_batch and writes it with its sidecar; returns the plan path."""
    trt, cudart = _imports()
    gpu = _gpu_name(cudart, config.device)
    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise SwapcamError(f"TensorRT cannot parse {onnx_path}: {errors}")
    bconf = builder.create_builder_config()
    bconf.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if config.fp16 and builder.platform_has_fast_fp16:
        bconf.set_flag(trt.BuilderFlag.FP16)
    cache_dir = Path(config.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    timing_path = cache_dir / f"timing-{trt.__version__}.cache"
    timing = bconf.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    bconf.set_timing_cache(timing, ignore_mismatch=False)
    r = info.resolution
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, (1, 3, r, r), (1, 3, r, r), (config.max_batch, 3, r, r))
    bconf.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, bconf)
    if plan is None:
        raise SwapcamError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    write_atomic(timing_path, bytes(bconf.get_timing_cache().serialize()))
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(plan_path, bytes(plan))
    sidecar = {"tensorrt": trt.__version__, "gpu": gpu, "onnx_sha256": _sha256(onnx_path),
               "fp16": config.fp16, "max_batch": config.max_batch}  # fmt: skip
    write_atomic(Path(f"{plan_path}.json"), json.dumps(sidecar, indent=2).encode())
    log.info("TensorRT plan %s built for %s (TensorRT %s)", plan_path, gpu, trt.__version__)
    return plan_path


def plan_mismatch(plan_path: Path, onnx_path: Path, trt_version: str, gpu: str) -> str | None:
    """Why a plan cannot be used here, or None if it can."""
    side = Path(f"{plan_path}.json")
    if not plan_path.is_file() or not side.is_file():
        return f"{plan_path} or its sidecar {side.name} is missing"
    meta = json.loads(side.read_text())
    if meta.get("tensorrt") != trt_version:
        return f"built with TensorRT {meta.get('tensorrt')}, this is {trt_version}"
    if meta.get("gpu") != gpu:
        return f"built for {meta.get('gpu')}, this GPU is {gpu}"
    if meta.get("onnx_sha256") != _sha256(onnx_path):
        return f"built from a different model file than {onnx_path}"
    return None


class TensorRTEngine:
    name = "tensorrt"

    def __init__(self, model: str | Path, info: ModelInfo, config: EngineConfig) -> None:
        trt, cudart = _imports()
        self.info, self._cudart = info, cudart
        self._buffers: list[int] = []
        self._stream = None
        gpu = _gpu_name(cudart, config.device)
        _check(cudart.cudaSetDevice(config.device))
        model = Path(model)
        if config.plan:
            plan = Path(config.plan)
            why = plan_mismatch(plan, model, trt.__version__, gpu)
            if why:
                raise SwapcamError(f"TensorRT plan {plan} cannot be used here: {why}; rebuild it with "
                                   "`swapcam export --tensorrt`")  # fmt: skip
        else:
            slug = "".join(c if c.isalnum() else "-" for c in gpu)
            plan = Path(config.cache_dir) / f"{_sha256(model)[:16]}-trt{trt.__version__}-{slug}.plan"
            why = plan_mismatch(plan, model, trt.__version__, gpu)
            if why:
                log.info("building a TensorRT plan (%s); the first start takes a minute", why)
                build_plan(model, plan, info, config)
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)
        self._engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self._engine is None:
            raise SwapcamError(f"TensorRT could not load the plan {plan}")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate())
        self._max_batch = config.max_batch
        r = info.resolution
        self._host = {  # page-able host buffers reused between calls; (max_batch, C, R, R) float32
            INPUT_NAME: np.empty((config.max_batch, 3, r, r), np.float32),
            OUTPUT_NAMES[0]: np.empty((config.max_batch, 3, r, r), np.float32),
            OUTPUT_NAMES[1]: np.empty((config.max_batch, 1, r, r), np.float32),
        }
        self._device = {}
        for name, host in self._host.items():
            ptr = _check(cudart.cudaMalloc(host.nbytes))
            self._buffers.append(ptr)
            self._device[name] = ptr
            self._context.set_tensor_address(name, int(ptr))

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cudart, n = self._cudart, len(aligned)
        if n > self._max_batch:
            raise SwapcamError(f"TensorRT engine built for at most {self._max_batch} faces, got {n}")
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._context.set_input_shape(INPUT_NAME, aligned.shape)
        _check(cudart.cudaMemcpyAsync(self._device[INPUT_NAME], aligned.ctypes.data, aligned.nbytes, h2d,
                                      self._stream))  # fmt: skip
        if not self._context.execute_async_v3(self._stream):
            raise SwapcamError("TensorRT inference failed")
        outs = []
        for name in OUTPUT_NAMES:
            host = self._host[name][:n]
            _check(cudart.cudaMemcpyAsync(host.ctypes.data, self._device[name], host.nbytes, d2h, self._stream))
            outs.append(host)
        _check(cudart.cudaStreamSynchronize(self._stream))
        return outs[0], outs[1]

    def close(self) -> None:
        for ptr in self._buffers:
            self._cudart.cudaFree(ptr)
        self._buffers = []
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None

    def __enter__(self) -> TensorRTEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def tensorrt_engine(model, info, config):
    return TensorRTEngine(model, info, config)
