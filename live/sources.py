"""Frame sources for the live loop: a camera, a video file played as if it were a camera, a network URL, a still.

Each source is a context manager with ``width``, ``height``, ``fps`` and ``read() -> Frame | None`` (None when it
has ended). ``read`` blocks until the next frame is due: a camera or a stream by nature, a file by pacing itself
at its own frame rate, a still at ``fps``. ``Frame.t_capture`` is the ``time.perf_counter()`` instant the frame
became available; the runner carries it to the sinks to measure latency.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import IMAGE_SUFFIXES, load_image
from swapcam.core.messages import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceConfig:
    width: int | None = None  # cameras: requested size (the camera may choose the nearest it has)
    height: int | None = None
    fps: float | None = None  # cameras: requested rate; stills: the rate they repeat at (default 30)
    mjpg: bool = True  # cameras: ask for MJPG, which USB cameras need for 720p/1080p at 30 fps
    loop: bool = False  # files: start again at the end
    pace: bool = True  # files: deliver frames at the file's frame rate (False: as fast as they decode)


_LIVE_SCHEMES = frozenset({"udp", "rtp", "rtsp", "rtmp", "rtmps", "srt", "tcp"})


class _Source:
    """Sources are context managers; ``close`` releases the device or file (idempotent in each subclass)."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CameraSource(_Source):
    """A camera by index (``0``) or device path (``/dev/video0``) through OpenCV (V4L2 on Linux)."""

    def __init__(self, device: str, config: SourceConfig) -> None:
        import cv2

        self._cv2 = cv2
        index = int(device) if device.isdigit() else device
        backend = cv2.CAP_V4L2 if os.name == "posix" and not os.uname().sysname == "Darwin" else cv2.CAP_ANY
        if isinstance(index, str) and not Path(index).exists():
            raise SwapcamError(f"cannot open camera {device}: no such device")
        self._cap = cv2.VideoCapture(index, backend)
        if not self._cap.isOpened():
            self._cap.release()
            raise SwapcamError(f"cannot open camera {device}: no camera there, or it is in use")
        if config.mjpg:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if config.width and config.height:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, config.width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, config.height)
        if config.fps:
            self._cap.set(cv2.CAP_PROP_FPS, config.fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver from queueing stale frames
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.name = f"camera {device}"
        self._next = 0
        log.info("%s: %dx%d at %.1f fps", self.name, self.width, self.height, self.fps)

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok:
            return None
        t = time.perf_counter()
        # OpenCV delivers BGR; this is the loop's only colour conversion (PyAV sources decode straight to RGB)
        rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        frame = Frame(rgb, self._next, t)
        self._next += 1
        return frame

    def close(self) -> None:
        self._cap.release()



class AvSource(_Source):
    """A video file or a network URL (rtsp, rtmp, udp, srt, http) decoded by PyAV straight to RGB.

    Files are paced at their own frame rate (so they behave like a camera) and can loop; network streams arrive
    in real time and are read with FFmpeg's low-delay flags."""

    def __init__(self, target: str, config: SourceConfig) -> None:
        import av

        self._av = av
        scheme = target.split("://", 1)[0].lower() if "://" in target else "file"
        # live streams arrive in real time and are never paced; files (and files over http) play at their rate
        self.network = scheme in _LIVE_SCHEMES
        if scheme == "file" and not Path(target).is_file():
            raise SwapcamError(f"no such file: {target}")
        options = {}
        if self.network:
            options = {"fflags": "nobuffer", "flags": "low_delay"}
            if target.startswith("rtsp://"):
                options["rtsp_transport"] = "tcp"
        try:
            self._container = av.open(target, options=options, timeout=10)
        except av.FFmpegError as exc:
            raise SwapcamError(f"cannot open {target}: {exc.strerror or exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise SwapcamError(f"no video stream in {target}")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "SLICE"  # frame threading would hold frames back: latency over throughput
        cc = self._stream.codec_context
        self.width, self.height = cc.width, cc.height
        self.fps = float(self._stream.average_rate or self._stream.base_rate or 30)
        self.name = target
        self._target = target
        self._config = config
        self._frames = self._container.decode(self._stream)
        self._next = 0
        self._t0: float | None = None  # wall-clock instant of stream time 0 (pacing)

    def _decoded(self):
        try:
            return next(self._frames, None)
        except self._av.FFmpegError as exc:
            raise SwapcamError(f"cannot read {self._target}: {exc.strerror or exc}") from exc

    def read(self) -> Frame | None:
        vf = self._decoded()
        if vf is None and self._config.loop and not self.network and self._next > 0:  # files, also over http
            self._container.seek(0)
            self._frames = self._container.decode(self._stream)
            self._t0 = None
            vf = self._decoded()
        if vf is None:
            return None
        image = vf.to_ndarray(format="rgb24")  # (H, W, 3) uint8
        if self._config.pace and not self.network:
            ts = float(vf.pts * vf.time_base) if vf.pts is not None else self._next / self.fps
            now = time.perf_counter()
            if self._t0 is None:
                self._t0 = now - ts
            wait = self._t0 + ts - now
            if wait > 0:
                time.sleep(wait)
        frame = Frame(image, self._next, time.perf_counter())
        self._next += 1
        return frame

    def close(self) -> None:
        self._container.close()



class ImageSource(_Source):
    """A still image delivered as a video at ``fps`` (useful to set up a scene or test a model)."""

    def __init__(self, path: str, config: SourceConfig) -> None:
        self._image = load_image(path)
        self.height, self.width = self._image.shape[:2]
        self.fps = float(config.fps or 30.0)
        self.name = path
        self._next = 0
        self._t0 = time.perf_counter()

    def read(self) -> Frame | None:
        due = self._t0 + self._next / self.fps
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        # a fresh copy: the loop draws into frames in place
        frame = Frame(np.array(self._image), self._next, time.perf_counter())
        self._next += 1
        return frame


def open_source(spec: str, config: SourceConfig = SourceConfig()):
    """``0`` or ``/dev/video0``: a camera; ``scheme://...``: a network stream; an image file: a still; any other
    path: a video file."""
    if spec.isdigit() or re.fullmatch(r"/dev/video\d+", spec):
        return CameraSource(spec, config)
    if "://" in spec:
        return AvSource(spec, config)
    path = Path(spec)
    if not path.exists():
        raise SwapcamError(f"no such file: {spec}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(spec, config)
    return AvSource(spec, config)
