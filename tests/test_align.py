"""Alignment: the similarity fit, the crop/frame round trip, and consistency over every frame of real video."""

from __future__ import annotations

import numpy as np
import pytest

from swapcam.core.align import AlignSpec, align_face, alignment_matrix, invert_affine, similarity_umeyama, transform_points
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import eye_centres, interocular
from swapcam.core.template import ALIGN_POINTS, MIDLINE_POINTS, MIRROR_PAIRS, TEMPLATE_ID, template_points
from swapcam.core.template_fit import normalise, procrustes_mean


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(-50, 50, (30, 2))
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -7.5])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = similarity_umeyama(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_template_is_mirror_symmetric_and_centred():
    pts = dict(zip(ALIGN_POINTS, template_points()))
    for a, b in MIRROR_PAIRS:
        if a in pts:
            assert pts[a][0] == pytest.approx(-pts[b][0]) and pts[a][1] == pytest.approx(pts[b][1])
    for i in MIDLINE_POINTS:
        if i in pts:
            assert pts[i][0] == 0.0
    assert -0.5 < template_points()[:, 1].min() and template_points()[:, 1].max() < 0.5


def test_template_agrees_with_a_refit_on_the_portable_portraits(detect, astronaut, hopper):
    # The embedded template came from the sample clips; two other people must give nearly the same mean shape
    # (mouth corners aside: the astronaut smiles broadly). A wrong or mirrored template would be off by far more.
    shapes = np.stack([detect(img)[0].landmarks for img in (astronaut, hopper)])
    keep = [k for k, i in enumerate(ALIGN_POINTS) if i not in (61, 291)]
    refit = normalise(procrustes_mean(shapes))[list(ALIGN_POINTS)]
    assert np.abs(refit - template_points())[keep].max() < 0.08  # template units: 8% of the face width


def test_round_trip_of_landmarks_is_within_half_a_pixel(detect, astronaut):
    face = detect(astronaut)[0]
    spec = AlignSpec(size=256)
    aligned = align_face(astronaut, face, spec)
    back = transform_points(aligned.landmarks.astype(np.float64), invert_affine(aligned.matrix))
    assert np.abs(back - face.landmarks).max() < 0.5


def test_landmarks_found_again_on_the_crop_map_back_onto_the_frame(detect, astronaut, hopper):
    # The crop really shows the face where the matrix says: re-detecting on it lands on the frame landmarks.
    for image in (astronaut, hopper):
        face = detect(image)[0]
        aligned = align_face(image, face, AlignSpec(size=256))
        again = max(detect(aligned.image), key=lambda f: f.box[2] - f.box[0])
        back = transform_points(again.landmarks.astype(np.float64), invert_affine(aligned.matrix))
        err = np.linalg.norm(back - face.landmarks, axis=1)
        assert np.median(err) < 0.03 * interocular(face.landmarks)


def test_eye_centres_land_on_the_template_in_every_frame_of_person_a(person_a_raw):
    spec = AlignSpec(size=256)
    tpl = dict(zip(ALIGN_POINTS, spec.template_in_crop()))
    target = np.array([(tpl[33] + tpl[133]) / 2, (tpl[362] + tpl[263]) / 2])
    worst = 0.0
    n = 0
    for faces in person_a_raw[1]:
        for face in faces:
            m = alignment_matrix(face.landmarks, spec)
            eyes = eye_centres(transform_points(face.landmarks.astype(np.float64), m))
            worst = max(worst, float(np.linalg.norm(eyes - target, axis=1).max()))
            n += 1
    assert n >= 998
    assert worst / spec.size <= 0.01


def test_crop_is_the_requested_size_and_eyes_are_level(detect, hopper):
    face = detect(hopper)[0]
    for size in (64, 128, 256):
        aligned = align_face(hopper, face, AlignSpec(size=size))
        assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.uint8
        left, right = eye_centres(aligned.landmarks)
        assert abs(left[1] - right[1]) < 0.02 * size
        assert abs((left[0] + right[0]) / 2 - (size - 1) / 2) < 0.02 * size


def test_align_spec_metadata_round_trip_and_refusals():
    spec = AlignSpec(size=128, coverage=1.8, y_offset=0.05)
    assert AlignSpec.from_metadata(spec.to_metadata()) == spec
    assert spec.to_metadata()["align.template_id"] == TEMPLATE_ID
    with pytest.raises(SwapcamError, match="template"):
        AlignSpec.from_metadata({**spec.to_metadata(), "align.template_id": "someone-elses"})
    with pytest.raises(SwapcamError, match="missing"):
        AlignSpec.from_metadata({"align.size": "128"})
    with pytest.raises(SwapcamError):
        AlignSpec(size=8)


def test_aligned_face_carries_frame_identity(detect, astronaut):
    face = detect(astronaut)[0]
    aligned = align_face(astronaut, face, AlignSpec(size=64))
    assert (aligned.frame_id, aligned.track_id) == (face.frame_id, face.track_id)
    assert aligned.matrix.shape == (2, 3) and aligned.landmarks.shape == (478, 2)


def test_a_face_at_the_frame_border_still_gives_a_full_crop(detect, astronaut):
    shifted = np.ascontiguousarray(astronaut[:, 150:])  # the face now touches the left edge
    faces = detect(shifted)
    if not faces:
        pytest.skip("the detector does not find the cut face")
    aligned = align_face(shifted, faces[0], AlignSpec(size=128))
    assert aligned.image.shape == (128, 128, 3)
    assert aligned.image.std() > 10  # replicated border, not a black void
