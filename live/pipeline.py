"""One frame through the model: landmarks -> align -> infer -> composite, each stage timed.

``FramePipeline`` owns the landmarker and the swapper (and through it the engine's buffers); the live runner and
the offline converter both push frames through it. It changes ``frame.image`` in place: sources hand over a
fresh array per frame, so no copy is needed. Frames without a face pass through untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from swapcam.core.engines.base import Engine
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Face, Frame
from swapcam.live.coverage_watch import CoverageWatch
from swapcam.live.swapper import FaceSwapper, SwapConfig
from swapcam.live.telemetry import Telemetry


@dataclass(frozen=True)
class PipelineConfig:
    swap: SwapConfig = field(default_factory=SwapConfig)
    landmarks: LandmarkerConfig = field(default_factory=LandmarkerConfig)  # video mode, One Euro smoothing


class FramePipeline:
    def __init__(self, engine: Engine, config: PipelineConfig = PipelineConfig(),
                 telemetry: Telemetry | None = None) -> None:  # fmt: skip
        self.config = config
        self.telemetry = telemetry or Telemetry()
        self.swapper = FaceSwapper(engine, config.swap)
        self.coverage = CoverageWatch(engine.info.coverage_ranges(), self.telemetry)  # issue 15
        self.landmarker = FaceLandmarker(replace(config.landmarks, max_faces=self._tracked(config.swap)))
        self.enabled = True  # the preview's `s` key turns the swap off and on
        self.last_ms: dict[str, float] = {}  # the last frame's stage times, ms

    @staticmethod
    def _tracked(swap: SwapConfig) -> int:
        return 2 if swap.faces == "largest" else swap.max_faces  # 2: pick the larger of two

    def reconfigure(self, swap: SwapConfig) -> None:
        """Applies new swap settings between two frames; the landmarker is reopened only when the number of faces
        it must track changes."""
        if self._tracked(swap) != self._tracked(self.swapper.config):
            old = self.landmarker
            self.landmarker = FaceLandmarker(replace(self.config.landmarks, max_faces=self._tracked(swap)))
            old.close()
        self.swapper.reconfigure(swap)
        self.config = replace(self.config, swap=swap)

    def __call__(self, frame: Frame) -> int:
        """Swaps the faces of ``frame`` in place; returns how many were swapped."""
        return self.swap(frame, self.find(frame))

    def find(self, frame: Frame) -> tuple[Face, ...]:
        """The landmark stage alone (offline convert runs it on its decode thread, ahead of ``swap``)."""
        t0 = time.perf_counter()
        faces = self.landmarker(frame)
        seconds = time.perf_counter() - t0
        self.telemetry.stage("landmarks", seconds)
        self.last_ms = {"landmarks": seconds * 1e3}
        return faces

    def swap(self, frame: Frame, faces: tuple[Face, ...]) -> int:
        """Align, infer and composite ``faces`` into ``frame`` in place; returns how many were swapped."""
        tel, clock = self.telemetry, time.perf_counter
        if not faces or not self.enabled:
            tel.processed(0)
            return 0
        t1 = clock()
        batch = self.swapper.prepare(frame.image, faces)
        self.coverage(self.swapper.select(faces))
        t2 = clock()
        self.swapper.infer(batch)
        t3 = clock()
        self.swapper.composite(frame.image, batch)
        t4 = clock()
        tel.stage("align", t2 - t1)
        tel.stage("infer", t3 - t2)
        tel.stage("composite", t4 - t3)
        self.last_ms.update(align=(t2 - t1) * 1e3, infer=(t3 - t2) * 1e3, composite=(t4 - t3) * 1e3)
        tel.processed(len(batch))
        return len(batch)

    def close(self) -> None:
        self.landmarker.close()

    def __enter__(self) -> FramePipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
