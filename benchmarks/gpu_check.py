"""One self-contained check for a lent GPU machine (issue 14): everything swapcam can measure on CUDA without
mediapipe, PyAV, onnxruntime-gpu or TensorRT, recorded to one JSON file in about 7 minutes.

    python benchmarks/gpu_check.py --inputs out/gpu_inputs --out $OUT/gpu.json     # on the lent machine
    python benchmarks/gpu_check.py --inputs out/gpu_inputs --dry-run                # here: CPU, tiny sizes, seconds

The input folder is made here by ``benchmarks/gpu_check.sh`` (``benchmarks/gpu_check_inputs.py``): two facesets,
a `fast` checkpoint with the held-out SSIM curve of its CPU run, and 1080p frames with their landmarks. The lent
machine has only a CUDA PyTorch, NumPy, ONNX, OpenCV and a CPU ONNX Runtime, and swapcam is not installed there:
this file maps the working tree's folders into the ``swapcam`` package itself (``use_working_tree``) and imports
nothing that needs mediapipe or PyAV.

Recorded, one section at a time (the JSON is rewritten after each, so a run cut short keeps what it measured; a
section that fails records its error and the others still run):
  machine          GPU, driver, CUDA, cuDNN, torch, numpy, onnx, onnxruntime, opencv versions
  graph            the exported graph (swapcam.export.onnx_graph) in PyTorch on the device, fp32 / tf32 / fp16:
                   max |PyTorch - ONNX Runtime CPU| on real faces, and latency at batch 1 and 4 (CUDA events
                   around the model alone, after a warm-up)
  swap_1080p       the live loop's three stages (swapcam.live.swapper: align, infer, composite) on 1080p frames with
                   precomputed landmarks, the model on the device (fp16 and fp32); frames/s excludes detection
  train_throughput samples/s of `fast` (batch 16 and 64) and `quality` (batch 16) with and without AMP: the
                   trainer's own step (augmentation, loss, GradScaler), timed after a warm-up
  train_ssim       `fast` trained by swapcam.trainer.train.main for --train-minutes on the device with the CPU run's
                   settings (the trainer uses AMP on CUDA), its held-out SSIM curve against the input folder's CPU
                   run and the README's 30-minute CPU run (same seconds, same step, time to the CPU's final SSIM)
"""

from __future__ import annotations

import argparse
import copy
import importlib.machinery
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The folders the installed package maps (pyproject.toml [tool.setuptools] package-dir).
PACKAGE_DIRS = {"swapcam.live": "live", "swapcam.export": "export", "swapcam.trainer": "trainer",
                "swapcam.evaluate": "evaluate"}  # fmt: skip
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu.json"


def use_working_tree() -> None:
    """Makes ``import swapcam.live`` (and .export, .trainer, .evaluate) work from this working tree when swapcam is
    not installed: the repository goes on sys.path for ``swapcam`` itself, and each mapped folder is registered as
    its subpackage with the import machinery (what the editable install's finder does). A no-op where swapcam is
    installed from this tree."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import swapcam

    for name, folder in PACKAGE_DIRS.items():
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            continue
        init = ROOT / folder / "__init__.py"
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        setattr(swapcam, name.rsplit(".", 1)[1], module)
    try:
        has_tqdm = importlib.util.find_spec("tqdm") is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules (the test's stand-in for the lent machine)
        has_tqdm = False
    if not has_tqdm:  # the trainer's progress bar; not on the lent machine
        sys.modules["tqdm"] = _quiet_tqdm()


def _quiet_tqdm() -> types.ModuleType:
    module = types.ModuleType("tqdm")
    module.__spec__ = importlib.machinery.ModuleSpec("tqdm", None)  # torch._dynamo calls find_spec("tqdm")

    class tqdm:  # noqa: N801 - the name the trainer imports
        def __init__(self, *args, **kwargs) -> None:
            pass

        def update(self, *args) -> None:
            pass

        def set_postfix(self, *args, **kwargs) -> None:
            pass

        def close(self) -> None:
            pass

    module.tqdm = tqdm
    return module


use_working_tree()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from swapcam.core.errors import SwapcamError  # noqa: E402

# --- timing -----------------------------------------------------------------------------------------------------


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, np.float64)
    return {"p50_ms": round(float(np.percentile(a, 50)), 4), "p95_ms": round(float(np.percentile(a, 95)), 4),
            "mean_ms": round(float(a.mean()), 4), "n": len(ms)}  # fmt: skip


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_on_device(fn, device: torch.device, *, warmup: int, repeat: int) -> dict[str, float]:
    """Per-call time of ``fn()``: CUDA events on a GPU (device time, no host overhead), perf_counter on the CPU."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeat)]
        for start, end in events:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        return _stats([s.elapsed_time(e) for s, e in events])
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return _stats(ms)


