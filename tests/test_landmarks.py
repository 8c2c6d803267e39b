"""Landmarks on real faces: counts, plausible geometry, video-mode detection rate and stable track ids."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from swapcam.core.landmarks import NUM_LANDMARKS, FaceLandmarker, LandmarkerConfig, eye_centres, interocular
from swapcam.core.media_io import load_image
from swapcam.core.messages import Frame
from tests.conftest import shared


def _check_geometry(face, image_shape):
    pts = face.landmarks
    assert pts.shape == (NUM_LANDMARKS, 2) and pts.dtype == np.float32
    h, w = image_shape[:2]
    assert (pts[:, 0] > -0.05 * w).all() and (pts[:, 0] < 1.05 * w).all()
    left, right = eye_centres(pts)
    assert left[0] < right[0]  # image-left eye first
    mouth = (pts[61] + pts[291]) / 2
    assert mouth[1] > max(left[1], right[1]) + 0.5 * interocular(pts)  # mouth well below the eyes
    assert pts[152, 1] > mouth[1]  # chin below the mouth
    # the iris centres (refined landmarks) sit between their eye's corners
    assert pts[33, 0] < pts[468, 0] < pts[133, 0] and pts[362, 0] < pts[473, 0] < pts[263, 0]
    assert 0.5 <= face.score <= 1.0


def test_one_face_in_each_portrait(detect, astronaut, hopper):
    for image in (astronaut, hopper):
        faces = detect(image)
        assert len(faces) == 1
        _check_geometry(faces[0], image.shape)


@pytest.mark.parametrize(("name", "count"), [("obama.jpg", 1), ("biden.jpg", 1), ("two_people.jpg", 2)])
def test_face_counts_on_sample_photos(detect, name, count):
    image = load_image(shared(f"images/{name}"))
    faces = detect(image)
    assert len(faces) == count
    for face in faces:
        _check_geometry(face, image.shape)
    if count == 2:  # two different places, not one face twice
        (a, b) = faces
        assert abs(a.box[0] - b.box[0]) > 0.5 * (a.box[2] - a.box[0])


def test_no_face_in_a_generated_scene(detect):
    rng = np.random.default_rng(7)
    scene = np.zeros((480, 640, 3), np.uint8)
    scene[:] = np.linspace(40, 200, 640, dtype=np.uint8)[None, :, None]
    for _ in range(12):
        x, y = rng.integers(0, 600), rng.integers(0, 440)
        cv2.rectangle(scene, (int(x), int(y)), (int(x) + 40, int(y) + 30), rng.integers(0, 255, 3).tolist(), -1)
        cv2.circle(scene, (int(rng.integers(0, 640)), int(rng.integers(0, 480))), 20, (250, 220, 180), -1)
    assert detect(scene) == ()


def test_video_mode_finds_the_face_in_99_percent_of_person_a(person_a_raw):
    _, faces = person_a_raw
    found = sum(1 for f in faces if f)
    assert len(faces) == 1008
    assert found / len(faces) >= 0.99
    ids = {f[0].track_id for f in faces if f}
    assert len(ids) <= 2  # one person: the track is kept (at most one restart after a loss)


def test_two_moving_faces_keep_their_track_ids(astronaut, hopper):
    # A generated clip: the two portraits side by side, drifting in opposite directions for 40 frames.
    a = cv2.resize(astronaut[40:360, 100:380], (224, 256))
    b = cv2.resize(hopper[40:400, 100:420], (224, 256))
    seen: dict[int, list[float]] = {}
    with FaceLandmarker(LandmarkerConfig(video=True, max_faces=2)) as lm:
        for i in range(40):
            canvas = np.full((360, 640, 3), 90, np.uint8)
            dx = i * 2
            canvas[50:306, 40 + dx : 264 + dx] = a
            canvas[50:306, 376 - dx : 600 - dx] = b
            for face in lm(Frame(canvas, i, i / 30)):
                seen.setdefault(face.track_id, []).append((face.box[0] + face.box[2]) / 2)
    assert len(seen) == 2
    left, right = sorted(seen.values(), key=lambda xs: xs[0])
    assert len(left) >= 38 and len(right) >= 38
    assert left[-1] > left[0] + 40 and right[-1] < right[0] - 40  # each id followed its own face


def test_fast_protobuf_reader_agrees_with_the_slow_one(astronaut):
    from mediapipe.framework.formats import landmark_pb2

    from swapcam.core.landmarks import _mesh_points

    rng = np.random.default_rng(3)
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in rng.uniform(-0.2, 1.2, (478, 3)):
        msg.landmark.add(x=x, y=y, z=z)
    expected = np.array([(p.x, p.y, p.z) for p in msg.landmark], np.float32)
    assert np.array_equal(_mesh_points(msg), expected)
    msg.landmark[5].visibility = 0.5  # another layout: the slow path still reads it
    assert np.array_equal(_mesh_points(msg), expected)
