"""``swapcam live``: run a model on a camera, file, stream or still, into a virtual webcam, file, stream or window."""

from __future__ import annotations

import argparse
import sys

from swapcam.core.engines import ENGINE_CHOICES, EngineConfig
from swapcam.core.errors import SwapcamError
from swapcam.live.mark_track import MARK_PLACEMENTS
from swapcam.live.runner import LiveConfig
from swapcam.live.mouth import MODES as MOUTH_MODES
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
    p.add_argument("--on-lost", default=d.on_lost, metavar="passthrough|hold|blur|still:IMAGE",
                   help="where the swapped face is lost: show the frame as it is, hold the last swapped frame, blur "
                   "the face region (after holding the last swapped face 0.3 s), or show a still (default: "
                   f"{d.on_lost})")  # fmt: skip
    add_mouth_arguments(p, d)
    p.add_argument("--no-provenance", action="store_true",
                   help="do not mark written files and streams as synthetic, and leave out the invisible "
                   "watermark in swapped faces (both on by default)")  # fmt: skip
    lo, hi = RANGES["mark_strength"]
    p.add_argument("--mark-strength", type=float, default=d.mark_strength, metavar="X",
                   help=f"the invisible watermark's strength, times its default, {lo}..{hi}: a stronger mark reads "
                   "after a harsher video call (1.5, placed as convert places it: every single-face sample clip at "
                   "640x360 and 150 kbps; see the README) but shows as a speckle on a smooth face (default: "
                   f"{d.mark_strength})")  # fmt: skip


def add_mark_placement_argument(p: argparse.ArgumentParser, *, default: str) -> None:
    """--mark-placement: where the invisible watermark goes in video (swapcam.live.mark_track)."""
    p.add_argument("--mark-placement", choices=MARK_PLACEMENTS, default=default,
                   help="where the invisible watermark goes on each swapped face: sampled, by a correction "
                   "measured now and then (least CPU; reads worst on a model's small faces after a re-encode); "
                   "follow, where `swapcam verify`'s tracker found the face a frame before (its face mesh on every "
                   "frame it is free for, on a thread of its own: for a machine with cores to spare); exact, where "
                   "that tracker finds it on that very frame (the mesh on every frame, in line: about 10 ms at 720p "
                   f"on 2 cores) (default: {default})")  # fmt: skip


def add_mouth_arguments(p: argparse.ArgumentParser, d: SwapSettings) -> None:
    """Mouth pass-through and sharpening of the swapped face (issue 15)."""
    p.add_argument("--mouth", choices=MOUTH_MODES, default=d.mouth,
                   help="let the input's own mouth through the swapped face: off, on, or auto (only as far as the "
                   f"input opens it wider than the model drew it) (default: {d.mouth})")  # fmt: skip
    lo, hi = RANGES["mouth_grow"]
    p.add_argument("--mouth-grow", type=float, default=d.mouth_grow,
                   help=f"grow the lip contour by this fraction of the face size, {lo}..{hi} (default: {d.mouth_grow})")
    lo, hi = RANGES["mouth_feather"]
    p.add_argument("--mouth-feather", type=float, default=d.mouth_feather,
                   help=f"mouth mask edge sigma, fraction of the face size, {lo}..{hi} (default: {d.mouth_feather})")
    p.add_argument("--sharpen", type=float, default=d.sharpen,
                   help=f"unsharp-mask amount on the swapped face, 0..1 (default: {d.sharpen})")


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(threads=args.threads, plan=args.plan)


def swap_settings(args: argparse.Namespace) -> SwapSettings:
    """The flags as validated settings: an out-of-range value ends the command with one line."""
    if args.no_provenance and args.mark_strength != SwapSettings().mark_strength:
        raise SwapcamError("--mark-strength sets the watermark that --no-provenance leaves out: use one or the other")
    return SwapSettings(faces=args.faces, erode=args.erode, feather=args.feather, color=args.color,
                        opacity=args.opacity, on_lost=args.on_lost, mouth=args.mouth, mouth_grow=args.mouth_grow,
                        mouth_feather=args.mouth_feather, sharpen=args.sharpen,
                        mark_strength=args.mark_strength)  # fmt: skip


