"""The installed shape of the project: one top-level package, layers that import one way, no import cycle, and the
README's embedding example running as written."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, clip_a

# where each part of the one package lives in the repository (pyproject.toml's package-dir)
PACKAGE_DIRS = {"swapcam": "swapcam", "swapcam.live": "live", "swapcam.export": "export",
                "swapcam.trainer": "trainer", "swapcam.evaluate": "evaluate"}  # fmt: skip


def _modules() -> dict[str, Path]:
    """module name -> source file, for every module of the package."""
    found = {}
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda kv: -len(kv[0])):
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if package == "swapcam" and len(parts) and parts[0] in ("live", "export", "trainer", "evaluate"):
                continue
            found.setdefault(name, path)
    return found


def _top_level_imports(path: Path, name: str) -> set[str]:
    """swapcam modules imported when ``name`` is imported: module-level statements only (not inside functions,
    which run later) and not under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def visit(body) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("swapcam"))
            elif isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    module = ".".join(base[: len(base) - node.level + 1] + [node.module])
                if module.startswith("swapcam"):
                    out.add(module)
                    out.update(f"{module}.{a.name}" for a in node.names)

    visit(tree.body)
    return out


@pytest.fixture(scope="module")
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _top_level_imports(path, name) if m in modules} for name, path in modules.items()}


def test_the_core_imports_nothing_above_it(import_graph):
    above = ("swapcam.live", "swapcam.trainer", "swapcam.export", "swapcam.evaluate", "swapcam.cli", "swapcam.demo")
    for name, imports in import_graph.items():
        if name.startswith("swapcam.core"):
            bad = sorted(m for m in imports if m.startswith(above))
            assert not bad, f"{name} imports {bad}"
    for name, imports in import_graph.items():  # and nothing but the demo imports the demo
        if name != "swapcam.demo":
            assert "swapcam.demo" not in imports, name


def test_no_import_cycle(import_graph):
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(import_graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(import_graph):
        if name not in state:
            visit(name, [name])


def test_the_wheel_installs_one_top_level_name(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "--disable-pip-version-check", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("swapcam-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"swapcam"}, sorted(top)
    for module in ("swapcam/__init__.py", "swapcam/live/faceswap.py", "swapcam/core/align.py",
                   "swapcam/trainer/train.py", "swapcam/export/api.py", "swapcam/evaluate/api.py",
                   "swapcam/live/sinks/av_out.py", "swapcam/core/engines/ort.py"):  # fmt: skip
        assert module in names, module
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- embedding-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its embedding example (marked <!-- embedding-example -->)"
    return match.group(1)


def test_the_readme_embedding_example_runs_as_written(tiny_model, tmp_path):
    """The README's Python example, unchanged but for the two file names, on a real clip with a real model."""
    import av
    import numpy as np

    code = _readme_example()
    assert '"model.onnx"' in code and '"input.mp4"' in code and '"output.mp4"' in code
    src = tmp_path / "input.mp4"
    with av.open(str(clip_a())) as inp, av.open(str(src), "w") as out:  # the first 40 frames of clip A
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 480, 480, "yuv420p"
        for i, frame in enumerate(inp.decode(video=0)):
            if i == 40:
                break
            for pkt in v.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                out.mux(pkt)
        for pkt in v.encode(None):
            out.mux(pkt)
    code = code.replace('"model.onnx"', repr(str(tiny_model))).replace('"input.mp4"', repr(str(src)))
    code = code.replace('"output.mp4"', repr(str(tmp_path / "output.mp4")))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with av.open(str(src)) as a, av.open(str(tmp_path / "output.mp4")) as b:
        before = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        after = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
        assert b.metadata.get("swapcam_synthetic") == "true"  # written files say they are synthetic
    assert len(after) == len(before) == 40
    changed = [np.abs(x.astype(int) - y).mean() for x, y in zip(before, after)]
    assert np.median(changed) > 0.5  # the face was swapped, frame after frame
