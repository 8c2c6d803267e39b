"""The demo runs in the suite, so the README's `make demo` never lies."""

from live import demo
from live.media_io import load_image
from live.provenance import PNG_KEYWORD, read_png_text


def test_demo_writes_its_images(tmp_path, astronaut):
    timings = demo.run(tmp_path, size=128)
    for name in ("landmarks.png", "aligned.png", "pasted.png", "side_by_side.png"):
        assert (tmp_path / name).stat().st_size > 1000
    pasted = load_image(tmp_path / "pasted.png")
    assert pasted.shape == astronaut.shape and (pasted != astronaut).any()
    assert PNG_KEYWORD in read_png_text((tmp_path / "pasted.png").read_bytes())
    assert PNG_KEYWORD not in read_png_text((tmp_path / "landmarks.png").read_bytes())
    assert set(timings) == {"landmarks (image mode)", "align", "mask+colour+blend"}
    assert demo.main(["--out", str(tmp_path / "cli")]) == 0
