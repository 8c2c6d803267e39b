"""A preview window (OpenCV) with a stats overlay. Keys: ``s`` toggles the swap on and off, ``q`` or Esc stops."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame

WINDOW = "swapcam preview (s: swap on/off, q: quit)"


class PreviewSink:
    def __init__(self, *, status: Callable[[], str], on_key: Callable[[str], None]) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SwapcamError("preview needs a display (DISPLAY is not set); use a file, stream or vcam sink")
        import cv2

        self._cv2 = cv2
        self._status, self._on_key = status, on_key
        self.name, self.frames = "preview", 0
        self._window = False  # HighGUI windows belong to the thread that made them: made on the sink's thread

    def write(self, frame: Frame, t_out: float | None = None) -> None:
        cv2 = self._cv2
        h, w = frame.image.shape[:2]
        if not self._window:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
            cv2.resizeWindow(WINDOW, w, h)
            self._window = True
        bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)  # a display copy: the frame itself stays RGB
        text, scale = self._status(), max(0.35, w / 2000)
        y = int(12 + 24 * scale)
        cv2.putText(bgr, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(WINDOW, bgr)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            self._on_key("quit")
        elif key == ord("s"):
            self._on_key("toggle")
        self.frames += 1

    def release_on_thread(self) -> None:
        """Called by the sink's own thread when it ends (Qt windows must be destroyed by their thread)."""
        if self._window:
            self._window = False
            self._cv2.destroyAllWindows()
            self._cv2.waitKey(1)

    def close(self) -> None:
        pass  # the window went with its thread (release_on_thread)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
