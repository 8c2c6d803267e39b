"""The evaluation report: what ``swapcam eval`` prints as a table and writes as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class IdentityStats:
    faces: int  # frames whose input and output were both embedded
    retrieval: float  # share of output faces nearer person B's centroid than person A's (a swap: near 1)
    retrieval_input: float  # the same for the input faces (a sanity check: near 0)
    dist_out_b: float  # mean descriptor distance, output face -> B's centroid (dlib: < 0.6 usually same person)
    dist_out_a: float  # output face -> A's centroid
    dist_in_a: float  # input face -> A's centroid (how near the gallery the camera's person is)
    dist_in_b: float
    out_within_threshold_b: float  # share of output faces within 0.6 of B's centroid
    identities: int  # galleries compared: A, B and any others
    retrieval_top1: float  # share of output faces whose nearest centroid among all of them is B's


@dataclass(frozen=True)
class PoseStats:
    faces: int  # frames with a face in both input and output
    error_l2: float  # mean |(yaw, pitch, roll)_out - (yaw, pitch, roll)_in|, degrees
    error_yaw: float  # mean absolute difference per angle, degrees
    error_pitch: float
    error_roll: float
    error_rotation: float  # mean angle of the rotation from the input head to the output head, degrees


@dataclass(frozen=True)
class ExpressionStats:
    mouth_correlation: float  # Pearson r of mouth opening, input vs output (nan: the input's mouth never moved)
    mouth_abs_error: float  # mean |opening_out - opening_in|, interocular distances
    mouth_range_in: float  # p95 - p5 of the input's opening: how much there was to follow


@dataclass(frozen=True)
class BackgroundStats:
    mean_abs_diff: float  # mean |out - in| outside the dilated face hull, 0-255 levels, all channels
    max_frame_mean_abs_diff: float  # the worst frame's mean
    changed_share: float  # share of those pixels that changed by more than 8 levels


@dataclass(frozen=True)
class JitterStats:
    pairs: int  # consecutive frame pairs with a face in both input and output
    motion_error: float  # mean |motion_out - motion_in| per landmark and frame, % of the interocular distance
    accel_in: float  # mean |second difference| of the input's landmarks, % interocular (its own shake)
    accel_out: float  # the same for the output's landmarks


@dataclass(frozen=True)
class DetailStats:
    """Fine detail kept (issue 15): both frames are aligned onto the model's crop (the face spans what it spans for
    the model, so a perfect reconstruction at the model's resolution would keep all of the input's detail there),
    and the variance of the Laplacian is measured inside the face oval."""

    frames: int  # frames with a face in the input
    ratio: float  # median over frames of output / input variance of the Laplacian: 1 = as detailed as the input
    input: float  # median variance of the Laplacian of the input face (grey levels squared)
    output: float  # the same for the output face
    crop: int  # the crop size measured at (the model's resolution)


@dataclass(frozen=True)
class EvalReport:
    video: str
    output: str  # the model that ran, or the swapped file that was read
    frames: int
    faces_in: int  # frames where the input had a face
    faces_out: int  # frames where the output had a face
    seconds: float
    every: int  # identity measured on every n-th frame
    face_ssim: float | None  # SSIM of output vs input face (grey, 128 px crop, face oval): 1 = unchanged
    identity: IdentityStats | None
    pose: PoseStats | None
    expression: ExpressionStats | None
    background: BackgroundStats
    jitter: JitterStats | None
    gallery_faces: dict[str, int] = field(default_factory=dict)
    model_info: dict = field(default_factory=dict)
    detail: DetailStats | None = None  # fine detail kept, output vs input (issue 15)

    def to_json(self) -> str:
        return json.dumps(_finite(asdict(self)), indent=1)

    def table(self) -> list[str]:
        """A short human-readable summary, one metric per line."""

        def fmt(v: float, spec: str = ".3f") -> str:
            return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

        rows = [f"frames {self.frames}, input faces {self.faces_in}, output faces {self.faces_out}, "
                f"{self.seconds:.0f} s"]  # fmt: skip
        if self.identity:
            i = self.identity
            rows += [
                f"identity retrieval (output nearer B than A)  {fmt(100 * i.retrieval, '.1f')} %   "
                f"(input: {fmt(100 * i.retrieval_input, '.1f')} %, {i.faces} faces)"
                + (f"; top-1 among {i.identities} people {fmt(100 * i.retrieval_top1, '.1f')} %"
                   if i.identities > 2 else ""),
                f"descriptor distance output->B {fmt(i.dist_out_b)}, output->A {fmt(i.dist_out_a)}, "
                f"input->A {fmt(i.dist_in_a)}, input->B {fmt(i.dist_in_b)}  (same person < 0.6)",
            ]
        if self.pose:
            p = self.pose
            rows.append(f"head-pose error  {fmt(p.error_l2, '.2f')} deg L2 (yaw {fmt(p.error_yaw, '.2f')}, "
                        f"pitch {fmt(p.error_pitch, '.2f')}, roll {fmt(p.error_roll, '.2f')}; "
                        f"rotation {fmt(p.error_rotation, '.2f')})")  # fmt: skip
        if self.expression:
            e = self.expression
            rows.append(f"mouth opening  r = {fmt(e.mouth_correlation)}, mean error {fmt(e.mouth_abs_error)} IOD "
                        f"(input range {fmt(e.mouth_range_in)})")  # fmt: skip
        rows.append(f"face SSIM, output vs input (face oval, 128 px)  {fmt(self.face_ssim)}")
        if self.detail:
            d = self.detail
            rows.append(f"detail (Laplacian variance in the face, {d.crop} px crop) output/input  "
                        f"{fmt(100 * d.ratio, '.0f')} %  (median of {d.frames} frames; input {fmt(d.input, '.0f')}, "
                        f"output {fmt(d.output, '.0f')})")  # fmt: skip
        b = self.background
        rows.append(f"background (outside the dilated face hull)  mean |diff| {fmt(b.mean_abs_diff, '.2f')} levels, "
                    f"worst frame {fmt(b.max_frame_mean_abs_diff, '.2f')}, changed > 8: "
                    f"{fmt(100 * b.changed_share, '.3f')} %")  # fmt: skip
        if self.jitter:
            j = self.jitter
            rows.append(f"temporal jitter  output motion vs input {fmt(j.motion_error, '.2f')} % IOD per frame; "
                        f"shake in {fmt(j.accel_in, '.2f')} / out {fmt(j.accel_out, '.2f')} % IOD")  # fmt: skip
        return rows


def _finite(value):
    """NaN and infinities become null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
