"""The command line: help, version, and bad input as one line on stderr with a non-zero exit."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from swapcam import __version__
from swapcam.cli import main
from swapcam.core.media_io import write_image
from swapcam.core.provenance import PNG_KEYWORD, SYNTHETIC_NOTE, read_png_text


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _swapcam(*args: str) -> Result:
    """Runs ``swapcam ARGS`` in this process (the CLI's main), capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return Result(code, out.getvalue(), err.getvalue())


def _one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("swapcam: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_and_version():
    result = _swapcam("--help")
    assert result.returncode == 0 and "faces" in result.stdout
    result = _swapcam("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"swapcam {__version__}"


def test_the_console_script_starts_without_torch(tmp_path):
    """The installed ``swapcam`` script, as a user runs it: --help and a bad ``info`` import neither torch nor any
    command module they do not use (start-up time; issue 11)."""
    script = Path(sys.executable).with_name("swapcam")
    assert script.is_file(), "swapcam console script not installed"
    probe = ("import sys\nfrom swapcam.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    for args in (["--help"], ["info", str(tmp_path / "missing.onnx")]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        assert result.stderr.strip().endswith("NO-TORCH"), (args, result.stderr)
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "COMMAND" in result.stdout


def test_missing_file_is_one_line(tmp_path):
    result = _swapcam("faces", str(tmp_path / "nope.jpg"))
    assert result.returncode == 2
    assert "no such file" in _one_error_line(result)


def test_unreadable_image_is_one_line(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    result = _swapcam("faces", str(bad))
    assert result.returncode == 2
    assert "cannot read image" in _one_error_line(result)


def test_unreadable_and_truncated_video_is_one_line(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    result = _swapcam("faces", str(bad))
    assert result.returncode == 2
    assert "cannot read video" in _one_error_line(result)


def test_truncated_real_video_is_one_line(tmp_path):
    from tests.conftest import shared

    clip = shared("clips/person_b.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip[: len(clip) // 3])  # the moov atom of this file sits at the end: unreadable
    result = _swapcam("faces", str(cut))
    assert result.returncode == 2
    _one_error_line(result)


def test_unknown_extension_is_one_line(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert main(["faces", str(other)]) == 2


def test_no_face_exits_one_and_says_so(tmp_path, capsys):
    blank = tmp_path / "wall.png"
    write_image(blank, np.full((240, 320, 3), 128, np.uint8), synthetic=False)
    assert main(["faces", str(blank)]) == 1
    assert "0 face(s)" in capsys.readouterr().out


def test_faces_writes_crops_and_a_pasted_image_with_provenance(tmp_path, astronaut, hopper, capsys):
    a, h = tmp_path / "astronaut.png", tmp_path / "hopper.png"
    write_image(a, astronaut, synthetic=False)
    write_image(h, hopper, synthetic=False)
    out = tmp_path / "out"
    assert main(["faces", str(a), "-o", str(out), "--paste", str(h), "--size", "128"]) == 0
    assert "1 face(s)" in capsys.readouterr().out
    from swapcam.core.media_io import load_image

    assert load_image(out / "astronaut_face0_aligned.png").shape == (128, 128, 3)
    pasted = (out / "astronaut_pasted.png").read_bytes()
    assert read_png_text(pasted)[PNG_KEYWORD] == SYNTHETIC_NOTE
    assert not np.array_equal(load_image(out / "astronaut_pasted.png"), astronaut)
    # --no-provenance is the explicit way out
    assert main(["faces", str(a), "-o", str(tmp_path / "plain"), "--paste", str(h), "--no-provenance"]) == 0
    assert PNG_KEYWORD not in read_png_text((tmp_path / "plain" / "astronaut_pasted.png").read_bytes())


def test_paste_image_without_a_face_is_one_line(tmp_path):
    blank = tmp_path / "wall.png"
    write_image(blank, np.full((240, 320, 3), 128, np.uint8), synthetic=False)
    result = _swapcam("faces", str(blank), "--paste", str(blank))
    assert result.returncode == 2
    assert "no face found" in _one_error_line(result)


@pytest.mark.parametrize("every", ["5"])
def test_faces_on_a_real_video_reports_frames(every, capsys):
    from tests.conftest import shared

    clip = shared("clips/greenscreen_short.mp4")
    assert main(["faces", str(clip), "--every", every]) == 0
    out = capsys.readouterr().out
    assert "16 frames, a face in 16 (100.0%)" in out  # 78 frames, every 5th
