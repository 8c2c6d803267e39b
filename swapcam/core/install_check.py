"""Broken-install detection for the inference engines (issue 14), in one line each, with the fix.

Two distributions install the same ``onnxruntime`` module (``onnxruntime`` for CPUs, ``onnxruntime-gpu`` for
NVIDIA GPUs). Installed side by side, whichever came last overwrote the other's files, so the CUDA and TensorRT
providers go missing (or the CPU build half-breaks). swapcam's extras keep them apart (``cpu``, ``cuda12``,
``cuda13``); this module finds the installs that did not go through them, and a GPU build without the CUDA
libraries it was built against. Reads package metadata only: importing it costs nothing, and it never imports
onnxruntime, torch or tensorrt.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata as md
import re
from collections.abc import Callable

# Distributions known to provide the ``onnxruntime`` module (the file check below finds others too).
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
                     "onnxruntime-qnn", "onnxruntime-rocm", "onnxruntime-training", "ort-nightly",
                     "ort-nightly-gpu")  # fmt: skip

# onnxruntime-gpu >= 1.27 is built for CUDA 13, earlier releases (1.19 .. 1.26) for CUDA 12.
CUDA13_FROM = (1, 27)

EXTRA_HINT = ("pip install 'swapcam[cuda12]' (NVIDIA driver >= 525) or 'swapcam[cuda13]' (driver >= 580), "
              "or 'swapcam[cpu]' without a GPU")  # fmt: skip


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions() -> dict[str, str]:
    """{normalised name: version} of every installed distribution, read once per process: parsing every package's
    metadata is ~0.3 s of pure Python, which each GPU engine that ``auto`` tries would pay again, and a model switch
    in the live loop pays on a side thread that takes Python's GIL from the frames (issue 13). The onnxruntime a
    process has imported cannot change under it anyway."""
    return dict(_distributions())


@functools.cache
def _distributions() -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(_norm(name), dist.version)
    return tuple(out.items())


def _provides_onnxruntime(name: str) -> bool:
    if name in ORT_DISTRIBUTIONS:
        return True
    if not (name.startswith("onnxruntime") or name.startswith("ort-")):
        return False
    try:
        files = md.files(name) or []
    except md.PackageNotFoundError:
        return False
    return any(str(f).replace("\\", "/") == "onnxruntime/__init__.py" for f in files)


def onnxruntime_distributions(dists: dict[str, str] | None = None) -> dict[str, str]:
    """{name: version} of the installed distributions that provide the ``onnxruntime`` module."""
    dists = installed_distributions() if dists is None else dists
    return {n: v for n, v in sorted(dists.items()) if _provides_onnxruntime(n)}


def cuda_major_of(ort_gpu_version: str) -> int:
    """The CUDA major an onnxruntime-gpu release from PyPI was built for."""
    parts = tuple(int(p) for p in re.findall(r"\d+", ort_gpu_version)[:2])
    return 13 if parts >= CUDA13_FROM else 12


def _loadable(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def cuda_libraries_found(major: int, dists: dict[str, str], load: Callable[[str], bool] = _loadable) -> bool:
    """Whether CUDA ``major``'s cuBLAS and cuDNN 9 can be found: from NVIDIA's pip packages (which
    ``onnxruntime.preload_dlls()`` loads) or from the system's library path."""
    suffix = "-cu12" if major == 12 else ""
    cublas = any(n in dists for n in (f"nvidia-cublas-cu{major}", f"nvidia-cublas{suffix}"))
    cudnn = f"nvidia-cudnn-cu{major}" in dists
    if cublas and cudnn:
        return True
    return load(f"libcublasLt.so.{major}") and load("libcudnn.so.9")


def problems(dists: dict[str, str] | None = None, *, load: Callable[[str], bool] = _loadable) -> list[str]:
    """What is wrong with the engine packages installed here, one line each, each with its fix; [] if nothing."""
    dists = installed_distributions() if dists is None else dists
    found = onnxruntime_distributions(dists)
    out = []
    if len(found) > 1:
        names = " ".join(found)
        out.append(f"{' and '.join(f'{n} {v}' for n, v in found.items())} are both installed and share the "
                   f"onnxruntime module, so one overwrote the other; fix: pip uninstall -y {names}, then "
                   f"{EXTRA_HINT}")  # fmt: skip
    elif not found:
        out.append(f"no ONNX Runtime is installed; fix: {EXTRA_HINT}")
    gpu = found.get("onnxruntime-gpu")
    if gpu and len(found) == 1:
        major = cuda_major_of(gpu)
        if not cuda_libraries_found(major, dists, load):
            out.append(f"onnxruntime-gpu {gpu} is built for CUDA {major} but finds no CUDA {major} cuBLAS/cuDNN 9 "
                       f"libraries; fix: pip install 'swapcam[cuda{major}]' (brings them as pip packages), or "
                       f"install CUDA {major} and cuDNN 9")  # fmt: skip
    return out


def notes(dists: dict[str, str] | None = None) -> list[str]:
    """Facts about the GPU packages that are not faults but explain which engines can start."""
    dists = installed_distributions() if dists is None else dists
    out = []
    trt = next(((n, v) for n, v in dists.items() if n in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13")), None)
    if trt:
        major = int(re.findall(r"\d+", trt[1])[0])
        if major >= 11:
            out.append(f"{trt[0]} {trt[1]}: ONNX Runtime's TensorRT provider links TensorRT 10 (libnvinfer.so.10), "
                       "so ort-trt cannot start; the native tensorrt engine can (pin tensorrt-cu12/-cu13 < 11, as "
                       "the extras do, for both)")  # fmt: skip
    cuda_python = dists.get("cuda-python")
    gpu = onnxruntime_distributions(dists).get("onnxruntime-gpu")
    if cuda_python and gpu:
        cp, ort = int(re.findall(r"\d+", cuda_python)[0]), cuda_major_of(gpu)
        if cp != ort:
            out.append(f"cuda-python {cuda_python} is for CUDA {cp}, onnxruntime-gpu {gpu} for CUDA {ort}: "
                       f"install one generation (swapcam[cuda{ort}])")  # fmt: skip
    return out
