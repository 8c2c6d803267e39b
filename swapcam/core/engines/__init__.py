"""Inference engines behind one interface (``swapcam.core.engines.base.Engine``), chosen by name or automatically.

    with open_engine("model.onnx", "auto") as engine:
        swapped, mask = engine.run(aligned)   # (N,3,R,R) float32 in [0,1] -> (N,3,R,R), (N,1,R,R)

Adding an engine is one module with a factory ``(model_path, info, config) -> Engine`` and one line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from swapcam.core.engines.base import Engine, EngineConfig, EngineUnavailable
from swapcam.core.errors import SwapcamError
from swapcam.core.model_info import ModelInfo, read_model_info

log = logging.getLogger(__name__)

# name -> "module:factory". `auto` tries them in this order: fastest first on the hardware that has them
# (a native TensorRT plan, then TensorRT inside ONNX Runtime, then CUDA, then the CPU).
ENGINES: dict[str, str] = {
    "tensorrt": "swapcam.core.engines.tensorrt:tensorrt_engine",
    "ort-trt": "swapcam.core.engines.ort:ort_trt",
    "ort-cuda": "swapcam.core.engines.ort:ort_cuda",
    "ort-cpu": "swapcam.core.engines.ort:ort_cpu",
}
ENGINE_CHOICES = ("auto", *ENGINES)
CPU_ENGINES = ("ort-cpu",)  # the last resort: its errors are the model's, and reach the user

__all__ = ["ENGINES", "ENGINE_CHOICES", "Engine", "EngineConfig", "EngineUnavailable", "open_engine"]


def _factory(name: str):
    module, attr = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def open_engine(model: str | Path, name: str = "auto", config: EngineConfig | None = None,
                info: ModelInfo | None = None) -> Engine:  # fmt: skip
    """Loads ``model`` (checked as a swapcam model first) into the named engine. ``auto`` takes the first that
    starts and logs why each one before it was passed over; the reasons stay on ``engine.passed_over``. Under
    ``auto`` any exception from a GPU engine passes it over (issue 14): only the CPU engine's errors, which are the
    model's, reach the caller."""
    config = config or EngineConfig()
    info = info or read_model_info(model)
    if name != "auto" and name not in ENGINES:
        raise SwapcamError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_CHOICES)}")
    names = list(ENGINES) if name == "auto" else [name]
    reasons: dict[str, str] = {}
    for candidate in names:
        try:
            engine = _factory(candidate)(model, info, config)
        except EngineUnavailable as exc:
            reasons[candidate] = str(exc)
        except SwapcamError as exc:  # the model itself, or a plan asked for by name: the user's to fix
            if name != "auto" or candidate in CPU_ENGINES:
                raise
            reasons[candidate] = str(exc)
        except Exception as exc:  # a GPU stack failing in a way nobody foresaw is a reason to move on, not a crash
            if candidate in CPU_ENGINES:
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            reasons[candidate] = f"{type(exc).__name__}: {first}"
            log.debug("engine %s failed", candidate, exc_info=True)
        else:
            break
        log.info("engine %s passed over: %s", candidate, reasons[candidate])
    else:
        raise SwapcamError("no inference engine can run here: " + "; ".join(f"{k}: {v}" for k, v in reasons.items()))
    engine.passed_over = reasons
    if name == "auto":
        log.info("engine: %s (passed over: %s)", candidate,
                 "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "none")  # fmt: skip
    return engine
