"""``swapcam extract INPUT... -o FACESET``: aligned faces from videos, images or folders of them."""

from __future__ import annotations

import argparse

from swapcam.trainer.coverage import faceset_coverage, table, write_report
from swapcam.trainer.extract import ExtractConfig, Extractor

_D = ExtractConfig()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, images, or folders of them")
    p.add_argument("-o", "--out", required=True, metavar="FACESET", help="faceset folder (created or extended)")
    p.add_argument("--every", type=int, default=_D.every, help="videos: every N-th frame (default: %(default)s)")
    p.add_argument("--max-faces", type=int, default=_D.max_faces, help="faces per frame (default: %(default)s)")
    p.add_argument("--min-size", type=float, default=_D.min_size,
                   help="smallest face kept, pixels (default: %(default)s)")  # fmt: skip
    p.add_argument("--min-sharpness", type=float, default=_D.min_sharpness,
                   help="blur threshold: Laplacian variance of the aligned face (default: %(default)s)")  # fmt: skip
    p.add_argument("--min-relative-sharpness", type=float, default=_D.min_relative_sharpness,
                   help="videos: reject faces below this share of the clip's median sharpness (default: %(default)s)")  # fmt: skip
    p.add_argument("--dedup", type=float, default=_D.dedup_threshold,
                   help="near-duplicate threshold, mean grey difference (default: %(default)s; 0 keeps all)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    config = ExtractConfig(
        every=max(args.every, 1),
        max_faces=max(args.max_faces, 1),
        min_size=args.min_size,
        min_sharpness=args.min_sharpness,
        min_relative_sharpness=args.min_relative_sharpness,
        dedup_threshold=args.dedup,
    )
    summary = Extractor(args.out, config).run(args.inputs)
    for line in summary.lines():
        print(line)
    print(f"faceset: {args.out}")
    # How the faceset covers yaw, pitch and mouth opening (issue 15): printed, and written beside the index.
    cov = faceset_coverage(args.out)
    for line in table({"this faceset": cov}):
        print(line)
    print(f"coverage: {write_report(args.out, {'this faceset': cov})}")
    return 0
