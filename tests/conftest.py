"""Shared fixtures: the portable portraits (always there) and the sample footage.

Without ../shared/data the fixtures that need footage of real people (facesets, the tiny trained model, the clip
that live and convert run on) are built from the packaged portraits' virtual-camera clips instead (the same clips
``make demo`` makes), so a fresh clone anywhere runs the train, export, engine, live and convert tests; only tests
about a particular shared clip skip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Frame

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SWAPCAM_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(relative: str) -> Path:
    """A file under ../shared/data, or a skip with the reason when the sample footage is not on this machine."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"sample footage not available: {path} (see ../shared/data/SOURCES.md)")
    return path


_PORTRAIT_CLIPS: dict[str, Path] = {}


def portrait_clip(name: str) -> Path:
    """A 480x480, 450-frame virtual-camera clip of a packaged portrait ("astronaut" or "grace_hopper"), made once
    per test session: the stand-in for the shared talking-head clips when ../shared/data is absent."""
    if name not in _PORTRAIT_CLIPS:
        import tempfile

        from swapcam import demo

        out = Path(tempfile.mkdtemp(prefix="swapcam-portrait-clips-"))
        clips = demo.make_clips(demo.DemoConfig(out=str(out), frames=450, size=480), out)
        _PORTRAIT_CLIPS.update(clips)
    return _PORTRAIT_CLIPS[name]


def clip_a() -> Path:
    """Footage of person A: clips/person_a.mp4 (480x480, 30 fps), else the astronaut's virtual-camera clip (also
    480x480 at 30 fps)."""
    path = SHARED_DATA / "clips/person_a.mp4"
    return path if path.is_file() else portrait_clip("astronaut")


def clip_b() -> Path:
    """Footage of person B: clips/person_b.mp4, else Grace Hopper's virtual-camera clip."""
    path = SHARED_DATA / "clips/person_b.mp4"
    return path if path.is_file() else portrait_clip("grace_hopper")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """(512, 512, 3) uint8 RGB: Eileen Collins, public domain, shipped inside scikit-image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def hopper() -> np.ndarray:
    """(600, 512, 3) uint8 RGB: Grace Hopper, public domain, shipped inside matplotlib."""
    import matplotlib

    from swapcam.core.media_io import load_image

    return load_image(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")


@pytest.fixture(scope="session")
def image_landmarker():
    with FaceLandmarker(LandmarkerConfig(video=False, max_faces=4)) as lm:
        yield lm


@pytest.fixture(scope="session")
def detect(image_landmarker):
    """detect(image) -> tuple[Face, ...] in image mode."""
    return lambda image: image_landmarker(Frame(image, 0, 0.0))


@pytest.fixture(scope="session")
def person_a_raw():
    """Video-mode landmarks of every frame of clips/person_a.mp4, unsmoothed: (times, faces-per-frame)."""
    from swapcam.core.media_io import read_video

    path = shared("clips/person_a.mp4")
    times, faces = [], []
    with FaceLandmarker(LandmarkerConfig(video=True, smoothing=None)) as lm:
        for frame in read_video(path):
            times.append(frame.t_capture)
            faces.append(lm(frame))
    return np.array(times), faces


@pytest.fixture(scope="session")
def facesets(tmp_path_factory):
    """Two small real facesets: every 10th frame of clip A (person_a.mp4, else the astronaut's clip), every 5th of
    clip B (person_b.mp4, else Grace Hopper's)."""
    from swapcam.trainer.extract import ExtractConfig, Extractor

    root = tmp_path_factory.mktemp("facesets")
    Extractor(root / "a", ExtractConfig(every=10)).run([str(clip_a())])
    Extractor(root / "b", ExtractConfig(every=5)).run([str(clip_b())])
    return str(root / "a"), str(root / "b")


@pytest.fixture(scope="session")
def tiny_run(facesets, tmp_path_factory):
    """A run folder holding a `tiny` model trained for 150 steps on the real facesets (about ten seconds), held-out
    SSIM measured every 5 steps; the training tests check it and export, convert and live run its model."""
    from swapcam.trainer.train import TrainConfig, main

    run = tmp_path_factory.mktemp("tiny_run") / "run"
    a, b = facesets
    main(TrainConfig(a, b, str(run), preset="tiny", steps=150, batch_size=4, max_faces=48, lr=1e-3, warmup_steps=10,
                     eval_every=5, preview_every=1000))  # fmt: skip
    return run


@pytest.fixture(scope="session")
def tiny_model(tiny_run, tmp_path_factory):
    """The tiny run exported to ONNX (parity-checked): the model file the live loop and convert run."""
    from swapcam.export.api import export_model
    from swapcam.export.config import ExportConfig

    out = tmp_path_factory.mktemp("tiny_model") / "tiny.onnx"
    return export_model(ExportConfig(str(tiny_run), str(out))).path


def make_clip(path: Path, frames: list[np.ndarray], *, fps: int = 30, audio_hz: float | None = None,
              audio_codec: str = "aac") -> Path:  # fmt: skip
    """Writes RGB frames (and optionally a sine tone) as an H.264 clip, for tests that need a particular input."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        v.options = {"crf": "12", "preset": "ultrafast"}
        a = None
        if audio_hz:
            a = out.add_stream(audio_codec, rate=48000)
            a.layout = "mono"
        for i, image in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(image, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for pkt in v.encode(vf):
                out.mux(pkt)
        for pkt in v.encode(None):
            out.mux(pkt)
        if a is not None:
            n = int(48000 * len(frames) / fps)
            t = np.arange(n) / 48000
            fmt = "fltp" if audio_codec == "aac" else "s16"
            tone = 0.3 * np.sin(2 * np.pi * audio_hz * t)
            samples = tone.astype(np.float32)[None] if fmt == "fltp" else (tone * 32767).astype(np.int16)[None]
            af = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
            af.sample_rate, af.pts, af.time_base = 48000, 0, Fraction(1, 48000)
            for pkt in a.encode(af):
                out.mux(pkt)
            for pkt in a.encode(None):
                out.mux(pkt)
    return path
