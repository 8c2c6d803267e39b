"""``make demo``: the whole pipeline on two public-domain portraits that ship inside installed packages.

The astronaut (scikit-image) is the face the camera sees (A), Grace Hopper (matplotlib) the face to render (B). A
virtual camera (``live/virtual_camera.py``) turns each still into a short clip; then, through the library's own
APIs, nothing from outside: extract a faceset from each clip -> train a model for ``--minutes`` (default
$DEMO_MINUTES, else 5) -> export it to ONNX -> convert the astronaut's clip -> a side-by-side picture and the
latency of each stage. Outputs go to ``--out`` (default ``out/``):

    clips/astronaut.mp4, clips/grace_hopper.mp4   the virtual-camera clips (reused while their settings match)
    facesets/astronaut/, facesets/grace_hopper/   the extracted faces
    run-PRESET/                                   checkpoints, previews, metrics.jsonl (a second run trains on)
    demo.onnx, demo.mp4, side_by_side.png         the model, the converted clip, input | output mid-clip
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.portraits import ORIGINS, PEOPLE, portraits

if TYPE_CHECKING:
    from swapcam.live.convert import ConvertResult
    from swapcam.live.virtual_camera import VirtualCamera
    from swapcam.trainer.train import TrainResult

STAGES = ("landmarks", "align", "infer", "composite")  # what convert's telemetry times per frame
STILLS_NOTE = (
    "Stills give no expression variety: the model learnt one expression of each face, and the pose and lighting\n"
    "variety it saw is synthetic (the virtual camera), so the swap cannot follow the astronaut's mouth and eyes.\n"
    "With real footage of each person (a few minutes each, varied expressions, head poses and lighting) the swap\n"
    'follows mouth and eyes and looks like the person: see "Training on your own footage" in README.md.'
)


def env_minutes(default: float = 5.0) -> float:
    """Training minutes from $DEMO_MINUTES (``make demo DEMO_MINUTES=2``), else ``default``."""
    value = os.environ.get("DEMO_MINUTES", "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise SwapcamError(f"DEMO_MINUTES should be a number of minutes, not {value!r}") from None


@dataclass(frozen=True)
class DemoConfig:
    out: str = "out"
    minutes: float = field(default_factory=env_minutes)  # training time in this run: $DEMO_MINUTES, else 5
    preset: str = "fast"
    frames: int = 300  # per clip: 10 s at 30 fps
    size: int = 384  # clip frames are size x size pixels (even)
    steps: int | None = None  # train until this global step instead of for ``minutes`` (tests)
    # A few minutes on two stills: more, smaller steps at a higher rate learn faster than the trainer's defaults
    # (batch 16, 5e-4, warm-up 100). Measured here on the demo's facesets, 4,800 samples per person each: held-out
    # SSIM A 0.72 / B 0.57 against 0.61 / 0.38, in about the same wall time.
    batch_size: int = 8  # faces per person per training step
    lr: float = 1e-3
    warmup_steps: int = 20
    provenance: bool = True
    seed: int = 0
    threads: int | None = None  # torch and ONNX Runtime threads (default: the cores; 1 on a machine that is busy)

    def __post_init__(self) -> None:
        if self.steps is None and not self.minutes > 0:
            raise SwapcamError(f"training minutes must be positive, not {self.minutes}")
        if self.steps is not None and self.steps < 1:
            raise SwapcamError(f"training steps must be >= 1, not {self.steps}")
        if self.frames < 2:
            raise SwapcamError(f"a clip needs at least 2 frames, not {self.frames}")


@dataclass(frozen=True)
class DemoResult:
    clips: dict[str, Path]  # person -> virtual-camera clip
    faces: dict[str, int]  # person -> faces in their faceset
    train: TrainResult
    model: Path
    output: Path  # the astronaut's clip, converted
    side_by_side: Path
    convert: ConvertResult
    seconds: dict[str, float]  # step -> wall time


def _face_box(image: np.ndarray, landmarker) -> tuple[float, float, float, float]:
    """The face's landmark box, widened by 30% and raised (the landmarks stop at the brows): what the camera keeps
    in frame."""
    from swapcam.core.messages import Frame

    faces = landmarker(Frame(image, 0, 0.0))
    if not faces:
        raise SwapcamError("the demo portraits gave no face: the MediaPipe install looks broken")
    x0, y0, x1, y1 = faces[0].box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, 0.65 * (x1 - x0), 0.65 * (y1 - y0)
    return cx - hw, cy - 1.15 * hh, cx + hw, cy + hh


def _reusable(path: Path, camera: VirtualCamera) -> bool:
    """True when ``path`` is a finished clip made by this very camera (its settings are in the file's tags)."""
    import av

    if not path.is_file():
        return False
    try:
        with av.open(str(path)) as container:
            return container.metadata.get("swapcam_camera") == camera.describe()
    except av.FFmpegError:
        return False


def make_clips(config: DemoConfig, out: Path) -> dict[str, Path]:
    """Writes (or reuses) one virtual-camera clip per portrait; a rewritten clip's stale faceset is removed."""
    from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
    from swapcam.live.virtual_camera import CameraConfig, VirtualCamera, write_clip

    camera_config = CameraConfig(width=config.size, height=config.size, frames=config.frames)
    clips = {}
    with FaceLandmarker(LandmarkerConfig(video=False)) as landmarker:
        for i, (name, origin, image) in enumerate(zip(PEOPLE, ORIGINS, portraits())):
            seed = config.seed * len(PEOPLE) + i  # the two clips must not move in step
            camera = VirtualCamera(image, replace(camera_config, seed=seed), focus=_face_box(image, landmarker))
            path = out / "clips" / f"{name}.mp4"
            if not _reusable(path, camera):
                path.parent.mkdir(parents=True, exist_ok=True)
                write_clip(path, camera, source=f"{name}: {origin}, public domain", provenance=config.provenance)
                shutil.rmtree(out / "facesets" / name, ignore_errors=True)  # its faces came from another clip
            clips[name] = path
    return clips


def extract(clips: dict[str, Path], out: Path) -> dict[str, int]:
    """Extracts each clip into ``out/facesets/<person>`` (a clip already extracted is skipped); returns face counts."""
    from swapcam.trainer.extract import ExtractConfig, Extractor

    faces = {}
    for name, clip in clips.items():
        extractor = Extractor(out / "facesets" / name, ExtractConfig())
        extractor.run([str(clip)])
        faces[name] = len(extractor.store.records())
    return faces


def train(config: DemoConfig, out: Path, run: Path, *, resume: bool) -> TrainResult:
    """Trains A -> B in ``run`` for ``config.minutes`` (or to ``config.steps``) on the facesets in ``out``."""
    from swapcam.trainer.train import TrainConfig, main

    a, b = (str(out / "facesets" / name) for name in PEOPLE)
    return main(TrainConfig(a, b, str(run), preset=config.preset, minutes=None if config.steps else config.minutes,
                            steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                            warmup_steps=config.warmup_steps, seed=config.seed, threads=config.threads,
                            resume=resume))  # fmt: skip


def side_by_side(before: Path, after: Path, dest: Path, *, provenance: bool) -> Path:
    """Writes the middle frame of ``before`` and of ``after`` next to each other (a synthetic PNG)."""
    from swapcam.core.media_io import probe_video, read_video, write_image

    middle = probe_video(before).frames // 2
    pair = [next((f.image for f in read_video(path) if f.frame_id == middle), None) for path in (before, after)]
    if pair[0] is None or pair[1] is None or pair[0].shape != pair[1].shape:
        raise SwapcamError(f"{after} does not match {before} frame for frame")
    return write_image(dest, np.hstack(pair), synthetic=True, provenance=provenance)


def run(config: DemoConfig, report: Callable[[str], None] = lambda line: None) -> DemoResult:
    """The whole demo, step by step; ``report`` gets one line per finished step (the CLI prints them)."""
    from swapcam.export.api import export_model
    from swapcam.export.config import ExportConfig
    from swapcam.live.convert import ConvertConfig, convert
    from swapcam.core.engines import EngineConfig
    from swapcam.trainer.checkpoint import latest_checkpoint

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def done(step: str, line: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = now - clock
        clock = now
        report(f"[{len(seconds)}/6] {line} ({seconds[step]:.1f} s)")

    clips = make_clips(config, out)
    done("clips", f"virtual-camera clips, {config.frames} frames at {config.size}x{config.size}: "
         + ", ".join(str(p) for p in clips.values()))  # fmt: skip
    faces = extract(clips, out)
    done("extract", "facesets: " + ", ".join(f"{out / 'facesets' / n} ({k} faces)" for n, k in faces.items()))
    run_dir = out / f"run-{config.preset}"
    resume = latest_checkpoint(run_dir) is not None  # an earlier demo's run: train on from where it stopped
    trained = train(config, out, run_dir, resume=resume)
    metrics = trained.metrics
    scores = f", held-out SSIM A {metrics['ssim_a']} B {metrics['ssim_b']}" if "ssim_a" in metrics else ""
    stopped = " (stopped by Ctrl-C)" if trained.interrupted else ""
    done("train", f"{'continued' if resume else 'trained'} {run_dir} ({config.preset}) to step {trained.step}{stopped}"
         f"{scores} -> {trained.checkpoint.name}")  # fmt: skip
    faceset_a = str(out / "facesets" / PEOPLE[0])  # real faces of the camera's person for the parity check
    model = export_model(ExportConfig(str(trained.checkpoint), str(out / "demo.onnx"), faces=faceset_a)).path
    done("export", f"exported {model}")
    output = out / "demo.mp4"
    converted = convert(ConvertConfig(str(model), str(clips[PEOPLE[0]]), str(output), provenance=config.provenance,
                                      engine_config=EngineConfig(threads=config.threads)))  # fmt: skip
    done("convert", f"converted {clips[PEOPLE[0]]} -> {output}: {converted.frames} frames, "
         f"{converted.frames_with_face} with a face")  # fmt: skip
    picture = side_by_side(clips[PEOPLE[0]], output, out / "side_by_side.png", provenance=config.provenance)
    done("picture", f"input | output, mid-clip: {picture}")
    return DemoResult(clips, faces, trained, model, output, picture, converted, seconds)


def latency_lines(result: ConvertResult) -> list[str]:
    """Per-stage p50/p95 from convert's telemetry, and the throughput."""
    stages = result.stats["stages"]
    lines = [f"  {name:<10} p50 {stages[name]['p50_ms']:6.2f} ms   p95 {stages[name]['p95_ms']:6.2f} ms"
             for name in STAGES if name in stages]  # fmt: skip
    lines.append(f"  {result.fps:.1f} fps offline ({result.frames} frames in {result.seconds:.1f} s: decode, "
                 "landmarks, swap and H.264 encode on three threads)")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    from swapcam.trainer.model import PRESETS

    parser = argparse.ArgumentParser(prog="python -m swapcam.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    d = DemoConfig(minutes=5.0)  # for the defaults shown in --help (not from $DEMO_MINUTES, which may be bad)
    parser.add_argument("--out", default=d.out, help="output folder (default: out)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--minutes", type=float, help="training minutes (default: $DEMO_MINUTES, else 5)")
    limit.add_argument("--steps", type=int, help="train to this step instead (quick checks)")
    parser.add_argument("--preset", default=d.preset, choices=sorted(PRESETS), help="model size (default: fast)")
    parser.add_argument("--frames", type=int, default=d.frames, help="frames per clip (default: %(default)s)")
    parser.add_argument("--size", type=int, default=d.size, help="clip frame size in pixels (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="faces per person per training step")
    parser.add_argument("--seed", type=int, default=d.seed, help="camera paths and training (default: 0)")
    parser.add_argument("--threads", type=int, help="torch and ONNX Runtime threads (default: the cores)")
    parser.add_argument("--no-provenance", action="store_true", help="do not mark the outputs as synthetic")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        minutes = {} if args.minutes is None else {"minutes": args.minutes}
        config = DemoConfig(out=args.out, preset=args.preset, frames=args.frames, size=args.size, steps=args.steps,
                            batch_size=args.batch_size, provenance=not args.no_provenance, seed=args.seed,
                            threads=args.threads, **minutes)  # fmt: skip
        plan = f"{config.steps} steps" if config.steps else f"{config.minutes:g} minutes"
        print(f"swapcam demo: the astronaut's face as Grace Hopper's, learnt from two stills ({config.preset}, {plan})")
        result = run(config, report=lambda line: print(line, flush=True))
    except SwapcamError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    print(f"latency per frame of {result.output} ({config.size}x{config.size}, convert's telemetry):")
    print("\n".join(latency_lines(result.convert)))
    print(f"done in {time.perf_counter() - t0:.0f} s: look at {result.side_by_side} and {result.output}")
    print(STILLS_NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
