"""benchmarks/gpu_check.py works before any GPU is lent (issue 14): its --dry-run runs every section on the CPU with
tiny sizes, in a Python that sees only what the lent machine has (no swapcam install, no mediapipe, PyAV or tqdm),
on an input folder made like benchmarks/gpu_check.sh makes one (here from the test fixtures: the real facesets, the
tiny run, a portrait with its landmarks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Not on the lent machine (it has PyTorch, NumPy, ONNX, OpenCV and ONNX Runtime): imported, they raise ImportError.
BLOCKED = ("mediapipe", "av", "tqdm", "scipy", "skimage", "matplotlib", "PIL", "aiohttp", "pyvirtualcam", "dlib",
           "face_recognition_models", "selenium", "sklearn")  # fmt: skip


@pytest.fixture(scope="module")
def inputs(facesets, tiny_run, astronaut, detect, tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT))
    from benchmarks.gpu_check_inputs import slim_checkpoint

    out = tmp_path_factory.mktemp("gpu_inputs")
    for side, src in zip("ab", facesets):
        shutil.copytree(src, out / "facesets" / side)
    ckpt = slim_checkpoint(tiny_run, out / "model.pt")
    shutil.copy(tiny_run / "metrics.jsonl", out / "cpu_metrics.jsonl")
    (out / "frames").mkdir()
    faces = detect(astronaut)
    cv2.imwrite(str(out / "frames" / "00.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    np.save(out / "frames" / "00.npy", np.stack([f.landmarks for f in faces]).astype(np.float32))
    manifest = {
        "made": "test", "facesets": {"a": "facesets/a", "b": "facesets/b"},
        "checkpoint": {"path": "model.pt", **ckpt}, "frames": {"count": 1},
        "cpu_run": {"metrics": "cpu_metrics.jsonl", "preset": "tiny", "batch_size": 4, "lr": 1e-3,
                    "warmup_steps": 10, "holdout": 0.05, "seed": 0, "max_faces": 48},
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def run_like_the_lent_machine(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Runs gpu_check.py with ``python -S``: site-packages only through PYTHONPATH, so swapcam's editable install
    (a .pth finder) is not active, and mediapipe, av and tqdm blocked as if absent. Reports which swapcam it used."""
    code = f"""
import runpy, sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # `import name` raises ImportError, as on the lent machine
sys.argv = ["gpu_check.py", *{args!r}]
try:
    runpy.run_path({str(ROOT / "benchmarks" / "gpu_check.py")!r}, run_name="__main__")
    rc = 0
except SystemExit as exc:
    rc = exc.code
import swapcam.live
print("SWAPCAM_LIVE", swapcam.live.__file__)
print("LOADED", sorted(n for n in {BLOCKED!r} if sys.modules.get(n) is not None and n != "tqdm"))
sys.exit(rc)
"""
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_swapcam_is_not_importable_without_the_shim(tmp_path):
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-S", "-c", "import swapcam.live"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "No module named 'swapcam'" in done.stderr  # the test's premise holds


def test_the_dry_run_measures_every_section_without_an_install(inputs, tmp_path):
    out = tmp_path / "gpu.json"
    done = run_like_the_lent_machine(["--inputs", str(inputs), "--out", str(out), "--dry-run"], tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"SWAPCAM_LIVE {ROOT / 'live' / '__init__.py'}" in done.stdout
    assert "LOADED []" in done.stdout
    assert "On the lent GPU machine: python benchmarks/gpu_check.py --inputs" in done.stdout
    result = json.loads(out.read_text())
    assert result["dry_run"] and result["errors"] == {}
    assert result["machine"]["torch"] and result["machine"]["onnxruntime"]
    graph = result["graph"]
    assert graph["model"]["preset"] == "tiny" and graph["model"]["resolution"] == 64
    for precision, tolerance in (("fp32", 1e-4), ("tf32", 1e-4), ("fp16", 2e-2)):
        for n in (1, 4):
            assert graph[precision][f"max_abs_diff_vs_ort_cpu_b{n}"] <= tolerance
            assert graph[precision][f"latency_b{n}"]["p50_ms"] > 0
    swap = result["swap_1080p"]
    assert swap["frame_size"] == [512, 512] and swap["faces_per_frame"] == [1]
    for precision in ("fp16", "fp32"):
        assert swap[precision]["frames_per_s"] > 0
        assert all(swap[precision][stage]["n"] >= 2 for stage in ("align", "infer", "composite"))
    runs = result["train_throughput"]["runs"]
    assert {(r["preset"], r["amp"]) for r in runs} == {("tiny", True), ("tiny", False)}
    assert all(r["samples_per_s"] > 0 and np.isfinite(r["final_loss"]) for r in runs)
    ssim = result["train_ssim"]
    assert 0 < ssim["device_final"]["ssim_a"] <= 1 and ssim["device_steps"] == 10
    vs_cpu = ssim["vs_cpu_run"]
    assert vs_cpu["cpu_final"]["step"] == 150 and vs_cpu["cpu_curve_points"] == 30  # read from the input folder
    assert "device_at_cpu_final_step" in vs_cpu and "device_seconds_to_cpu_final_ssim" in vs_cpu


def test_a_missing_input_folder_is_one_line(tmp_path):
    done = run_like_the_lent_machine(["--inputs", str(tmp_path / "nothing"), "--dry-run"], tmp_path, timeout=300)
    assert done.returncode == 2 and "is not a prepared input folder" in done.stderr
    assert "Traceback" not in done.stderr
