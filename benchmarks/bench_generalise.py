"""Generalisation benchmark (issue 15): train on faces whose mouth is nearly closed and whose head is nearly frontal,
judge the swap on person A's frames outside both (open mouth, larger turns), old `fast-v1` against the new `fast`.

    python benchmarks/bench_generalise.py prepare --work out/gen       # facesets, the split, the test clip
    python benchmarks/bench_variants.py --pairs full:out/gen/fs_a,out/gen/fs_b split:out/gen/split_a,out/gen/split_b \
        --out out/gen/runs --device cuda ...                              # training (a GPU emulates the CPU budget)
    python benchmarks/bench_generalise.py evaluate --work out/gen --runs out/gen/runs [--variants fast-v1 ...]

`prepare` extracts clips/person_a.mp4 and clips/person_b.mp4 (`swapcam extract --every 2`) unless the facesets
exist, and writes the training split from the per-face records of index.jsonl: |yaw| <= YAW_TRAIN degrees (the
record's pose) and mouth opening <= MOUTH_TRAIN interocular distances (computed from the stored landmarks, as
`swapcam eval` measures it). The split facesets hold no images of their own: their records point into the full ones.
The test clip is every frame of person_a.mp4 whose record (extract kept every 2nd frame; each record stands for its
frame and the next) has the mouth open wider than MOUTH_TEST or |yaw| beyond YAW_TEST. `evaluate` exports each run's
A->B model (fp32) and runs `swapcam eval` on the test clip, with mouth pass-through off and on where live's
SwapSettings has it; the full pair's held-out SSIM (the usual benchmark) goes beside it.
Results: benchmarks/results/generalise.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, write_results  # noqa: E402

MOUTH_TRAIN, YAW_TRAIN = 0.15, 4.0  # training: nearly closed, nearly frontal
MOUTH_TEST, YAW_TEST = 0.30, 5.5  # judged: wider open or further turned than anything trained on
log = logging.getLogger("bench_generalise")


def _records(faceset: Path) -> list[dict]:
    return [json.loads(line) for line in (faceset / "index.jsonl").read_text().splitlines() if line.strip()]


def measures(rec: dict) -> tuple[float, float]:
    from swapcam.evaluate.geometry import mouth_opening

    return float(rec.get("mouth", mouth_opening(np.asarray(rec["landmarks"], np.float32)))), float(rec["yaw"])


def make_split(full: Path, split: Path) -> int:
    """Writes ``split`` (faceset.json + index.jsonl pointing into ``full``); returns its number of faces."""
    split.mkdir(parents=True, exist_ok=True)
    (split / "faceset.json").write_text((full / "faceset.json").read_text())
    rel = Path("..") / full.name
    lines = []
    for rec in _records(full):
        mouth, yaw = measures(rec)
        if mouth <= MOUTH_TRAIN and abs(yaw) <= YAW_TRAIN:
            rec["image"], rec["mask"] = str(rel / rec["image"]), str(rel / rec["mask"])
            lines.append(json.dumps(rec, separators=(",", ":")))
    (split / "index.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)


def write_test_clip(full_a: Path, video: Path, out: Path) -> dict:
    """Writes the frames of ``video`` outside the training band (see the module doc) to ``out`` (H.264, crf 12)."""
    import av

    from swapcam.core.media_io import probe_video, read_video

    keep: set[int] = set()
    wide = turned = 0
    for rec in _records(full_a):
        mouth, yaw = measures(rec)
        if mouth > MOUTH_TEST or abs(yaw) > YAW_TEST:
            keep.update((rec["frame"], rec["frame"] + 1))
            wide += mouth > MOUTH_TEST
            turned += abs(yaw) > YAW_TEST
    info = probe_video(video)
    n = 0
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=round(info.fps))
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for frame in read_video(video):
            if frame.frame_id not in keep:
                continue
            vf = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
            vf.pts = n
            n += 1
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return {"frames": n, "records_wide_mouth": wide, "records_turned": turned}


def prepare(work: Path) -> dict:
    from swapcam.trainer.extract import ExtractConfig, Extractor

    work.mkdir(parents=True, exist_ok=True)
    clips = {s: SHARED_DATA / "clips" / f"person_{s}.mp4" for s in "ab"}
    for s, clip in clips.items():
        if not (work / f"fs_{s}" / "index.jsonl").exists():
            Extractor(work / f"fs_{s}", ExtractConfig(every=2)).run([str(clip)])
    summary = {f"split_{s}_faces": make_split(work / f"fs_{s}", work / f"split_{s}") for s in "ab"}
    summary.update({f"full_{s}_faces": len(_records(work / f"fs_{s}")) for s in "ab"})
    summary["test_clip"] = write_test_clip(work / "fs_a", clips["a"], work / "test_a.mp4")
    (work / "prepare.json").write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("prepare", "evaluate"))
    parser.add_argument("--work", default="out/gen")
    parser.add_argument("--runs", help="bench_variants.py's variants.json and split_<variant>_weights.pt.N parts")
    parser.add_argument("--variants", nargs="+", default=["fast-v1", "fast"])
    parser.add_argument("--every", type=int, default=5, help="identity on every n-th frame")
    parser.add_argument("--gallery-faces", type=int, default=64, help="faces per identity gallery")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.stage == "prepare":
        print(json.dumps(prepare(Path(args.work)), indent=1))
    else:
        evaluate_runs(Path(args.work), Path(args.runs), args.variants, every=args.every,
                      gallery_faces=args.gallery_faces)


def checkpoint_from_parts(runs: Path, variant: str, steps: int, work: Path, dest: Path) -> Path:
    """A swapcam checkpoint (model only) from the float16 weight parts bench_variants.py kept for ``variant``."""
    import io

    import torch

    from benchmarks.variants import variant_args
    from swapcam.core.align import AlignSpec
    from swapcam.trainer.checkpoint import save_checkpoint
    from swapcam.trainer.train import CHECKPOINT_FORMAT

    tag = variant.replace("+", "_")
    parts = sorted(runs.glob(f"split_{tag}_weights.pt.*"), key=lambda p: int(p.suffix[1:]))
    if not parts:
        raise SystemExit(f"bench_generalise: no weights for {variant} in {runs}")
    state = torch.load(io.BytesIO(b"".join(p.read_bytes() for p in parts)), map_location="cpu", weights_only=True)
    args = variant_args(variant)
    spec = AlignSpec.from_metadata(json.loads((work / "fs_a" / "faceset.json").read_text())).with_size(args.resolution)
    return save_checkpoint(dest, {
        "format": CHECKPOINT_FORMAT, "step": steps, "samples": 0, "elapsed_s": 0.0,
        "model": {k: v.float() for k, v in state.items()}, "optimizer": None, "scaler": None,
        "model_args": args.to_dict(), "preset": variant, "config": {}, "align": spec.to_metadata(),
        "identities": {"a": "person_a", "b": "person_b"}, "rng": torch.get_rng_state(),
    }, keep=1)  # fmt: skip


def other_people() -> tuple[tuple[str, ...], ...]:
    """The four further people of the top-1 retrieval among six (one gallery each), from the sample data."""
    clips, images = SHARED_DATA / "clips", SHARED_DATA / "images"
    return ((str(images / "obama.jpg"),), (str(images / "biden.jpg"),), (str(clips / "person_c_glasses.mp4"),),
            (str(clips / "webcam_720p.mp4"),))  # fmt: skip


def export_checked(run: Path, onnx_path: Path, faces: Path) -> str:
    """Exports ``run`` to ``onnx_path`` with its int8 variant once (kept beside it with a ``.int8.txt`` note) and
    returns the int8 check's line: eval runs the fp32 model, the int8 check (SSIM vs fp32 >= 0.98) is reported."""
    from swapcam.core.errors import SwapcamError
    from swapcam.export.api import export_model
    from swapcam.export.config import ExportConfig

    note = onnx_path.with_suffix(".int8.txt")
    if not (onnx_path.exists() and note.exists()):
        try:
            exported = export_model(ExportConfig(str(run), str(onnx_path), faces=str(faces), int8=True))
            note.write_text(exported.int8_check.summary())
        except SwapcamError as exc:
            note.write_text(str(exc))
    return note.read_text()


