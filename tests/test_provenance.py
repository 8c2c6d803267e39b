"""Provenance text in PNG files survives decoding and marks synthetic output."""

import cv2
import numpy as np

from swapcam.core.media_io import load_image, write_image
from swapcam.core.provenance import PNG_KEYWORD, SYNTHETIC_NOTE, add_png_text, provenance_tags, read_png_text


def test_png_text_chunk_is_valid_and_readable(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = write_image(tmp_path / "x.png", img, synthetic=True)
    data = path.read_bytes()
    assert read_png_text(data) == {PNG_KEYWORD: SYNTHETIC_NOTE}
    assert np.array_equal(load_image(path), img)  # still a valid PNG with the same pixels
    assert cv2.imdecode(np.frombuffer(add_png_text(data, "k", "v"), np.uint8), cv2.IMREAD_COLOR) is not None


def test_real_images_carry_no_synthetic_mark(tmp_path):
    path = write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8), synthetic=False)
    assert read_png_text(path.read_bytes()) == {}


def test_container_tags_name_the_model():
    tags = provenance_tags("model.onnx")
    assert tags["comment"] == SYNTHETIC_NOTE and tags["swapcam_model"] == "model.onnx"
