"""Native TensorRT: build a serialised plan from the ONNX file (a timing cache on disk, one optimisation profile for
batches 1..max_batch), run it with the ``tensorrt`` Python API and cuda-python for device memory and pinned host
buffers (so the copies are truly asynchronous).

A plan only runs on the TensorRT version and GPU model that built it, so every plan has a JSON sidecar
(``PLAN.json``) naming both, the ONNX file's hash, its precision and its largest batch; a plan whose sidecar does
not match this machine, model and settings is refused (a given ``--plan``) or rebuilt (the cache).

TensorRT 10 and 11 differ (issue 14): 11 removed ``Builder.platform_has_fast_fp16`` and ``BuilderFlag.FP16`` in
favour of strongly typed networks, whose precision is the ONNX file's own. The differences go through feature
checks (``_api``), never through version numbers. Needs an NVIDIA GPU and the `cuda12` / `cuda13` extra; CI has no
GPU, so tests/test_engine_fallback.py drives this file with a fake ``tensorrt`` module.
"""

from __future__ import annotations

import ctypes
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swapcam.core import install_check
from swapcam.core.atomic import write_atomic
from swapcam.core.engines.base import EngineConfig, EngineUnavailable, model_sha256, refuse_for_tensorrt
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, ModelInfo

log = logging.getLogger(__name__)

_HINT = f"on a machine with an NVIDIA GPU: {install_check.EXTRA_HINT}; check with `swapcam doctor`"


@dataclass(frozen=True)
class _Api:
    """What this TensorRT offers, found by feature checks (TensorRT 10 vs 11)."""

    strongly_typed: bool  # precision comes from the ONNX file (TensorRT 11: no BuilderFlag.FP16)
    fp16_flag: object | None  # BuilderFlag.FP16 where it exists

    @classmethod
    def of(cls, trt) -> _Api:
        fp16_flag = getattr(getattr(trt, "BuilderFlag", None), "FP16", None)
        creation = getattr(trt, "NetworkDefinitionCreationFlag", None)
        typed = fp16_flag is None and hasattr(creation, "STRONGLY_TYPED")
        return cls(typed, fp16_flag)

    def network_flags(self, trt) -> int:
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if self.strongly_typed else 0


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
    return model_sha256(path)


def build_precision(trt, info: ModelInfo, config: EngineConfig, builder=None) -> str:
    """The precision a build gives: fp16 by builder flag where TensorRT has one (10) and the GPU is fast at it;
    on a strongly typed TensorRT (11) the ONNX file's own (the fp16 model builds fp16, the fp32 one fp32)."""
    api = _Api.of(trt)
    if api.strongly_typed:
        return "fp16" if info.precision == "fp16" else "fp32"
    fast_fp16 = getattr(builder, "platform_has_fast_fp16", True) if builder is not None else True
    return "fp16" if config.fp16 and api.fp16_flag is not None and fast_fp16 else info.precision


