"""Masks, colour transfer and blending on the two real portraits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from swapcam.core.align import AlignSpec, align_face
from swapcam.live.blend import BlendConfig, Blender, paste_roi
from swapcam.live.color import ColorConfig, ColorTransfer, masked_lab_stats
from swapcam.live.composite import CompositeConfig, FaceCompositor, FacePaster
from swapcam.core.errors import SwapcamError
from swapcam.core.mask import FACE_OVAL, MaskConfig, crop_mask, face_size, frame_mask, oval

SPEC = AlignSpec(size=128)


@pytest.fixture(scope="module")
def scene(detect, astronaut, hopper):
    """The astronaut's frame and face, and Grace Hopper's face aligned the same way (the 'swapped' crop)."""
    face = detect(astronaut)[0]
    target = align_face(astronaut, face, SPEC)
    source = align_face(hopper, detect(hopper)[0], SPEC)
    return astronaut, face, target, source


def test_face_oval_is_mediapipes_contour():
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    edges = {frozenset(e) for e in FACEMESH_FACE_OVAL}
    ring = {frozenset((FACE_OVAL[i], FACE_OVAL[(i + 1) % len(FACE_OVAL)])) for i in range(len(FACE_OVAL))}
    assert ring == edges


def test_crop_mask_covers_the_face_and_not_the_background(scene):
    _, _, target, _ = scene
    mask = crop_mask(target.landmarks, SPEC.size)
    assert mask.shape == (128, 128) and mask.dtype == np.uint8
    nose = np.round(target.landmarks[1]).astype(int)
    assert mask[nose[1], nose[0]] == 255
    assert mask[:3].max() == 0 and mask[:, :3].max() == 0  # crop border: background
    inside = np.zeros_like(mask)
    cv2.fillPoly(inside, [np.round(oval(target.landmarks)).astype(np.int32)], 255)
    assert (mask[inside == 0] > 0).mean() < 0.1  # the soft edge spills only a little past the oval


def test_erode_and_feather_scale_with_the_face(scene):
    _, _, target, _ = scene
    small = (crop_mask(target.landmarks, 128, MaskConfig(erode=0.1, feather=0.0)) > 0).sum()
    big = (crop_mask(target.landmarks, 128, MaskConfig(erode=-0.1, feather=0.0)) > 0).sum()
    base = (crop_mask(target.landmarks, 128, MaskConfig(erode=0.0, feather=0.0)) > 0).sum()
    assert small < base < big
    # The same face at twice the crop size gives the same mask, twice as large (within rasterisation).
    twice = crop_mask(target.landmarks * 2 + 0.5, 256)
    down = cv2.resize(twice, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(down.astype(int) - crop_mask(target.landmarks, 128).astype(int)).mean() < 3


def test_frame_mask_matches_the_warped_crop_mask(scene):
    frame, face, target, _ = scene
    fm = frame_mask(face.landmarks, frame.shape).full(frame.shape)
    warped = cv2.warpAffine(crop_mask(target.landmarks, 128), target.matrix, frame.shape[1::-1],
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)  # fmt: skip
    inter = np.logical_and(fm > 127, warped > 127).sum()
    union = np.logical_or(fm > 127, warped > 127).sum()
    assert inter / union > 0.95


def test_blend_changes_the_face_and_nothing_outside_the_dilated_mask(scene):
    frame, face, target, source = scene
    out = frame.copy()
    roi = FaceCompositor(SPEC.size)(out, target, source.image)
    # The dilated mask: where the frame-space mask is non-zero, grown by 2 px for bilinear interpolation.
    support = frame_mask(face.landmarks, frame.shape).full(frame.shape) > 0
    dilated = cv2.dilate(support.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.array_equal(out[~dilated], frame[~dilated])  # byte-identical outside
    changed = np.any(out != frame, axis=2)
    assert changed[dilated].mean() > 0.5  # and clearly changed inside
    # Only the region of interest was touched, and it hugs the face.
    outside_roi = np.ones(frame.shape[:2], bool)
    outside_roi[roi.y0 : roi.y1, roi.x0 : roi.x1] = False
    assert not changed[outside_roi].any()
    assert (roi.x1 - roi.x0) * (roi.y1 - roi.y0) < 0.25 * frame.shape[0] * frame.shape[1]


def test_opacity_zero_leaves_the_frame_untouched_and_half_is_between(scene):
    frame, _, target, source = scene
    mask = crop_mask(target.landmarks, SPEC.size)
    untouched = frame.copy()
    Blender(BlendConfig(opacity=0.0))(untouched, source.image, mask, target.matrix)
    assert np.array_equal(untouched, frame)
    full, half = frame.copy(), frame.copy()
    Blender()(full, source.image, mask, target.matrix)
    Blender(BlendConfig(opacity=0.5))(half, source.image, mask, target.matrix)
    mid = (full.astype(int) + frame.astype(int)) / 2
    assert np.abs(half - mid).max() <= 1.0


def test_blend_of_the_aligned_crop_itself_reproduces_the_frame(scene):
    # Pasting a face's own crop back must change it only by resampling: PSNR well above 30 dB in the ROI.
    frame, _, target, _ = scene
    t = align_face(frame, scene[1], AlignSpec(size=256))
    out = frame.copy()
    roi = Blender()(out, t.image, crop_mask(t.landmarks, 256), t.matrix)
    a = out[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(float)
    b = frame[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(float)
    assert cv2.PSNR(a, b) > 30


def test_empty_mask_blends_nothing(scene):
    frame, _, target, source = scene
    out = frame.copy()
    roi = Blender()(out, source.image, np.zeros((128, 128), np.uint8), target.matrix)
    assert roi.empty and np.array_equal(out, frame)
    assert paste_roi(target.matrix, np.zeros((128, 128), np.uint8), frame.shape).empty


def test_rct_matches_the_targets_masked_lab_statistics(scene):
    _, _, target, source = scene
    mask = crop_mask(target.landmarks, SPEC.size)
    out = ColorTransfer(ColorConfig("rct"))(source.image, target.image, mask)
    mean_t, std_t = masked_lab_stats(target.image, mask)
    mean_o, std_o = masked_lab_stats(out, mask)
    mean_s, _ = masked_lab_stats(source.image, mask)
    # Stated tolerance, in L*a*b* units after rounding to uint8: means within 1.0, standard deviations within 1.5.
    assert np.abs(mean_o - mean_t).max() < 1.0
    assert np.abs(std_o - std_t).max() < 1.5
    assert np.abs(mean_s - mean_t).max() > 5  # the two faces really differed before


def test_lct_matches_mean_and_covariance(scene):
    _, _, target, source = scene
    mask = crop_mask(target.landmarks, SPEC.size)
    out = ColorTransfer(ColorConfig("lct"))(source.image, target.image, mask)
    m = mask >= 128
    t, o = target.image[m].astype(float), out[m].astype(float)
    assert np.abs(o.mean(0) - t.mean(0)).max() < 1.5  # RGB levels
    cov_t, cov_o = np.cov(t, rowvar=False), np.cov(o, rowvar=False)
    assert np.abs(cov_o - cov_t).max() < 0.05 * np.abs(cov_t).max()


def test_none_mode_and_unknown_mode(scene):
    _, _, target, source = scene
    mask = crop_mask(target.landmarks, SPEC.size)
    assert np.array_equal(ColorTransfer(ColorConfig("none"))(source.image, target.image, mask), source.image)
    with pytest.raises(SwapcamError, match="colour transfer"):
        ColorTransfer(ColorConfig("magic"))  # type: ignore[arg-type]


def test_face_paster_puts_the_source_face_in_place(detect, scene):
    frame, face, target, source = scene
    out = FacePaster(source, SPEC, CompositeConfig())(frame, (face,))
    assert not np.array_equal(out, frame)
    again = detect(out)  # the pasted face is still a face, in the same place
    assert len(again) == 1
    assert np.linalg.norm(again[0].landmarks - face.landmarks, axis=1).mean() < 0.1 * face_size(face.landmarks)
