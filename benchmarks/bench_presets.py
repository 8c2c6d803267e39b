"""Old `fast` (`fast-v1`) against the new default, for the same CPU time, on both benchmarks of issue 15, into
results/presets.json and docs/learning_curves_30min.png.

    python benchmarks/bench_generalise.py prepare --work out/gen        # the facesets and the split (once)
    python benchmarks/bench_presets.py train --gen out/gen --work out/presets [--minutes 30] [--split-minutes 12 |
        --split-steps 600]
    python benchmarks/bench_presets.py evaluate --gen out/gen --work out/presets

train: each preset trains with `swapcam train`'s own code (this machine, every core, one process, one after the
other so that no run shares the CPU) for --minutes on the full facesets (person_a every 2nd frame -> person_b) and
for --split-minutes on the generalisation split (small mouth openings and |yaw| <= 4 deg only). Runs go to
WORK/full/PRESET and WORK/split/PRESET; a run already there is left as it is.

evaluate: each run is exported (fp32, and the int8 variant with its SSIM check) and judged with `swapcam eval`:
- the usual benchmark: every frame of clips/person_a.mp4 through the live pipeline (identity on every 5th, top-1
  among six people), with mouth pass-through off (the model alone) and at the default; for the new default also
  with sharpening 0.5, so that what a filter adds is reported apart from the model's own detail;
- the split: person_a's 350 frames beyond the training split (bench_generalise.py), mouth off, on and auto.
Held-out SSIM against training minutes (metrics.jsonl) is plotted for every run.

Another seed: train it with `swapcam train --seed N` into WORK_N/split/fast (or full/), then
`evaluate --work WORK_N --pairs split --name presets_seedN` (the plot is drawn only when the full pair is judged).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_generalise import export_checked, other_people  # noqa: E402
from benchmarks.common import ROOT, SHARED_DATA, write_results  # noqa: E402

PRESETS = ("fast-v1", "fast")
NEW = "fast"


def train(gen: Path, work: Path, minutes: float, split_minutes: float, split_steps: int | None = None) -> None:
    """``split_steps``: train the split runs to this step instead of for ``split_minutes`` (then other work may
    share the CPU without favouring either preset)."""
    from swapcam.trainer.train import TrainConfig, main

    for pair in ("full", "split"):
        budget = dict(minutes=minutes) if pair == "full" else (
            dict(steps=split_steps) if split_steps else dict(minutes=split_minutes))  # fmt: skip
        for preset in PRESETS:
            run = work / pair / preset
            if (run / "checkpoints").exists():
                print(f"{run}: already trained, left as it is")
                continue
            a, b = (gen / f"fs_{s}" if pair == "full" else gen / f"split_{s}" for s in "ab")
            result = main(TrainConfig(str(a), str(b), str(run), preset=preset, **budget))
            print(f"{pair} {preset}: step {result.step}, {result.metrics}", flush=True)
            if result.interrupted:  # Ctrl-C stops the benchmark, not just this run
                raise SystemExit(130)


def _curve(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: r[k] for k in ("step", "elapsed_s", "ssim_a", "ssim_b")} for r in rows]


def _judge(model: Path, video: Path, gen: Path, *, every: int, gallery_faces: int, **settings) -> dict:
    from swapcam.evaluate.api import EvalConfig, evaluate
    from swapcam.live.settings import SwapSettings

    report = evaluate(EvalConfig(str(video), (str(gen / "fs_a"),), (str(gen / "fs_b"),), others=other_people(),
                                 model=str(model), every=every, gallery_faces=gallery_faces,
                                 settings=SwapSettings().with_changes(settings), progress=False))  # fmt: skip
    for row in report.table():
        print("  " + row)
    return json.loads(report.to_json())


def _summary(report: dict) -> dict:
    """The figures the issue's goals name, from one eval report."""
    pick = {
        "identity_top1": ("identity", "retrieval_top1"), "pose_l2_deg": ("pose", "error_l2"),
        "pitch_deg": ("pose", "error_pitch"), "mouth_r": ("expression", "mouth_correlation"),
        "detail": ("detail", "ratio"), "face_ssim": ("face_ssim",), "jitter_motion_error": ("jitter", "motion_error"),
        "jitter_accel_in": ("jitter", "accel_in"), "jitter_accel_out": ("jitter", "accel_out"),
    }  # fmt: skip
    out = {}
    for key, path in pick.items():
        v = report
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        out[key] = round(v, 4) if isinstance(v, float) else v
    return out


