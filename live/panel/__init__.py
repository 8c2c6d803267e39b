"""The live control panel (issue 13): a local web page and a control API over a running ``swapcam live``.

``open_panel`` is the runner's one hook: it makes the ``LiveControl`` the loop consults once per frame and starts
the web server that drives it; closing it stops both.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from swapcam.live.control import LiveControl, PanelConfig

__all__ = ["LiveControl", "PanelConfig", "open_panel"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def open_panel(live_config, swap, telemetry, *, fps: float = 30.0,
               dropped: Callable[[], int] = lambda: 0) -> Iterator[LiveControl]:  # fmt: skip
    """The control for ``swap`` with its server listening on ``live_config.panel``'s address; new models load
    with the run's engine, engine settings and telemetry."""
    from swapcam.live.faceswap import FaceSwap
    from swapcam.live.panel.server import PanelServer
    from swapcam.live.telemetry import Telemetry

    config: PanelConfig = live_config.panel

    def load_swap(model: str, settings, warm_image):
        # its own telemetry while it warms up on a recent frame: the first frames through a new landmarker and
        # engine are several times slower than the rest, and must not land between two live frames
        new = FaceSwap(model, live_config.engine, settings=settings, engine_config=live_config.engine_config,
                       telemetry=Telemetry(), provenance=swap.provenance)  # fmt: skip
        try:
            for _ in range(2 if warm_image is not None else 0):
                new.swap(warm_image)
        except BaseException:
            new.close()
            raise
        new._pipeline.telemetry = telemetry  # from its first live frame on, it counts in the run's telemetry
        return new

    with LiveControl(config, swap, telemetry, load_swap=load_swap, fps=fps, dropped=dropped) as control:
        server = PanelServer(control, config.host, config.port, config.token)
        with server:
            line = f"swapcam panel: {server.url}" + ("  (keep this address private: it holds the token)"
                                                      if server.token else "")  # fmt: skip
            (config.announce or log.info)(line)
            control.url = server.url
            yield control