def build_plan(onnx_path: str | Path, plan_path: str | Path, info: ModelInfo, config: EngineConfig) -> Path:
    """Builds a TensorRT plan for batches 1..max_batch and writes it with its sidecar; returns the plan path.
    Any failure of TensorRT itself (a missing API, a build error) is an EngineUnavailable naming it."""
    refuse_for_tensorrt(info)
    trt, cudart = _imports()
    gpu = _gpu_name(cudart, config.device)
    try:
        return _build(trt, gpu, Path(onnx_path), Path(plan_path), info, config)
    except (SwapcamError, EngineUnavailable):
        raise
    except OSError as exc:
        raise EngineUnavailable(f"cannot write the TensorRT plan or its caches: {exc}") from exc
    except Exception as exc:  # an API this TensorRT lacks, or one of its own errors: never a traceback
        raise EngineUnavailable(f"TensorRT {getattr(trt, '__version__', '?')} failed to build: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc


def _build(trt, gpu: str, onnx_path: Path, plan_path: Path, info: ModelInfo, config: EngineConfig) -> Path:
    api = _Api.of(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(api.network_flags(trt))  # explicit batch is the only mode since 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise SwapcamError(f"TensorRT cannot parse {onnx_path}: {errors}")
    bconf = builder.create_builder_config()
    bconf.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    precision = build_precision(trt, info, config, builder)
    if precision == "fp16" and not api.strongly_typed:
        bconf.set_flag(api.fp16_flag)
    cache_dir = Path(config.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    timing_path = cache_dir / f"timing-{trt.__version__}.cache"
    timing = bconf.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    bconf.set_timing_cache(timing, ignore_mismatch=False)
    r, max_batch = info.resolution, max(1, config.max_batch)
    profile = builder.create_optimization_profile()  # one profile: any batch 1..max_batch without a rebuild
    profile.set_shape(INPUT_NAME, (1, 3, r, r), (1, 3, r, r), (max_batch, 3, r, r))
    bconf.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, bconf)
    if plan is None:
        raise SwapcamError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    write_atomic(timing_path, bytes(bconf.get_timing_cache().serialize()))
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(plan_path, bytes(plan))
    sidecar = {"tensorrt": trt.__version__, "gpu": gpu, "onnx_sha256": _sha256(onnx_path), "precision": precision,
               "max_batch": max_batch, "strongly_typed": api.strongly_typed}  # fmt: skip
    write_atomic(Path(f"{plan_path}.json"), json.dumps(sidecar, indent=2).encode())
    log.info("TensorRT plan %s built for %s (TensorRT %s, %s, batch 1..%d)", plan_path, gpu, trt.__version__,
             precision, max_batch)  # fmt: skip
    return plan_path


def read_sidecar(plan_path: Path) -> dict | str:
    """The plan's sidecar, or why it cannot be read."""
    side = Path(f"{plan_path}.json")
    if not Path(plan_path).is_file() or not side.is_file():
        return f"{plan_path} or its sidecar {side.name} is missing"
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        return f"its sidecar {side.name} is unreadable ({type(exc).__name__})"
    return meta if isinstance(meta, dict) else f"its sidecar {side.name} is not a JSON object"


def plan_mismatch(plan_path: Path, onnx_path: Path, trt_version: str, gpu: str, *, precision: str | None = None,
                  max_batch: int | None = None) -> str | None:  # fmt: skip
    """Why a plan cannot be used here, or None if it can. ``precision`` and ``max_batch``, when given, must match
    what the sidecar records (a plan built in fp32, or for fewer faces, is not the one asked for)."""
    meta = read_sidecar(Path(plan_path))
    if isinstance(meta, str):
        return meta
    if meta.get("tensorrt") != trt_version:
        return f"built with TensorRT {meta.get('tensorrt')}, this is {trt_version}"
    if meta.get("gpu") != gpu:
        return f"built for {meta.get('gpu')}, this GPU is {gpu}"
    if meta.get("onnx_sha256") != _sha256(onnx_path):
        return f"built from a different model file than {onnx_path}"
    if precision is not None and meta.get("precision") != precision:
        return f"built in {meta.get('precision', 'an unrecorded precision')}, {precision} asked for"
    if max_batch is not None and meta.get("max_batch") != max_batch:
        return f"built for batches up to {meta.get('max_batch', '?')}, {max_batch} asked for"
    return None


class TensorRTEngine:
    name = "tensorrt"

    def __init__(self, model: str | Path, info: ModelInfo, config: EngineConfig) -> None:
        refuse_for_tensorrt(info)
        trt, cudart = _imports()
        self.info, self._cudart = info, cudart
        self._buffers: list[int] = []
        self._pinned: list[int] = []
        self._stream = None
        self._host = {}
        try:
            self._open(trt, cudart, Path(model), info, config)
        except BaseException:
            self.close()  # a half-built engine gives its device and pinned memory back before ``auto`` moves on
            raise

    def _open(self, trt, cudart, model: Path, info: ModelInfo, config: EngineConfig) -> None:
        gpu = _gpu_name(cudart, config.device)
        _check(cudart.cudaSetDevice(config.device))
        if config.plan:
            plan = Path(config.plan)
            why = plan_mismatch(plan, model, trt.__version__, gpu)
            meta = read_sidecar(plan)
            if not why and isinstance(meta, dict) and int(meta.get("max_batch", 0)) < 1:
                why = "its sidecar records no max_batch (made by an older swapcam)"
            if why:
                raise SwapcamError(f"TensorRT plan {plan} cannot be used here: {why}; rebuild it with "
                                   "`swapcam export --tensorrt`")  # fmt: skip
            max_batch = int(meta["max_batch"])
        else:
            max_batch = max(1, config.max_batch)
            precision = build_precision(trt, info, config)
            slug = "".join(c if c.isalnum() else "-" for c in gpu)
            plan = Path(config.cache_dir) / (f"{_sha256(model)[:16]}-trt{trt.__version__}-{slug}-{precision}"
                                             f"-b{max_batch}.plan")  # fmt: skip
            why = plan_mismatch(plan, model, trt.__version__, gpu, precision=precision, max_batch=max_batch)
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
        self._max_batch = max_batch
        r = info.resolution
        self._host = {  # pinned host buffers reused between calls; (max_batch, C, R, R) float32
            INPUT_NAME: self._host_buffer((max_batch, 3, r, r)),
            OUTPUT_NAMES[0]: self._host_buffer((max_batch, 3, r, r)),
            OUTPUT_NAMES[1]: self._host_buffer((max_batch, 1, r, r)),
        }
        self._device = {}
        for name, host in self._host.items():
            ptr = _check(cudart.cudaMalloc(host.nbytes))
            self._buffers.append(ptr)
            self._device[name] = ptr
            self._context.set_tensor_address(name, int(ptr))

    def _host_buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        """A page-locked float32 array (cudaMallocHost), so cudaMemcpyAsync does not block; page-able if the
        driver refuses (the copies are then synchronous, nothing else changes)."""
        nbytes = int(np.prod(shape)) * 4
        try:
            ptr = int(_check(self._cudart.cudaMallocHost(nbytes)))
        except (EngineUnavailable, AttributeError) as exc:
            log.debug("pinned host memory unavailable (%s): page-able buffers", exc)
            return np.empty(shape, np.float32)
        self._pinned.append(ptr)
        return np.ctypeslib.as_array((ctypes.c_float * int(np.prod(shape))).from_address(ptr)).reshape(shape)

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cudart, n = self._cudart, len(aligned)
        if n > self._max_batch:
            raise SwapcamError(f"TensorRT engine built for at most {self._max_batch} faces, got {n}")
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._context.set_input_shape(INPUT_NAME, aligned.shape)
        staged = self._host[INPUT_NAME][:n]
        staged[...] = aligned  # into pinned memory: the upload below is then asynchronous
        _check(cudart.cudaMemcpyAsync(self._device[INPUT_NAME], staged.ctypes.data, staged.nbytes, h2d,
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
        self._host = {}
        for ptr in self._pinned:
            self._cudart.cudaFreeHost(ptr)
        self._pinned = []
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None

    def __enter__(self) -> TensorRTEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def tensorrt_engine(model, info, config):
    return TensorRTEngine(model, info, config)
