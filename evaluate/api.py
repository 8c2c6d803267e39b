"""``evaluate(config) -> EvalReport``: swap a video (or read an already swapped one) and measure the result.

Every frame goes through the live pipeline (tracking and smoothing as live), then both the input and the output
frame are measured with the same landmarker (video mode, unsmoothed, so the measurement adds no lag of its own).
Identity needs dlib's ResNet (~80 ms a face on this CPU), so it is measured on every ``every``-th frame only.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from swapcam.evaluate.gallery import build_gallery
from swapcam.evaluate.identity import FaceEmbedder
from swapcam.evaluate.metrics import SSIM_SPEC, FrameMeasurements
from swapcam.evaluate.report import EvalReport
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.media_io import probe_video, read_video
from swapcam.core.messages import Face, Frame, face_area
from swapcam.live.settings import SwapSettings
from swapcam.core.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    video: str  # the input: footage of person A (the person the camera sees)
    gallery_a: tuple[str, ...]  # reference pictures of A: facesets, images, videos or folders
    gallery_b: tuple[str, ...]  # reference pictures of B (the person the model renders)
    # Other people, one gallery each: retrieval among all of them (as papers retrieve among a dataset's people).
    others: tuple[tuple[str, ...], ...] = ()
    model: str | None = None  # a swapcam ONNX model to run on ``video`` ...
    swapped: str | None = None  # ... or an already swapped copy of ``video`` (any tool's), frame for frame
    every: int = 5  # identity on every n-th frame (pose, mouth, background and jitter use every frame)
    gallery_faces: int = 64  # faces per gallery (spread evenly over its inputs)
    max_frames: int | None = None
    engine: str = "auto"
    settings: SwapSettings = field(default_factory=SwapSettings)
    progress: bool = True


def _largest(faces: tuple[Face, ...]) -> Face | None:
    return max(faces, key=face_area, default=None)


def _swapped_by_model(config: EvalConfig, stack: contextlib.ExitStack) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    from swapcam.live.faceswap import FaceSwap

    swap = stack.enter_context(FaceSwap(config.model, config.engine, settings=config.settings))
    for frame in read_video(config.video):
        before = frame.image.copy()
        swap.process(frame)  # in place
        yield before, frame.image


def _swapped_from_file(config: EvalConfig) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n_in = n_out = 0
    for before, after in itertools.zip_longest(read_video(config.video), read_video(config.swapped)):
        n_in += before is not None
        n_out += after is not None
        if before is None or after is None:
            continue  # count the rest of the longer one for the message below
        h, w = after.image.shape[:2]
        ih, iw = before.image.shape[:2]
        # `swapcam convert` (like most H.264 writers) drops the last row/column of odd-sized frames.
        if ih - h not in (0, 1) or iw - w not in (0, 1):
            raise SwapcamError(f"{config.swapped} is {w}x{h}, its input {config.video} is {iw}x{ih}: "
                               "not a swapped copy of it")  # fmt: skip
        yield np.ascontiguousarray(before.image[:h, :w]), after.image
    if n_in != n_out:
        raise SwapcamError(f"{config.video} and {config.swapped} differ in length ({n_in} and {n_out} frames): "
                           "not a frame-for-frame copy")  # fmt: skip


def evaluate(config: EvalConfig) -> EvalReport:
    if (config.model is None) == (config.swapped is None):
        raise SwapcamError("give either a model to run (--model) or an already swapped video (--swapped)")
    info = probe_video(config.video)  # checks the input before the slow set-up
    model_info: dict = {}
    detail_spec = SSIM_SPEC
    if config.model:
        from swapcam.core.model_info import read_model_info

        model = read_model_info(config.model)
        model_info = {k: v for k, v in asdict(model).items() if k != "align"}
        detail_spec = model.align  # the detail measure resamples both faces onto the model's own crop
    else:
        probe_video(config.swapped)
    embedder = FaceEmbedder()
    gallery_a = build_gallery("A", list(config.gallery_a), embedder, limit=config.gallery_faces)
    gallery_b = build_gallery("B", list(config.gallery_b), embedder, limit=config.gallery_faces)
    others = [build_gallery(f"other {i + 1}", list(inputs), embedder, limit=config.gallery_faces)
              for i, inputs in enumerate(config.others)]  # fmt: skip

    measure = FrameMeasurements(detail_spec)
    frames = faces_in = faces_out = 0
    t0 = time.perf_counter()
    every = max(1, config.every)
    mode = LandmarkerConfig(video=True, max_faces=2, smoothing=None)
    with contextlib.ExitStack() as stack:
        lm_in = stack.enter_context(FaceLandmarker(mode))
        lm_out = stack.enter_context(FaceLandmarker(mode))
        pairs = _swapped_by_model(config, stack) if config.model else _swapped_from_file(config)
        stack.callback(pairs.close)  # a --max-frames stop leaves the readers open until then
        total = min(info.frames or 0, config.max_frames or 1 << 30) or None
        bar = progress(pairs, total=total, desc="eval", unit="frame") if config.progress else pairs
        for index, (before, after) in enumerate(bar):
            if config.max_frames is not None and index >= config.max_frames:
                break
            t = index / max(info.fps, 1.0)
            face_in = _largest(lm_in(Frame(before, index, t)))
            face_out = _largest(lm_out(Frame(after, index, t)))
            frames += 1
            faces_in += face_in is not None
            faces_out += face_out is not None
            measure.add(before, after, face_in, face_out)
            if index % every == 0 and face_in is not None and face_out is not None:
                measure.add_identity(
                    embedder.embed(before, face_in.landmarks), embedder.embed(after, face_out.landmarks)
                )
    if frames == 0:
        raise SwapcamError(f"no frames decoded from {config.video}")
    return EvalReport(
        video=config.video, output=config.model or config.swapped, frames=frames, faces_in=faces_in,
        faces_out=faces_out, seconds=time.perf_counter() - t0, every=every, face_ssim=measure.mean_face_ssim(),
        identity=measure.identity(gallery_a, gallery_b, others), pose=measure.pose(), expression=measure.expression(),
        background=measure.background(), jitter=measure.jitter(), detail=measure.detail(),
        gallery_faces={g.name: len(g.embeddings) for g in (gallery_a, gallery_b, *others)}, model_info=model_info,
    )  # fmt: skip