def evaluate_runs(work: Path, runs: Path, variants: list[str], *, every: int, gallery_faces: int = 64) -> None:
    from swapcam.evaluate.api import EvalConfig, evaluate
    from swapcam.live.settings import SwapSettings

    info = json.loads((runs / "variants.json").read_text())
    by = {(r["pair"], r["variant"]): r for r in info["runs"]}
    others = other_people()
    modes = ["off", "on"] if "mouth" in SwapSettings.__dataclass_fields__ else [None]
    results: dict = {"split": {"train": {"mouth_max_iod": MOUTH_TRAIN, "abs_yaw_max_deg": YAW_TRAIN},
                               "judged": {"mouth_min_iod": MOUTH_TEST, "abs_yaw_min_deg": YAW_TEST},
                               **json.loads((work / "prepare.json").read_text())},  # fmt: skip
                     "eval": {"every": every, "gallery_faces": gallery_faces},
                     "training": {k: info[k] for k in ("cpu_minutes", "device", "anchor", "cpu", "steps")},
                     "models": {}}  # fmt: skip
    for variant in variants:
        split = by[("split", variant)]
        run = work / "eval_runs" / variant.replace("+", "_")
        checkpoint_from_parts(runs, variant, split["final"]["step"], work, run)
        onnx_path = work / f"{variant.replace('+', '_')}.onnx"
        int8 = export_checked(run, onnx_path, work / "fs_a")
        entry: dict = {
            "usual_benchmark_heldout_ssim": {k: by[("full", variant)]["final"].get(k) for k in ("ssim_a", "ssim_b")},
            "split_training_heldout_ssim": {k: split["final"].get(k) for k in ("ssim_a", "ssim_b")},
            "steps_budget": split["steps"], "steps_trained": split["final"]["step"], "int8_check": int8,
        }  # fmt: skip
        for mode in modes:
            settings = SwapSettings() if mode is None else SwapSettings().with_changes({"mouth": mode})
            report = evaluate(EvalConfig(str(work / "test_a.mp4"), (str(work / "fs_a"),), (str(work / "fs_b"),),
                                         others=others, model=str(onnx_path), every=every, settings=settings,
                                         gallery_faces=gallery_faces, progress=False))  # fmt: skip
            print(f"== {variant}, mouth pass-through {mode or 'not available'}")
            for row in report.table():
                print("  " + row)
            entry[f"mouth_{mode or 'not_measured'}"] = json.loads(report.to_json())
        results["models"][variant] = entry
    print(f"wrote {write_results('generalise', results)}")


if __name__ == "__main__":
    main()
