"""Screens the training variants of issue 15 (benchmarks/variants.py) for the same CPU budget.

    python benchmarks/bench_variants.py --pairs full:FS_A,FS_B [split:FS_A2,FS_B2] --out DIR \
        [--cpu-minutes 30] [--device cuda] [--jobs 13] [--save-weights split]

Step 1 (the budget): each variant's training step is timed on the CPU with 2 threads (batch 16 a person, one
process, nothing else running); a variant gets ``cpu-minutes`` worth of steps at that speed, anchored at the
measured `fast` run of benchmarks/results/quality.json (2900 steps in 30 minutes on this project's 2-core machine):
steps = 2900 * cpu_minutes / 30 * (t_fast-v1 / t_variant). Step 2: every (pair, variant) trains for its steps in its
own process, on the GPU if asked (float32, no TF32, so the numbers are those of a CPU run up to rounding) or the
CPU. Held-out SSIM is logged every 100 steps (metrics.jsonl). Step 3: the runs' last SSIM and curves, with the
x axis in CPU-equivalent minutes, go to DIR/variants.json; with --save-weights the model weights of the named
pairs' runs are kept as float16 state dicts split into files under 15 MiB (for export and eval elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANCHOR_STEPS, ANCHOR_MINUTES = 2900, 30.0  # benchmarks/results/quality.json: `fast` (= fast-v1), 2026-11-25


def time_step(name: str, steps: int = 4) -> float:
    """Median seconds of one training step of ``name`` on the CPU (2 threads, batch 16 a person, synthetic faces)."""
    import torch

    from benchmarks.variants import VARIANTS, variant_args
    from swapcam.trainer.data import Side
    from swapcam.trainer.losses import swap_loss
    from swapcam.trainer.model import SwapAutoencoder, TrainPair
    from swapcam.trainer.train import TrainConfig, _augmented, batch_generator, resolve_recipe

    torch.set_num_threads(2)
    args = variant_args(name)
    r, g = args.resolution, torch.Generator().manual_seed(0)

    def side(n: int = 40) -> Side:
        return Side("synthetic", (torch.rand(n, 3, r, r, generator=g) * 255).byte(),
                    ((torch.rand(n, 1, r, r, generator=g) > 0.3) * 255).byte(),
                    torch.randint(0, 4, (n, 1, r, r), generator=g).byte(), torch.arange(n), torch.arange(2))  # fmt: skip

    a, b = side(), side()
    cfg = resolve_recipe(replace(TrainConfig("", "", ""), **VARIANTS[name][1]), "fast-v1")
    model = SwapAutoencoder(args).to(memory_format=torch.channels_last)
    pair, opt, cpu = TrainPair(model), torch.optim.AdamW(model.parameters(), lr=1e-4), torch.device("cpu")
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        gen = batch_generator(0, 0, step)
        ia, ta, ma, ra = _augmented(a, b, cfg, gen, cpu)
        ib, tb, mb, rb = _augmented(b, a, cfg, gen, cpu)
        pa, pb = pair(ia, ib)
        loss = swap_loss(pa, ta, ma, ra, cfg.loss) + swap_loss(pb, tb, mb, rb, cfg.loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]


def ort_latency(name: str, repeat: int = 300) -> dict:
    """p50/p95 ms of the variant's A->B graph in ONNX Runtime on the CPU (2 threads, batch 1), fp32 and int8,
    built by the export path itself (graph_from_checkpoint, to_onnx, quantize_int8) from random weights."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from benchmarks.variants import variant_args
    from swapcam.core.align import AlignSpec
    from swapcam.core.timing import time_calls
    from swapcam.export.onnx_graph import graph_from_checkpoint, to_onnx
    from swapcam.export.variants import quantize_int8
    from swapcam.trainer.model import SwapAutoencoder

    args = variant_args(name)
    torch.manual_seed(0)
    state = {"model_args": args.to_dict(), "model": SwapAutoencoder(args).state_dict(), "step": 0, "preset": name,
             "align": AlignSpec().with_size(args.resolution).to_metadata()}  # fmt: skip
    graph, info = graph_from_checkpoint(state, "a2b")
    fp32 = to_onnx(graph, info, 17)
    calib = np.random.default_rng(0).random((16, 3, args.resolution, args.resolution), np.float32)
    out = {}
    for precision, model in (("fp32", fp32), ("int8", quantize_int8(fp32, info, calib))):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: calib[:1]}
        out[precision] = time_calls(lambda: session.run(None, feed), repeat=repeat, warmup=30)
    return out


