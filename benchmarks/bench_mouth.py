"""Mouth pass-through and sharpening (issue 15): cost per face at 720p, and what sharpening does to the detail
measure before and after paste-back. Writes benchmarks/results/mouth.json.

    python benchmarks/bench_mouth.py --model MODEL.onnx [--frames 60]

Frames: clips/person_a.mp4 (a talking head, the mouth open in most frames), as it is for the detail, and scaled
1.5x onto a 1280x720 canvas for the cost (the sample 720p clip never opens the mouth, so the stage would only
take its early exit there). Each face is aligned onto the model's crop and run through the model once; the timings then
repeat the compositing alone (colour, mask, blend) with each option, so the difference is the option's cost.
Detail = Laplacian variance inside the face, output / input, both aligned onto the model's crop (``swapcam
eval``'s measure): "crop" is measured on the swapped crop before paste-back, "frame" on the frame after it.
Goal: mouth pass-through <= 0.5 ms a face at 720p on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swapcam.live.blend import BlendConfig
from swapcam.live.composite import CompositeConfig, FaceCompositor
from swapcam.live.mouth import MouthConfig, MouthPassThrough
from swapcam.live.sharpen import SharpenConfig, Sharpener

from benchmarks.common import SHARED_DATA, time_calls
from swapcam.core.mask import crop_mask
from swapcam.core.messages import AlignedFace, Frame

# MediaPipe, PyAV, ONNX Runtime and torch (the detail measure) are imported where they are used, so that
# ``--cost-from`` runs on a machine with OpenCV and NumPy alone.


def _to_720p(image: np.ndarray) -> np.ndarray:
    big = cv2.resize(image, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)[:720]
    canvas = np.zeros((720, 1280, 3), np.uint8)
    x = (1280 - big.shape[1]) // 2
    canvas[: big.shape[0], x : x + big.shape[1]] = big
    return canvas


def _faces(clip: Path, frames: int, every: int = 1, *, to_720p: bool = False):
    from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
    from swapcam.core.media_io import read_video

    out = []
    with FaceLandmarker(LandmarkerConfig(video=True)) as lm:
        for frame in read_video(clip):
            if frame.frame_id % every:
                continue
            if to_720p:
                frame = Frame(_to_720p(frame.image), frame.frame_id, frame.t_capture)
            faces = lm(frame)
            if faces:
                out.append((frame.image, faces[0]))
            if len(out) >= frames:
                break
    return out


def _swapped(engine, spec, items):
    """(frame, face, aligned, swapped crop uint8) for each item: the model's output, once."""
    from swapcam.core.align import align_face

    out = []
    for image, face in items:
        aligned = align_face(image, face, spec)
        x = (aligned.image.transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32)
        rgb, _ = engine.run(np.ascontiguousarray(x))
        out.append((image, face, aligned, np.clip(rgb[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)))
    return out


def _timed(fn, repeat: int) -> dict:
    """Wall-clock percentiles, plus the mean CPU time per call: on a machine shared with other jobs the wall clock
    measures the queue for a core, the CPU time the work itself (OpenCV runs on one thread here, see main)."""
    wall = time_calls(fn, repeat=repeat)
    t0, fastest = time.process_time(), []
    for _ in range(repeat):
        t1 = time.perf_counter()
        fn()
        fastest.append(time.perf_counter() - t1)
    cpu = (time.process_time() - t0) / repeat
    # p10 of the wall clock: the calls that found a core free, the nearest to the cost on an idle machine
    return {**wall, "cpu_mean_ms": round(cpu * 1e3, 3), "p10_ms": round(float(np.percentile(fastest, 10)) * 1e3, 3)}


def _save(path: str, swaps) -> None:
    np.savez_compressed(path, frames=np.stack([im for im, *_ in swaps]), crops=np.stack([a.image for _, _, a, _ in swaps]),
                        matrices=np.stack([a.matrix for _, _, a, _ in swaps]),
                        landmarks=np.stack([a.landmarks for _, _, a, _ in swaps]),
                        swapped=np.stack([s for *_, s in swaps]))  # fmt: skip


def _load(path: str):
    d = np.load(path)
    return [(d["frames"][i], None, AlignedFace(0, 0.0, 0, d["crops"][i], d["matrices"][i], d["landmarks"][i]),
             d["swapped"][i]) for i in range(len(d["frames"]))]  # fmt: skip


def cost(swaps, size: int, repeat: int) -> dict:
    """p50/p95 ms per face of the compositor with each option, and of the option's stage alone."""
    results = {}
    options = {"default": CompositeConfig(), "mouth_on": CompositeConfig(mouth=MouthConfig("on")),
               "mouth_auto": CompositeConfig(mouth=MouthConfig("auto")),
               "sharpen_0.5": CompositeConfig(sharpen=SharpenConfig(0.5), blend=BlendConfig(cubic=True))}  # fmt: skip
    frames = [image.copy() for image, *_ in swaps]
    for name, config in options.items():
        comp = FaceCompositor(size, config)

        def one(comp=comp, i=[0]):  # noqa: B006 - the call counter
            k = i[0] % len(swaps)
            i[0] += 1
            _, _, aligned, crop = swaps[k]
            comp(frames[k], aligned, crop)

        results[f"composite_{name}"] = _timed(one, repeat)
    buf = np.empty((size, size, 3), np.uint8)
    for name, stage in (("mouth_on", MouthPassThrough(size, MouthConfig("on"))),
                        ("mouth_auto", MouthPassThrough(size, MouthConfig("auto"))),
                        ("sharpen_0.5", Sharpener(size, SharpenConfig(0.5)))):  # fmt: skip
        masks = [crop_mask(a.landmarks, size) for _, _, a, _ in swaps]

        def one(stage=stage, masks=masks, i=[0]):  # noqa: B006 - the call counter
            k = i[0] % len(swaps)
            i[0] += 1
            _, _, aligned, crop = swaps[k]
            np.copyto(buf, crop)
            if isinstance(stage, Sharpener):
                stage(buf, masks[k])
            else:
                stage(buf, aligned.image, aligned.landmarks, 0)

        results[f"stage_{name}"] = _timed(one, repeat)
    return results


def detail(swaps, size: int, spec, amounts=(0.0, 0.25, 0.5, 0.75, 1.0), *, cubic: bool) -> dict:
    """Median output/input detail on the crop (before paste-back) and on the frame (after), per sharpen amount."""
    from swapcam.evaluate.metrics import face_detail, laplacian_variance

    out = {}
    for amount in amounts:
        comp = FaceCompositor(size, CompositeConfig(sharpen=SharpenConfig(amount), blend=BlendConfig(cubic=cubic)))
        crop_r, frame_r = [], []
        for image, face, aligned, crop in swaps:
            frame = image.copy()
            comp(frame, aligned, crop)
            mask = crop_mask(aligned.landmarks, size)
            grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
            d_in = laplacian_variance(grey(aligned.image), mask)
            crop_r.append(laplacian_variance(grey(comp._recoloured), mask) / d_in)  # the crop that was pasted
            d_in2, d_out = face_detail(image, frame, face, spec)
            frame_r.append(d_out / d_in2)
        out[str(amount)] = {"crop": round(float(np.median(crop_r)), 3), "frame": round(float(np.median(frame_r)), 3)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--repeat", type=int, default=300)
    p.add_argument("--save-cache", metavar="NPZ", help="also save the 720p faces and swapped crops here ...")
    p.add_argument("--cost-from", metavar="NPZ", help="... and time only the cost from such a file (a machine "
                   "without MediaPipe or the model, or an idle one); prints JSON")  # fmt: skip
    args = p.parse_args()
    cv2.setNumThreads(1)  # the live loop's compositing runs on one thread beside inference
    if args.cost_from:
        print(json.dumps(cost(_load(args.cost_from), 128, args.repeat)))
        return
    from benchmarks.common import write_results
    from swapcam.core.engines import EngineConfig, open_engine
    from swapcam.core.model_info import read_model_info
    from swapcam.core.pose import mouth_opening

    info = read_model_info(args.model)
    spec = info.align
    engine = open_engine(args.model, "ort-cpu", EngineConfig(threads=2), info)
    try:
        clip = SHARED_DATA / "clips" / "person_a.mp4"
        cam = _swapped(engine, spec, _faces(clip, args.frames, every=8, to_720p=True))
        talk = _swapped(engine, spec, _faces(clip, args.frames, every=8))
    finally:
        engine.close()
    if args.save_cache:
        _save(args.save_cache, cam[:20])
    face_px = float(np.median([f.box[2] - f.box[0] for _, f, _, _ in cam]))
    open_share = float(np.mean([mouth_opening(f.landmarks) > MouthConfig().closed for _, f, _, _ in cam]))
    results = {
        "model": {"path": Path(args.model).name, "preset": info.preset, "step": info.step, "size": spec.size},
        "cost_720p": {"faces": len(cam), "face_width_px": round(face_px), "mouth_open_share": round(open_share, 2),
                      **cost(cam, spec.size, args.repeat)},
        "detail_person_a": {"faces": len(talk), "paste_bilinear": detail(talk, spec.size, spec, cubic=False),
                            "paste_bicubic": detail(talk, spec.size, spec, cubic=True)},
    }  # fmt: skip
    print(write_results("mouth", results))
    for k, v in results["cost_720p"].items():
        print(k, v)
    for k, v in results["detail_person_a"].items():
        print("detail", k, v)


if __name__ == "__main__":
    main()
