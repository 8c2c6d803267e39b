"""Engines that fail soft (issue 14). This machine has no GPU, so every GPU failure is injected (a provider list
that lies, a fake ``tensorrt`` module, a corrupt plan sidecar, an unwritable cache folder, a GPU engine raising
SwapcamError) and each must end on ort-cpu running the real tiny model, with the reason on ``engine.passed_over``
and in the log."""

from __future__ import annotations

import ctypes
import json
import logging
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import swapcam.core.engines as engines
from swapcam.core import install_check
from swapcam.core.engines import EngineConfig, open_engine
from swapcam.core.engines.base import EngineUnavailable
from swapcam.core.engines.ort import OrtEngine
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import read_model_info

GPU_ENGINES = ("tensorrt", "ort-trt", "ort-cuda")
# ONNX Runtime warns when asked for a provider its build lacks: exactly the lie these tests tell it
pytestmark = pytest.mark.filterwarnings("ignore:Specified provider .* is not in available provider names")


@pytest.fixture
def faces(tiny_model) -> np.ndarray:
    r = read_model_info(tiny_model).resolution
    return np.random.default_rng(0).random((2, 3, r, r), dtype=np.float32)


def _ends_on_cpu(model, faces, caplog, config=None, info=None) -> dict[str, str]:
    """Opens ``auto``, checks it runs on the CPU and that every GPU engine's reason was logged; returns the reasons."""
    with caplog.at_level(logging.INFO, logger="swapcam.core.engines"):
        with open_engine(model, "auto", config or EngineConfig(), info) as engine:
            swapped, mask = engine.run(faces)
            assert engine.name == "ort-cpu"
            reasons = dict(engine.passed_over)
    assert swapped.shape == faces.shape and mask.shape == (len(faces), 1, *faces.shape[2:])
    assert set(reasons) == set(GPU_ENGINES) and all(reasons.values())
    for name in GPU_ENGINES:
        assert f"engine {name} passed over: {reasons[name]}" in caplog.text
    return reasons


@pytest.fixture
def lying_ort(monkeypatch):
    """onnxruntime claims CUDA and TensorRT providers it does not have (a GPU build on a machine whose GPU or CUDA
    libraries are missing): sessions come up on the CPU provider only."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(install_check, "problems", lambda *a, **k: [])
    return onnxruntime


def fake_cuda(monkeypatch, *, gpus: int = 1) -> types.ModuleType:
    """cuda-python's runtime bindings with one GPU, enough for the native TensorRT engine to get to TensorRT."""
    rt = types.ModuleType("cuda.bindings.runtime")
    prop = types.SimpleNamespace(name=b"Fake GPU", major=9, minor=0)
    rt.cudaGetDeviceCount = lambda: (0, gpus)
    rt.cudaGetDeviceProperties = lambda device: (0, prop)
    rt.cudaSetDevice = lambda device: (0,)
    rt.cudaFree = rt.cudaFreeHost = rt.cudaStreamDestroy = lambda ptr: (0,)
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt
    cuda = types.ModuleType("cuda")
    cuda.bindings = bindings
    for name, module in (("cuda", cuda), ("cuda.bindings", bindings), ("cuda.bindings.runtime", rt)):
        monkeypatch.setitem(sys.modules, name, module)
    return rt


def fake_tensorrt(monkeypatch, *, version: str, fp16_flag: bool, calls: list | None = None,
                  builder_error: Exception | None = None) -> types.ModuleType:  # fmt: skip
    """A ``tensorrt`` module shaped like TensorRT 10 (``fp16_flag``) or 11 (no BuilderFlag.FP16, strongly typed
    networks, no Builder.platform_has_fast_fp16). Builds succeed with fake plan bytes; deserialising fails."""
    calls = calls if calls is not None else []
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            calls.append(("profile", name, lo, opt, hi))

    class Config:
        def set_memory_pool_limit(self, *a):
            pass

        def set_flag(self, flag):
            calls.append(("flag", flag))

        def create_timing_cache(self, data):
            return object()

        def set_timing_cache(self, cache, ignore_mismatch):
            pass

        def add_optimization_profile(self, profile):
            pass

        def get_timing_cache(self):
            return types.SimpleNamespace(serialize=lambda: b"timing")

    class Builder:
        def __init__(self, logger):
            if builder_error is not None:
                raise builder_error

        def create_network(self, flags):
            calls.append(("network", flags))
            return object()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            return b"fake plan"

    if fp16_flag:
        Builder.platform_has_fast_fp16 = True
    trt.Logger, trt.Builder = Logger, Builder
    trt.OnnxParser = lambda network, logger: types.SimpleNamespace(parse=lambda data: True, num_errors=0)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    trt.BuilderFlag = types.SimpleNamespace(**({"FP16": "FP16"} if fp16_flag else {}))
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)
    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda data: None)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt


