"""``swapcam live``: run a model on a camera, file, stream or still, into a virtual webcam, file, stream or window."""

from __future__ import annotations

import argparse
import sys

from swapcam.core.engines import ENGINE_CHOICES, EngineConfig
from swapcam.live.runner import LiveConfig
from swapcam.live.settings import RANGES, SwapSettings
from swapcam.live.sinks import SinkOptions
from swapcam.live.sources import SourceConfig
from swapcam.live.stop_signals import stop_on_signals


def add_blend_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared with `swapcam convert`: which faces, the mask and the colour match, the engine."""
    d = SwapSettings()
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                   help="inference engine (default: auto, the fastest that runs here)")  # fmt: skip
    p.add_argument("--threads", type=int, help="CPU engine threads (default: all cores)")
    p.add_argument("--plan", metavar="ENGINE.plan",
                   help="tensorrt engine: this plan from `swapcam export --tensorrt` instead of its cache")  # fmt: skip
    p.add_argument("--faces", choices=("largest", "all"), default="largest", help="faces to swap (default: largest)")
    lo, hi = RANGES["erode"]
    p.add_argument("--erode", type=float, default=d.erode,
                   help=f"shrink the face mask by this fraction of the face width, {lo}..{hi}; negative grows it "
                   f"(default: {d.erode})")  # fmt: skip
    lo, hi = RANGES["feather"]
    p.add_argument("--feather", type=float, default=d.feather,
                   help=f"mask edge softness: Gaussian sigma as a fraction of the face width, {lo}..{hi} "
                   f"(default: {d.feather})")  # fmt: skip
    p.add_argument("--color", choices=("rct", "lct", "none"), default=d.color,
                   help=f"colour transfer onto the face it replaces (default: {d.color})")  # fmt: skip
    p.add_argument("--opacity", type=float, default=d.opacity, help=f"0..1 (default: {d.opacity})")
    p.add_argument("--no-provenance", action="store_true",
                   help="do not mark written files and streams as synthetic (on by default)")  # fmt: skip


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(threads=args.threads, plan=args.plan)


def swap_settings(args: argparse.Namespace) -> SwapSettings:
    """The flags as validated settings: an out-of-range value ends the command with one line."""
    return SwapSettings(faces=args.faces, erode=args.erode, feather=args.feather, color=args.color,
                        opacity=args.opacity)  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="MODEL.onnx", help="a model from `swapcam export`")
    p.add_argument("--source", required=True, metavar="SRC",
                   help="camera index or /dev/videoN, a video file, a stream URL (rtsp/rtmp/udp/http), "
                   "an image")  # fmt: skip
    p.add_argument("--sink", action="append", required=True, metavar="SINK",
                   help="vcam[:DEVICE], preview, a file (.mp4 .mkv .mov .ts), or a stream URL "
                   "(udp:// srt:// rtmp:// rtsp://); repeat for several")  # fmt: skip
    add_blend_arguments(p)
    p.add_argument("--width", type=int, help="camera: requested width")
    p.add_argument("--height", type=int, help="camera: requested height")
    p.add_argument("--fps", type=float, help="camera: requested rate; image source: its rate (default 30)")
    p.add_argument("--no-mjpg", action="store_true", help="camera: do not ask for MJPG")
    p.add_argument("--loop", action="store_true", help="file source: start again at the end")
    p.add_argument("--vcam-backend", help="pyvirtualcam backend (default: the platform's)")
    p.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--stats-json", metavar="PATH", help="write frame counts, fps, latency and stage times here")


def run(args: argparse.Namespace) -> int:
    from swapcam.live.runner import run_live

    config = LiveConfig(
        model=args.model, source=args.source, sinks=tuple(args.sink), engine=args.engine,
        engine_config=engine_config(args),
        source_config=SourceConfig(width=args.width, height=args.height, fps=args.fps, mjpg=not args.no_mjpg,
                                   loop=args.loop),
        settings=swap_settings(args),
        sink_options=SinkOptions(provenance=not args.no_provenance, vcam_backend=args.vcam_backend,
                                 vcam_device=args.vcam_device),
        max_frames=args.max_frames, stats_json=args.stats_json,
    )  # fmt: skip
    with stop_on_signals() as stop:
        stats = run_live(config, stop)
    lat = stats["latency_capture_to_sink"]
    print(f"frames in {stats['frames_in']}, processed {stats['frames_processed']}, out {stats['frames_out']}, "
          f"dropped {stats['dropped_capture']}; {stats['fps']} fps; capture->sink p50 {lat['p50_ms']} ms, "
          f"p95 {lat['p95_ms']} ms; engine {stats['engine']}", file=sys.stderr)  # fmt: skip
    return 0