# --- sections ---------------------------------------------------------------------------------------------------


def machine(device: torch.device) -> dict:
    import cv2
    import onnx

    info: dict = {
        "python": platform.python_version(), "cores": os.cpu_count(), "torch": torch.__version__,
        "numpy": np.__version__, "onnx": onnx.__version__, "opencv": cv2.__version__,
        "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
    }  # fmt: skip
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError as exc:
        info["onnxruntime"] = f"missing ({exc})"
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        info.update(gpu=prop.name, gpu_memory_gib=round(prop.total_memory / 2**30, 1),
                    compute_capability=f"{prop.major}.{prop.minor}", gpu_count=torch.cuda.device_count())  # fmt: skip
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True)  # fmt: skip
        info["nvidia_smi"] = smi.stdout.strip().splitlines()
        info["driver"] = info["nvidia_smi"][0].split(",")[-1].strip()
    except (OSError, subprocess.SubprocessError) as exc:
        info["driver"] = None if device.type == "cpu" else f"unknown ({type(exc).__name__})"
    return info


def load_graph(inputs: Path):
    """(fp32 ExportGraph, ModelInfo, ONNX bytes) from the input folder's checkpoint (float16 weights -> float32)."""
    from swapcam.export.config import ExportConfig
    from swapcam.export.onnx_graph import graph_from_checkpoint, to_onnx
    from swapcam.trainer.checkpoint import load_checkpoint

    manifest = json.loads((inputs / "manifest.json").read_text())
    state = load_checkpoint(inputs / manifest["checkpoint"]["path"])
    state["model"] = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    graph, info = graph_from_checkpoint(state, "a2b")
    onnx_model = to_onnx(graph, info, ExportConfig("", "").opset)
    return graph, info, onnx_model.SerializeToString()


def real_faces(inputs: Path, info, n: int) -> np.ndarray:
    """(n, 3, R, R) float32 in [0, 1]: faces of faceset a at the model's resolution (repeated if it has fewer)."""
    from swapcam.export.faces import faceset_faces, to_input

    faces = to_input(faceset_faces(inputs / "facesets" / "a", info.align, n))
    return np.ascontiguousarray(np.resize(faces, (n, *faces.shape[1:])))


