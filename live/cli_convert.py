"""``swapcam convert``: swap faces in a video file, every frame, keeping its size, rate, timing and audio."""

from __future__ import annotations

import argparse
import sys

from swapcam.live.cli_live import add_blend_arguments, add_mark_placement_argument, engine_config, swap_settings
from swapcam.live.stop_signals import stop_on_signals


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="MODEL.onnx", help="a model from `swapcam export`")
    p.add_argument("input", metavar="INPUT", help="video file")
    p.add_argument("output", metavar="OUTPUT", help="video file to write (.mp4 .mkv .mov .ts)")
    add_blend_arguments(p)
    p.add_argument("--x264-preset", default="veryfast",
                   choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"),
                   help="encoder speed against file size (default: veryfast)")  # fmt: skip
    p.add_argument("--crf", type=int, default=18, help="x264 quality, lower is better (default: 18)")
    add_mark_placement_argument(p, default="exact")


def run(args: argparse.Namespace) -> int:
    from swapcam.live.convert import ConvertConfig, convert

    config = ConvertConfig(args.model, args.input, args.output, engine=args.engine,
                           engine_config=engine_config(args), settings=swap_settings(args),
                           provenance=not args.no_provenance, x264_preset=args.x264_preset,
                           crf=args.crf, mark_placement=args.mark_placement)  # fmt: skip
    with stop_on_signals() as stop:
        result = convert(config, stop)
    if result.interrupted:
        print(f"swapcam: interrupted after {result.frames} frames; {args.output} is finalised and plays",
              file=sys.stderr)  # fmt: skip
        return 130
    print(f"wrote {args.output}: {result.frames} frames ({result.frames_with_face} with a face), "
          f"{result.audio_packets} audio packets, {result.fps} fps")  # fmt: skip
    return 0