def test_a_provider_that_does_not_start_is_passed_over(tiny_model, faces, lying_ort, caplog, tmp_path):
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(tmp_path)))
    assert "CUDAExecutionProvider did not start" in reasons["ort-cuda"]
    assert "TensorrtExecutionProvider did not start" in reasons["ort-trt"]
    assert "tensorrt package is not installed" in reasons["tensorrt"]


def test_tensorrt_11_without_the_fp16_api_is_passed_over_not_a_crash(tiny_model, faces, monkeypatch, caplog,
                                                                      tmp_path):  # fmt: skip
    fake_cuda(monkeypatch)
    fake_tensorrt(monkeypatch, version="11.0.0", fp16_flag=False,
                  builder_error=AttributeError("'tensorrt.Builder' object has no attribute 'platform_has_fast_fp16'"))
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(tmp_path)))
    assert reasons["tensorrt"].startswith("TensorRT 11.0.0 failed to build: AttributeError")
    # asked for by name: one line, no traceback
    with pytest.raises(SwapcamError, match="tensorrt: TensorRT 11.0.0 failed to build: AttributeError"):
        open_engine(tiny_model, "tensorrt", EngineConfig(cache_dir=str(tmp_path)))


@pytest.mark.parametrize("version, fp16_flag", [("10.9.0", True), ("11.4.0", False)])
def test_tensorrt_10_and_11_builds_go_through_feature_checks(tiny_model, faces, monkeypatch, caplog, tmp_path,
                                                             version, fp16_flag):  # fmt: skip
    """TensorRT 10: the FP16 builder flag; 11: a strongly typed network (the fp32 model builds fp32). Both build
    one profile for batches 1..max_batch and write a sidecar with precision and max batch; the fake plan then
    fails to load, and auto moves on."""
    fake_cuda(monkeypatch)
    calls: list = []
    fake_tensorrt(monkeypatch, version=version, fp16_flag=fp16_flag, calls=calls)
    cache = tmp_path / "cache"
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(cache), max_batch=3))
    assert "could not load the plan" in reasons["tensorrt"]
    r = read_model_info(tiny_model).resolution
    assert ("profile", "aligned", (1, 3, r, r), (1, 3, r, r), (3, 3, r, r)) in calls
    if fp16_flag:
        assert ("network", 0) in calls and ("flag", "FP16") in calls
    else:
        assert ("network", 1 << 1) in calls and not [c for c in calls if c[0] == "flag"]
    (sidecar,) = cache.glob("*.plan.json")
    meta = json.loads(sidecar.read_text())
    assert meta["precision"] == ("fp16" if fp16_flag else "fp32") and meta["max_batch"] == 3
    assert meta["tensorrt"] == version and meta["gpu"] == "Fake GPU (sm_90)"


def test_a_corrupt_sidecar_refuses_the_plan_and_auto_moves_on(tiny_model, faces, monkeypatch, caplog, tmp_path):
    from swapcam.core.engines.tensorrt import plan_mismatch

    fake_cuda(monkeypatch)
    fake_tensorrt(monkeypatch, version="10.9.0", fp16_flag=True)
    plan = tmp_path / "given.plan"
    plan.write_bytes(b"plan bytes")
    Path(f"{plan}.json").write_text('{"tensorrt": "10.9.0", "gpu": ')  # cut off mid-write
    assert "unreadable" in plan_mismatch(plan, tiny_model, "10.9.0", "Fake GPU (sm_90)")
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(tmp_path), plan=str(plan)))
    assert "cannot be used here: its sidecar given.plan.json is unreadable" in reasons["tensorrt"]