def train_one(job: dict) -> dict:
    import torch

    if job["device"] == "cuda":  # float32 as on a CPU: no TF32 in convolutions or matrix products
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    from benchmarks.variants import VARIANTS, variant_args
    from swapcam.trainer.model import PRESETS
    from swapcam.trainer.train import TrainConfig, main

    name = job["variant"]
    PRESETS[name] = variant_args(name)  # checkpoints record the variant's name and its ModelArgs
    cfg = TrainConfig(job["a"], job["b"], job["run"], preset=name, steps=job["steps"], minutes=job["minutes"], eval_every=100,
                      preview_every=10**9, checkpoint_minutes=10**6, threads=job["threads"], device=job["device"],
                      amp=False, **VARIANTS[name][1])  # fmt: skip
    if cfg.lr_schedule == "cosine":
        cfg = replace(cfg, lr_decay_steps=job["steps"])  # the schedule ends where the budget does
    t0 = time.perf_counter()
    result = main(cfg)
    out = {**job, "wall_s": round(time.perf_counter() - t0, 1), "final": result.metrics,
           "completed": result.step >= job["steps"]}
    if job["save"]:
        state = {k: v.half() for k, v in result.model.state_dict().items()}
        path = Path(job["run"]) / "weights.pt"
        torch.save(state, path)
        data, parts = path.read_bytes(), []
        for i in range(0, len(data), 15 << 20):
            part = path.with_name(f"weights.pt.{i // (15 << 20)}")
            part.write_bytes(data[i : i + (15 << 20)])
            parts.append(part.name)
        path.unlink()
        out["weight_parts"] = parts
    return out


def main() -> None:
    from benchmarks.variants import VARIANTS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", help="a variants.json: write results/train_variants.json and the curves' PNG")
    parser.add_argument("--new", default="fast", help="--report: the variant drawn bold beside fast-v1")
    parser.add_argument("--new-label", default="new fast", help="--report: its legend note")
    parser.add_argument("--pairs", nargs="+", help="NAME:FACESET_A,FACESET_B")
    parser.add_argument("--out")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--split-variants", nargs="+", help="variants trained on pairs other than the first")
    parser.add_argument("--cpu-minutes", type=float, default=30.0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    parser.add_argument("--save-weights", nargs="*", default=[], help="pair names whose weights are kept")
    parser.add_argument("--max-minutes", type=float, help="wall-clock cap a run (a run cut short says so)")
    parser.add_argument("--timing", help="a variants.json whose step timings to reuse")
    parser.add_argument("--latency", nargs="*", default=[], help="variants whose ONNX Runtime latency to measure")
    args = parser.parse_args()
    if args.report:
        from benchmarks.common import ROOT, write_results

        d = json.loads(Path(args.report).read_text())
        table = report(Path(args.report), ROOT / "docs" / "learning_curves.png", new=args.new, new_label=args.new_label)
        keep = ("cpu_minutes", "device", "anchor", "cpu", "cpu_s_per_step", "ort_latency_ms")
        split = {r["variant"]: {"steps": r["curve"][-1]["step"], "ssim_ab_last": (r["final"].get("ssim_a"),
                 r["final"].get("ssim_b"))} for r in d["runs"] if r["pair"] == "split"}  # fmt: skip
        print(f"wrote {write_results('train_variants', {**{k: d.get(k) for k in keep}, 'highlighted': args.new, **table, 'split_runs': split})}")
        return
    if not args.pairs or not args.out:
        parser.error("--pairs and --out are needed to train")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.timing:
        cpu_s = json.loads(Path(args.timing).read_text())["cpu_s_per_step"]
    else:
        cpu_s = {name: round(time_step(name), 4) for name in args.variants}
        print("CPU seconds per step (2 threads):", cpu_s, flush=True)
    latency = {}
    for name in args.latency:
        latency[name] = ort_latency(name)
        print(f"{name}: ONNX Runtime CPU 2 threads {latency[name]}", flush=True)
    steps = {n: max(100, round(ANCHOR_STEPS * args.cpu_minutes / ANCHOR_MINUTES * cpu_s["fast-v1"] / cpu_s[n]))
             for n in args.variants}  # fmt: skip
    jobs = []
    for i, spec in enumerate(args.pairs):
        pair, paths = spec.split(":", 1)
        fa, fb = paths.split(",")
        names = args.variants if i == 0 or not args.split_variants else args.split_variants
        for n in names:
            jobs.append({"pair": pair, "variant": n, "a": fa, "b": fb, "run": str(out / pair / n), "steps": steps[n],
                         "device": args.device, "threads": args.threads, "save": pair in args.save_weights,
                         "minutes": args.max_minutes})  # fmt: skip
    # The longest jobs first, so the pool ends together.
    jobs.sort(key=lambda j: -j["steps"] * cpu_s[j["variant"]])
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(train_one, jobs))
    for r in results:
        curve = [json.loads(line) for line in (Path(r["run"]) / "metrics.jsonl").read_text().splitlines()]
        r["curve"] = [{"step": c["step"], "cpu_minutes": round(c["step"] * cpu_s[r["variant"]]
                       * (ANCHOR_MINUTES * 60 / ANCHOR_STEPS / cpu_s["fast-v1"]) / 60, 2),
                       "ssim_a": c["ssim_a"], "ssim_b": c["ssim_b"]} for c in curve]  # fmt: skip
        print(f"{r['pair']:>6} {r['variant']:>20}: {r['steps']} steps, {r['wall_s']} s, "
              f"SSIM A {r['final'].get('ssim_a')} B {r['final'].get('ssim_b')}", flush=True)
    (out / "variants.json").write_text(json.dumps({
        "cpu_minutes": args.cpu_minutes, "cpu_s_per_step": cpu_s, "steps": steps, "device": args.device,
        "anchor": f"{ANCHOR_STEPS} steps of fast-v1 in {ANCHOR_MINUTES} min (benchmarks/results/quality.json)",
        "cpu_threads_for_timing": 2, "cpu": _cpu(), "ort_latency_ms": latency, "runs": results}, indent=1))  # fmt: skip