def check_graph(inputs: Path, device: torch.device, dry: bool) -> dict:
    from swapcam.core.engines.base import EngineConfig
    from swapcam.core.engines.ort import OrtEngine

    graph, info, onnx_bytes = load_graph(inputs)
    x = real_faces(inputs, info, 4)
    with OrtEngine(onnx_bytes, info, EngineConfig(), provider="cpu") as cpu:
        ref = {n: [a.copy() for a in cpu.run(x[:n])] for n in (1, 4)}
    out: dict = {"model": {"preset": info.preset, "step": info.step, "resolution": info.resolution,
                           "onnx_mb": round(len(onnx_bytes) / 2**20, 2)}, "device": str(device)}  # fmt: skip
    warmup, repeat = (1, 2) if dry else (30, 300)
    for precision in ("fp32", "tf32", "fp16"):
        dtype = torch.float16 if precision == "fp16" else torch.float32
        if device.type == "cuda":
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        model = copy.deepcopy(graph).to(device=device, dtype=dtype)
        row: dict = {}
        with torch.inference_mode():
            for n in (1, 4):
                xt = torch.from_numpy(x[:n]).to(device=device, dtype=dtype)
                rgb, mask = model(xt)
                row[f"max_abs_diff_vs_ort_cpu_b{n}"] = round(max(
                    float(np.abs(rgb.float().cpu().numpy() - ref[n][0]).max()),
                    float(np.abs(mask.float().cpu().numpy() - ref[n][1]).max())), 6)  # fmt: skip
                row[f"latency_b{n}"] = time_on_device(lambda m=model, x=xt: m(x), device, warmup=warmup,
                                                      repeat=repeat)  # fmt: skip
        out[precision] = row
        model = None
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = True, False  # PyTorch's defaults
    clock = "CUDA events" if device.type == "cuda" else "perf_counter (CPU dry run)"
    out["note"] = (f"latency: {clock} around the model alone (input already on the device), cudnn.benchmark on; "
                   "tf32 = fp32 weights with TF32 convolutions (PyTorch's default for cuDNN)")  # fmt: skip
    return out


class TorchEngine:
    """A swapcam engine (swapcam.core.engines.base.Engine) running the exported graph in PyTorch: pinned host
    buffers, one upload, the graph, one download. The lent machine has no onnxruntime-gpu or TensorRT."""

    def __init__(self, graph, info, device: torch.device, *, half: bool, max_batch: int = 4) -> None:
        self.name, self.info, self.device = f"torch-{device.type}-{'fp16' if half else 'fp32'}", info, device
        self.dtype = torch.float16 if half else torch.float32
        self.model = copy.deepcopy(graph).to(device=device, dtype=self.dtype)
        r, pin = info.resolution, device.type == "cuda"
        self._in = torch.empty((max_batch, 3, r, r), dtype=torch.float32, pin_memory=pin)
        self._rgb = torch.empty((max_batch, 3, r, r), dtype=torch.float32, pin_memory=pin)
        self._mask = torch.empty((max_batch, 1, r, r), dtype=torch.float32, pin_memory=pin)

    @torch.inference_mode()
    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(aligned)
        self._in[:n].numpy()[...] = aligned
        x = self._in[:n].to(self.device, non_blocking=True).to(self.dtype)
        rgb, mask = self.model(x)
        self._rgb[:n].copy_(rgb, non_blocking=True)
        self._mask[:n].copy_(mask, non_blocking=True)
        _sync(self.device)
        return self._rgb[:n].numpy(), self._mask[:n].numpy()

    def close(self) -> None:
        self.model = None


def load_frames(inputs: Path) -> list[tuple[np.ndarray, tuple]]:
    """[(frame (H, W, 3) uint8 RGB, faces)] from frames/NN.jpg and their (F, 478, 2) landmarks frames/NN.npy."""
    import cv2

    from swapcam.core.messages import Face

    frames = []
    for i, jpg in enumerate(sorted((inputs / "frames").glob("*.jpg"))):
        image = cv2.cvtColor(cv2.imread(str(jpg), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        landmarks = np.load(jpg.with_suffix(".npy")).astype(np.float32)  # (F, 478, 2) frame pixels
        faces = tuple(
            Face(i, 0.0, k, lm, np.zeros(len(lm), np.float32), (*lm.min(0).tolist(), *lm.max(0).tolist()), 1.0)
            for k, lm in enumerate(landmarks)
        )
        frames.append((image, faces))
    if not frames:
        raise SwapcamError(f"no frames in {inputs / 'frames'}")
    return frames


def check_swap(inputs: Path, device: torch.device, dry: bool) -> dict:
    from swapcam.live.swapper import FaceSwapper

    graph, info, _ = load_graph(inputs)
    frames = load_frames(inputs)
    iterations = 2 if dry else 120
    out: dict = {"frame_size": list(frames[0][0].shape[1::-1]), "frames": len(frames),
                 "faces_per_frame": [len(f) for _, f in frames], "model_resolution": info.resolution}  # fmt: skip
    for half in (True, False):
        engine = TorchEngine(graph, info, device, half=half)
        swapper = FaceSwapper(engine)
        stages: dict[str, list[float]] = {"align": [], "infer": [], "composite": []}
        for it in range(iterations + 3):  # three warm-up frames
            image, faces = frames[it % len(frames)]
            canvas = image.copy()
            t0 = time.perf_counter()
            batch = swapper.prepare(canvas, faces)
            t1 = time.perf_counter()
            swapper.infer(batch)
            t2 = time.perf_counter()
            swapper.composite(canvas, batch)
            t3 = time.perf_counter()
            if it >= 3:
                for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2)):
                    stages[key].append(dt * 1e3)
        row = {k: _stats(v) for k, v in stages.items()}
        total = sum(row[k]["mean_ms"] for k in row)
        row["total_mean_ms"] = round(total, 3)
        row["frames_per_s"] = round(1000 / total, 1)
        out["fp16" if half else "fp32"] = row
        engine.close()
    out["note"] = ("per frame: swapcam.live.swapper.FaceSwapper prepare (align) / infer (pinned upload, graph, "
                   "download, sync) / composite (colour, mask, blend, in place) on one thread; no detection "
                   "(precomputed landmarks), no decode or encode")  # fmt: skip
    return out


