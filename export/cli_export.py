"""``swapcam export``: a training run -> a self-describing ONNX model file (+ int8 / fp16 / TensorRT)."""

from __future__ import annotations

import argparse

from swapcam.export.config import ExportConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = ExportConfig("", "")
    p.add_argument("run", metavar="RUN_DIR", help="training run folder (its newest checkpoint) or a checkpoint file")
    p.add_argument("-o", "--out", required=True, metavar="MODEL.onnx", help="the fp32 model file to write")
    p.add_argument("--direction", choices=("a2b", "b2a"), default=d.direction,
                   help="a2b: the camera shows --from, the output looks like --to (default, as trained)")
    p.add_argument("--faces", metavar="FACESET", help="real faces for the parity check (default: the run's "
                   "--from faceset, else the bundled portraits)")  # fmt: skip
    p.add_argument("--int8", action="store_true", help="also write MODEL.int8.onnx (static quantisation, for CPUs)")
    p.add_argument("--calibration", metavar="FACESET", help="faces to calibrate int8 on (default: as --faces)")
    p.add_argument("--fp16", action="store_true", help="also write MODEL.fp16.onnx (for GPUs)")
    p.add_argument("--tensorrt", metavar="ENGINE.plan", help="also build a native TensorRT plan (NVIDIA GPU only)")
    p.add_argument("--opset", type=int, default=d.opset, help=f"ONNX opset (default: {d.opset})")


def run(args: argparse.Namespace) -> int:
    from swapcam.export.api import export_model

    result = export_model(ExportConfig(
        args.run, args.out, direction=args.direction, faces=args.faces, int8=args.int8,
        calibration=args.calibration, fp16=args.fp16, tensorrt=args.tensorrt, opset=args.opset,
    ))  # fmt: skip
    info = result.info
    print(f"wrote {result.path}: {info.source} -> {info.target}, preset {info.preset}, step {info.step}, "
          f"{info.resolution} px")  # fmt: skip
    print(f"  parity: max |ONNX Runtime - PyTorch| = {result.parity_max_diff:.2e} on {result.parity_faces}")
    if result.int8_path:
        print(f"wrote {result.int8_path}: {result.int8_check.summary()}")
    if result.fp16_path:
        check = result.fp16_check
        print(f"wrote {result.fp16_path}: {check if isinstance(check, str) else check.summary()}")
    if result.plan_path:
        print(f"wrote {result.plan_path} (TensorRT plan; sidecar {result.plan_path}.json)")
    return 0
