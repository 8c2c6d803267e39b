"""``swapcam eval``: the metrics on a known case (output = input), on a real swap, and its errors."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest

from swapcam.evaluate.api import EvalConfig, evaluate
from swapcam.evaluate.geometry import HEAD_MODEL, camera_matrix, mouth_opening, outside_face, solve_pose
from swapcam.cli import main as cli
from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import write_image
from tests.conftest import make_clip, shared

# `make install` brings the eval extra; a bare `pip install -e .` does not.
pytest.importorskip("dlib", reason="the eval extra is not installed: pip install -e '.[eval]'")


def _moving(image: np.ndarray, n: int) -> list[np.ndarray]:
    """n frames of ``image`` drifting a few pixels and turning a little (a camera that is not quite still)."""
    h, w = image.shape[:2]
    out = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 2.0 * np.sin(i / 3), 1.0)
        m[:, 2] += (3.0 * i / n, 2.0 * np.cos(i / 2))
        out.append(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return out


@pytest.fixture(scope="module")
def portrait_clip(tmp_path_factory, astronaut, hopper):
    root = tmp_path_factory.mktemp("eval")
    clip = make_clip(root / "astronaut.mp4", _moving(astronaut, 12))
    a, b = root / "astronaut.png", root / "hopper.png"
    write_image(a, astronaut, synthetic=False)
    write_image(b, hopper, synthetic=False)
    return clip, str(a), str(b)


def test_output_equal_to_input_scores_no_swap_and_no_error(portrait_clip):
    clip, a, b = portrait_clip
    report = evaluate(EvalConfig(str(clip), (a,), (b,), swapped=str(clip), every=3, progress=False))
    assert report.frames == 12 and report.faces_in == report.faces_out == 12
    assert report.identity.faces == 4 and report.identity.retrieval == 0.0 and report.identity.retrieval_input == 0.0
    assert report.identity.dist_in_a < 0.45 < report.identity.dist_in_b  # the astronaut is herself, not Hopper
    assert report.pose.faces == 12 and report.pose.error_l2 == 0.0 and report.pose.error_rotation < 1e-4
    assert report.background.mean_abs_diff == 0.0 and report.background.changed_share == 0.0
    assert report.jitter.motion_error == 0.0 and report.jitter.accel_in == report.jitter.accel_out
    assert report.expression.mouth_abs_error == 0.0
    assert report.face_ssim == pytest.approx(1.0)


def test_pnp_recovers_a_known_rotation_with_live_pose_conventions():
    """The head model turned by known angles and projected: solve_pose reads them back, with swapcam.core.pose's signs
    (yaw > 0: nose towards the image's right; pitch > 0: looking up; roll > 0: clockwise)."""
    camera = camera_matrix(640, 480)
    model = np.array(list(HEAD_MODEL.values()))
    for yaw, pitch, roll in [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, 10), (-25, -10, 5)]:
        # yaw > 0 in swapcam.core.pose turns the nose (nearer the camera, z < 0) towards +x: a rotation by -yaw about y.
        rvec = np.radians([0.0, -yaw, 0.0])
        r_y, _ = cv2.Rodrigues(rvec)
        r_x, _ = cv2.Rodrigues(np.radians([-pitch, 0.0, 0.0]))
        r_z, _ = cv2.Rodrigues(np.radians([0.0, 0.0, roll]))
        rot = r_z @ r_y @ r_x
        pts, _ = cv2.projectPoints(model, cv2.Rodrigues(rot)[0], np.array([0.0, 0.0, 4.0]), camera, None)
        landmarks = np.zeros((478, 2), np.float32)
        landmarks[list(HEAD_MODEL)] = pts[:, 0]
        pose = solve_pose(landmarks, camera)
        assert pose.angles() == pytest.approx([yaw, pitch, roll], abs=0.5)


