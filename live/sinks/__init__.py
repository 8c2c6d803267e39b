"""Sinks of the live loop: where swapped frames go. ``open_sink(spec, ...)`` understands:

    vcam | vcam:/dev/video10     the virtual webcam (pyvirtualcam); --vcam-backend picks the backend
    preview                      an OpenCV window with stats (s toggles the swap, q quits)
    out.mp4 | out.mkv | ...      a file (H.264 through PyAV)
    udp://host:port | srt://... | rtmp://... | rtsp://...   a network stream (H.264, low-latency settings)

Every sink has ``name``, ``frames``, ``write(frame, t_out=None)`` (``t_out``: the output clock's instant for it) and an
idempotent ``close()``; the runner wraps each in a ``guard.GuardedSink`` that isolates its failures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swapcam.live.sinks.av_out import output_format


@dataclass(frozen=True)
class SinkOptions:
    provenance: bool = True  # mark files and streams as synthetic (switch off only with --no-provenance)
    model: str | None = None  # model file name recorded with the provenance note
    vcam_backend: str | None = None  # pyvirtualcam backend (v4l2loopback, obs, unitycapture, or a registered one)
    vcam_device: str | None = None


def sink_kind(spec: str) -> str:
    """'vcam', 'preview' or 'av'; a SwapcamError for anything else."""
    if spec == "vcam" or spec.startswith("vcam:"):
        return "vcam"
    if spec == "preview":
        return "preview"
    output_format(spec)  # raises for an unknown scheme or suffix
    return "av"


def open_sink(spec: str, width: int, height: int, fps: float, options: SinkOptions, *,
              status: Callable[[], str] = lambda: "", on_key: Callable[[str], None] = lambda key: None):  # fmt: skip
    kind = sink_kind(spec)
    if kind == "vcam":
        from swapcam.live.sinks.vcam import VirtualCameraSink

        device = spec.split(":", 1)[1] if ":" in spec else options.vcam_device
        return VirtualCameraSink(width, height, fps, device=device, backend=options.vcam_backend)
    if kind == "preview":
        from swapcam.live.sinks.preview import PreviewSink

        return PreviewSink(status=status, on_key=on_key)
    from swapcam.live.sinks.av_out import AvSink

    return AvSink(spec, width, height, fps, provenance=options.provenance, model=options.model)