def report(variants_json: Path, png: Path, *, new: str, new_label: str = "new fast") -> dict:
    """The table of benchmarks/results/train_variants.json (SSIM at equal CPU minutes and at the last common step)
    and the learning-curve PNG (held-out SSIM, mean of A and B, against CPU-equivalent minutes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    d = json.loads(variants_json.read_text())
    # Variants that run the same network and the same work a step as fast-v1 cost what it costs: their measured
    # step times (0.49-0.61 s against 0.61) differ by timing noise only.
    from benchmarks.variants import VARIANTS

    same_network = {n for n, (model_changes, _) in VARIANTS.items() if not model_changes}
    cost = {n: d["cpu_s_per_step"]["fast-v1" if n in same_network else n] for n in d["cpu_s_per_step"]}
    scale = ANCHOR_MINUTES * 60 / ANCHOR_STEPS / cost["fast-v1"] / 60
    full = [r for r in d["runs"] if r["pair"] == "full"]
    for r in full:
        for c in r["curve"]:
            c["cpu_minutes"] = round(c["step"] * cost[r["variant"]] * scale, 2)
    common_min = min(r["curve"][-1]["cpu_minutes"] for r in full)
    common_step = min(r["curve"][-1]["step"] for r in full)

    def near(r: dict, key: str, x: float, width: float) -> tuple[float, float]:
        # the mean of the evaluations within +-width of x: one evaluation (22 / 10 held-out faces) is noisy
        pts = [c for c in r["curve"] if abs(c[key] - x) <= width]
        return (round(float(np.mean([c["ssim_a"] for c in pts])), 4), round(float(np.mean([c["ssim_b"] for c in pts])), 4))

    rows = []
    for r in full:
        at_min = near(r, "cpu_minutes", common_min - 1.0, 1.0)
        at_step = near(r, "step", common_step - 100, 100)
        rows.append({"variant": r["variant"], "cpu_s_per_step_measured": d["cpu_s_per_step"][r["variant"]],
                     "cpu_s_per_step_used": cost[r["variant"]],
                     "budget_steps_30min": round(ANCHOR_STEPS * cost["fast-v1"] / cost[r["variant"]]), "steps_trained": r["curve"][-1]["step"],
                     "cpu_minutes_trained": r["curve"][-1]["cpu_minutes"],
                     f"ssim_ab_at_{common_min - 1:.1f}_cpu_min": at_min, f"ssim_ab_at_step_{common_step - 100}": at_step,
                     "ssim_ab_last": (r["final"].get("ssim_a"), r["final"].get("ssim_b"))})  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=90)
    for r in full:
        xs = [c["cpu_minutes"] for c in r["curve"]]
        ys = [(c["ssim_a"] + c["ssim_b"]) / 2 for c in r["curve"]]
        bold = r["variant"] in ("fast-v1", new)
        ax.plot(xs, ys, lw=2.2 if bold else 0.8, alpha=1 if bold else 0.5,
                label=f"{r['variant']}" + (" (fast = fast-v1)" if r["variant"] == "fast-v1" else f" ({new_label})" if r["variant"] == new else ""))  # fmt: skip
    # the README's 30-minute CPU run of the old `fast` (2026-11-25), for the emulation's sake
    cpu = [(0.8, 0.59), (4.1, 0.745), (11.0, 0.79), (20.2, 0.82), (25.3, 0.845), (29.9, 0.85)]
    ax.plot(*zip(*cpu), "ko", ms=4, label="fast-v1, a real 30-min CPU run")
    ax.set_xlabel("CPU-equivalent minutes (2 threads)")
    ax.set_ylabel("held-out SSIM, mean of A and B")
    ax.set_ylim(0.5, 0.9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    return {"common_cpu_minutes": common_min, "common_step": common_step, "table": rows}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
