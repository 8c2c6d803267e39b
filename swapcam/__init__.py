"""swapcam: real-time face swap. Train a two-decoder autoencoder of two people, export it to a self-describing ONNX
file, and run it live on a camera or a video.

The public API for embedding is small::

    from swapcam import FaceSwap, SwapcamError

    with FaceSwap("model.onnx") as swap:        # engine="auto", faces="largest", blend settings as keywords
        out = swap.swap(frame_rgb)              # (H, W, 3) uint8 RGB in, the same shape out

Frames are RGB uint8 arrays of shape (H, W, 3) everywhere in swapcam: PyAV decodes to it, MediaPipe and
pyvirtualcam consume it, so the hot path never converts colour. Landmarks are float32 pixel coordinates in
OpenCV's convention (the centre of the top-left pixel is (0, 0)), the same space ``cv2.warpAffine`` uses.

Layers, imported one way only: ``swapcam.core`` (errors, messages, face geometry, media I/O, model format, engines)
<- ``swapcam.live`` (the per-frame stages, ``FaceSwap`` in ``swapcam.live.faceswap``, and the runner, sources, sinks
and convert built on it), ``swapcam.trainer``, ``swapcam.export``, ``swapcam.evaluate`` <- ``swapcam.cli``;
``swapcam.demo`` alone imports everything.
This module imports nothing heavy: ``FaceSwap`` is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swapcam.core.errors import SwapcamError
from swapcam.core.provenance import provenance_tags
from swapcam.core.version import __version__

__all__ = ["FaceSwap", "SwapResult", "SwapSettings", "SwapcamError", "VideoWriter", "__version__", "provenance_tags"]

if TYPE_CHECKING:
    from swapcam.core.video import VideoWriter
    from swapcam.live.faceswap import FaceSwap, SwapResult, SwapSettings


def __getattr__(name: str):
    if name in ("FaceSwap", "SwapResult", "SwapSettings"):
        from swapcam.live import faceswap

        return getattr(faceswap, name)
    if name == "VideoWriter":
        from swapcam.core.video import VideoWriter

        return VideoWriter
    raise AttributeError(f"module 'swapcam' has no attribute {name!r}")
