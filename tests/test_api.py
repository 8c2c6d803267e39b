"""The public Python API, ``swapcam.FaceSwap``, on real frames with a real (tiny) model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from swapcam import FaceSwap, SwapcamError, SwapSettings
from swapcam.core.media_io import read_video
from tests.conftest import clip_a


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """The first 12 frames of clip A, (H, W, 3) uint8 RGB."""
    out = []
    for frame in read_video(clip_a()):
        out.append(frame.image)
        if len(out) == 12:
            break
    return out


def test_swap_returns_a_new_frame_or_changes_it_in_place(tiny_model, frames):
    with FaceSwap(tiny_model) as swap:
        original = frames[0].copy()
        out = swap.swap(frames[0])
        assert out is not frames[0] and np.array_equal(frames[0], original)  # the input is left alone
        assert out.shape == original.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - original).mean() > 0.5  # the face changed
        assert len(swap.last.faces) == 1 and swap.last.swapped == 1
        assert set(swap.last.ms) == {"landmarks", "align", "infer", "composite"}
        image = frames[1].copy()
        same = swap.swap(image, inplace=True)
        assert same is image and not np.array_equal(image, frames[1])
        assert swap.engine == "ort-cpu" and swap.info.preset == "tiny"


def test_settings_apply_from_the_next_frame_and_bad_ones_change_nothing(tiny_model, frames):
    with FaceSwap(tiny_model, opacity=1.0) as swap:
        full = swap.swap(frames[2])
        swap.update(opacity=0.5)
        half = swap.swap(frames[2])
        diff_full = np.abs(full.astype(int) - frames[2])
        diff_half = np.abs(half.astype(int) - frames[2])
        face = diff_full.sum(axis=2) > 30
        ratio = diff_half[face].mean() / diff_full[face].mean()
        assert 0.35 < ratio < 0.65  # half the opacity, about half the change inside the face
        swap.update(enabled=False)
        assert np.array_equal(swap.swap(frames[3]), frames[3]) and swap.last.swapped == 0
        before = swap.settings
        for bad in ({"opacity": 5}, {"erode": -3}, {"feather": float("nan")}, {"faces": "most"},
                    {"colour": "rct"}, {"enabled": "yes"}):  # fmt: skip
            with pytest.raises(SwapcamError):
                swap.update(**bad)
        assert swap.settings == before
        swap.settings = SwapSettings(opacity=1.0)
        assert swap.swap(frames[4]).tobytes() != frames[4].tobytes()


def test_settings_changed_from_another_thread_take_effect(tiny_model, frames):
    with FaceSwap(tiny_model) as swap:
        swap.swap(frames[5])
        t = threading.Thread(target=swap.update, kwargs={"enabled": False})
        t.start()
        t.join()
        assert np.array_equal(swap.swap(frames[6]), frames[6])


def _head(image: np.ndarray, detect) -> np.ndarray:
    """A 320x320 square around the portrait's face, twice the face's size: both heads side by side stay large
    enough for the detector."""
    import cv2

    x0, y0, x1, y1 = detect(image)[0].box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
    m = np.float32([[320 / (2 * half), 0, 160 - cx * 320 / (2 * half)], [0, 320 / (2 * half), 160 - cy * 320 / (2 * half)]])
    return cv2.warpAffine(image, m, (320, 320), borderMode=cv2.BORDER_REPLICATE)


def test_faces_all_swaps_both_people(tiny_model, detect, astronaut, hopper):
    pair = np.ascontiguousarray(np.concatenate([_head(astronaut, detect), _head(hopper, detect)], axis=1))
    with FaceSwap(tiny_model, faces="all", video=False) as swap:
        swap.swap(pair)
        assert len(swap.last.faces) == 2 and swap.last.swapped == 2
        swap.update(faces="largest")
        swap.swap(pair)
        assert swap.last.swapped == 1


def test_bad_input_is_one_clear_error(tiny_model, tmp_path, frames):
    with pytest.raises(SwapcamError, match="no such model file"):
        FaceSwap(tmp_path / "missing.onnx")
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"not a model at all")
    with pytest.raises(SwapcamError, match="not an ONNX model"):
        FaceSwap(foreign)
    with pytest.raises(SwapcamError, match="opacity"):
        FaceSwap(tiny_model, opacity=2)
    with pytest.raises(SwapcamError, match="mark_placement must be one of sampled, follow, exact"):
        FaceSwap(tiny_model, mark_placement="nearby")
    from swapcam.live.pipeline import PipelineConfig

    with pytest.raises(SwapcamError, match="mark_placement must be one of"):  # the frame loop's own config too
        PipelineConfig(mark_placement="nearby")
    swap = FaceSwap(tiny_model)
    for bad in (frames[0].astype(np.float32), frames[0][:, :, 0], "frame", frames[0][..., :2]):
        with pytest.raises(SwapcamError, match="uint8 RGB"):
            swap.swap(bad)
    swap.close()
    swap.close()  # idempotent
    with pytest.raises(SwapcamError, match="closed"):
        swap.swap(frames[0])
