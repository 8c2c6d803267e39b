"""Checkpoints: written atomically (temporary file, then rename), the last K kept, found again by step."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch

from swapcam.core.errors import SwapcamError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^step-(\d{9})\.pt$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if _NAME.match(p.name))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: str | Path, state: dict, *, keep: int) -> Path:
    """Writes ``state`` (must hold ``step``) as checkpoints/step-NNNNNNNNN.pt and prunes all but the last ``keep``.
    A crash mid-write leaves only a stray temporary file, never a truncated checkpoint."""
    d = checkpoint_dir(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"step-{state['step']:09d}.pt"
    tmp = d / f".{path.name}.tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Loads a swapcam checkpoint (on the CPU); a SwapcamError if it is missing or not one of ours."""
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise SwapcamError(f"no checkpoint in {p} (expected {checkpoint_dir(p)}/step-*.pt)")
        p = found
    if not p.is_file():
        raise SwapcamError(f"no such checkpoint: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)  # tensors and plain data only
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise SwapcamError(f"cannot read checkpoint {p}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != "swapcam-checkpoint/1":
        raise SwapcamError(f"{p} is not a swapcam checkpoint")
    return state
