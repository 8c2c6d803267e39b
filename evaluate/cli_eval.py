"""``swapcam eval --model MODEL.onnx --video VIDEO --gallery-a A --gallery-b B``: quality figures of a swap."""

from __future__ import annotations

import argparse
from pathlib import Path

from swapcam.evaluate.api import EvalConfig, evaluate
from swapcam.core.atomic import write_atomic
from swapcam.core.engines import ENGINE_CHOICES
from swapcam.live.cli_live import add_mouth_arguments
from swapcam.live.settings import SwapSettings

_D = EvalConfig("", (), ())


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", metavar="MODEL.onnx", help="a model from `swapcam export`, run on VIDEO")
    what.add_argument("--swapped", metavar="SWAPPED", help="instead: an already swapped copy of VIDEO (any tool)")
    p.add_argument("--video", required=True, help="footage of person A (the face the camera sees)")
    p.add_argument("--gallery-a", nargs="+", required=True, metavar="A",
                   help="pictures of A: facesets, images, videos or folders")  # fmt: skip
    p.add_argument("--gallery-b", nargs="+", required=True, metavar="B", help="pictures of B, the rendered face")
    p.add_argument("--gallery-other", action="append", nargs="+", default=[], metavar="P",
                   help="pictures of another person (repeat per person): top-1 retrieval among all")  # fmt: skip
    p.add_argument("--every", type=int, default=_D.every,
                   help="identity on every N-th frame (default: %(default)s); other metrics: every frame")  # fmt: skip
    p.add_argument("--gallery-faces", type=int, default=_D.gallery_faces, help="faces per gallery (default: 64)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                   help="inference engine for --model (default: auto)")  # fmt: skip
    p.add_argument("--json", metavar="REPORT.json", help="also write the report here")
    add_mouth_arguments(p, SwapSettings())  # --mouth, --sharpen: judge a model with them (issue 15)


def run(args: argparse.Namespace) -> int:
    config = EvalConfig(
        video=args.video, gallery_a=tuple(args.gallery_a), gallery_b=tuple(args.gallery_b),
        others=tuple(tuple(g) for g in args.gallery_other), model=args.model,
        swapped=args.swapped, every=max(args.every, 1), gallery_faces=max(args.gallery_faces, 1),
        max_frames=args.max_frames, engine=args.engine,
        settings=SwapSettings(mouth=args.mouth, mouth_grow=args.mouth_grow, mouth_feather=args.mouth_feather,
                              sharpen=args.sharpen),
    )  # fmt: skip
    report = evaluate(config)
    for row in report.table():
        print(row)
    if args.json:
        write_atomic(Path(args.json), report.to_json() + "\n", sync=False)
        print(f"report: {args.json}")
    return 0
