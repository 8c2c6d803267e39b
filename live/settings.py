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
from swapcam.live.composite import CompositeConfig
from swapcam.live.swapper import SwapConfig

# name -> (low, high), inclusive. Units: erode and feather are fractions of the face size (the face oval's width,
# see swapcam.core.mask.face_size): 0.06 erodes the mask by 6 % of the face width, negative values grow it.
RANGES: dict[str, tuple[float, float]] = {
    "opacity": (0.0, 1.0),
    "erode": (-0.25, 0.35),
    "feather": (0.0, 0.25),
    "max_faces": (1, 8),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "faces": ("largest", "all"),
    "color": ("rct", "lct", "none"),
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
                                    BlendConfig(opacity=self.opacity))  # fmt: skip
        return SwapConfig(faces=self.faces, max_faces=self.max_faces, model_mask=self.model_mask, composite=composite)
