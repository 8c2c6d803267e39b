"""The training variants screened for issue 15 (benchmarks/bench_variants.py, bench_generalise.py): each is a model
(a preset's ModelArgs with changes) plus changes to the training config, all against `fast-v1`."""

from __future__ import annotations

from dataclasses import replace

from swapcam.trainer.losses import LossWeights
from swapcam.trainer.model import PRESETS, ModelArgs

V1 = PRESETS["fast-v1"]
WIDE = dict(decoder_channels=(64, 48, 24))  # more channels at 32-128 px, where detail is drawn
LOSS = dict(loss=LossWeights(mouth=3.0, scales=3, grad=0.5))
COS = dict(lr_schedule="cosine")
BAL = dict(balance=0.5)
LIVE = dict(affine="live")  # the augmentation spread of the live crop (results/live_crop.json)
NOFLIP = dict(flip=0.0)

# name -> (model changes, training-config changes)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "fast-v1": ({}, {}),
    "v1+cosine": ({}, COS),
    "v1+losses": ({}, LOSS),
    "v1+balanced": ({}, BAL),
    "v1+wide-top": (WIDE, {}),
    "liae": (dict(arch="liae"), {}),
    "liae+all": (dict(arch="liae"), {**COS, **LOSS, **BAL}),
    "wide-top+all": (WIDE, {**COS, **LOSS, **BAL}),
    "liae+wide-top+all": (dict(arch="liae", **WIDE), {**COS, **LOSS, **BAL}),
    "v1+live-crop": ({}, LIVE),
    "v1+live-crop+no-flip": ({}, {**LIVE, **NOFLIP}),
    "v1+live-crop+cosine": ({}, {**LIVE, **COS}),
}


def variant_args(name: str) -> ModelArgs:
    return replace(V1, **VARIANTS[name][0])
