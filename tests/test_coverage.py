"""Faceset coverage (issue 15): yaw, pitch and mouth opening from the records extract writes; the plain warning when
B's footage never opens the mouth as A's does; the report in facesets, runs and model metadata; the live count of
frames outside the model's coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from swapcam.live.coverage_watch import COUNTER, CoverageWatch
from swapcam.live.telemetry import Telemetry
from swapcam.trainer.coverage import (
    compare_lines,
    coverage_of,
    faceset_coverage,
    warnings_for,
    write_run_coverage,  # fmt: skip
)
from swapcam.trainer.faceset import FaceRecord

from swapcam import FaceSwap
from swapcam.core.media_io import read_video
from swapcam.core.model_info import ModelInfo, read_model_info
from swapcam.core.pose import mouth_opening
from tests.conftest import SHARED_DATA, shared


def _split(src: str, dst: Path, *, max_mouth: float) -> str:
    """A copy of faceset ``src``'s index keeping only the faces whose mouth opens less than ``max_mouth`` IOD (the
    records are all coverage reads)."""
    dst.mkdir(parents=True)
    (dst / "faceset.json").write_text((Path(src) / "faceset.json").read_text())
    lines = [ln for ln in (Path(src) / "index.jsonl").read_text().splitlines()
             if mouth_opening(FaceRecord.from_json(ln).landmarks) < max_mouth]  # fmt: skip
    assert len(lines) >= 3
    (dst / "index.jsonl").write_text("\n".join(lines) + "\n")
    return str(dst)


def test_coverage_reads_pose_and_mouth_from_the_records(facesets):
    shared("clips/person_a.mp4")  # the figures below are person_a's and person_b's (the portraits never talk)
    a = faceset_coverage(facesets[0])
    assert a.faces > 50
    assert a.mouth[0] < 0.05 and a.mouth[1] > 0.3  # person_a talks: shut to wide open
    assert -20 < a.yaw[0] < a.yaw[1] < 20 and -25 < a.pitch[0] < a.pitch[1] < 20
    assert sum(a.histograms["mouth"]) == a.faces


def test_a_split_where_b_never_opens_the_mouth_warns_plainly(facesets, tmp_path):
    shared("clips/person_b.mp4")  # needs footage of B talking (the portraits never open the mouth)
    a = facesets[0]
    b = _split(facesets[1], tmp_path / "b_closed", max_mouth=0.09)
    warns = warnings_for(faceset_coverage(a), faceset_coverage(b))
    mouth = [w for w in warns if "mouth" in w]
    assert len(mouth) == 1
    assert mouth[0].startswith("B never opens the mouth beyond 0.0") and "IOD; A does to 0." in mouth[0]
    assert "film B talking and laughing, or use mouth pass-through" in mouth[0]
    # The full facesets: both talk, so no mouth warning.
    assert not [w for w in warnings_for(faceset_coverage(a), faceset_coverage(facesets[1])) if "mouth" in w]
    # What training writes into the run folder, and prints before it starts.
    run = tmp_path / "run"
    assert write_run_coverage(a, b, run) == warns
    doc = json.loads((run / "coverage.json").read_text())
    assert doc["warnings"] == warns and doc["shared"]["mouth"][1] < 0.09
    assert "B never opens the mouth" in (run / "coverage.txt").read_text()
    assert any(line.startswith("mouth (IOD)") for line in compare_lines(a, b))


def test_head_turn_warnings_name_the_side():
    a = coverage_of(np.linspace(-35, 30, 50), np.linspace(-5, 5, 50), np.linspace(0, 0.1, 50))
    b = coverage_of(np.linspace(-10, 10, 50), np.linspace(-5, 5, 50), np.linspace(0, 0.1, 50))
    warns = warnings_for(a, b)
    assert len(warns) == 2 and all("yaw" in w for w in warns)
    assert any("turns left beyond -10° yaw" in w for w in warns) and any("right beyond +10°" in w for w in warns)


def test_extract_prints_and_writes_the_coverage(tmp_path, capsys):
    from swapcam.cli import main as cli

    out = tmp_path / "fs"
    assert cli(["extract", str(shared("images/obama.jpg")), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mouth (IOD)" in printed and "yaw (deg)" in printed
    assert json.loads((out / "coverage.json").read_text())["facesets"]["this faceset"]["faces"] == 1


def test_the_model_stores_its_coverage_and_old_models_still_load(tiny_model):
    info = read_model_info(tiny_model)
    ranges = info.coverage_ranges()
    assert set(ranges) == {"yaw", "pitch", "mouth"}
    if (shared_clip := SHARED_DATA / "clips/person_a.mp4").is_file():  # person_a talks; the portraits do not
        assert ranges["mouth"][1] > 0.2, shared_clip
    meta = info.to_metadata()
    del meta["train.coverage"]  # a model exported before issue 15
    assert ModelInfo.from_metadata(meta).coverage_ranges() == {}


def test_live_counts_frames_outside_the_coverage(tiny_model, detect):
    frames = [f.image for f in read_video(shared("clips/person_a.mp4")) if f.frame_id in (40, 120, 500)]
    # The watch alone: a mouth wide open is outside a model whose footage never opened it.
    watch = CoverageWatch({"mouth": (0.0, 0.09), "yaw": (-30.0, 30.0)}, Telemetry())
    assert [watch.outside(detect(im)[0]) for im in frames] == [[], ["mouth"], ["mouth"]]
    # Wired into the loop with the model's own ranges.
    with FaceSwap(tiny_model, "ort-cpu", threads=1, video=False) as swap:
        expected = sum(bool(swap._pipeline.coverage.outside(detect(im)[0])) for im in frames)
        for im in frames:
            swap.swap(im)
        assert swap.telemetry.counters[COUNTER] == expected
        assert COUNTER in swap.telemetry.summary()


@pytest.mark.parametrize("coverage", ["[1, 2]", '{"mouth": [0.1]}', "not json"])
def test_malformed_coverage_metadata_is_one_clear_error(tiny_model, coverage):
    from swapcam.core.errors import SwapcamError

    meta = read_model_info(tiny_model).to_metadata()
    meta["train.coverage"] = coverage
    with pytest.raises(SwapcamError, match="metadata incomplete or malformed"):
        ModelInfo.from_metadata(meta)
