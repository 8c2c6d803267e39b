"""Counting the frames whose face is outside the model's training coverage (issue 15).

``swapcam export`` stores in the model the range of yaw, pitch and mouth opening that both people's training
footage showed (``ModelInfo.coverage``). A face beyond it is one the model has not learnt to draw: the swap will
not follow it (keep B's lips closed, turn less). The live telemetry counts such frames, in all and per axis, so a
user sees how often the model is asked for what it cannot do. Cost: one head-pose estimate and one mouth opening
from the landmarks the loop already has, about 30 µs a face.
"""

from __future__ import annotations

from swapcam.live.telemetry import Telemetry

from swapcam.core.messages import Face
from swapcam.core.pose import head_pose, mouth_opening

COUNTER = "frames_outside_coverage"


class CoverageWatch:
    """A stage: ``faces -> None``, counting into ``telemetry``; does nothing for a model without coverage."""

    def __init__(self, ranges: dict[str, tuple[float, float]], telemetry: Telemetry) -> None:
        self.ranges = {k: v for k, v in ranges.items() if k in ("yaw", "pitch", "mouth")}
        self.telemetry = telemetry
        if self.ranges:  # the counters show up (at 0) only where the model says what it covers
            telemetry.count(COUNTER, 0)
            for axis in self.ranges:
                telemetry.count(f"{COUNTER}_{axis}", 0)

    def outside(self, face: Face) -> list[str]:
        """The axes on which ``face`` lies outside the model's coverage."""
        values = {}
        if "yaw" in self.ranges or "pitch" in self.ranges:
            pose = head_pose(face.landmarks, face.depth)
            values["yaw"], values["pitch"] = pose.yaw, pose.pitch
        if "mouth" in self.ranges:
            values["mouth"] = mouth_opening(face.landmarks)
        # A closed mouth is always drawable: only a mouth opened wider than the training footage's counts.
        return [a for a, (lo, hi) in self.ranges.items() if values[a] > hi or (a != "mouth" and values[a] < lo)]

    def __call__(self, faces: tuple[Face, ...]) -> None:
        if not self.ranges or not faces:
            return
        axes = {a for face in faces for a in self.outside(face)}
        if axes:
            self.telemetry.count(COUNTER)
            for a in axes:
                self.telemetry.count(f"{COUNTER}_{a}")
