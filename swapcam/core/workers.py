"""The one worker-thread scheme of the frame loops (``swapcam live`` and ``swapcam convert``).

A ``Worker`` is a daemon thread that runs one function. Whatever that function raises is stored, never lost: the
thread that owns the worker calls ``raise_if_failed()`` (between frames, and once more after ``join``) and the error
surfaces there, with its own traceback, as if the work had run on the owner's thread. ``on_exit`` runs on the
worker's thread whatever happened (it closes the hand-off the worker fed, so a consumer waiting on it wakes up).
(The pattern of faceswap's ``ErrorState.re_raise``; see the house style's "Bounded hand-offs".)
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Worker(threading.Thread):
    def __init__(self, target: Callable[[], None], name: str, *, on_exit: Callable[[], None] | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self._on_exit = target, on_exit
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # stored for the owner: no thread dies silently
            self.error = exc
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error


def raise_first_error(workers: list[Worker] | tuple[Worker, ...]) -> None:
    """Re-raises the first stored error among ``workers`` (in the order given), if any."""
    for w in workers:
        w.raise_if_failed()