def _sides(inputs: Path, resolution: int, max_faces: int | None):
    from swapcam.trainer.data import load_side

    return tuple(load_side(str(inputs / "facesets" / s), resolution, holdout=0.05, seed=0, max_faces=max_faces)[0]
                 for s in "ab")  # fmt: skip


def train_rate(sides, preset: str, device: torch.device, *, batch: int, amp: bool, seconds: float,
               warmup: int) -> dict:  # fmt: skip
    """samples/s (faces of both people) of the trainer's step: the loop body of swapcam.trainer.train.main."""
    import swapcam.trainer.train as trainer
    from swapcam.trainer.model import PRESETS, SwapAutoencoder, TrainPair
    from swapcam.trainer.train import TrainConfig

    a, b = sides
    config = TrainConfig("a", "b", "unused", preset=preset, batch_size=batch)
    if hasattr(trainer, "resolve_recipe"):  # the preset's recipe (loss weights, schedule), as main() applies it
        config = trainer.resolve_recipe(config, preset)
    torch.manual_seed(0)
    model = SwapAutoencoder(PRESETS[preset]).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    cuda = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp and cuda)
    amp_dtype = torch.float16 if cuda else torch.bfloat16  # the CPU (dry run) has no float16 autocast worth timing
    pair = TrainPair(model)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    state = trainer.StepState(model, pair, optimizer, scaler, amp, amp_dtype)

    def step(i: int) -> torch.Tensor:
        loss_a, loss_b = trainer.train_step(state, a, b, config, i, device)  # the trainer's own step
        return loss_a + loss_b

    for i in range(warmup):
        step(i)
    _sync(device)
    t0, n = time.perf_counter(), 0
    while n < 2 or time.perf_counter() - t0 < seconds:
        loss = step(warmup + n)
        n += 1
        if n % 20 == 0:
            _sync(device)
    _sync(device)
    dt = time.perf_counter() - t0
    row = {"preset": preset, "batch_per_person": batch, "amp": amp, "steps": n, "seconds": round(dt, 2),
           "samples_per_s": round(2 * batch * n / dt, 1), "final_loss": round(float(loss.detach()), 5)}  # fmt: skip
    if cuda:
        row["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return row


def check_throughput(inputs: Path, device: torch.device, dry: bool) -> dict:
    plan = [("tiny", 4)] if dry else [("fast", 16), ("fast", 64), ("quality", 16)]
    from swapcam.trainer.model import PRESETS

    cache: dict[int, tuple] = {}
    rows = []
    for preset, batch in plan:
        r = PRESETS[preset].resolution
        if r not in cache:
            cache[r] = _sides(inputs, r, 24 if dry else None)
        for amp in (True, False):
            rows.append(train_rate(cache[r], preset, device, batch=batch, amp=amp, seconds=0.5 if dry else 8.0,
                                   warmup=1 if dry else 8))  # fmt: skip
        if device.type == "cuda":
            torch.cuda.empty_cache()
    summary = {}
    for preset, batch in plan:
        on, off = (next(x for x in rows if (x["preset"], x["batch_per_person"], x["amp"]) == (preset, batch, amp))
                   for amp in (True, False))  # fmt: skip
        summary[f"{preset}_b{batch}_amp_speedup"] = round(on["samples_per_s"] / off["samples_per_s"], 2)
    return {"runs": rows, **summary, "note": "AMP: float16 autocast + GradScaler on CUDA (bfloat16 in the CPU dry "
            "run); samples/s counts the faces of both people; the first steps (cuDNN autotuning) are not timed"}


def _curve(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    keys = ("step", "elapsed_s", "samples_per_s", "ssim_a", "ssim_b")
    return [{k: r[k] for k in keys if k in r} for r in rows if "ssim_a" in r]


def _mean(r: dict) -> float:
    return (r["ssim_a"] + r["ssim_b"]) / 2


def _at(curve: list[dict], seconds: float) -> dict | None:
    """The last record of ``curve`` at or before ``seconds`` of training."""
    before = [r for r in curve if r["elapsed_s"] <= seconds]
    return before[-1] if before else None


def compare_curves(gpu: list[dict], cpu: list[dict]) -> dict:
    """Where the device run stands against a CPU curve: at the same seconds, at the same step, and how soon it
    reached the CPU's final SSIM (mean of both people)."""
    if not cpu:
        return {"cpu_curve_points": 0}
    last = gpu[-1]
    out = {"cpu_curve_points": len(cpu), "cpu_final": cpu[-1], "cpu_at_same_seconds": _at(cpu, last["elapsed_s"]),
           # equal learning: the CPU's seconds depend on how busy its machine was, its steps do not
           "device_at_cpu_final_step": next((r for r in gpu if r["step"] >= cpu[-1]["step"]), None)}  # fmt: skip
    reached = next((r for r in gpu if _mean(r) >= _mean(cpu[-1])), None)
    out["device_seconds_to_cpu_final_ssim"] = reached["elapsed_s"] if reached else None
    if reached:
        out["speedup_to_cpu_final_ssim"] = round(cpu[-1]["elapsed_s"] / max(reached["elapsed_s"], 1e-6), 1)
    return out


def check_ssim(inputs: Path, device: torch.device, dry: bool, minutes: float) -> dict:
    from swapcam.trainer.train import TrainConfig
    from swapcam.trainer.train import main as train

    manifest = json.loads((inputs / "manifest.json").read_text())
    cpu_run = manifest["cpu_run"]
    cpu = _curve(inputs / cpu_run["metrics"])
    settings = {k: cpu_run[k] for k in ("preset", "batch_size", "lr", "warmup_steps", "holdout", "seed", "max_faces")}
    if dry:
        settings.update(preset="tiny", batch_size=4, max_faces=24)
    work = Path(tempfile.mkdtemp(prefix="gpu_check_run_"))
    try:
        length = {"steps": 10} if dry else {"minutes": minutes}  # a dry run on a busy CPU: steps, not seconds
        result = train(TrainConfig(str(inputs / "facesets" / "a"), str(inputs / "facesets" / "b"), str(work / "run"),
                                   device=device.type, eval_every=5 if dry else 25, preview_every=10**9,
                                   checkpoint_minutes=10**6, **length, **settings))  # fmt: skip
        gpu = _curve(work / "run" / "metrics.jsonl")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not gpu:
        raise SwapcamError(f"the training run measured no held-out SSIM (step {result.step})")
    last = gpu[-1]
    out: dict = {"settings": settings, "minutes": None if dry else minutes, "device": str(device),
                 "device_final": last, "device_steps": result.step,
                 "vs_cpu_run": compare_curves(gpu, cpu)}  # fmt: skip
    reference = manifest.get("cpu_reference")
    if reference:  # a longer CPU run of the same command, from the README (other facesets: indicative only)
        ref = [dict(zip(reference["columns"], row)) for row in reference["rows"]]
        out["vs_cpu_reference"] = {"source": reference["source"], **compare_curves(gpu, ref)}
    step = max(1, len(gpu) // 60)
    out["device_curve"] = [[r["elapsed_s"], r["ssim_a"], r["ssim_b"]] for r in gpu[::step]]
    out["note"] = ("held-out masked SSIM of each person's reconstruction (the trainer's metrics.jsonl); the CPU "
                   "curve is the input folder's CPU run with the same settings; the trainer uses AMP on CUDA")
    return out


# --- main -------------------------------------------------------------------------------------------------------


def lent_machine_command(inputs: Path) -> str:
    inputs = inputs.resolve()
    rel = inputs.relative_to(ROOT) if inputs.is_relative_to(ROOT) else inputs
    return f"python benchmarks/gpu_check.py --inputs {rel} --out $OUT/gpu.json"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", default=str(ROOT / "out" / "gpu_inputs"), help="the prepared input folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the JSON file to write (default: %(default)s)")
    parser.add_argument("--train-minutes", type=float, default=None,
                        help="GPU minutes of `fast` training for the SSIM curve (default: 4; dry run 0.05; 0 skips)")
    parser.add_argument("--dry-run", action="store_true", help="the same code on the CPU with tiny sizes (seconds)")
    parser.add_argument("--sections", nargs="+", default=["graph", "swap_1080p", "train_throughput", "train_ssim"],
                        help="which to run (default: all, in this order)")  # fmt: skip
    args = parser.parse_args(argv)
    inputs, out = Path(args.inputs), Path(args.out)
    minutes = args.train_minutes if args.train_minutes is not None else (0.05 if args.dry_run else 4.0)
    if not (inputs / "manifest.json").is_file():
        print(f"gpu_check: error: {inputs} is not a prepared input folder (make it with benchmarks/gpu_check.sh)",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.dry_run:
        device = torch.device("cpu")
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    elif torch.cuda.is_available():
        device = torch.device("cuda:0")
        torch.backends.cudnn.benchmark = True
    else:
        print("gpu_check: error: PyTorch sees no CUDA GPU here (use --dry-run to check the script on a CPU)",
              file=sys.stderr)  # fmt: skip
        return 2
    manifest = json.loads((inputs / "manifest.json").read_text())
    payload: dict = {"check": "gpu_check", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "dry_run": args.dry_run, "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                     "inputs": {k: manifest.get(k) for k in ("made", "facesets", "checkpoint", "frames", "cpu_run")},
                     "errors": {}, "seconds": {}}  # fmt: skip
    sections = {
        "machine": lambda: machine(device),
        "graph": lambda: check_graph(inputs, device, args.dry_run),
        "swap_1080p": lambda: check_swap(inputs, device, args.dry_run),
        "train_throughput": lambda: check_throughput(inputs, device, args.dry_run),
        "train_ssim": lambda: check_ssim(inputs, device, args.dry_run, minutes),
    }
    wanted = ["machine", *[s for s in args.sections if s in sections and s != "machine"]]
    if minutes <= 0 and "train_ssim" in wanted:
        wanted.remove("train_ssim")
    for name in wanted:
        t0 = time.perf_counter()
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        try:
            payload[name] = sections[name]()
        except Exception as exc:  # one section failing must not lose the others' figures
            traceback.print_exc()
            payload["errors"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        payload["seconds"][name] = round(time.perf_counter() - t0, 1)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        write_json(out, payload)
    print(f"gpu_check: wrote {out} ({sum(payload['seconds'].values()):.0f} s, "
          f"{len(payload['errors'])} section(s) failed)")  # fmt: skip
    if args.dry_run:
        print(f"On the lent GPU machine: {lent_machine_command(inputs)}")
    return 1 if payload["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
