"""``make demo``: the face geometry core on two public-domain portraits that ship inside installed packages.

The astronaut (scikit-image) is the face the camera sees, Grace Hopper (matplotlib) the face to render. With no
trained model yet, the demo pastes one aligned face onto the other: landmarks -> alignment -> mask -> colour
transfer -> blend, the same code the live loop runs after the model. Outputs go to ``--out`` (default ``out/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from live.align import AlignSpec, align_face
from live.composite import FaceCompositor
from live.errors import SwapcamError
from live.face_report import annotate
from live.landmarks import FaceLandmarker, LandmarkerConfig
from live.mask import crop_mask
from live.media_io import load_image, write_image
from live.messages import Frame
from live.timing import time_calls


def portraits() -> tuple[np.ndarray, np.ndarray]:
    """(astronaut, grace_hopper) as RGB uint8, from the scikit-image and matplotlib packages."""
    try:
        import matplotlib
        from skimage import data
    except ImportError as exc:
        raise SwapcamError(f"the demo needs scikit-image and matplotlib ({exc.name} missing): run `make install`")
    hopper = load_image(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return np.ascontiguousarray(data.astronaut()), hopper


def _side_by_side(*images: np.ndarray, height: int = 384) -> np.ndarray:
    import cv2

    scaled = [cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height)) for im in images]
    return np.hstack(scaled)


def _p50_ms(fn, repeat: int = 30) -> float:
    return time_calls(fn, repeat=repeat, warmup=1)["p50_ms"]


def run(out_dir: Path, *, size: int = 256, provenance: bool = True) -> dict[str, float]:
    """Writes the demo images into ``out_dir`` and returns the median time of each stage in ms."""
    camera, target = portraits()
    spec = AlignSpec(size=size)
    with FaceLandmarker(LandmarkerConfig(video=False)) as lm:
        faces = lm(Frame(camera, 0, 0.0))
        target_faces = lm(Frame(target, 1, 0.0))
        if not faces or not target_faces:
            raise SwapcamError("the demo portraits gave no face: the MediaPipe install looks broken")
        timings = {"landmarks (image mode)": _p50_ms(lambda: lm(Frame(camera, 0, 0.0)), repeat=10)}

    aligned = align_face(camera, faces[0], spec)
    rendered = align_face(target, target_faces[0], spec)  # stands in for the model's output
    compositor = FaceCompositor(size)
    output = camera.copy()
    compositor(output, aligned, rendered.image)
    scratch = camera.copy()
    timings["align"] = _p50_ms(lambda: align_face(camera, faces[0], spec))
    timings["mask+colour+blend"] = _p50_ms(lambda: compositor(scratch, aligned, rendered.image))

    mask = crop_mask(aligned.landmarks, size)
    write_image(out_dir / "landmarks.png", _side_by_side(annotate(camera, faces), annotate(target, target_faces)),
                synthetic=False)  # fmt: skip
    write_image(out_dir / "aligned.png", np.hstack([aligned.image, rendered.image, np.dstack([mask] * 3)]),
                synthetic=False)  # fmt: skip
    write_image(out_dir / "pasted.png", output, synthetic=True, provenance=provenance)
    write_image(out_dir / "side_by_side.png", _side_by_side(camera, output), synthetic=True, provenance=provenance)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m live.demo", description=__doc__)
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--no-provenance", action="store_true", help="do not mark the pasted images as synthetic")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        timings = run(out, size=256, provenance=not args.no_provenance)
    except SwapcamError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print("swapcam demo: the astronaut's face replaced by Grace Hopper's (no model yet: a geometric paste)")
    for name in ("landmarks.png", "aligned.png", "pasted.png", "side_by_side.png"):
        print(f"  wrote {out / name}")
    print("  latency (median, 256 px crop): " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))
    print("  benchmarks/bench_face.py measures video mode and p95 at 480p/720p/1080p")
    return 0


if __name__ == "__main__":
    sys.exit(main())
