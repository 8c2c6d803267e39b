"""Export: a tiny model trained on real facesets becomes a self-describing ONNX file that matches PyTorch, its int8
variant keeps SSIM >= 0.98, foreign files are refused, and `auto` picks the CPU engine on this machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from swapcam.export.api import export_model, variant_path
from swapcam.export.config import ExportConfig
from swapcam.export.faces import faceset_faces, to_input
from swapcam.export.onnx_graph import graph_from_checkpoint
from swapcam.cli import main as cli
from swapcam.core.engines import EngineConfig, open_engine
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import MODEL_FORMAT, read_model_info
from swapcam.core.provenance import SYNTHETIC_NOTE
from swapcam.trainer.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def exported(tiny_run, facesets, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    return export_model(ExportConfig(str(tiny_run), str(out), int8=True, fp16=True))


@pytest.fixture(scope="module")
def faces_a(exported, facesets):
    return to_input(faceset_faces(facesets[0], exported.info.align, 12))  # (12, 3, 64, 64) float32


def test_round_trip_metadata_and_parity(exported, tiny_run, facesets):
    assert exported.path.is_file() and exported.parity_max_diff <= 1e-4
    assert "faceset" in exported.parity_faces  # checked on the run's real faces, not on noise
    info = read_model_info(exported.path)
    state = load_checkpoint(tiny_run)
    assert (info.source, info.target, info.direction) == ("a", "b", "a2b")
    assert (info.preset, info.step, info.precision, info.resolution) == ("tiny", 150, "fp32", 64)
    assert info.align.to_metadata() == state["align"]
    meta = {p.key: p.value for p in onnx.load(str(exported.path)).metadata_props}
    assert meta["swapcam.format"] == MODEL_FORMAT and meta["provenance"] == SYNTHETIC_NOTE
    assert meta["input.channels"] == "RGB" and meta["input.layout"] == "NCHW"


def test_engine_output_matches_pytorch_for_any_batch(exported, tiny_run, faces_a):
    graph, _ = graph_from_checkpoint(load_checkpoint(tiny_run), "a2b")
    with torch.inference_mode():
        ref_rgb, ref_mask = graph(torch.from_numpy(faces_a))
    with open_engine(exported.path, "ort-cpu") as engine:
        for n in (1, 3, 12):
            rgb, mask = engine.run(faces_a[:n])
            assert rgb.shape == (n, 3, 64, 64) and mask.shape == (n, 1, 64, 64) and rgb.dtype == np.float32
            assert np.abs(rgb - ref_rgb[:n].numpy()).max() <= 1e-4
            assert np.abs(mask - ref_mask[:n].numpy()).max() <= 1e-4


def test_the_model_renders_the_target_side(exported, tiny_run, facesets, faces_a, tmp_path):
    """a2b and b2a use different decoders; both give faces, not noise: each reconstructs its own side's faces."""
    b2a = export_model(ExportConfig(str(tiny_run), str(tmp_path / "b2a.onnx"), direction="b2a"))
    assert (b2a.info.source, b2a.info.target) == ("b", "a")
    with open_engine(exported.path, "ort-cpu") as ab, open_engine(b2a.path, "ort-cpu") as ba:
        to_b, _ = ab.run(faces_a)
        to_a, _ = ba.run(faces_a)
    assert np.abs(to_b - to_a).mean() > 0.01  # two decoders, two different faces
    # decoder A reconstructs A's faces better than decoder B does (training worked, direction is right)
    assert np.abs(to_a - faces_a).mean() < np.abs(to_b - faces_a).mean()


