"""Training throughput (samples/s) for each preset, and the `fast` preset's ONNX Runtime latency per face.

    python benchmarks/bench_train.py [--steps 20]

Facesets are extracted from clips/person_a.mp4 and clips/person_b.mp4 (every 8th frame) into a temporary folder,
then `swapcam.trainer.train.main` runs each preset for --steps steps after a warm-up; samples/s counts faces of both
people. Results: benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, write_results  # noqa: E402
from swapcam.core.timing import time_calls  # noqa: E402
from swapcam.trainer.extract import ExtractConfig, Extractor  # noqa: E402
from swapcam.trainer.model import PRESETS, SwapAutoencoder, SwapDirection  # noqa: E402
from swapcam.trainer.train import TrainConfig, main as train  # noqa: E402

BATCH = {"tiny": 16, "fast": 16, "quality": 4}


def ort_latency(preset: str, repeat: int = 200) -> dict[str, float]:
    """Per-face latency of the preset's A->B graph in ONNX Runtime on the CPU (2 threads, batch 1)."""
    import onnxruntime as ort
    import torch

    args = PRESETS[preset]
    graph = SwapDirection(SwapAutoencoder(args).eval(), 1)
    x = torch.rand(1, 3, args.resolution, args.resolution)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.onnx"
        torch.onnx.export(graph, x, str(path), input_names=["face"], output_names=["out"], opset_version=17,
                          dynamo=False)  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {"face": x.numpy()}
    return time_calls(lambda: session.run(None, feed), repeat=repeat, warmup=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per preset (default: 20)")
    parser.add_argument("--presets", nargs="+", default=["tiny", "fast", "quality"])
    args = parser.parse_args()
    clips = [SHARED_DATA / "clips" / "person_a.mp4", SHARED_DATA / "clips" / "person_b.mp4"]
    if not all(c.is_file() for c in clips):
        sys.exit(f"bench_train: sample clips not found under {SHARED_DATA}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, clip in zip("ab", clips):
            Extractor(Path(tmp) / name, ExtractConfig(every=8)).run([str(clip)])
        for preset in args.presets:
            warm = 3
            cfg = TrainConfig(str(Path(tmp) / "a"), str(Path(tmp) / "b"), str(Path(tmp) / f"run_{preset}"),
                              preset=preset, steps=warm, batch_size=BATCH[preset], eval_every=10**6,
                              preview_every=10**6)  # fmt: skip
            train(cfg)
            t0 = time.perf_counter()
            train(replace(cfg, steps=warm + args.steps, resume=True))
            dt = time.perf_counter() - t0
            rate = args.steps * 2 * BATCH[preset] / dt
            results[preset] = {"batch_per_person": BATCH[preset], "steps": args.steps,
                               "samples_per_s": round(rate, 1), "s_per_step": round(dt / args.steps, 3)}  # fmt: skip
            print(f"{preset:>8}: {results[preset]}")
    fast = ort_latency("fast")
    print(f"fast preset, ONNX Runtime CPU, one 128 px face: {fast}")
    write_results("train", {"presets": results, "fast_ort_latency": fast,
                            "goals_met": {"fast_ort_p50_ms<=8": fast["p50_ms"] <= 8.0}})  # fmt: skip


if __name__ == "__main__":
    main()
