"""``swapcam``: a thin command-line shell over the library. Each subcommand lives in its own module with
``add_arguments(parser)`` and ``run(args) -> int``; errors reach the user as one line on stderr.

Only the module of the command being run is imported (``swapcam --help`` imports none of them), so a command pays
for what it uses: ``swapcam info`` and ``swapcam live`` never import torch."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from swapcam.core.version import __version__
from swapcam.core.errors import SwapcamError

# name -> (module, one-line help). Adding a command is one module and one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "faces": ("swapcam.live.cli_faces", "find faces in images or videos; write landmarks, aligned crops and masks"),
    "extract": ("swapcam.trainer.cli_extract", "extract aligned faces from videos, images or folders into a faceset"),
    "train": ("swapcam.trainer.cli_train", "train the two-decoder face-swap autoencoder on two facesets"),
    "info": ("swapcam.live.cli_info", "show what a model file says about itself (people, resolution, alignment, precision)"),
    "live": ("swapcam.live.cli_live", "swap faces live: camera/file/stream in, virtual webcam/file/stream/window out"),
    "convert": ("swapcam.live.cli_convert", "swap faces in a video file, every frame, keeping its audio"),
    "export": ("swapcam.export.cli_export", "export a training run as a self-describing ONNX model (+ int8, fp16, TensorRT)"),
    "eval": ("swapcam.evaluate.cli_eval", "measure a swap: identity retrieval, head-pose error, mouth, background, jitter"),
    "verify": ("swapcam.live.cli_verify", "is a video or image marked by swapcam's invisible watermark? exit 0 yes, 1 no"),
    "doctor": ("swapcam.live.cli_doctor", "check the install: which inference engines start here, and why not the others"),
}


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is one), without importing anything."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None  # a stray word: argparse reports it
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; only ``command``'s module is imported to add its options (all of them when None and
    ``command`` is not given, which tests use to check every command's options)."""
    parser = argparse.ArgumentParser(
        prog="swapcam",
        description="Real-time face swap: train a model of two people, export it, run it live. "
        "Everything it writes is marked as synthetic.",
    )
    parser.add_argument("--version", action="version", version=f"swapcam {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if command is None or name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv) or "")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except SwapcamError as exc:
        print(f"swapcam: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("swapcam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
