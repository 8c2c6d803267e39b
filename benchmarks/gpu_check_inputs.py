"""Prepares the input folder of ``benchmarks/gpu_check.py`` here (issue 14), so that the lent GPU machine, which has
no network, no mediapipe and no PyAV, needs nothing but the working tree and this folder.

    python benchmarks/gpu_check_inputs.py --out out/gpu_inputs [--cpu-minutes 10]   # or: benchmarks/gpu_check.sh

    OUT/
      manifest.json          what is here, how it was made, and the CPU run's training settings
      facesets/a, facesets/b two small facesets (``swapcam extract``) of clips/person_a.mp4 and clips/person_b.mp4
                             (the demo's virtual-camera clips of the packaged portraits when ../shared/data is absent)
      fast.pt                the `fast` model after a short CPU run: weights stored as float16 (they are cast back
                             to float32 on load, so they are exactly representable), no optimiser state
      cpu_metrics.jsonl      that CPU run's metrics.jsonl: held-out SSIM against elapsed seconds
      frames/NN.jpg          a few 1920x1080 frames: clips/webcam_720p.mp4 upscaled (bicubic) from 1280x720
      frames/NN.npy          their landmarks, (F, 478, 2) float32 frame pixels, found here with MediaPipe

Everything stays under 40 MiB (checked at the end). Uses mediapipe and PyAV, so it runs here, never on the lent
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from swapcam.core.errors import SwapcamError  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
LIMIT_BYTES = 40 << 20
# The CPU run's settings; gpu_check trains `fast` on the GPU with the same ones, so the curves compare.
TRAIN = {"preset": "fast", "batch_size": 16, "lr": 5e-4, "warmup_steps": 100, "holdout": 0.05, "seed": 0,
         "max_faces": None}  # fmt: skip
# The README's 30-minute `fast` CPU run of the same settings (person_a every 2nd frame -> person_b, 2 shared cores,
# 2026-11): a longer CPU reference than this machine can afford while it prepares the folder.
CPU_REFERENCE = {
    "source": "README 'Training on your own footage': swapcam train --preset fast --minutes 30, person_a.mp4 every "
              "2nd frame (436 faces) -> person_b.mp4 (307 faces), batch 16, 2 shared CPU cores",
    "columns": ["elapsed_s", "step", "ssim_a", "ssim_b", "samples_per_s"],
    "rows": [[48, 100, 0.58, 0.60, 69], [246, 500, 0.73, 0.76, 52], [660, 800, 0.78, 0.80, 16],
             [1212, 1800, 0.81, 0.83, 65], [1518, 2400, 0.83, 0.86, 61], [1794, 2900, 0.85, 0.85, 56]],
}  # fmt: skip
EVAL_EVERY = 5  # steps: this shared 2-core machine may manage only a step every few seconds


def _clips(work: Path) -> tuple[list[Path], str]:
    a, b = SHARED_DATA / "clips" / "person_a.mp4", SHARED_DATA / "clips" / "person_b.mp4"
    if a.is_file() and b.is_file():
        return [a, b], "../shared/data clips/person_a.mp4 (every 7th frame), clips/person_b.mp4 (every 5th)"
    from swapcam.demo import DemoConfig, make_clips

    clips = make_clips(DemoConfig(steps=1), work)
    return list(clips.values()), "the demo's virtual-camera clips of the packaged portraits (no ../shared/data)"


def make_facesets(out: Path, work: Path) -> tuple[list[str], str]:
    from swapcam.trainer.extract import ExtractConfig, Extractor

    clips, origin = _clips(work)
    paths = []
    # Only the `fast` size (128) is stored beside the 256 px crops: every extra size is a lossless PNG per face.
    sizes = {"live_sizes": (128,)} if "live_sizes" in {f.name for f in fields(ExtractConfig)} else {}
    for name, clip, every in zip("ab", clips, (7, 5)):
        dest = out / "facesets" / name
        Extractor(dest, ExtractConfig(every=every, **sizes)).run([str(clip)])
        paths.append(str(dest))
    return paths, origin


def slim_checkpoint(run: Path, dest: Path) -> dict:
    """The run's last checkpoint without optimiser, scaler or RNG state, weights as float16: enough to export."""
    from swapcam.trainer.checkpoint import load_checkpoint

    state = load_checkpoint(run)
    keep = {k: state[k] for k in ("format", "step", "samples", "elapsed_s", "model_args", "preset", "align",
                                  "identities")}  # fmt: skip
    keep["model"] = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    keep["weights_dtype"] = "float16"
    torch.save(keep, dest)
    return {"step": int(state["step"]), "elapsed_s": float(state["elapsed_s"])}


