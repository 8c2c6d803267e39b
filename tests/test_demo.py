"""The demo runs in the suite (tiny settings: short small clips, a tiny model, a few dozen steps), so the README's
`make demo` never lies; and the virtual camera that feeds it is tested alone."""

import contextlib
import io
import itertools

import av
import numpy as np
import pytest

from swapcam import demo
from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import load_image
from swapcam.core.model_info import read_model_info
from swapcam.core.provenance import PNG_KEYWORD, read_png_text
from swapcam.live.virtual_camera import CameraConfig, VirtualCamera, write_clip

FRAMES, SIZE, STEPS = 32, 256, 30


def _decode(path) -> tuple[list[np.ndarray], dict[str, str]]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)], dict(c.metadata)


def _face_rate(frames, detect) -> float:
    return sum(bool(detect(f)) for f in frames) / len(frames)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``python -m swapcam.demo`` with tiny settings: (exit code, output folder, what it printed)."""
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    # One thread: torch with one thread per core slows to a crawl when another job holds the cores.
    args = ["--out", str(out), "--preset", "tiny", "--steps", str(STEPS), "--frames", str(FRAMES),
            "--size", str(SIZE), "--batch-size", "4", "--threads", "1"]  # fmt: skip
    with contextlib.redirect_stdout(printed):
        code = demo.main(args)
    return code, out, printed.getvalue()


def test_demo_runs_and_prints_latency_and_the_stills_caveat(demo_run):
    code, _, printed = demo_run
    assert code == 0
    for stage in ("landmarks", "align", "infer", "composite"):
        assert f"{stage} " in printed and "p50" in printed and "p95" in printed
    assert "fps" in printed and "[6/6]" in printed
    assert "no expression variety" in printed and "Training on your own footage" in printed


def test_demo_clips_move_and_show_the_face(demo_run, detect):
    _, out, _ = demo_run
    first = {}
    for name in demo.PEOPLE:
        frames, meta = _decode(out / "clips" / f"{name}.mp4")
        assert len(frames) == FRAMES and frames[0].shape == (SIZE, SIZE, 3)
        assert meta["swapcam_virtual_camera"] == "true" and "from a still image" in meta["comment"]
        assert _face_rate(frames, detect) >= 0.9
        first[name] = frames[0]
    assert np.abs(first["astronaut"].astype(int) - first["grace_hopper"]).mean() > 20  # two different people


def test_demo_facesets_model_and_converted_clip(demo_run):
    _, out, _ = demo_run
    for name in demo.PEOPLE:
        assert len((out / "facesets" / name / "index.jsonl").read_text().splitlines()) >= FRAMES // 4
    info = read_model_info(out / "demo.onnx")
    assert (info.preset, info.step, info.source, info.target) == ("tiny", STEPS, "astronaut", "grace_hopper")
    frames, meta = _decode(out / "demo.mp4")
    assert len(frames) == FRAMES and frames[0].shape == (SIZE, SIZE, 3)
    assert "Synthetic media" in meta["comment"] and meta["swapcam_model"] == "demo.onnx"


def test_demo_side_by_side_is_input_then_swapped_output(demo_run):
    _, out, _ = demo_run
    path = out / "side_by_side.png"
    assert PNG_KEYWORD in read_png_text(path.read_bytes())
    image = load_image(path)
    assert image.shape == (SIZE, 2 * SIZE, 3)
    left, right = image[:, :SIZE].astype(int), image[:, SIZE:].astype(int)
    clip, _ = _decode(out / "clips" / "astronaut.mp4")
    assert np.array_equal(left, clip[FRAMES // 2])  # the input frame, mid-clip
    diff = np.abs(left - right)
    assert diff.mean() > 1.0 and diff.max() > 60  # the face changed (the rest may match)


def test_demo_bad_settings_give_one_line(tmp_path, capsys, monkeypatch):
    assert demo.main(["--out", str(tmp_path), "--minutes", "-1"]) == 2
    assert demo.main(["--out", str(tmp_path), "--steps", "5", "--size", "255"]) == 2
    monkeypatch.setenv("DEMO_MINUTES", "soon")
    assert demo.main(["--out", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("demo: error: ") for line in lines)
    assert "DEMO_MINUTES" in lines[2]


def _face_box(face) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = face.box
    return x0 - 15, y0 - 30, x1 + 15, y1 + 10


def test_virtual_camera_moves_relights_and_keeps_the_face(astronaut, detect, tmp_path):
    config = CameraConfig(width=320, height=240, frames=24, seed=3)
    camera = VirtualCamera(astronaut, config, focus=_face_box(detect(astronaut)[0]))
    frames = list(camera)
    assert len(frames) == 24 and all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in frames)
    steps = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(frames)]
    assert min(steps) > 0.5  # every frame differs from the one before
    assert max(np.abs(f.astype(int) - frames[0]).mean() for f in frames) > 10  # and the clip travels
    assert np.ptp([f.mean() for f in frames]) > 3  # the lighting changes too
    for i in range(len(camera)):  # the face box stays inside the frame
        corners = camera.focus_corners(i)
        assert corners.min() >= 0 and (corners.max(axis=0) <= (319, 239)).all()
    assert _face_rate(frames, detect) >= 0.9
    assert np.array_equal(VirtualCamera(astronaut, config, focus=camera.focus)(7), frames[7])  # seeded

    write_clip(tmp_path / "a.mp4", camera, source="astronaut")
    write_clip(tmp_path / "b.mp4", camera, source="astronaut", provenance=False)
    decoded, meta = _decode(tmp_path / "a.mp4")
    assert len(decoded) == 24 and decoded[0].shape == (240, 320, 3)
    assert "astronaut" in meta["comment"] and meta["swapcam_camera"] == camera.describe()
    assert "comment" not in _decode(tmp_path / "b.mp4")[1]
    with pytest.raises(SwapcamError, match="even"):
        CameraConfig(width=321)
