"""The public Python API: ``FaceSwap`` swaps the faces in frames you hand it, with a model from ``swapcam export``.

    from swapcam import FaceSwap

    with FaceSwap("model.onnx", engine="auto", faces="largest", opacity=0.9) as swap:
        for frame in frames:                    # (H, W, 3) uint8 RGB, e.g. PyAV's frame.to_ndarray(format="rgb24")
            out = swap.swap(frame)              # a new array; swap.swap(frame, inplace=True) changes ``frame``
            print(swap.last.faces, swap.last.ms)
        swap.update(enabled=False)              # settings apply from the next frame on, from any thread
        loaded = swap.load_model("other.onnx")  # slow: on a side thread while frames go on
        swap.use_model(loaded).close()          # on the frame thread, between two frames: a reference swap

The live runner (``swapcam live``), the offline converter (``swapcam convert``) and ``swapcam eval`` are shells over
this class: they
they add threads, sources and sinks around ``FaceSwap.process``. Errors are ``swapcam.SwapcamError`` with one clear line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from swapcam.core.engines import Engine, EngineConfig, open_engine
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import LandmarkerConfig
from swapcam.core.messages import Face, Frame
from swapcam.core.model_info import ModelInfo, read_model_info
from swapcam.live.mark_track import check_placement
from swapcam.live.pipeline import FramePipeline, ModelStage, PipelineConfig
from swapcam.live.settings import SwapSettings
from swapcam.live.swapper import SwapConfig
from swapcam.live.telemetry import Telemetry

__all__ = ["FaceSwap", "LoadedModel", "SwapResult", "SwapSettings"]


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What the last call found and did."""

    faces: tuple[Face, ...] = ()  # every face the landmarker found (landmarks in frame pixels)
    swapped: int = 0  # how many of them were swapped (0 when the swap is off or no face was found)
    ms: dict[str, float] = field(default_factory=dict)  # per-stage time: landmarks, align, infer, composite


class LoadedModel:
    """A model file opened for a ``FaceSwap``: its metadata, its engine and its stage of the pipeline. Made by
    ``FaceSwap.load_model``, swapped in by ``FaceSwap.use_model``; the FaceSwap closes the one it uses, the caller
    any other (``close`` is idempotent)."""

    def __init__(self, path: str, info: ModelInfo, engine: Engine, stage: ModelStage) -> None:
        self.path, self.info, self.engine, self.stage = path, info, engine, stage

    def close(self) -> None:
        self.engine.close()