def test_int8_variant_meets_its_ssim_bound_and_runs(exported, faces_a):
    assert exported.int8_path == variant_path(exported.path, "int8") and exported.int8_path.is_file()
    assert exported.int8_check.ssim_mean >= 0.98 and exported.int8_check.faces >= 4
    info = read_model_info(exported.int8_path)
    assert info.precision == "int8" and info.resolution == 64
    ops = {n.op_type for n in onnx.load(str(exported.int8_path)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    with open_engine(exported.path, "ort-cpu") as fp32, open_engine(exported.int8_path, "ort-cpu") as int8:
        a, _ = fp32.run(faces_a)
        b, _ = int8.run(faces_a)
    assert np.abs(a - b).mean() < 0.02  # close, but not the same numbers
    assert exported.int8_path.stat().st_size < 0.5 * exported.path.stat().st_size


def test_fp16_variant_keeps_float32_io(exported, faces_a):
    info = read_model_info(exported.fp16_path)
    assert info.precision == "fp16"
    model = onnx.load(str(exported.fp16_path))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)


def test_auto_picks_the_cpu_engine_here_and_says_why(exported):
    with open_engine(exported.path, "auto") as engine:
        assert engine.name == "ort-cpu"
        assert set(engine.passed_over) == {"tensorrt", "ort-trt", "ort-cuda"}
        assert all(reason for reason in engine.passed_over.values())


def test_a_gpu_engine_asked_for_by_name_fails_with_the_reason(exported):
    with pytest.raises(SwapcamError, match="ort-cuda: .*CUDAExecutionProvider"):
        open_engine(exported.path, "ort-cuda")
    with pytest.raises(SwapcamError, match="unknown engine"):
        open_engine(exported.path, "openvino")


def test_parity_failure_writes_nothing(tiny_run, tmp_path):
    out = tmp_path / "strict.onnx"
    with pytest.raises(SwapcamError, match="parity check failed.*nothing written"):
        export_model(ExportConfig(str(tiny_run), str(out), parity_tolerance=0.0))
    assert not out.exists() and not list(tmp_path.iterdir())


def test_foreign_and_damaged_model_files_are_refused(tmp_path, exported, capsys):
    foreign = tmp_path / "foreign.onnx"
    h = onnx.helper  # a valid ONNX model without our metadata
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g", [h.make_tensor_value_info("x", 1, [1, 3, 8, 8])],
                         [h.make_tensor_value_info("y", 1, [1, 3, 8, 8])])  # fmt: skip
    onnx.save(h.make_model(graph), str(foreign))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model" * 100)
    newer = onnx.load(str(exported.path))
    next(p for p in newer.metadata_props if p.key == "swapcam.format").value = "swapcam-onnx/99"
    onnx.save(newer, str(tmp_path / "newer.onnx"))
    cases = [(foreign, "not a swapcam model"), (junk, "not an ONNX model file"),
             (tmp_path / "newer.onnx", "swapcam-onnx/99"), (tmp_path / "missing.onnx", "no such model")]
    for path, message in cases:
        with pytest.raises(SwapcamError, match=message):
            open_engine(path, "auto")
        assert cli(["info", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cli_export_prints_the_checks_and_refuses_bad_input(tiny_run, tmp_path, capsys):
    assert cli(["export", str(tiny_run), "-o", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "a -> b" in out and "parity: max |ONNX Runtime - PyTorch|" in out
    assert cli(["info", str(tmp_path / "m.onnx")]) == 0
    assert cli(["export", str(tmp_path / "no_run"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert cli(["export", str(tiny_run), "-o", str(tmp_path / "x.pt")]) == 2
    # TensorRT needs an NVIDIA GPU: a clear line here, and the ONNX file is still written
    assert cli(["export", str(tiny_run), "-o", str(tmp_path / "t.onnx"), "--tensorrt", str(tmp_path / "t.plan")]) == 2
    assert "cannot build a TensorRT plan here" in capsys.readouterr().err and (tmp_path / "t.onnx").is_file()


def _cuda_provider() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_provider(), reason="no GPU here: onnxruntime has no CUDA provider (CI is CPU-only)")
@pytest.mark.parametrize("name", ["ort-cuda", "ort-trt", "tensorrt"])
def test_gpu_engines_match_the_cpu_engine(exported, faces_a, name, tmp_path):
    config = EngineConfig(cache_dir=str(tmp_path / "cache"))
    with open_engine(exported.path, "ort-cpu") as cpu, open_engine(exported.path, name, config) as gpu:
        a, am = cpu.run(faces_a[:4])
        b, bm = gpu.run(faces_a[:4])
    assert np.abs(a - b).max() < 2e-2 and np.abs(am - bm).max() < 2e-2  # fp16 inside TensorRT


def test_a_tensorrt_plan_is_refused_on_another_version_gpu_or_model(exported, tmp_path):
    """The sidecar check that guards native TensorRT plans (the build itself needs a GPU)."""
    import hashlib
    import json

    from swapcam.core.engines.tensorrt import plan_mismatch

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan bytes")
    sha = hashlib.sha256(exported.path.read_bytes()).hexdigest()
    Path(f"{plan}.json").write_text(json.dumps({"tensorrt": "10.3.0", "gpu": "RTX 4090 (sm_89)", "onnx_sha256": sha}))
    assert plan_mismatch(plan, exported.path, "10.3.0", "RTX 4090 (sm_89)") is None
    assert "TensorRT 10.3.0, this is 10.4.0" in plan_mismatch(plan, exported.path, "10.4.0", "RTX 4090 (sm_89)")
    assert "this GPU is T4 (sm_75)" in plan_mismatch(plan, exported.path, "10.3.0", "T4 (sm_75)")
    assert "different model" in plan_mismatch(plan, exported.int8_path, "10.3.0", "RTX 4090 (sm_89)")
    assert "missing" in plan_mismatch(tmp_path / "other.plan", exported.path, "10.3.0", "RTX 4090 (sm_89)")
