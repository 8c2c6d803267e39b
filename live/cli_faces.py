"""``swapcam faces``: does swapcam see your face? Reports faces and writes what the geometry core makes of them."""

from __future__ import annotations

import argparse

from swapcam.core.align import AlignSpec
from swapcam.live.face_report import ReportConfig, align_largest_face, report
from swapcam.core.mask import MaskConfig
from swapcam.core.media_io import load_image

_ALIGN, _MASK = AlignSpec(), MaskConfig()  # defaults (slots dataclasses keep no class-level defaults)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files")
    p.add_argument("-o", "--out", help="folder for annotated images, aligned crops and masks")
    p.add_argument("--max-faces", type=int, default=4, help="faces per frame (default: 4)")
    p.add_argument("--every", type=int, default=1, help="videos: look at every N-th frame (default: 1)")
    p.add_argument("--save-every", type=int, default=30, help="videos: save crops of every N-th frame looked at")
    p.add_argument("--size", type=int, default=_ALIGN.size, help="aligned crop size in pixels (default: %(default)s)")
    p.add_argument("--coverage", type=float, default=_ALIGN.coverage,
                   help="crop side in face widths (default: %(default)s)")  # fmt: skip
    p.add_argument("--y-offset", type=float, default=_ALIGN.y_offset,
                   help="move the face down by this fraction of the crop (default: %(default)s)")  # fmt: skip
    p.add_argument("--erode", type=float, default=_MASK.erode, help="mask erosion, fraction of face size")
    p.add_argument("--feather", type=float, default=_MASK.feather, help="mask blur sigma, fraction of face size")
    p.add_argument("--paste", metavar="IMAGE", help="images: paste the largest face of IMAGE onto every face found")
    p.add_argument("--no-provenance", action="store_true", help="do not mark pasted images as synthetic")


def run(args: argparse.Namespace) -> int:
    config = ReportConfig(
        align=AlignSpec(args.size, args.coverage, args.y_offset),
        mask=MaskConfig(args.erode, args.feather),
        max_faces=args.max_faces,
        every=max(args.every, 1),
        save_every=max(args.save_every, 1),
        provenance=not args.no_provenance,
    )
    paste = align_largest_face(load_image(args.paste), config.align, what=args.paste) if args.paste else None
    none_found = 0
    for path in args.inputs:
        result = report(path, args.out, config, paste)
        print(result.summary())
        none_found += result.faces == 0
    if args.out:
        print(f"wrote results to {args.out}")
    return 1 if none_found == len(args.inputs) else 0
