"""``swapcam info MODEL.onnx``: what a model file says about itself (and whether this swapcam can run it)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="a model written by `swapcam export`")


def run(args: argparse.Namespace) -> int:
    from swapcam.core.model_info import read_model_info

    info = read_model_info(args.model)
    a = info.align
    print(f"{args.model}: swaps {info.source} -> {info.target} ({info.direction}), {info.precision}")
    print(f"  preset {info.preset}, training step {info.step}, exported by {info.exported_by}")
    print(f"  input 'aligned' (N,3,{a.size},{a.size}) float32 RGB 0..1; alignment {a.template_id}, "
          f"coverage {a.coverage}, y offset {a.y_offset}")  # fmt: skip
    print(f"  outputs 'swapped' (N,3,{a.size},{a.size}) and 'mask' (N,1,{a.size},{a.size}), float32 0..1")
    print("  its outputs are synthetic media; files swapcam writes with it say so")
    from swapcam.core.watermark import model_id

    print(f"  watermark model id {model_id(info.to_metadata()):04x} (what `swapcam verify` reports for its swaps)")
    return 0
