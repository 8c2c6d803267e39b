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
    into ``swap`` with its engine, settings and telemetry (``FaceSwap.load_model``)."""
    from swapcam.live.panel.server import PanelServer

    config: PanelConfig = live_config.panel
    with LiveControl(config, swap, telemetry, fps=fps, dropped=dropped) as control:
        server = PanelServer(control, config.host, config.port, config.token)
        with server:
            line = f"swapcam panel: {server.url}" + ("  (keep this address private: it holds the token)"
                                                      if server.token else "")  # fmt: skip
            (config.announce or log.info)(line)
            control.url = server.url
            yield control
