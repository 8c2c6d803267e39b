"""Extraction on real clips: faces on the template, a complete index, re-runs that skip, bad inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import eye_centres
from swapcam.core.media_io import write_image
from swapcam.core.template import ALIGN_POINTS
from tests.conftest import shared
from swapcam.trainer.extract import STORAGE_SPEC, ExtractConfig, Extractor
from swapcam.trainer.faceset import FacesetStore, load_faceset


@pytest.fixture(scope="module")
def faceset_a(tmp_path_factory):
    out = tmp_path_factory.mktemp("faceset_a")
    summary = Extractor(out, ExtractConfig(every=10)).run([str(shared("clips/person_a.mp4"))])
    return out, summary


def test_every_tenth_frame_of_person_a_gives_aligned_faces(faceset_a):
    out, summary = faceset_a
    assert summary.frames_read == 101  # frames 0, 10, ..., 1000
    assert summary.faces_found == 101 and summary.kept + sum(summary.rejected.values()) >= 101
    records = FacesetStore(out).records()
    assert len(records) == summary.kept >= 90
    tpl = dict(zip(ALIGN_POINTS, STORAGE_SPEC.template_in_crop()))
    target = np.array([(tpl[33] + tpl[133]) / 2, (tpl[362] + tpl[263]) / 2])
    for rec in records:
        assert np.abs(eye_centres(rec.landmarks) - target).max() <= 0.01 * STORAGE_SPEC.size
        assert rec.frame % 10 == 0 and rec.sharpness > 100 and -45 < rec.yaw < 45
        crop = cv2.imread(str(out / rec.image))
        mask = cv2.imread(str(out / rec.mask), cv2.IMREAD_GRAYSCALE)
        assert crop.shape == (256, 256, 3) and mask.shape == (256, 256)
        nose = np.round(rec.landmarks[1]).astype(int)
        assert mask[nose[1], nose[0]] == 255 and mask[0, 0] == 0


def test_rerun_skips_finished_inputs(faceset_a):
    out, first = faceset_a
    again = Extractor(out, ExtractConfig(every=10)).run([str(shared("clips/person_a.mp4"))])
    assert again.skipped_done and again.frames_read == 0
    assert len(FacesetStore(out).records()) == first.kept


def test_an_interrupted_input_is_finished_without_duplicates(faceset_a, tmp_path):
    out, first = faceset_a
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    lines = (copy / "index.jsonl").read_text().splitlines()
    # As if killed mid-way: half the records, a torn last line, and the input not marked finished.
    (copy / "index.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[-1][:40])
    (copy / "sources.jsonl").unlink()
    summary = Extractor(copy, ExtractConfig(every=10)).run([str(shared("clips/person_a.mp4"))])
    records = FacesetStore(copy).records()
    assert len(records) == first.kept
    assert len({r.key for r in records}) == len(records)
    assert summary.already_there == len(lines) // 2


def test_blurred_faces_are_rejected(tmp_path, astronaut):
    sharp = tmp_path / "sharp.png"
    blurred = tmp_path / "blurred.png"
    write_image(sharp, astronaut, synthetic=False)
    write_image(blurred, cv2.GaussianBlur(astronaut, (0, 0), 4), synthetic=False)
    summary = Extractor(tmp_path / "fs", ExtractConfig()).run([str(sharp), str(blurred)])
    assert summary.kept == 1 and summary.rejected["blurry"] == 1


def test_small_faces_are_rejected(tmp_path, astronaut):
    small = tmp_path / "small.png"
    write_image(small, cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA), synthetic=False)
    summary = Extractor(tmp_path / "fs", ExtractConfig(min_size=48)).run([str(small)])
    assert summary.kept == 0 and summary.rejected["small"] == 1


def test_bad_inputs_are_reported_and_the_rest_continues(tmp_path, astronaut):
    good = tmp_path / "good.png"
    write_image(good, astronaut, synthetic=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 nope")
    summary = Extractor(tmp_path / "fs", ExtractConfig()).run(
        [str(good), str(empty), str(notes), str(broken), str(tmp_path / "missing.mp4")]
    )
    assert summary.kept == 1
    reasons = dict(summary.failed)
    assert "no images or videos" in reasons[str(empty)]
    assert "not an image or video" in reasons[str(notes)]
    assert "cannot read image" in reasons[str(broken)]
    assert "no such file" in reasons[str(tmp_path / "missing.mp4")]


def test_nothing_readable_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SwapcamError, match="no input could be read"):
        Extractor(tmp_path / "fs", ExtractConfig()).run([str(empty)])


def test_a_faceset_without_faces_is_a_clear_error(tmp_path):
    blank = tmp_path / "wall.png"
    write_image(blank, np.full((200, 200, 3), 120, np.uint8), synthetic=False)
    Extractor(tmp_path / "fs", ExtractConfig()).run([str(blank)])
    with pytest.raises(SwapcamError, match="has no faces"):
        load_faceset(tmp_path / "fs", 64)
    with pytest.raises(SwapcamError, match="not a swapcam faceset"):
        load_faceset(tmp_path, 64)


def test_loading_resizes_faces_and_landmarks_consistently(faceset_a):
    out, _ = faceset_a
    arrays = load_faceset(out, 128)
    assert arrays.images.shape[1:] == (128, 128, 3) and arrays.masks.shape[1:] == (128, 128)
    tpl = dict(zip(ALIGN_POINTS, arrays.spec.template_in_crop()))
    target = np.array([(tpl[33] + tpl[133]) / 2, (tpl[362] + tpl[263]) / 2])
    assert np.abs(eye_centres(arrays.landmarks[0]) - target).max() <= 0.01 * 128
    meta = json.loads((out / "faceset.json").read_text())
    assert meta["align.size"] == "256" and arrays.spec.size == 128


def test_a_faceset_pointing_into_another_reads_its_live_resampled_crops(faceset_a, tmp_path):
    """A subset faceset (records pointing into ``../full``, as the generalisation split writes) must load the full
    set's live-resampled 128 px crops, not resize the 256 px ones."""
    out, _ = faceset_a
    full = tmp_path / "full"
    full.symlink_to(out, target_is_directory=True)
    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "faceset.json").write_text((out / "faceset.json").read_text())
    lines = []
    for line in (out / "index.jsonl").read_text().splitlines()[:5]:
        rec = json.loads(line)
        assert 128 in rec["sizes"]
        rec["image"], rec["mask"] = "../full/" + rec["image"], "../full/" + rec["mask"]
        lines.append(json.dumps(rec))
    (subset / "index.jsonl").write_text("\n".join(lines) + "\n")
    assert FacesetStore(subset).records()[0].crop_path(128).startswith("../full/faces128/")
    assert np.array_equal(load_faceset(subset, 128).images, load_faceset(out, 128, max_faces=None).images[:5])
