"""One frame through the model: landmarks -> align -> infer -> composite, each stage timed.

``FramePipeline`` owns the landmarker (the front end, which does not depend on the model) and a ``ModelStage``
(everything that does: the swapper around the engine, with its crop size and buffers, and the coverage watch); the
live runner and the offline converter both push frames through it. A model switch builds another ``ModelStage`` off
the frame thread and ``use_model`` swaps it in between two frames: the landmarker and its face tracks go on. It
changes ``frame.image`` in place: sources hand over a fresh array per frame, so no copy is needed. Frames without a
face pass through untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from swapcam.core.engines.base import Engine
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Face, Frame
from swapcam.live.coverage_watch import CoverageWatch
from swapcam.live.mark_align import MarkAligner
from swapcam.core.watermark import MarkCall
from swapcam.live.mark_track import OutputFollower, OutputTracker, check_placement
from swapcam.live.swapper import FaceSwapper, SwapConfig
from swapcam.live.telemetry import Telemetry


@dataclass(frozen=True)
class PipelineConfig:
    swap: SwapConfig = field(default_factory=SwapConfig)
    landmarks: LandmarkerConfig = field(default_factory=LandmarkerConfig)  # video mode, One Euro smoothing
    # the watermark's aligner (or follower, ``mark_placement`` "follow") fits on a thread of its own (no frame waits
    # for it); False: on the frame thread, so that a run is repeatable (benchmarks, tests)
    mark_align_thread: bool = True
    # where the watermark goes in video (``mark_track.MARK_PLACEMENTS``): "sampled", the sampled aligner's correction
    # (the live loop's default); "exact", verify's own tracker on every frame, in line, each mark where it finds its
    # face on this very frame (one more face mesh per frame: ``convert``); "follow", that tracker on a thread of its
    # own, on every swapped frame it is free for, each mark where it found its face a frame (or more) before
    mark_placement: str = "sampled"

    def __post_init__(self) -> None:
        check_placement(self.mark_placement)  # an unknown one would quietly run as "follow"


class ModelStage:
    """The model's half of the pipeline: the swapper (align, infer, composite around ``engine``) and the coverage
    watch. Building one runs the engine once and builds the watermark (tens of ms); it holds no thread and closes
    nothing (the engine is its maker's)."""

    def __init__(self, engine: Engine, swap: SwapConfig, telemetry: Telemetry) -> None:
        self.engine = engine
        self.swapper = FaceSwapper(engine, swap)
        self.coverage = CoverageWatch(engine.info.coverage_ranges(), telemetry)  # issue 15

    def warm_up(self, image: np.ndarray, faces: tuple[Face, ...], runs: int = 1) -> None:
        """Swaps ``faces`` into ``image`` (changed in place) ``runs`` times, untimed: an engine's first run at a
        batch size (the swapper's own covers one face) and the compositor's first call are better spent here than
        on a live frame. One run: each competes with the live loop for the CPU."""
        for _ in range(runs if faces else 0):
            batch = self.swapper.prepare(image, faces)
            self.swapper.infer(batch)
            self.swapper.composite(image, batch)


class FramePipeline:
    def __init__(self, engine: Engine, config: PipelineConfig = PipelineConfig(),
                 telemetry: Telemetry | None = None) -> None:  # fmt: skip
        self.config = config
        self.telemetry = telemetry or Telemetry()
        self.model = ModelStage(engine, config.swap, self.telemetry)
        self.landmarker = FaceLandmarker(replace(config.landmarks, max_faces=self._tracked(config.swap)))
        # keeps the watermark where verify will find it on the swapped face (swapcam.live.mark_align); video only:
        # a fit carries over to the next frames, and unrelated images (video=False) have none to share
        self.mark_aligner = self._aligner() if self._wants_aligner(config.swap) else None
        self.mark_tracker = self._tracker(config.swap) if self._wants_tracker(config.swap) else None
        self._mark_calls: list[MarkCall] = []  # the frame's marks, drawn once it is finished (``mark_tracker``)
        self.enabled = True  # the preview's `s` key turns the swap off and on
        self.last_ms: dict[str, float] = {}  # the last frame's stage times, ms

    @property
    def swapper(self) -> FaceSwapper:
        return self.model.swapper

    @property
    def coverage(self) -> CoverageWatch:
        return self.model.coverage

    def model_stage(self, engine: Engine) -> ModelStage:
        """A stage for another model's ``engine`` with this pipeline's settings and telemetry, for ``use_model``;
        safe on another thread while frames go through this pipeline."""
        return ModelStage(engine, self.config.swap, self.telemetry)

    def use_model(self, model: ModelStage) -> ModelStage:
        """Swaps ``model`` in from the next frame on and returns the stage it replaces (its engine is still open).
        Call it between two frames, on the thread that runs them: a reference swap, unless the swap settings
        changed while ``model`` was built (then its compositor is rebuilt here, as for any settings change)."""
        if model.swapper.config != self.config.swap:
            model.swapper.reconfigure(self.config.swap)
        old, self.model = self.model, model
        if model is not old:  # another model paints its faces elsewhere
            for fits in (self.mark_aligner, self.mark_tracker):
                if fits is not None:
                    fits.reset()
        return old

    def _aligner(self) -> MarkAligner:
        return MarkAligner(background=self.config.mark_align_thread)

    def _tracker(self, swap: SwapConfig) -> OutputTracker | OutputFollower:
        # as many faces as the input's landmarker tracks: the landmarks of a tracked face do not depend on it
        # (measured: identical with 1 and 4), a larger number only runs the face detector on more frames
        if self.config.mark_placement == "exact":
            return OutputTracker(self._tracked(swap))
        return OutputFollower(self._tracked(swap), background=self.config.mark_align_thread, telemetry=self.telemetry)

    def _wants_aligner(self, swap: SwapConfig) -> bool:
        return swap.watermark and self.config.landmarks.video and self.config.mark_placement == "sampled"

    def _wants_tracker(self, swap: SwapConfig) -> bool:
        return swap.watermark and self.config.landmarks.video and self.config.mark_placement != "sampled"

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
        wanted = self._wants_aligner(swap)
        if wanted and self.mark_aligner is None:
            self.mark_aligner = self._aligner()
        elif not wanted and self.mark_aligner is not None:
            self.mark_aligner.close()
            self.mark_aligner = None
        wanted = self._wants_tracker(swap)
        if self.mark_tracker is not None and (not wanted or self._tracked(swap) != self._tracked(self.swapper.config)):
            self.mark_tracker.close()
            self.mark_tracker = None
        if wanted and self.mark_tracker is None:
            self.mark_tracker = self._tracker(swap)
        self.model.swapper.reconfigure(swap)
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
            if self.mark_tracker is not None and self.enabled:
                self.mark_tracker.draw(frame, [], None)  # verify's tracker sees every frame, as verify does
            tel.processed(0)
            return 0
        model = self.model
        t1 = clock()
        batch = model.swapper.prepare(frame.image, faces)
        model.coverage(model.swapper.select(faces))
        t2 = clock()
        model.swapper.infer(batch)
        t3 = clock()
        aligner, mark, sampled = self.mark_aligner, model.swapper.mark, None
        if aligner is not None and mark is not None and len(batch) > 0:
            sampled = aligner.due(batch.aligned)
            aligner.apply(mark)
            if sampled is not None:  # now and then: a face viewed before and after (swapcam.live.mark_align)
                face = batch.aligned[sampled]
                aligner.before(frame.image, face.matrix, mark, face.track_id)
        tracker = self.mark_tracker if mark is not None else None
        t4 = clock()
        model.swapper.composite(frame.image, batch, None if tracker is None else self._mark_calls)
        t5 = clock()
        if tracker is not None:  # the marks, where verify's tracker finds the swapped faces on this frame
            tracker.draw(frame, self._mark_calls, mark)
            seconds = clock() - t5
            tel.stage("mark track", seconds)
            self.last_ms["mark track"] = seconds * 1e3
        tel.stage("align", t2 - t1)
        tel.stage("infer", t3 - t2)
        tel.stage("composite", t5 - t4)
        self.last_ms.update(align=(t2 - t1) * 1e3, infer=(t3 - t2) * 1e3, composite=(t5 - t4) * 1e3)
        if sampled is not None:
            aligner.sample(frame.image)
            tel.stage("mark align", (t4 - t3) + (clock() - t5))  # on the frame thread: the two region copies (and the
            # fit without a thread of its own)
        tel.processed(len(batch))
        return len(batch)

    def close(self) -> None:
        self.landmarker.close()
        if self.mark_aligner is not None:
            self.mark_aligner.close()
        if self.mark_tracker is not None:
            self.mark_tracker.close()

    def __enter__(self) -> FramePipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
