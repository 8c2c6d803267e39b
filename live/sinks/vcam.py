"""The virtual webcam through pyvirtualcam: v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS.

Frames go out as RGB (pyvirtualcam converts to the device's format, e.g. YUYV or I420, in native code). A virtual
camera carries no metadata, so the provenance note cannot travel with it: the README says so, and files and
streams written at the same time carry it.
"""

from __future__ import annotations

import logging

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame

log = logging.getLogger(__name__)


class VirtualCameraSink:
    def __init__(self, width: int, height: int, fps: float, *, device: str | None = None,
                 backend: str | None = None) -> None:  # fmt: skip
        try:
            import pyvirtualcam
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise SwapcamError(f"pyvirtualcam is not installed ({exc}); run `make install`") from exc
        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device,
                                            backend=backend)  # fmt: skip
        except Exception as exc:  # pyvirtualcam raises RuntimeError/ValueError with a readable reason
            hint = ""
            if backend in (None, "v4l2loopback"):
                hint = " (Linux: sudo modprobe v4l2loopback exclusive_caps=1; see the README)"
            raise SwapcamError(f"cannot open the virtual camera: {str(exc).splitlines()[0]}{hint}") from exc
        self.name = f"vcam {self._cam.device} ({self._cam.backend})"
        self.frames = 0
        self._closed = False
        log.info("%s: %dx%d at %.1f fps", self.name, width, height, fps)

    def write(self, frame: Frame, t_out: float | None = None) -> None:
        self._cam.send(frame.image)
        self.frames += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cam.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