def reconnect_attempts(text: str) -> int:
    """--reconnect never|N|forever -> reopen attempts per outage (-1: forever)."""
    if text in ("never", "forever"):
        return 0 if text == "never" else -1
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"use never, a number or forever, not {text!r}")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"seconds between 0 and 60, not {text!r}")
    return value


def profile_settings(args: argparse.Namespace, settings: SwapSettings) -> SwapSettings:
    """--profile PATH, when the file exists, overrides the flags' settings (a show starts the same way each time)."""
    from pathlib import Path

    from swapcam.live.control import load_profile

    if getattr(args, "profile", None) and Path(args.profile).is_file():
        return settings.with_changes(load_profile(args.profile))
    return settings


def panel_config(args: argparse.Namespace):
    """--panel [HOST:]PORT, --models, --profile, --record-dir -> the panel's config (None without --panel)."""
    from swapcam.live.control import PanelConfig, parse_panel_address

    if args.panel is None:
        return None
    host, port = parse_panel_address(args.panel)
    return PanelConfig(host=host, port=port, models_dir=args.models, profile=args.profile, record_dir=args.record_dir,
                       announce=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip


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
    p.add_argument("--reconnect", type=reconnect_attempts, default=-1, metavar="never|N|forever",
                   help="camera or network source that fails or stalls: reopen it (with backoff) forever, up to N "
                   "attempts per outage, or never (default: forever; a file at its end still ends the "
                   "run)")  # fmt: skip
    p.add_argument("--source-timeout", type=positive_seconds, metavar="SECONDS",
                   help="no frame for this long: the sinks get the last frame held, then a 'reconnecting' frame "
                   "(default: 3 frame intervals)")  # fmt: skip
    p.add_argument("--vcam-backend", help="pyvirtualcam backend (default: the platform's)")
    p.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--stats-json", metavar="PATH", help="write frame counts, fps, latency and stage times here")
    p.add_argument("--panel", nargs="?", const="127.0.0.1:8765", metavar="[HOST:]PORT",
                   help="serve the web control panel and API (default 127.0.0.1:8765; another host needs the "
                   "token printed at start)")  # fmt: skip
    p.add_argument("--models", metavar="DIR", help="panel: the folder of models to switch between "
                   "(default: the model's folder)")  # fmt: skip
    p.add_argument("--profile", metavar="PATH", help="settings file (.json or .toml): loaded at start when it "
                   "exists; the panel saves to it")  # fmt: skip
    p.add_argument("--record-dir", metavar="DIR", default=".", help="panel: where recordings go (default: .)")
    add_mark_placement_argument(p, default=LiveConfig.mark_placement)


def run(args: argparse.Namespace) -> int:
    from swapcam.live.runner import run_live

    config = LiveConfig(
        model=args.model, source=args.source, sinks=tuple(args.sink), engine=args.engine,
        engine_config=engine_config(args),
        source_config=SourceConfig(width=args.width, height=args.height, fps=args.fps, mjpg=not args.no_mjpg,
                                   loop=args.loop, reconnect=args.reconnect, timeout_s=args.source_timeout),
        settings=profile_settings(args, swap_settings(args)),
        sink_options=SinkOptions(provenance=not args.no_provenance, vcam_backend=args.vcam_backend,
                                 vcam_device=args.vcam_device),
        max_frames=args.max_frames, stats_json=args.stats_json, panel=panel_config(args),
        mark_placement=args.mark_placement,
    )  # fmt: skip
    with stop_on_signals() as stop:
        stats = run_live(config, stop)
    lat = stats["latency_capture_to_sink"]
    print(f"frames in {stats['frames_in']}, processed {stats['frames_processed']}, out {stats['frames_out']}, "
          f"dropped {stats['dropped_capture']}; {stats['fps']} fps; capture->sink p50 {lat['p50_ms']} ms, "
          f"p95 {lat['p95_ms']} ms; engine {stats['engine']}{_first(stats)}{_outages(stats)}",
          file=sys.stderr)  # fmt: skip
    return 0


def _first(stats: dict) -> str:
    first = stats.get("first_swapped_frame_s")
    return "" if first is None else f"; first swapped frame {first:.2f} s after start"


def _outages(stats: dict) -> str:
    """'; held N, reconnects N' for the summary line when the source was lost at some point."""
    if not stats.get("frames_held") and not stats.get("reconnects"):
        return ""
    return f"; held {stats['frames_held']} frames, reconnects {stats['reconnects']}"
