"""A preview window (OpenCV) with a stats overlay. Keys: ``s`` toggles the swap on and off, ``q`` or Esc stops."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from live.errors import SwapcamError
from live.messages import Frame

WINDOW = "swapcam preview (s: swap on/off, q: quit)"


class PreviewSink:
    def __init__(self, *, status: Callable[[], str], on_key: Callable[[str], None]) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SwapcamError("preview needs a display (DISPLAY is not set); use a file, stream or vcam sink")
        import cv2

        self._cv2 = cv2
        self._status, self._on_key = status, on_key
        self.name, self.frames = "preview", 0
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def write(self, frame: Frame) -> None:
        cv2 = self._cv2
        bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)  # a display copy: the frame itself stays RGB
        cv2.putText(bgr, self._status(), (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, self._status(), (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(WINDOW, bgr)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            self._on_key("quit")
        elif key == ord("s"):
            self._on_key("toggle")
        self.frames += 1

    def close(self) -> None:
        self._cv2.destroyAllWindows()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
