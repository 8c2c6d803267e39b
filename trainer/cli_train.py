"""``swapcam train --from FACESET_A --to FACESET_B -o RUN_DIR``: train the two-decoder autoencoder."""

from __future__ import annotations

import argparse

from swapcam.core.errors import SwapcamError
from swapcam.trainer.coverage import compare_lines
from swapcam.trainer.model import PRESETS
from swapcam.trainer.train import AFFINE_RANGES, TrainConfig, main

_D = TrainConfig("", "", "")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="faceset_a", required=True, metavar="FACESET_A", help="the face the camera sees")
    p.add_argument("--to", dest="faceset_b", required=True, metavar="FACESET_B", help="the face to render")
    p.add_argument("-o", "--out", dest="run_dir", required=True, metavar="RUN_DIR",
                   help="checkpoints, previews and metrics.jsonl go here")  # fmt: skip
    p.add_argument("--preset", default=_D.preset, choices=sorted(PRESETS), help="model size (default: fast)")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument("--minutes", type=float, help="train this many minutes (this run)")
    limit.add_argument("--steps", type=int, help="train until this global step")
    p.add_argument("--batch-size", type=int, default=_D.batch_size, help="faces per person per step (default: 16)")
    p.add_argument("--lr", type=float, default=_D.lr, help="peak learning rate (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in RUN_DIR")
    p.add_argument("--checkpoint-minutes", type=float, default=_D.checkpoint_minutes,
                   help="minutes between checkpoints (default: %(default)s)")  # fmt: skip
    p.add_argument("--keep", type=int, default=_D.keep_checkpoints, help="checkpoints kept (default: 3)")
    p.add_argument("--preview-every", type=int, default=_D.preview_every, help="steps between previews")
    p.add_argument("--eval-every", type=int, default=_D.eval_every, help="steps between held-out SSIM checks")
    p.add_argument("--swap-colors", type=float, default=_D.swap_colors,
                   help="chance of training a face with the other set's colours (default: 0)")  # fmt: skip
    p.add_argument("--no-warp", action="store_true", help="disable the random warp augmentation")
    p.add_argument("--affine", choices=sorted(AFFINE_RANGES),
                   help="rotation/zoom/shift augmentation: live (the live crop's own spread; fast's default) or "
                        "classic (+-10 deg, 5 %%; fast-v1's)")  # fmt: skip
    p.add_argument("--max-faces", type=int, help="load at most this many faces per faceset")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / processes)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(
        faceset_a=args.faceset_a, faceset_b=args.faceset_b, run_dir=args.run_dir, preset=args.preset,
        minutes=args.minutes, steps=args.steps, batch_size=args.batch_size, lr=args.lr, resume=args.resume,
        checkpoint_minutes=args.checkpoint_minutes, keep_checkpoints=max(args.keep, 1),
        preview_every=max(args.preview_every, 1), eval_every=max(args.eval_every, 1), swap_colors=args.swap_colors,
        warp=0.0 if args.no_warp else 1.0, affine=args.affine, max_faces=args.max_faces, threads=args.threads,
        device=args.device, seed=args.seed,
    )  # fmt: skip
    try:  # how A and B cover yaw, pitch and mouth opening (training logs the warnings and writes it into the run)
        print("\n".join(compare_lines(config.faceset_a, config.faceset_b)))
    except SwapcamError:
        pass  # a faceset that cannot be read: main() says so with its own message
    result = main(config)
    if result.checkpoint is not None:
        m = result.metrics
        print(f"step {result.step}" + (" (interrupted)" if result.interrupted else "")
              + (f", loss {m['loss']}, held-out SSIM A {m['ssim_a']} B {m['ssim_b']}" if "loss" in m else ""))  # fmt: skip
        print(f"checkpoint: {result.checkpoint}")
    return 130 if result.interrupted else 0