def test_the_plan_check_compares_precision_and_max_batch(tiny_model, tmp_path):
    from swapcam.core.engines.base import model_sha256
    from swapcam.core.engines.tensorrt import plan_mismatch

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan bytes")
    meta = {"tensorrt": "10.9.0", "gpu": "G", "onnx_sha256": model_sha256(tiny_model), "precision": "fp16",
            "max_batch": 4}  # fmt: skip
    Path(f"{plan}.json").write_text(json.dumps(meta))
    assert plan_mismatch(plan, tiny_model, "10.9.0", "G", precision="fp16", max_batch=4) is None
    assert "built in fp16, fp32 asked for" in plan_mismatch(plan, tiny_model, "10.9.0", "G", precision="fp32")
    assert "batches up to 4, 8 asked for" in plan_mismatch(plan, tiny_model, "10.9.0", "G", max_batch=8)


def test_an_unwritable_cache_folder_passes_the_tensorrt_engines_over(tiny_model, faces, lying_ort, monkeypatch,
                                                                     caplog, tmp_path):  # fmt: skip
    fake_cuda(monkeypatch)
    fake_tensorrt(monkeypatch, version="10.9.0", fp16_flag=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # root may write anywhere; nobody can make a folder inside a file
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(blocker / "cache")))
    assert "cannot write TensorRT's engine cache" in reasons["ort-trt"]
    assert "cannot write the TensorRT plan or its caches" in reasons["tensorrt"]


@pytest.mark.parametrize("error", [SwapcamError("the GPU ran out of memory"), RuntimeError("CUDA error: unknown")])
def test_any_exception_from_a_gpu_engine_is_a_reason_not_a_crash(tiny_model, faces, monkeypatch, caplog, error):
    def broken(model, info, config):
        raise error

    real = engines._factory
    monkeypatch.setattr(engines, "_factory", lambda name: broken if name == "ort-cuda" else real(name))
    reasons = _ends_on_cpu(tiny_model, faces, caplog)
    assert str(error) in reasons["ort-cuda"]
    with pytest.raises(SwapcamError, match="ran out of memory|ort-cuda: RuntimeError: CUDA error"):
        open_engine(tiny_model, "ort-cuda")


def test_int8_models_skip_the_tensorrt_engines(tiny_model, faces, lying_ort, monkeypatch, caplog, tmp_path):
    fake_cuda(monkeypatch)
    fake_tensorrt(monkeypatch, version="10.9.0", fp16_flag=True)
    int8 = replace(read_model_info(tiny_model), precision="int8")
    reasons = _ends_on_cpu(tiny_model, faces, caplog, EngineConfig(cache_dir=str(tmp_path)), int8)
    for name in ("tensorrt", "ort-trt"):
        assert "int8 model: TensorRT's ONNX parser rejects" in reasons[name]
    assert "int8" not in reasons["ort-cuda"]


def test_a_broken_install_is_named_with_its_fix(tiny_model, faces, monkeypatch, caplog):
    monkeypatch.setattr(install_check, "installed_distributions",
                        lambda: {"onnxruntime": "1.32.0", "onnxruntime-gpu": "1.26.0", "numpy": "1.26.4"})
    reasons = _ends_on_cpu(tiny_model, faces, caplog)
    for name in ("ort-cuda", "ort-trt"):
        assert "onnxruntime 1.32.0 and onnxruntime-gpu 1.26.0 are both installed" in reasons[name]
        assert "pip uninstall -y onnxruntime onnxruntime-gpu" in reasons[name]


def test_ort_trt_caches_engines_per_model_content_with_a_batch_profile(tiny_model, tmp_path):
    info = read_model_info(tiny_model)
    config = EngineConfig(cache_dir=str(tmp_path), max_batch=4)
    opts = OrtEngine._provider_options("trt", config, tiny_model, info)
    r = info.resolution
    assert opts["trt_profile_min_shapes"] == f"aligned:1x3x{r}x{r}"
    assert opts["trt_profile_max_shapes"] == f"aligned:4x3x{r}x{r}"
    # the same file name with other weights gets another engine folder
    other = tmp_path / "same-name" / tiny_model.name
    other.parent.mkdir()
    other.write_bytes(tiny_model.read_bytes() + b"\x00")
    other_opts = OrtEngine._provider_options("trt", config, other, info)
    assert opts["trt_engine_cache_path"] != other_opts["trt_engine_cache_path"]
    assert Path(opts["trt_engine_cache_path"]).parent == tmp_path / "ort-trt"


