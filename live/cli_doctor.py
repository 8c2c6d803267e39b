"""``swapcam doctor [MODEL.onnx]``: is the install sound, and which inference engines start here (and why not the
others). Without a model it starts each engine on a small probe model with swapcam's interface (built with
``onnx``, no training needed). Never imports torch. Exit status 0 when the install is sound, 1 when it is not."""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", metavar="MODEL.onnx", help="start the engines on this model (default: a "
                   "small probe model)")  # fmt: skip


def probe_model(path: Path, size: int = 64) -> Path:
    """A tiny model with swapcam's interface and metadata: ``swapped`` = the input, ``mask`` = its channel mean."""
    import onnx
    from onnx import TensorProto, helper

    from swapcam.core.align import AlignSpec
    from swapcam.core.model_info import INPUT_NAME, OUTPUT_NAMES, ModelInfo

    shape = lambda c: ["N", c, size, size]  # noqa: E731
    graph = helper.make_graph(
        [helper.make_node("Identity", [INPUT_NAME], [OUTPUT_NAMES[0]]),
         helper.make_node("ReduceMean", [INPUT_NAME], [OUTPUT_NAMES[1]], axes=[1], keepdims=1)],
        "swapcam_probe",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, shape(3))],
        [helper.make_tensor_value_info(OUTPUT_NAMES[0], TensorProto.FLOAT, shape(3)),
         helper.make_tensor_value_info(OUTPUT_NAMES[1], TensorProto.FLOAT, shape(1))],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    info = ModelInfo(AlignSpec(size), "probe", 0, "probe", "probe", "a2b")
    for key, value in info.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def run(args: argparse.Namespace) -> int:
    from swapcam import __version__
    from swapcam.core import install_check
    from swapcam.core.engines import ENGINES, EngineConfig, open_engine
    from swapcam.core.errors import SwapcamError

    dists = install_check.installed_distributions()
    ort = install_check.onnxruntime_distributions(dists)
    print(f"swapcam {__version__}, Python {platform.python_version()}")
    print("ONNX Runtime: " + (", ".join(f"{n} {v}" for n, v in ort.items()) or "not installed"))
    gpu_pkgs = {n: v for n, v in dists.items() if n.startswith(("tensorrt", "cuda-python", "nvidia-cudnn",
                                                                  "nvidia-cublas"))}  # fmt: skip
    if gpu_pkgs:
        print("GPU packages: " + ", ".join(f"{n} {v}" for n, v in sorted(gpu_pkgs.items())))
    problems = install_check.problems(dists)
    for line in problems:
        print(f"PROBLEM: {line}")
    for line in install_check.notes(dists):
        print(f"note: {line}")
    if not problems:
        print("install: sound")
    with tempfile.TemporaryDirectory(prefix="swapcam-doctor-") as tmp:
        model = Path(args.model) if args.model else probe_model(Path(tmp) / "probe.onnx")
        config = EngineConfig(cache_dir=str(Path(tmp) / "engines")) if not args.model else EngineConfig()
        print(f"engines on {'the probe model' if not args.model else model}:")
        first = None
        for name in ENGINES:
            try:
                with open_engine(model, name, config):
                    pass
            except SwapcamError as exc:
                reason = str(exc).removeprefix("no inference engine can run here: ").removeprefix(f"{name}: ")
                print(f"  {name:<9} no   {reason}")
                continue
            first = first or name
            print(f"  {name:<9} yes")
        print(f"`--engine auto` picks: {first or 'none'}")
    return 1 if problems else 0
