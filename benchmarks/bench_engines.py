"""Per-face latency of PyTorch eager, ONNX Runtime fp32 and ONNX Runtime int8, for each preset, in one run.

    python benchmarks/bench_engines.py [--run fast=RUN_DIR] [--presets tiny fast quality] [--rounds 5]

Each preset's graph (one swap direction, batch 1) is timed in interleaved rounds (eager, fp32, int8, eager, ...)
so that a busy machine slows all three alike; latencies are pooled over the rounds. PyTorch eager runs under
``torch.inference_mode`` with the machine's cores as threads, in the faster of NCHW and channels-last. ONNX Runtime
runs through swapcam's CPU engine (swapcam.core.engines) with spinning threads, as for a model timed alone. int8 is
checked against fp32 by SSIM on real faces held out
from its calibration (every 5th face of the faceset). A preset with ``--run`` uses that trained checkpoint, the
others random weights (same cost; their SSIM is reported but says little). Faces come from ``--faceset``, else
clips/person_a.mp4 (every 4th frame) extracted into a temporary folder. Results: benchmarks/results/engines.json.
Goals (issue 4): ORT fp32 >= 2x eager; int8 >= 1.3x ORT fp32 at SSIM >= 0.98.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, percentiles, write_results  # noqa: E402
from swapcam.export.api import split_heldout  # noqa: E402
from swapcam.export.faces import faceset_faces, to_input  # noqa: E402
from swapcam.export.onnx_graph import graph_from_checkpoint, to_onnx  # noqa: E402
from swapcam.export.variants import quantize_int8  # noqa: E402
from swapcam.export.verify import compare_variant, cpu_engine  # noqa: E402
from swapcam.core.align import AlignSpec  # noqa: E402
from swapcam.core.engines import EngineConfig, open_engine  # noqa: E402
from swapcam.trainer.checkpoint import load_checkpoint  # noqa: E402
from swapcam.trainer.extract import ExtractConfig, Extractor  # noqa: E402
from swapcam.trainer.model import PRESETS, SwapAutoencoder  # noqa: E402

REPEAT = {"tiny": 100, "fast": 60, "quality": 8}


def _state(preset: str, run: str | None) -> dict:
    if run:
        return load_checkpoint(run)
    args = PRESETS[preset]
    torch.manual_seed(0)
    return {"model_args": args.to_dict(), "model": SwapAutoencoder(args).state_dict(), "step": 0, "preset": preset,
            "align": AlignSpec(size=args.resolution).to_metadata(),
            "identities": {"a": "random", "b": "random"}}  # fmt: skip


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_preset(preset: str, run: str | None, faceset: str, rounds: int, tmp: Path) -> dict:
    state = _state(preset, run)
    graph, info = graph_from_checkpoint(state, "a2b")
    faces = to_input(faceset_faces(faceset, info.align, 160))
    calib, held = split_heldout(faces, 128, 32)
    fp32_model = to_onnx(graph, info, 17)
    int8_model = quantize_int8(fp32_model, info, calib)
    check = compare_variant(cpu_engine(fp32_model.SerializeToString(), info),
                            cpu_engine(int8_model.SerializeToString(), info), held)  # fmt: skip
    paths = {"fp32": tmp / f"{preset}.onnx", "int8": tmp / f"{preset}.int8.onnx"}
    paths["fp32"].write_bytes(fp32_model.SerializeToString())
    paths["int8"].write_bytes(int8_model.SerializeToString())

    x = np.ascontiguousarray(held[:1])
    xt = torch.from_numpy(x)
    cl = graph.to(memory_format=torch.channels_last)
    xcl = xt.contiguous(memory_format=torch.channels_last)
    engines = {k: open_engine(p, "ort-cpu", EngineConfig(spin=True)) for k, p in paths.items()}  # a model alone
    calls = {
        "eager_nchw": lambda: graph(xt),
        "eager_channels_last": lambda: cl(xcl),
        "ort_fp32": lambda: engines["fp32"].run(x),
        "ort_int8": lambda: engines["int8"].run(x),
    }
    samples: dict[str, list[float]] = {k: [] for k in calls}
    n = REPEAT[preset]
    with torch.inference_mode():
        for fn in calls.values():
            _timed(fn, max(3, n // 10))  # warm-up: first calls pay allocation and thread start-up
        for _ in range(rounds):
            for name, fn in calls.items():
                samples[name] += _timed(fn, n)
    stats = {k: percentiles(v) for k, v in samples.items()}
    eager_name = min(("eager_nchw", "eager_channels_last"), key=lambda k: stats[k]["p50_ms"])
    eager = stats[eager_name]["p50_ms"]
    return {
        "weights": f"trained ({run}, step {state['step']})" if run else "random",
        "resolution": info.resolution,
        "latency_ms": stats,
        "eager_baseline": eager_name,
        "ratio_to_eager_p50": {"ort_fp32": round(eager / stats["ort_fp32"]["p50_ms"], 2),
                               "ort_int8": round(eager / stats["ort_int8"]["p50_ms"], 2)},  # fmt: skip
        "int8_over_fp32_p50": round(stats["ort_fp32"]["p50_ms"] / stats["ort_int8"]["p50_ms"], 2),
        "int8_ssim_vs_fp32": {"mean": round(check.ssim_mean, 4), "min": round(check.ssim_min, 4),
                              "held_out_faces": check.faces},  # fmt: skip
        "file_mb": {k: round(p.stat().st_size / 2**20, 1) for k, p in paths.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "fast", "quality"])
    parser.add_argument("--run", action="append", default=[], metavar="PRESET=RUN_DIR",
                        help="use a trained run for a preset, e.g. fast=runs/a2b")  # fmt: skip
    parser.add_argument("--faceset", help="real faces for calibration and the SSIM check")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    torch.set_num_threads(os.cpu_count() or 1)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="swapcam-bench-") as tmp:
        faceset = args.faceset
        if not faceset:
            clip = SHARED_DATA / "clips" / "person_a.mp4"
            if not clip.is_file():
                sys.exit(f"bench_engines: give --faceset, or put the sample clips under {SHARED_DATA}")
            faceset = str(Path(tmp) / "faces")
            Extractor(faceset, ExtractConfig(every=4)).run([str(clip)])
        for preset in args.presets:
            r = results[preset] = bench_preset(preset, runs.get(preset), faceset, args.rounds, Path(tmp))
            lat = r["latency_ms"]
            eager = lat[r["eager_baseline"]]
            cells = "  ".join(f"{k} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for k, v in
                              (("eager", eager), ("fp32", lat["ort_fp32"]), ("int8", lat["ort_int8"])))  # fmt: skip
            print(f"{preset:>8} ({r['resolution']} px, {r['weights']}): p50/p95 ms  {cells}  | fp32 "
                  f"{r['ratio_to_eager_p50']['ort_fp32']}x eager, int8 {r['int8_over_fp32_p50']}x fp32, SSIM "
                  f"{r['int8_ssim_vs_fp32']['mean']}", flush=True)
    goals = {
        p: {"ort_fp32>=2x_eager": r["ratio_to_eager_p50"]["ort_fp32"] >= 2.0,
            "int8>=1.3x_fp32": r["int8_over_fp32_p50"] >= 1.3,
            "int8_ssim>=0.98": r["int8_ssim_vs_fp32"]["mean"] >= 0.98}
        for p, r in results.items()
    }  # fmt: skip
    import onnxruntime

    path = write_results("engines", {"threads": os.cpu_count(), "torch": torch.__version__,
                                     "onnxruntime": onnxruntime.__version__, "batch": 1, "presets": results,
                                     "goals_met": goals})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