def test_the_cpu_fallback_is_switched_off_once_the_gpu_provider_runs(tiny_model, lying_ort, monkeypatch):
    """A session that confirms CUDA (a fake one: there is no GPU) gets ORT's silent CPU retry disabled, the CUDA
    libraries of the pip packages are preloaded first, and it runs through IO binding."""
    seen: list[str] = []

    class Session:
        def __init__(self, model, opts, providers):
            self.providers = [p[0] if isinstance(p, tuple) else p for p in providers]

        def get_providers(self):
            return self.providers

        def disable_fallback(self):
            seen.append("disable_fallback")

        def io_binding(self):
            seen.append("io_binding")
            return object()

    monkeypatch.setattr(lying_ort, "InferenceSession", Session)
    monkeypatch.setattr(lying_ort, "preload_dlls", lambda **kw: seen.append(f"preload {sorted(kw)}"), raising=False)
    with open_engine(tiny_model, "ort-cuda") as engine:
        assert engine.name == "ort-cuda"
    assert seen == ["preload ['cuda', 'cudnn', 'msvc']", "disable_fallback", "io_binding"]


def test_native_tensorrt_host_buffers_are_pinned(monkeypatch):
    from swapcam.core.engines.tensorrt import TensorRTEngine

    rt = fake_cuda(monkeypatch)
    blocks = []

    def malloc_host(nbytes):
        blocks.append(ctypes.create_string_buffer(nbytes))
        return (0, ctypes.addressof(blocks[-1]))

    rt.cudaMallocHost = malloc_host
    engine = TensorRTEngine.__new__(TensorRTEngine)
    engine._cudart, engine._pinned, engine._buffers, engine._stream, engine._host = rt, [], [], None, {}
    host = engine._host_buffer((2, 3, 8, 8))
    assert host.shape == (2, 3, 8, 8) and host.dtype == np.float32
    assert host.ctypes.data == engine._pinned[0] == ctypes.addressof(blocks[0])
    host[...] = 0.5  # writable memory, the engine's own
    engine.close()
    assert engine._pinned == []
    # a driver that refuses pinned memory: page-able buffers, nothing else changes
    rt.cudaMallocHost = lambda nbytes: (2, 0)
    assert engine._host_buffer((1, 3, 8, 8)).shape == (1, 3, 8, 8) and engine._pinned == []


def test_engine_unavailable_messages_name_the_extras():
    from swapcam.core.engines.tensorrt import _imports

    try:
        import tensorrt  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - a GPU machine
        pytest.skip("tensorrt is installed here")
    with pytest.raises(EngineUnavailable, match=r"swapcam\[cuda12\].*swapcam\[cuda13\].*swapcam doctor"):
        _imports()


def test_io_binding_path_gives_the_session_outputs_in_reused_buffers(tiny_model):
    """The GPU providers run through IO binding into output buffers kept per batch size; the same code on the CPU
    provider must give exactly what ``session.run`` gives, for every batch size, without a new array per run."""
    from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES

    info = read_model_info(tiny_model)
    r = info.resolution
    with OrtEngine(tiny_model, info, EngineConfig(max_batch=2), io_binding=True) as engine:
        seen = {}
        for n in (1, 2, 1, 4, 2, 3, 1):
            x = np.random.default_rng(n).random((n, 3, r, r), dtype=np.float32)
            want = engine.session.run(OUTPUT_NAMES, {INPUT_NAME: x})
            cached = n in engine._outputs
            got = engine.run(x)
            assert [g.shape for g in got] == [w.shape for w in want]
            assert all(np.array_equal(g, w) for g, w in zip(got, want))
            if cached:
                assert got[0] is seen[n][0]  # the same buffer again, not a new array
            seen[n] = got
        assert len(engine._outputs) <= 2  # bounded by max_batch
