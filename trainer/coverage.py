"""Coverage of a faceset (issue 15): how far its faces turn (yaw, pitch) and open the mouth.

A two-decoder model draws only what its footage showed: if B never opens the mouth wider than 0.09 inter-ocular
distances (IOD), the swap keeps B's lips closed however wide A opens hers. ``swapcam extract`` prints a faceset's
coverage and writes it beside the faceset; ``swapcam train`` compares A with B, warns where B lacks what A has, and
writes the comparison into the run folder; ``swapcam export`` stores the range both people showed in the model's
metadata, and the live loop counts the frames whose face is outside it.

Everything comes from the per-face records extract writes (``index.jsonl``): yaw and pitch as recorded
(``swapcam.core.pose``), the mouth opening from the stored crop landmarks (``swapcam.core.pose.mouth_opening``, a
ratio, so the crop's scale does not matter). Facesets extracted before this module existed read the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from swapcam.core.atomic import write_atomic
from swapcam.core.pose import mouth_opening

log = logging.getLogger(__name__)

AXES: tuple[str, ...] = ("yaw", "pitch", "mouth")
UNITS = {"yaw": "deg", "pitch": "deg", "mouth": "IOD"}
# A range is the 1st to the 99th percentile: one odd frame (a landmark glitch) does not widen it.
LOW_PCT, HIGH_PCT = 1.0, 99.0
# B "lacks" what A has when A goes beyond B's range by more than this (per axis; the mouth: 0.05 IOD or a quarter
# of B's widest, whichever is more, since 0.5 against 0.6 IOD is wide open either way).
MARGIN = {"yaw": 5.0, "pitch": 5.0, "mouth": 0.05}
MOUTH_RELATIVE_MARGIN = 0.25
BINS = {"yaw": np.arange(-60.0, 61.0, 5.0), "pitch": np.arange(-45.0, 46.0, 5.0), "mouth": np.arange(0.0, 0.81, 0.05)}


@dataclass(frozen=True)
class Coverage:
    faces: int
    yaw: tuple[float, float]  # (1st, 99th percentile), degrees; > 0 the nose turns towards the image's right
    pitch: tuple[float, float]  # degrees; > 0 the face looks up
    mouth: tuple[float, float]  # inner-lip gap, inter-ocular distances
    histograms: dict[str, list[int]]  # counts per BINS[axis] bin (values outside are clipped into the end bins)

    def range(self, axis: str) -> tuple[float, float]:
        return getattr(self, axis)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Coverage:
        return cls(int(d["faces"]), *(tuple(map(float, d[a])) for a in AXES), dict(d.get("histograms", {})))


def coverage_of(yaw: np.ndarray, pitch: np.ndarray, mouth: np.ndarray) -> Coverage:
    """Coverage of N faces: (N,) float arrays of yaw and pitch (degrees) and mouth opening (IOD)."""
    values = {"yaw": np.asarray(yaw, float), "pitch": np.asarray(pitch, float), "mouth": np.asarray(mouth, float)}
    n = len(values["yaw"])
    if n == 0:
        return Coverage(0, (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), {a: [0] * (len(BINS[a]) - 1) for a in AXES})
    ranges = {a: tuple(round(float(x), 3) for x in np.percentile(v, [LOW_PCT, HIGH_PCT])) for a, v in values.items()}
    hists = {}
    for a, v in values.items():
        edges = BINS[a]
        hists[a] = np.histogram(np.clip(v, edges[0], edges[-1] - 1e-9), bins=edges)[0].astype(int).tolist()
    return Coverage(n, ranges["yaw"], ranges["pitch"], ranges["mouth"], hists)


def faceset_coverage(root: str | Path) -> Coverage:
    """The coverage of a faceset folder, from its index (a SwapcamError if it is not a faceset)."""
    from swapcam.trainer.faceset import FacesetStore

    records = FacesetStore(root).records()
    return coverage_of(np.array([r.yaw for r in records]), np.array([r.pitch for r in records]),
                       np.array([mouth_opening(r.landmarks) for r in records]))  # fmt: skip


def table(columns: dict[str, Coverage]) -> list[str]:
    """A small text table: one row per axis, one column per faceset (its 1st-99th percentile range)."""
    names = list(columns)
    head = f"{'coverage':<18}" + "".join(f"{n:>20}" for n in names)
    rows = [head, f"{'faces':<18}" + "".join(f"{c.faces:>20}" for c in columns.values())]
    for a in AXES:
        cells = []
        for c in columns.values():
            lo, hi = c.range(a)
            cells.append(f"{lo:+.2f} .. {hi:+.2f}" if a == "mouth" else f"{lo:+.0f} .. {hi:+.0f}")
        rows.append(f"{a + ' (' + UNITS[a] + ')':<18}" + "".join(f"{s:>20}" for s in cells))
    return rows


def _deg(v: float) -> str:
    return f"{v:+.0f}°"


def warnings_for(a: Coverage, b: Coverage) -> list[str]:
    """Plain sentences where B's footage lacks what A's has (the model renders B: it cannot follow A there)."""
    if a.faces == 0 or b.faces == 0:
        return []
    out = []
    if a.mouth[1] > b.mouth[1] + max(MARGIN["mouth"], MOUTH_RELATIVE_MARGIN * b.mouth[1]):
        out.append(f"B never opens the mouth beyond {b.mouth[1]:.2f} IOD; A does to {a.mouth[1]:.2f}: the swap will "
                   "not follow — film B talking and laughing, or use mouth pass-through (--mouth auto)")  # fmt: skip
    for axis, (neg, pos), hint in (
        ("yaw", ("left", "right"), "film B turning the head further to each side"),
        ("pitch", ("down", "up"), "film B looking further up and down"),
    ):
        (alo, ahi), (blo, bhi) = a.range(axis), b.range(axis)
        if ahi > bhi + MARGIN[axis]:
            out.append(f"B never turns {pos} beyond {_deg(bhi)} {axis}; A does to {_deg(ahi)}: the swap will not "
                       f"follow there — {hint}")  # fmt: skip
        if alo < blo - MARGIN[axis]:
            out.append(f"B never turns {neg} beyond {_deg(blo)} {axis}; A does to {_deg(alo)}: the swap will not "
                       f"follow there — {hint}")  # fmt: skip
    return out


def shared_range(a: Coverage, b: Coverage) -> dict[str, list[float]]:
    """What both people showed, per axis: the range a model trained on them has seen on both sides (the model's
    training coverage, stored in its metadata)."""
    out = {}
    for axis in AXES:
        (alo, ahi), (blo, bhi) = a.range(axis), b.range(axis)
        out[axis] = [max(alo, blo), min(ahi, bhi)]
    return out


def write_histogram_png(path: Path, columns: dict[str, Coverage]) -> Path | None:
    """A PNG with one histogram per axis, one bar series per faceset; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, len(AXES), figsize=(4 * len(AXES), 3), dpi=100)
    for ax, axis in zip(axes, AXES):
        edges = BINS[axis]
        width = (edges[1] - edges[0]) / max(len(columns), 1)
        for i, (name, c) in enumerate(columns.items()):
            counts = np.array(c.histograms.get(axis, [0] * (len(edges) - 1)), float)
            share = counts / max(counts.sum(), 1)
            ax.bar(edges[:-1] + i * width, share, width=width, align="edge", label=name)
        ax.set_xlabel(f"{axis} ({UNITS[axis]})")
        ax.set_ylabel("share of faces")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(folder: str | Path, columns: dict[str, Coverage], warnings: list[str] = (), *,
                 name: str = "coverage") -> Path:  # fmt: skip
    """Writes NAME.json (ranges, histograms, warnings), NAME.txt (the table and warnings) and NAME.png (if
    matplotlib is there) into ``folder``; returns the JSON path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"format": "swapcam-coverage/1", "percentiles": [LOW_PCT, HIGH_PCT],
           "facesets": {k: c.to_dict() for k, c in columns.items()}, "warnings": list(warnings)}  # fmt: skip
    if len(columns) == 2:
        a, b = columns.values()
        doc["shared"] = shared_range(a, b)
    path = write_atomic(folder / f"{name}.json", json.dumps(doc, indent=1) + "\n", sync=False)
    write_atomic(folder / f"{name}.txt", "\n".join(table(columns) + [f"warning: {w}" for w in warnings]) + "\n",
                 sync=False)  # fmt: skip
    write_histogram_png(folder / f"{name}.png", columns)
    return Path(path)


def write_run_coverage(faceset_a: str, faceset_b: str, run: str | Path) -> list[str]:
    """``swapcam train``'s coverage step: compares A with B, logs the table and the warnings, writes
    coverage.json/.txt/.png into the run folder; returns the warnings. Never stops a run: a faceset it cannot
    read is left to the data loader's own error."""
    try:
        a, b = faceset_coverage(faceset_a), faceset_coverage(faceset_b)
    except Exception as exc:  # noqa: BLE001 - the loader reports bad facesets with its own message
        log.debug("coverage not computed: %s", exc)
        return []
    columns = {"A (--from)": a, "B (--to)": b}
    warns = warnings_for(a, b)
    log.info("faceset coverage (1st-99th percentile):\n%s", "\n".join(table(columns)))
    for w in warns:
        log.warning("%s", w)
    write_report(run, columns, warns)
    return warns


def compare_lines(faceset_a: str, faceset_b: str) -> list[str]:
    """The A-vs-B table as text lines, for the CLI to print before training starts (the warnings are logged by
    ``write_run_coverage``, which training runs)."""
    return table({"A (--from)": faceset_coverage(faceset_a), "B (--to)": faceset_coverage(faceset_b)})


def run_coverage(run: str | Path) -> dict | None:
    """The ``shared`` ranges a training run wrote (coverage.json beside its checkpoints), or None."""
    run = Path(run)
    for folder in (run, run.parent, run.parent.parent):  # RUN, or RUN/checkpoints/step-N.pt
        path = folder / "coverage.json"
        if path.is_file():
            try:
                return json.loads(path.read_text()).get("shared")
            except ValueError:
                return None
    return None