def evaluate_runs(gen: Path, work: Path, *, every: int, pairs: tuple[str, ...] = ("full", "split")) -> dict:
    """Exports and judges every run (a judged setting is cached in its run folder, so a re-run only adds what is
    missing)."""
    results: dict = {"gen": json.loads((gen / "prepare.json").read_text()), "runs": {}}
    for preset in PRESETS:
        entry: dict = {}
        for pair in pairs:
            run = work / pair / preset
            if not (run / "metrics.jsonl").exists():
                continue
            curve = _curve(run)
            model = run / "model.onnx"
            int8 = export_checked(run, model, gen / ("fs_a" if pair == "full" else "split_a"))
            judged: dict = {}
            if pair == "full":
                video, kw = SHARED_DATA / "clips" / "person_a.mp4", dict(every=every, gallery_faces=64)
                modes = [{"mouth": "off"}, {"mouth": "auto"}]
                if preset == NEW:  # what a filter adds, apart from the model's own detail
                    modes.append({"mouth": "off", "sharpen": 0.5})
            else:
                video, kw = gen / "test_a.mp4", dict(every=10, gallery_faces=24)
                modes = [{"mouth": "off"}, {"mouth": "on"}, {"mouth": "auto"}]
            for settings in modes:
                label = ",".join(f"{k}={v}" for k, v in settings.items())
                cache = run / f"eval_{label.replace(',', '_').replace('=', '-')}.json"  # a re-run reuses it
                print(f"== {pair} {preset} {label}", flush=True)
                if cache.exists():
                    report = json.loads(cache.read_text())
                else:
                    report = _judge(model, video, gen, **kw, **settings)
                    cache.write_text(json.dumps(report))
                judged[label] = {"summary": _summary(report), "report": report}
            entry[pair] = {"trained": curve[-1], "int8_check": int8, "curve": curve, "eval": judged}
        results["runs"][preset] = entry
    return results


def plot(results: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for preset, style in zip(PRESETS, ("--", "-")):
        curve = results["runs"][preset].get("full", {}).get("curve", [])
        minutes = [c["elapsed_s"] / 60 for c in curve]
        for side, colour in (("a", "tab:blue"), ("b", "tab:orange")):
            label = f"{preset}{' (new default)' if preset == NEW else ''}: held-out {side.upper()}"
            ax.plot(minutes, [c[f"ssim_{side}"] for c in curve], style, color=colour, label=label)
    ax.axhline(0.90, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("training minutes (this 2-core CPU, one run at a time)")
    ax.set_ylabel("held-out reconstruction SSIM")
    ax.set_title("fast-v1 (old recipe) vs fast (live-crop augmentation)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("train", "evaluate"))
    parser.add_argument("--gen", default="out/gen", help="bench_generalise.py prepare's folder")
    parser.add_argument("--work", default="out/presets")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--split-minutes", type=float, default=12.0)
    parser.add_argument("--split-steps", type=int, help="train the split runs to this step instead")
    parser.add_argument("--every", type=int, default=5, help="usual benchmark: identity on every n-th frame")
    parser.add_argument("--pairs", nargs="+", default=["full", "split"], choices=("full", "split"),
                        help="evaluate: which runs (default both)")
    parser.add_argument("--name", default="presets",
                        help="evaluate: results file under benchmarks/results (e.g. presets_seed1 for a second seed)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gen, work = Path(args.gen), Path(args.work)
    if args.stage == "train":
        train(gen, work, args.minutes, args.split_minutes, args.split_steps)
        return
    results = evaluate_runs(gen, work, every=args.every, pairs=tuple(args.pairs))
    if "full" in args.pairs:  # the README's learning curves are the full pair's
        plot(results, ROOT / "docs" / "learning_curves_30min.png")
    slim = {p: {pair: {k: v for k, v in e.items() if k != "eval"} | {
        "eval": {label: j["summary"] for label, j in e["eval"].items()}} for pair, e in entry.items()}
        for p, entry in results["runs"].items()}  # fmt: skip
    print(json.dumps(slim, indent=1))
    print(f"wrote {write_results(args.name, results)}")


if __name__ == "__main__":
    main()
