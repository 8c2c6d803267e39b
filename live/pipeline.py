"""One frame through the model: landmarks -> align -> infer -> composite, each stage timed.

``FramePipeline`` owns the landmarker and the swapper (and through it the engine's buffers); the live runner and
the offline converter both push frames through it. It changes ``frame.image`` in place: sources hand over a
fresh array per frame, so no copy is needed. Frames without a face pass through untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from live.engines.base import Engine
from live.landmarks import FaceLandmarker, LandmarkerConfig
from live.messages import Face, Frame
from live.swapper import FaceSwapper, SwapConfig
from live.telemetry import Telemetry


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
        tracked = 2 if config.swap.faces == "largest" else config.swap.max_faces  # 2: pick the larger of two
        self.landmarker = FaceLandmarker(replace(config.landmarks, max_faces=tracked))
        self.enabled = True  # the preview's `s` key turns the swap off and on

    def __call__(self, frame: Frame) -> int:
        """Swaps the faces of ``frame`` in place; returns how many were swapped."""
        return self.swap(frame, self.find(frame))

    def find(self, frame: Frame) -> tuple[Face, ...]:
        """The landmark stage alone (offline convert runs it on its decode thread, ahead of ``swap``)."""
        t0 = time.perf_counter()
        faces = self.landmarker(frame)
        self.telemetry.stage("landmarks", time.perf_counter() - t0)
        return faces

    def swap(self, frame: Frame, faces: tuple[Face, ...]) -> int:
        """Align, infer and composite ``faces`` into ``frame`` in place; returns how many were swapped."""
        tel, clock = self.telemetry, time.perf_counter
        if not faces or not self.enabled:
            tel.processed(0)
            return 0
        t1 = clock()
        batch = self.swapper.prepare(frame.image, faces)
        t2 = clock()
        self.swapper.infer(batch)
        t3 = clock()
        self.swapper.composite(frame.image, batch)
        t4 = clock()
        tel.stage("align", t2 - t1)
        tel.stage("infer", t3 - t2)
        tel.stage("composite", t4 - t3)
        tel.processed(len(batch))
        return len(batch)

    def close(self) -> None:
        self.landmarker.close()

    def __enter__(self) -> FramePipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
