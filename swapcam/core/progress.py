"""Progress bars for long jobs: a bar with rate and ETA on a terminal, nothing in logs and pipes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    from tqdm import tqdm

    # disable=None: shown only when stderr is a terminal, so CI logs and captured output stay clean.
    yield from tqdm(items, total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True, leave=False)
