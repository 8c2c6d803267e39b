"""The whole frame loop with a `fast` model: offline convert fps, live capture->sink latency, and how much of a
frame's time is the model.

    python benchmarks/bench_live.py --model models/a2b.onnx [--int8 models/a2b.int8.onnx]

For each clip (clips/webcam_720p.mp4, clips/person_a.mp4) and each model file:
  offline   `convert` of every frame to an mp4 (decode, landmarks, align, infer, blend, encode): frames/s, with
            the default x264 preset (veryfast) and with superfast
  live      `live` with the file paced at its own 30 fps into the virtual webcam sink (the real
            pyvirtualcam.Camera with an in-memory backend, as a video call would get it): capture->sink latency
            p50/p95/p99, frames dropped, per-stage p50
  ratio     end-to-end time per frame (offline wall time / frames) over model-only time (engine.run p50, one face)
Results: benchmarks/results/live.json. Goals (issue 5, 2 cores): >= 60 fps offline at 720p; live p95 <= 25 ms at
720p with no drops at 30 fps; end-to-end / model-only <= 1.5.

    python benchmarks/bench_live.py --model MODEL --mark-ab 3

instead times what the invisible watermark costs the live loop (issue 16): the live run of each clip, in turn with
provenance on (metadata and mark) with each ``--mark-placement`` (sampled: the sampled aligner, the default;
follow: verify's tracker on a thread, on every frame it is free for; exact: that tracker on every frame, in line)
and off (``--no-provenance``), RUNS times each; results in benchmarks/results/live_mark_ab.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, time_calls, write_results  # noqa: E402
from swapcam.live.convert import ConvertConfig, convert  # noqa: E402
from swapcam.core.engines import open_engine  # noqa: E402
from swapcam.live.runner import LiveConfig, run_live  # noqa: E402
from swapcam.live.sinks import SinkOptions  # noqa: E402

CLIPS = ("webcam_720p", "person_a")
MODES = ("sampled", "follow", "exact", "off")  # --mark-ab: the mark placed each way (--mark-placement), then none


class NullCamera:
    """pyvirtualcam backend that accepts frames and keeps none (v4l2loopback needs a kernel module)."""

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        self._device = device or "bench0"

    def device(self) -> str:
        return self._device

    def native_fmt(self):
        return None

    def send(self, frame: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


def model_only(model: str) -> dict:
    with open_engine(model, "ort-cpu") as engine:
        r = engine.info.resolution
        x = np.random.default_rng(0).random((1, 3, r, r), dtype=np.float32)
        return time_calls(lambda: engine.run(x), repeat=300, warmup=20)


def mark_ab(model: str, clips: list[str], runs: int) -> None:
    """Live runs in turn with the mark placed each way and without: capture->sink latency, the composite stage,
    the stage that draws the marks after it ("mark track": follow and exact), the follower's measurements on its
    thread and the frames it skipped busy, per run."""
    results: dict = {"model": str(model), "runs_each": runs, "clips": {}}
    for name in clips:
        clip = SHARED_DATA / "clips" / f"{name}.mp4"
        if not clip.is_file():
            sys.exit(f"bench_live: {clip} not found (see ../shared/data/SOURCES.md)")
        rows = []
        for _ in range(runs):
            for mode in MODES:
                options = SinkOptions(provenance=mode != "off", vcam_backend="bench-null")
                placed = {"mark_placement": mode} if mode != "off" else {}
                live = run_live(LiveConfig(model, str(clip), ("vcam",), sink_options=options, status=False,
                                           **placed))  # fmt: skip
                lat = live["latency_capture_to_sink"]
                stages = {k: v["p50_ms"] for k, v in live["stages"].items()
                          if k in ("landmarks", "infer", "composite", "mark track", "mark follow")}  # fmt: skip
                follow = live["stages"].get("mark follow", {}).get("n", 0)
                rows.append({"mark": mode, "latency_ms": lat, "dropped": live["dropped_capture"],
                             "frames_in": live["frames_in"], "frames_processed": live["frames_processed"],
                             "stages_p50_ms": stages, "follow_measured": follow,
                             "follow_skipped_busy": live.get("mark_follow_skipped", 0)})  # fmt: skip
                print(f"{name:>12} mark {mode:7s}: capture->vcam p50/p95 {lat['p50_ms']}/{lat['p95_ms']} ms, "
                      f"composite p50 {stages['composite']} ms, mark track p50 {stages.get('mark track', 0)} ms, "
                      f"dropped {live['dropped_capture']}, follower measured {follow} "
                      f"(skipped {live.get('mark_follow_skipped', 0)})", flush=True)  # fmt: skip
        summary = {}
        for mode in MODES:
            mine = [r for r in rows if r["mark"] == mode]
            summary[mode] = {
                "capture_to_vcam_p50_ms": [r["latency_ms"]["p50_ms"] for r in mine],
                "capture_to_vcam_p95_ms": [r["latency_ms"]["p95_ms"] for r in mine],
                "composite_p50_ms": [r["stages_p50_ms"]["composite"] for r in mine],
                "mark_track_p50_ms": [r["stages_p50_ms"].get("mark track") for r in mine],
                "mark_follow_p50_ms": [r["stages_p50_ms"].get("mark follow") for r in mine],
                "follow_measured": [r["follow_measured"] for r in mine],
                "dropped": [r["dropped"] for r in mine],
            }
        results["clips"][name] = {"runs": rows, "summary": summary}
    print(f"wrote {write_results('live_mark_ab', results)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="fp32 model file from `swapcam export`")
    parser.add_argument("--int8", help="its int8 variant (benchmarked too)")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS))
    parser.add_argument("--mark-ab", type=int, metavar="RUNS",
                        help="instead: RUNS live runs each with the watermark placed each way (--mark-placement "
                        "sampled, follow, exact) and without, in turn")  # fmt: skip
    args = parser.parse_args()
    import pyvirtualcam

    pyvirtualcam.register_backend("bench-null", NullCamera)
    if args.mark_ab:
        mark_ab(args.model, args.clips, args.mark_ab)
        return
    models = {"fp32": args.model, **({"int8": args.int8} if args.int8 else {})}
    results: dict = {"models": {k: str(v) for k, v in models.items()}, "clips": {}}
    with tempfile.TemporaryDirectory(prefix="swapcam-bench-live-") as tmp:
        for precision, model in models.items():
            only = model_only(model)
            results.setdefault("model_only_ms", {})[precision] = only
            for name in args.clips:
                clip = SHARED_DATA / "clips" / f"{name}.mp4"
                if not clip.is_file():
                    sys.exit(f"bench_live: {clip} not found (see ../shared/data/SOURCES.md)")
                off = convert(ConvertConfig(model, str(clip), str(Path(tmp) / f"{name}.mp4"), progress=False))
                fast_enc = convert(ConvertConfig(model, str(clip), str(Path(tmp) / f"{name}_sf.mp4"), progress=False,
                                                 x264_preset="superfast"))  # fmt: skip
                vcam = SinkOptions(vcam_backend="bench-null")
                live = run_live(LiveConfig(model, str(clip), ("vcam",), sink_options=vcam, status=False))
                per_frame = off.seconds / off.frames * 1000
                lat = live["latency_capture_to_sink"]
                row = {
                    "offline": {"frames": off.frames, "fps": off.fps, "ms_per_frame": round(per_frame, 2),
                                "stages": off.stats["stages"], "fps_x264_superfast": fast_enc.fps},
                    "live": {"frames_in": live["frames_in"], "frames_out": live["frames_out"],
                             "dropped": live["dropped_capture"], "latency_ms": lat, "stages": live["stages"]},
                    "ratio_end_to_end_over_model": round(per_frame / only["p50_ms"], 2),
                    "ratio_live_latency_over_model": round(lat["p50_ms"] / only["p50_ms"], 2),
                }  # fmt: skip
                results["clips"].setdefault(name, {})[precision] = row
                print(f"{name:>12} {precision}: offline {off.fps:6.1f} fps ({per_frame:.1f} ms/frame; superfast "
                      f"{fast_enc.fps:.1f} fps) | live p50/p95/p99 "
                      f"{lat['p50_ms']}/{lat['p95_ms']}/{lat['p99_ms']} ms, dropped {live['dropped_capture']} of "
                      f"{live['frames_in']} | model {only['p50_ms']} ms -> e2e/model "
                      f"{row['ratio_end_to_end_over_model']}",
                      flush=True)  # fmt: skip
    c720 = results["clips"].get("webcam_720p", {})
    results["goals_met"] = {
        p: {"offline_720p>=60fps": r["offline"]["fps"] >= 60,
            "live_720p_p95<=25ms_no_drops": r["live"]["latency_ms"]["p95_ms"] <= 25 and r["live"]["dropped"] == 0,
            "e2e/model<=1.5": r["ratio_end_to_end_over_model"] <= 1.5}
        for p, r in c720.items()
    }  # fmt: skip
    print(f"wrote {write_results('live', results)}")


if __name__ == "__main__":
    main()
