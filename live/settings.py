"""The settings a user can change while frames flow: one flat, validated dataclass shared by the Python API
(``FaceSwap.settings``), the CLI flags and, later, profiles and the control panel.

Every numeric setting has a checked range: a value outside it is refused with one line (``SwapcamError``), never
half-used. ``SwapSettings.pipeline_config()`` turns the flat settings into the stages' own config objects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from swapcam.core.errors import SwapcamError
from swapcam.core.mask import MaskConfig
from swapcam.live.blend import BlendConfig
from swapcam.live.color import ColorConfig
from swapcam.live.composite import CompositeConfig, PlacementConfig
from swapcam.live.mouth import MODES as MOUTH_MODES
from swapcam.live.mouth import MouthConfig
from swapcam.live.sharpen import SharpenConfig
from swapcam.live.swapper import SwapConfig

# name -> (low, high), inclusive. Units: erode and feather are fractions of the face size (the face oval's width,
# see swapcam.core.mask.face_size): 0.06 erodes the mask by 6 % of the face width, negative values grow it.
RANGES: dict[str, tuple[float, float]] = {
    "opacity": (0.0, 1.0),
    "erode": (-0.25, 0.35),
    "feather": (0.0, 0.25),
    "max_faces": (1, 8),
    "face_scale": (0.5, 1.5),  # the pasted face's size about its centre
    "face_x": (-0.5, 0.5),  # shifts of the pasted face, fractions of the aligned crop's width
    "face_y": (-0.5, 0.5),
    "mouth_grow": (0.0, 0.15),  # mouth pass-through mask: growth and edge sigma, fractions of the face size
    "mouth_feather": (0.0, 0.1),
    "sharpen": (0.0, 1.0),  # unsharp-mask amount on the swapped face (issue 15)
    # the invisible watermark's strength, times its default: stronger only (--no-provenance is the one way off); at
    # 1.5 it reads after a 640x360 call on single faces, and shows as a faint speckle on a smooth face (README)
    "mark_strength": (1.0, 2.0),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "faces": ("largest", "all"),
    "color": ("rct", "lct", "none"),
    "mouth": MOUTH_MODES,
}


@dataclass(frozen=True, slots=True)
class SwapSettings:
    enabled: bool = True  # False: frames pass through untouched (landmarks still run, so a re-enable is instant)
    faces: str = "largest"  # "largest": the biggest face only (by landmark box area); "all": up to max_faces
    max_faces: int = 4
    opacity: float = 1.0  # 0 leaves the frame untouched, 1 shows the swapped face fully inside the mask
    erode: float = MaskConfig().erode  # mask erosion, fraction of the face width (negative: grow)
    feather: float = MaskConfig().feather  # Gaussian sigma of the mask edge, fraction of the face width
    color: str = ColorConfig().mode  # colour transfer onto the face it replaces: rct, lct or none
    model_mask: bool = True  # intersect the landmark mask with the mask the model painted
    face_scale: float = 1.0  # size of the pasted face about its centre (the panel's nudges, issue 13)
    face_x: float = 0.0  # shift the pasted face right by this fraction of the crop's width (negative: left)
    face_y: float = 0.0  # shift it down (negative: up)
    mirror: bool = False  # flip the output left-right, after the swap
    # where the swapped face is lost: passthrough, hold, blur or still:IMAGE (swapcam.live.lost; live and convert)
    on_lost: str = "blur"
    # mouth pass-through (issue 15): the input's own lips and mouth over the swapped face: off, on, or auto (only
    # as far as the input opens the mouth wider than the model drew it); see swapcam.live.mouth
    # auto by measurement: person_a through a `fast` model that keeps the lips shut, mouth-opening r 0.16 -> 0.97,
    # identity retrieval unchanged at 100 % (README, issue 15)
    mouth: str = "auto"
    mouth_grow: float = MouthConfig().grow
    mouth_feather: float = MouthConfig().feather
    sharpen: float = SharpenConfig().amount  # unsharp mask on the swapped face, 0..1 (swapcam.live.sharpen)
    mark_strength: float = 1.0  # the watermark's strength, times swapcam.core.watermark.STRENGTH (1..2)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = bool if f.type == "bool" else int if f.type == "int" else float if f.type == "float" else str
            if kind is bool:
                if not isinstance(value, bool):
                    raise SwapcamError(f"{f.name} must be true or false, not {value!r}")
            elif kind in (int, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    kind is int and not float(value).is_integer()
                ):
                    raise SwapcamError(f"{f.name} must be a number, not {value!r}")
                if value != value:  # NaN
                    raise SwapcamError(f"{f.name} must be a number, not NaN")
                object.__setattr__(self, f.name, kind(value))
            elif not isinstance(value, str):
                raise SwapcamError(f"{f.name} must be a string, not {value!r}")
            if f.name in RANGES:
                lo, hi = RANGES[f.name]
                if not lo <= getattr(self, f.name) <= hi:
                    raise SwapcamError(f"{f.name} must be between {lo} and {hi}, not {value}")
            if f.name in CHOICES and value not in CHOICES[f.name]:
                raise SwapcamError(f"{f.name} must be one of {', '.join(CHOICES[f.name])}, not {value!r}")
        from swapcam.live.lost import check_policy  # "still:IMAGE" is open-ended, so it has its own check

        check_policy(self.on_lost)

    def with_changes(self, changes: dict[str, Any]) -> SwapSettings:
        """A validated copy with ``changes`` applied; unknown names are refused (nothing is changed then)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SwapcamError(f"unknown setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def swap_config(self) -> SwapConfig:
        composite = CompositeConfig(MaskConfig(erode=self.erode, feather=self.feather), ColorConfig(mode=self.color),
                                    BlendConfig(opacity=self.opacity, cubic=self.sharpen > 0),
                                    placement=PlacementConfig(self.face_scale, self.face_x, self.face_y),
                                    mouth=MouthConfig(self.mouth, self.mouth_grow, self.mouth_feather),
                                    sharpen=SharpenConfig(self.sharpen))  # fmt: skip
        return SwapConfig(faces=self.faces, max_faces=self.max_faces, model_mask=self.model_mask, composite=composite,
                          mark_strength=self.mark_strength)  # fmt: skip
