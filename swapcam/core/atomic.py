"""Atomic file writes: a temporary file beside the target, then a rename, so a crash never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes, *, sync: bool = True) -> Path:
    """``sync`` flushes to disk before the rename (a checkpoint or model needs it; many small files may skip it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
