"""Quality of a trained model, by the metrics face-swap papers report (``swapcam eval``), into results/quality.json.

    python benchmarks/bench_quality.py --model models/a2b.onnx --run a2b \
        --gallery-a person_a --gallery-b person_b [--int8 models/a2b.int8.onnx] [--swapped out/person_a_as_b.mp4]

It evaluates the model (and with --int8 its int8 variant) on clips/person_a.mp4 in process (every frame through
the live pipeline) and, with --swapped, the file `swapcam convert` wrote (the same frames after H.264 at crf 18).
With --run it also records the run's last held-out reconstruction SSIM from metrics.jsonl.
Needs the eval extra (dlib's face-recognition ResNet).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, write_results  # noqa: E402
from swapcam.evaluate.api import EvalConfig, evaluate  # noqa: E402


def last_metrics(run: Path) -> dict:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--video", default=str(SHARED_DATA / "clips" / "person_a.mp4"))
    parser.add_argument("--gallery-a", nargs="+", required=True)
    parser.add_argument("--gallery-b", nargs="+", required=True)
    parser.add_argument("--gallery-other", action="append", nargs="+", default=[],
                        help="another person's pictures (repeat): top-1 retrieval among all galleries")  # fmt: skip
    parser.add_argument("--int8", help="the model's int8 variant, evaluated in process too")
    parser.add_argument("--swapped", help="the converted file of --video, evaluated too")
    parser.add_argument("--run", help="the training run folder (for its held-out SSIM)")
    parser.add_argument("--every", type=int, default=5)
    args = parser.parse_args()

    results: dict = {"video": args.video, "model": args.model, "every": args.every}
    if args.run:
        m = last_metrics(Path(args.run))
        results["training"] = {k: m.get(k) for k in ("step", "elapsed_s", "samples", "ssim_a", "ssim_b")}
    runs = {"in_process": {"model": args.model}}
    if args.int8:
        runs["in_process_int8"] = {"model": args.int8}
    if args.swapped:
        runs["converted_file"] = {"swapped": args.swapped}
    for name, source in runs.items():
        others = tuple(tuple(g) for g in args.gallery_other)
        report = evaluate(EvalConfig(args.video, tuple(args.gallery_a), tuple(args.gallery_b), others=others,
                                     every=args.every, **source))  # fmt: skip
        print(f"== {name}")
        for row in report.table():
            print("  " + row)
        results[name] = json.loads(report.to_json())
    print(f"wrote {write_results('quality', results)}")


if __name__ == "__main__":
    main()