def train_on_cpu(facesets: list[str], work: Path, minutes: float) -> Path:
    from swapcam.trainer.train import TrainConfig, main

    run = work / "cpu_run"
    if run.exists():
        shutil.rmtree(run)
    main(TrainConfig(facesets[0], facesets[1], str(run), minutes=minutes, eval_every=EVAL_EVERY,
                     preview_every=10**9, device="cpu", **TRAIN))  # fmt: skip
    return run


def make_frames(out: Path, count: int) -> dict:
    """``count`` frames of clips/webcam_720p.mp4 upscaled to 1080p, with their landmarks (image mode)."""
    from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
    from swapcam.core.media_io import read_video
    from swapcam.core.messages import Frame

    clip = SHARED_DATA / "clips" / "webcam_720p.mp4"
    if not clip.is_file():
        from swapcam.core.portraits import portraits

        sources = [("portrait", np.ascontiguousarray(img)) for img in portraits()]
        origin = "the packaged portraits, placed on a 1920x1080 grey canvas (no ../shared/data)"
    else:
        wanted = set(np.linspace(0, 270, count).round().astype(int).tolist())
        sources = [(f"frame {f.frame_id}", f.image) for f in read_video(clip) if f.frame_id in wanted]
        origin = "clips/webcam_720p.mp4 frames upscaled 1280x720 -> 1920x1080 (bicubic)"
    folder = out / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    faces_per_frame = []
    with FaceLandmarker(LandmarkerConfig(video=False, max_faces=2)) as lm:
        for i, (label, image) in enumerate(sources[:count]):
            if image.shape[:2] == (720, 1280):
                big = cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_CUBIC)
            else:  # a portrait: centred on a canvas
                big = np.full((1080, 1920, 3), 128, np.uint8)
                h, w = image.shape[:2]
                s = min(1.0, 1000 / h)
                small = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
                y, x = (1080 - small.shape[0]) // 2, (1920 - small.shape[1]) // 2
                big[y : y + small.shape[0], x : x + small.shape[1]] = small
            faces = lm(Frame(big, i, 0.0))
            if not faces:
                raise SwapcamError(f"no face found in {label} at 1080p")
            landmarks = np.stack([f.landmarks for f in faces]).astype(np.float32)  # (F, 478, 2) frame pixels
            jpg = [cv2.IMWRITE_JPEG_QUALITY, 92]
            cv2.imwrite(str(folder / f"{i:02d}.jpg"), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), jpg)
            np.save(folder / f"{i:02d}.npy", landmarks)
            faces_per_frame.append(len(faces))
    return {"origin": origin, "count": len(faces_per_frame), "size": [1920, 1080], "faces": faces_per_frame}


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def prepare(out: Path, *, cpu_minutes: float, frames: int = 4, work: Path | None = None) -> dict:
    out = Path(out)
    work = Path(work or f"{out}_work")  # the full CPU run (optimiser state and all) stays out of the carried folder
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    facesets, origin = make_facesets(out, work)
    load_before = os.getloadavg()
    run = train_on_cpu(facesets, work, cpu_minutes)
    load_after = os.getloadavg()
    ckpt = slim_checkpoint(run, out / "fast.pt")
    shutil.copy(run / "metrics.jsonl", out / "cpu_metrics.jsonl")
    manifest = {
        "made": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "facesets": {"a": "facesets/a", "b": "facesets/b", "origin": origin},
        "checkpoint": {"path": "fast.pt", **ckpt, "weights": "float16 (cast to float32 on load)"},
        "cpu_run": {"metrics": "cpu_metrics.jsonl", "minutes": cpu_minutes, "threads": torch.get_num_threads(),
                    "device": "cpu", "eval_every": EVAL_EVERY, **TRAIN,
                    "load_average_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
                    "note": "a 2-core machine shared with other jobs: its seconds are slower than an idle one's "
                            "(benchmarks/results/train.json: fast 39.3 samples/s idle)"},  # fmt: skip
        "cpu_reference": CPU_REFERENCE,
        "frames": make_frames(out, frames),
        "seconds_to_make": round(time.time() - t0, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = folder_bytes(out)
    if size > LIMIT_BYTES:
        raise SwapcamError(f"{out} holds {size / 2**20:.1f} MiB, over the 40 MiB that may travel")
    manifest["bytes"] = size
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "out" / "gpu_inputs"))
    parser.add_argument("--cpu-minutes", type=float, default=6.0, help="the CPU training run (default: 6)")
    parser.add_argument("--frames", type=int, default=4, help="1080p frames with landmarks (default: 4)")
    args = parser.parse_args()
    try:
        manifest = prepare(Path(args.out), cpu_minutes=args.cpu_minutes, frames=args.frames)
    except SwapcamError as exc:
        print(f"gpu_check_inputs: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    rel = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"prepared {rel}: {manifest['bytes'] / 2**20:.1f} MiB")
    print("On the lent GPU machine (carry the folder with the working tree):")
    print(f"  python benchmarks/gpu_check.py --inputs {rel} --out $OUT/gpu.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