def test_geometry_on_real_faces(detect, astronaut, hopper):
    face = detect(astronaut)[0]
    pose = solve_pose(face.landmarks, camera_matrix(512, 512))
    assert abs(pose.yaw) < 15 and abs(pose.roll) < 10  # a near-frontal portrait
    # Grace Hopper's lips are closed; the astronaut smiles with her teeth showing.
    assert 0.0 <= mouth_opening(detect(hopper)[0].landmarks) < 0.05 < mouth_opening(face.landmarks) < 0.3
    outside = outside_face(face.landmarks, astronaut.shape[:2])
    x0, y0, x1, y1 = face.box
    assert not outside[int((y0 + y1) / 2), int((x0 + x1) / 2)] and outside[5, 5]  # the face inside, a corner out
    assert 0.6 < outside.mean() < 0.98


def test_real_swap_changes_identity_and_keeps_pose_and_background(tiny_model, facesets, tmp_path):
    """The tiny model trained on the sample clips, run on the first 60 frames of person_a."""
    a, b = facesets
    others = ((str(shared("images/obama.jpg")),), (str(shared("images/biden.jpg")),))
    report = evaluate(EvalConfig(str(shared("clips/person_a.mp4")), (a,), (b,), others=others, model=str(tiny_model),
                                 every=6, max_frames=60, progress=False))  # fmt: skip
    assert report.frames == 60 and report.faces_in == 60 and report.faces_out >= 50
    ident = report.identity
    assert ident.retrieval_input == 0.0 and ident.dist_in_a < 0.5
    assert ident.dist_out_a > ident.dist_in_a + 0.05  # the output is no longer quite person A
    assert ident.identities == 4 and ident.faces == 10  # every 6th of 60 frames, input and output both embedded
    # top-1 among four people is a count of those 10 faces, and never above the two-way retrieval
    assert float(ident.retrieval_top1 * 10).is_integer() and ident.retrieval_top1 <= ident.retrieval
    assert set(report.gallery_faces) == {"A", "B", "other 1", "other 2"}
    assert report.pose.error_l2 < 15.0  # the head still points where the input's does
    assert 0.2 < report.face_ssim < 0.98  # a changed face, in the same place and light
    assert report.background.mean_abs_diff < 0.5  # the swap touches the face, not the room
    assert report.jitter.pairs >= 40
    assert report.model_info["preset"] == "tiny"
    out = tmp_path / "report.json"
    clip = str(shared("clips/person_a.mp4"))
    assert cli(["eval", "--model", str(tiny_model), "--video", clip, "--gallery-a", a, "--gallery-b", b,
                "--max-frames", "12", "--every", "4", "--json", str(out)]) == 0  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["frames"] == 12 and saved["identity"]["faces"] == 3  # every 4th of 12 frames
    assert float(saved["identity"]["retrieval"] * 3).is_integer()


def test_bad_inputs_get_one_line(portrait_clip, tmp_path, capsys):
    clip, a, b = portrait_clip
    blank = tmp_path / "blank.png"
    write_image(blank, np.zeros((64, 64, 3), np.uint8), synthetic=False)
    not_ours = tmp_path / "model.onnx"
    not_ours.write_bytes(b"not a model")
    short = make_clip(tmp_path / "short.mp4", _moving(np.asarray(cv2.imread(a))[..., ::-1], 5))
    cases = [
        (["--swapped", str(clip), "--video", str(tmp_path / "missing.mp4")], "no such file"),
        (["--swapped", str(clip), "--video", str(clip), "--gallery-a", str(blank)], "gallery A: no faces found"),
        (["--model", str(not_ours), "--video", str(clip)], str(not_ours)),
        (["--swapped", str(short), "--video", str(clip)], "differ in length (12 and 5 frames)"),
    ]
    for args, expected in cases:
        full = ["eval", *args]
        if "--gallery-a" not in full:
            full += ["--gallery-a", a]
        full += ["--gallery-b", b]
        assert cli(full) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
    with pytest.raises(SwapcamError, match="either a model"):
        evaluate(EvalConfig(str(clip), (a,), (b,)))


def test_without_the_eval_extra_the_error_says_what_to_install(portrait_clip, monkeypatch, capsys):
    clip, a, b = portrait_clip
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now fails as if it were not installed
    assert cli(["eval", "--swapped", str(clip), "--video", str(clip), "--gallery-a", a, "--gallery-b", b]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["swapcam: error: identity metrics need dlib: install the eval extra: pip install -e '.[eval]'"]
