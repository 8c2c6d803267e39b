"""Frame sources for the live loop: a camera, a video file played as if it were a camera, a network URL, a still.

Each source is a context manager with ``width``, ``height``, ``fps`` and ``read() -> Frame | None`` (None when it
has ended). ``read`` blocks until the next frame is due: a camera or a stream by nature, a file by pacing itself
at its own frame rate, a still at ``fps``. ``Frame.t_capture`` is the ``time.perf_counter()`` instant the frame
became available; the runner carries it to the sinks to measure latency.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import IMAGE_SUFFIXES, load_image
from swapcam.core.messages import Frame
from swapcam.core.video import LIVE_SCHEMES, rgb, scheme_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceConfig:
    width: int | None = None  # cameras: requested size (the camera may choose the nearest it has)
    height: int | None = None
    fps: float | None = None  # cameras: requested rate; stills: the rate they repeat at (default 30)
    mjpg: bool = True  # cameras: ask for MJPG, which USB cameras need for 720p/1080p at 30 fps
    loop: bool = False  # files: start again at the end
    pace: bool = True  # files: deliver frames at the file's frame rate (False: as fast as they decode)
    # cameras and network sources: reopen attempts per outage after the source fails or stalls (-1: forever,
    # 0: never, the run ends with the source). Files end at their end (or loop); they are not reopened.
    reconnect: int = -1
    stall_s: float = 1.0  # network sources: a read that waits longer than this counts as a lost source
    timeout_s: float | None = None  # no frame for this long: the sinks get held frames (None: 3 frame intervals)


class _Source:
    """Sources are context managers; ``close`` releases the device or file (idempotent in each subclass).
    ``reconnectable``: the runner reopens it after it fails or stalls (cameras and network streams)."""

    reconnectable = False

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def _opencv_quiet(cv2) -> Iterator[None]:
    """OpenCV prints its own warning lines when a camera index does not exist; we say it in our one line instead.
    (``cv2.setLogLevel``: this OpenCV's Python build has no ``cv2.utils.logging``; 0 is LOG_LEVEL_SILENT.)"""
    set_level, get_level = getattr(cv2, "setLogLevel", None), getattr(cv2, "getLogLevel", None)
    if set_level is None or get_level is None:
        yield
        return
    previous = get_level()
    set_level(0)
    try:
        yield
    finally:
        set_level(previous)


class CameraSource(_Source):
    """A camera by index (``0``) or device path (``/dev/video0``) through OpenCV (V4L2 on Linux)."""

    reconnectable = True

    def __init__(self, device: str, config: SourceConfig) -> None:
        import cv2

        self._cv2 = cv2
        index = int(device) if device.isdigit() else device
        backend = cv2.CAP_V4L2 if os.name == "posix" and not os.uname().sysname == "Darwin" else cv2.CAP_ANY
        if isinstance(index, str) and not Path(index).exists():
            raise SwapcamError(f"cannot open camera {device}: no such device")
        with _opencv_quiet(cv2):
            self._cap = cv2.VideoCapture(index, backend)
            opened = self._cap.isOpened()
        if not opened:
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
    """A video file or a network URL (rtsp, rtmp, udp, srt, http) decoded by ``swapcam.core.video.VideoReader``.

    Files are paced at their own frame rate (so they behave like a camera) and can loop; network streams arrive
    in real time, are read with FFmpeg's low-delay flags, and a read that stalls longer than ``stall_s`` raises
    (the runner then reopens the stream)."""

    def __init__(self, target: str, config: SourceConfig, *, open_timeout: float = 10.0) -> None:
        from swapcam.core.video import VideoReader

        if scheme_of(target) == "file" and not Path(target).is_file():
            raise SwapcamError(f"no such file: {target}")
        network = scheme_of(target) in LIVE_SCHEMES
        # live streams arrive in real time and are never paced; files (and files over http) play at their rate
        self._reader = VideoReader(target, live=True, open_timeout=open_timeout,
                                   read_timeout=config.stall_s if network else None)  # fmt: skip
        self.network = self.reconnectable = network
        self.width, self.height, self.fps = self._reader.width, self._reader.height, self._reader.fps
        self.name = target
        self._config = config
        self._frames = self._reader.decode()
        self._next = 0
        self._t0: float | None = None  # wall-clock instant of stream time 0 (pacing)

    def read(self) -> Frame | None:
        vf = next(self._frames, None)
        if vf is None and self._config.loop and not self.network and self._next > 0:  # files, also over http
            self._reader.rewind()
            self._frames = self._reader.decode()
            self._t0 = None
            vf = next(self._frames, None)
        if vf is None:
            return None
        image = rgb(vf)  # (H, W, 3) uint8
        if self._config.pace and not self.network:
            ts = self._reader.seconds(vf, self._next)
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
        self._frames = iter(())  # the decode iterator holds the decoder: freed now, not with this object
        self._reader.close()


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


def open_source(spec: str, config: SourceConfig = SourceConfig(), *, open_timeout: float = 10.0):
    """``0`` or ``/dev/video0``: a camera; ``scheme://...``: a network stream; an image file: a still; any other
    path: a video file. ``open_timeout``: seconds a network stream may take to open."""
    if spec.isdigit() or re.fullmatch(r"/dev/video\d+", spec):
        return CameraSource(spec, config)
    if "://" in spec:
        return AvSource(spec, config, open_timeout=open_timeout)
    path = Path(spec)
    if not path.exists():
        raise SwapcamError(f"no such file: {spec}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(spec, config)
    return AvSource(spec, config)