class FaceSwap:
    """A model, a landmarker and a compositor, ready to swap frames.

    model: a ``.onnx`` file written by ``swapcam export`` (a foreign or damaged file is refused with one line).
    engine: "auto" (the fastest that starts here), "ort-cpu", "ort-cuda", "ort-trt" or "tensorrt".
    faces: "largest" or "all". video: True tracks and smooths faces across calls (a video or camera); False treats
    every call as an unrelated still. Other keywords are ``SwapSettings`` fields (opacity, erode, feather, color,
    enabled, max_faces, model_mask), checked against their ranges. provenance: True (the default) hides an
    invisible watermark in every swapped face (``swapcam verify`` reads it); False, the explicit opt-out that
    ``--no-provenance`` gives, leaves it out. It is fixed for the life of the object, not a live setting.
    repeatable: True runs in line what a real-time loop hands to a thread (the watermark's aligner, see
    ``swapcam.live.mark_align``), so that the same input always gives the same output (``convert``).
    mark_placement: where the watermark goes in a video (``swapcam.live.mark_track``): "exact", where verify's own
    tracker finds each swapped face on that very frame (one more face mesh per frame, in line: ``convert``);
    "sampled", with the sampled aligner's correction (``swapcam.live.mark_align``: least CPU, the live loop's
    default); "follow", where that tracker found the face a frame before (its mesh on every frame it is free for, on
    a thread of its own: for a machine with cores to spare). None (the default): "exact" when ``repeatable``, else
    "sampled".
    The model can be switched while frames go on: ``load_model`` on a side thread, then ``use_model``.
    """

    def __init__(self, model: str | Path, engine: str = "auto", faces: str | None = None, *,
                 threads: int | None = None, plan: str | None = None, video: bool = True,
                 settings: SwapSettings | None = None, engine_config: EngineConfig | None = None,
                 telemetry: Telemetry | None = None, provenance: bool = True, info: ModelInfo | None = None,
                 repeatable: bool = False, mark_placement: str | None = None, **changes: Any) -> None:  # fmt: skip
        self.provenance = bool(provenance)
        placement = check_placement(mark_placement or ("exact" if repeatable else "sampled"))  # before the engine
        base = settings or SwapSettings()
        if not isinstance(base, SwapSettings):
            raise SwapcamError(f"settings must be a SwapSettings, not {type(base).__name__}")
        self._settings = base.with_changes({**({"faces": faces} if faces is not None else {}), **changes})
        self._pending: SwapSettings | None = None
        self._lock = threading.Lock()  # guards _pending/_settings: the web panel and hotkeys update from other threads
        # ``info``: the model's metadata when the caller has just read (and verified) it; reading a model checks its
        # weights' hash, ~0.1 s for a `fast` model, not worth paying twice on the way to the first frame
        info = info or read_model_info(model)
        engine_config = engine_config or EngineConfig()
        if threads is not None or plan is not None:
            engine_config = replace(engine_config, threads=threads or engine_config.threads,
                                    plan=plan or engine_config.plan)  # fmt: skip
        self._engine_choice, self._engine_config = engine, engine_config  # ``load_model``'s defaults
        opened = open_engine(str(model), engine, engine_config, info)
        try:
            config = PipelineConfig(swap=self._swap_config(self._settings), landmarks=LandmarkerConfig(video=video),
                                    mark_align_thread=not repeatable,
                                    mark_placement=placement)  # fmt: skip
            self._pipeline = FramePipeline(opened, config, telemetry)
        except BaseException:
            opened.close()
            raise
        self._model = LoadedModel(str(model), info, opened, self._pipeline.model)  # the model in use
        self._pipeline.enabled = self._settings.enabled
        self._closed = False
        self._index = 0
        self.last = SwapResult()

    # -- settings -------------------------------------------------------------------------------------------------
    @property
    def settings(self) -> SwapSettings:
        """The settings in force from the next frame on (a frozen, validated ``SwapSettings``)."""
        with self._lock:
            return self._pending or self._settings

    @settings.setter
    def settings(self, value: SwapSettings) -> None:
        if not isinstance(value, SwapSettings):
            raise SwapcamError(f"settings must be a SwapSettings, not {type(value).__name__}")
        with self._lock:
            self._pending = value  # applied by the thread that swaps, between two frames

    def update(self, **changes: Any) -> SwapSettings:
        """Validates ``changes`` (unknown names, wrong types and out-of-range values raise and change nothing) and
        applies them from the next frame on; returns the new settings. Safe from any thread: concurrent updates
        all land (each builds on the one before)."""
        with self._lock:
            new = (self._pending or self._settings).with_changes(changes)
            self._pending = new
        return new

    def _apply_pending(self) -> None:
        with self._lock:
            pending = self._pending
        if pending is None:
            return
        if pending != self._settings:  # the slow part (a compositor, maybe a landmarker) runs outside the lock
            if pending.swap_config() != self._settings.swap_config():
                self._pipeline.reconfigure(self._swap_config(pending))
            self._pipeline.enabled = pending.enabled
        with self._lock:
            self._settings = pending
            if self._pending is pending:  # a newer change that came meanwhile stays pending for the next frame
                self._pending = None

    def _swap_config(self, settings: SwapSettings) -> SwapConfig:
        return replace(settings.swap_config(), watermark=self.provenance)

    # -- the model ------------------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The model file in use."""
        return self._model.path

    @property
    def info(self) -> ModelInfo:
        """What the model in use says about itself."""
        return self._model.info

    @property
    def engine(self) -> str:
        return self._model.engine.name

    @property
    def _engine(self) -> Engine:
        return self._model.engine

    def load_model(self, model: str | Path, *, engine: str | None = None, engine_config: EngineConfig | None = None,
                   info: ModelInfo | None = None, warm: np.ndarray | None = None) -> LoadedModel:  # fmt: skip
        """Opens another model for this FaceSwap, leaving the one in use untouched: its engine (by default this
        FaceSwap's engine choice and settings) and its stage of the pipeline, with the settings in force. The
        landmarker and its face tracks do not depend on the model and are not rebuilt. This is the slow part of a
        switch (an inference session, a weights check, first runs): call it on a side thread while frames go on,
        then ``use_model`` between two frames. ``info``: the model's metadata if the caller has just read it.
        ``warm``: a recent frame, (H, W, 3) uint8 RGB; the new model swaps the faces last found (``last.faces``)
        into a copy of it once, so that its first live frame is not its slowest."""
        self._check_open()
        info = info or read_model_info(model)
        opened = open_engine(str(model), engine or self._engine_choice, engine_config or self._engine_config, info)
        try:
            stage = self._pipeline.model_stage(opened)
            if warm is not None:
                stage.warm_up(warm.copy(), self.last.faces)
        except BaseException:
            opened.close()
            raise
        return LoadedModel(str(model), info, opened, stage)

    def use_model(self, loaded: LoadedModel) -> LoadedModel:
        """Swaps in a model from ``load_model`` from the next frame on; returns the one it replaces, for the
        caller to close (better on another thread: releasing an engine takes a few ms). Call it between two frames,
        on the thread that calls ``process``: it swaps references, and keeps the settings and the face tracks."""
        self._check_open()
        self._pipeline.use_model(loaded.stage)
        old, self._model = self._model, loaded
        return old

    # -- frames ---------------------------------------------------------------------------------------------------
    @property
    def telemetry(self) -> Telemetry:
        return self._pipeline.telemetry

    def find(self, frame: Frame) -> tuple[Face, ...]:
        """The landmark stage alone (``convert`` runs it a frame ahead, on its decode thread)."""
        self._check_open()
        return self._pipeline.find(frame)

    def process(self, frame: Frame, faces: tuple[Face, ...] | None = None) -> int:
        """Swaps the faces of ``frame.image`` in place (landmarks first unless ``faces`` is given); returns how
        many faces were swapped. The runner's per-frame call."""
        self._check_open()
        if self._pending is not None:
            self._apply_pending()
        if faces is None:
            faces = self._pipeline.find(frame)
        swapped = self._pipeline.swap(frame, faces)
        if self._settings.mirror:  # after the swap: landmarks (and ``last.faces``) stay in camera coordinates
            cv2.flip(frame.image, 1, dst=frame.image)
        self.last = SwapResult(faces, swapped, dict(self._pipeline.last_ms))
        return swapped

    def swap(self, frame: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> the same frame with its face(s) swapped: a new array, or ``frame`` itself
        changed in place with ``inplace=True``. Frames without a face come back unchanged."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            shape = getattr(frame, "shape", None)
            dtype = getattr(frame, "dtype", type(frame).__name__)
            raise SwapcamError(f"a frame must be an (H, W, 3) uint8 RGB array, not {dtype} {shape}")
        image = frame if inplace else frame.copy()
        if not image.flags.c_contiguous:
            if inplace:
                raise SwapcamError("swap(inplace=True) needs a C-contiguous frame")
            image = np.ascontiguousarray(image)
        self.process(Frame(image, self._index, time.perf_counter()))
        self._index += 1
        return image

    __call__ = swap

    # -- lifetime -------------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise SwapcamError("this FaceSwap is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._pipeline.close()
        finally:
            self._model.close()

    def __enter__(self) -> FaceSwap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
