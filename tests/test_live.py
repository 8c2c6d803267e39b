"""The live loop and offline convert on real footage with a model from a tiny training run: frame counts, sizes,
rates, audio, pixels outside the face untouched, the real pyvirtualcam.Camera fed through an in-memory backend,
a UDP stream received and decoded, clean stops and one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import av
import cv2
import numpy as np
import pytest
import pyvirtualcam

from swapcam.cli import main as cli
from swapcam.live.convert import ConvertConfig, convert
from swapcam.live.runner import LiveConfig, run_live
from swapcam.live.sinks import SinkOptions
from tests.conftest import ROOT, clip_a, make_clip, shared


def _decode(path, every: int = 1) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i % every == 0]


def _video_info(path) -> tuple[int, int, float, int, int]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        shape = (v.codec_context.width, v.codec_context.height, float(v.average_rate))
        n = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        audio = sum(1 for p in c.demux(audio=0) if p.dts is not None) if c.streams.audio else 0
    return (*shape, n, audio)


def _hull_mask(image: np.ndarray, detect, grow: float) -> np.ndarray:
    """uint8 mask of the landmarks' convex hull scaled by ``grow`` about its centre (1.0: the hull itself)."""
    faces = detect(image)
    assert faces, "no face in a frame of the test clip"
    pts = faces[0].landmarks
    c = pts.mean(axis=0)
    hull = cv2.convexHull(((pts - c) * grow + c).astype(np.int32))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    return mask


@pytest.fixture(scope="module")
def converted(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("convert") / "person_a_swapped.mp4"
    result = convert(ConvertConfig(str(tiny_model), str(clip_a()), str(out), progress=False))
    return result, out


def test_convert_keeps_every_frame_the_size_rate_and_audio(converted):
    result, out = converted
    src = clip_a()
    w, h, fps, n, audio = _video_info(src)
    assert _video_info(out) == (w, h, fps, n, audio)
    assert result.frames == n and result.frames_with_face > 0.95 * n and not result.interrupted
    # the watermark placed by verify's tracker on every swapped frame (swapcam.live.mark_track), not sampled
    stages = result.stats["stages"]
    assert stages["mark track"]["n"] == stages["composite"]["n"] > 0 and "mark align" not in stages
    with av.open(str(out)) as c:
        assert "Synthetic media" in c.metadata["comment"] and c.metadata["swapcam_model"] == "tiny.onnx"


def test_convert_changes_the_face_and_nothing_outside_it(converted, detect):
    _, out = converted
    before = _decode(clip_a(), every=40)
    after = _decode(out, every=40)
    assert len(before) == len(after) >= 10
    for a, b in zip(before, after):
        outside = _hull_mask(a, detect, 1.5) == 0  # the dilated face hull: the blend never reaches past it
        inside = _hull_mask(a, detect, 0.6) > 0  # the middle of the face
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))  # (H, W, 3)
        # codec noise only: the output is a re-encode (x264 crf 18) of a decoded H.264 input
        assert diff[outside].mean() < 2.0 and np.percentile(diff[outside], 99) <= 8  # 1.76 on the portrait clip
        assert diff[inside].mean() > 8  # a different face (a tiny model's, blurred, but clearly changed)


def test_convert_carries_generated_audio_and_can_drop_provenance(tiny_model, tmp_path):
    frames = _decode(clip_a(), every=10)[:45]
    clip = make_clip(tmp_path / "tone.mkv", frames, audio_hz=440.0, audio_codec="pcm_s16le")
    out = tmp_path / "tone_swapped.mp4"
    assert cli(["convert", "--model", str(tiny_model), "--no-provenance", str(clip), str(out)]) == 0
    with av.open(str(out)) as c:
        assert "comment" not in c.metadata
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"  # PCM does not go into MP4: re-encoded
        assert a.codec_context.layout.name == "mono"
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(a)])
    assert abs(len(samples) / 48000 - 1.5) < 0.1  # 45 frames at 30 fps
    spectrum = np.abs(np.fft.rfft(samples[4800:48000]))
    assert abs(np.argmax(spectrum) * 48000 / len(samples[4800:48000]) - 440) < 5  # the same tone


def test_a_clip_without_faces_passes_through(tiny_model, tmp_path):
    wall = _decode(clip_a(), every=200)[0][:160, :160]  # a corner with no face in it
    frames = [np.ascontiguousarray(np.roll(wall, i, axis=1)) for i in range(20)]
    clip = make_clip(tmp_path / "wall.mp4", frames)
    result = convert(ConvertConfig(str(tiny_model), str(clip), str(tmp_path / "wall_out.mp4"), progress=False))
    assert result.frames == 20 and result.frames_with_face == 0
    for a, b in zip(_decode(clip), _decode(tmp_path / "wall_out.mp4")):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.5


class MemoryCamera:
    """A pyvirtualcam backend that keeps what it is sent (the v4l2 backend needs a kernel module)."""

    received: list[np.ndarray] = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        assert fourcc == int.from_bytes(b"raw ", "little")  # libyuv FourCC of packed RGB
        self._device = device or "memory0"
        self._shape = (height, width, 3)
        MemoryCamera.received = []

    def device(self) -> str:
        return self._device

    def native_fmt(self):
        return None

    def send(self, frame: np.ndarray) -> None:  # pyvirtualcam hands backends the frame flattened, as bytes
        assert frame.dtype == np.uint8 and frame.size == np.prod(self._shape)
        MemoryCamera.received.append(frame.reshape(self._shape).copy())

    def close(self) -> None:
        pass


def _numbered_clip(path, n: int) -> list[np.ndarray]:
    """Frames of person_a with their index drawn as a 10-bit black/white bar code along the top edge."""
    base = _decode(clip_a(), every=7)[:n]
    for i, image in enumerate(base):
        for bit in range(10):
            image[:16, bit * 24 : bit * 24 + 24] = 255 if (i >> bit) & 1 else 0
    make_clip(path, base)
    return base


def _read_code(image: np.ndarray) -> int:
    return sum(1 << bit for bit in range(10) if image[4:12, bit * 24 + 6 : bit * 24 + 18].mean() > 127)


def test_live_feeds_the_real_pyvirtualcam_camera_in_order(tiny_model, tmp_path):
    pyvirtualcam.register_backend("swapcam-memory", MemoryCamera)
    clip = tmp_path / "numbered.mp4"
    _numbered_clip(clip, 40)
    stats = run_live(LiveConfig(str(tiny_model), str(clip), ("vcam",),
                                sink_options=SinkOptions(vcam_backend="swapcam-memory"), status=False))  # fmt: skip
    got = MemoryCamera.received
    assert len(got) == stats["frames_out"] >= 30 and stats["frames_in"] == 40
    codes = [_read_code(f) for f in got]
    # in order; a frame may be repeated (the output clock covers a late frame), never one from before it
    assert codes == sorted(codes) and codes[-1] <= 39
    lost = stats["dropped_output"] + sum(v for k, v in stats.items() if k.startswith("dropped_sink"))
    assert len(set(codes)) >= stats["frames_processed"] - lost  # every processed frame got there, or was counted
    assert stats["frames_with_face"] > 0 and stats["latency_capture_to_sink"]["p50_ms"] > 0


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_streams_over_udp_to_a_pyav_reader(tiny_model):
    port = _free_udp_port()
    received: list[np.ndarray] = []
    ready = threading.Event()

    def receive() -> None:
        with av.open(f"udp://127.0.0.1:{port}?timeout=8000000", format="mpegts", timeout=10) as c:
            ready.set()
            for frame in c.decode(video=0):
                received.append(frame.to_ndarray(format="rgb24"))
                if len(received) >= 20:
                    return

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    time.sleep(0.5)  # the reader is listening before the first packet leaves
    stats = run_live(LiveConfig(str(tiny_model), str(clip_a()), (f"udp://127.0.0.1:{port}",),
                                max_frames=90, status=False))  # fmt: skip
    reader.join(timeout=15)
    assert stats["frames_out"] >= 60
    assert len(received) >= 20 and received[0].shape == (480, 480, 3)
    assert received[-1].std() > 20  # pictures, not a grey screen


def test_bad_inputs_get_one_clear_line(tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    junk = tmp_path / "broken.mp4"
    junk.write_bytes(b"\x00\x01 not a video" * 500)
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"\x08\x07")  # a valid protobuf prefix, not an ONNX model of ours
    clip = str(clip_a())
    cases = [
        (["live", "--model", str(tiny_model), "--source", "/dev/video63", "--sink", "x.mp4"], "cannot open camera"),
        (["live", "--model", str(tiny_model), "--source", str(junk), "--sink", str(tmp_path / "o.mp4")], "cannot read video"),
        (["live", "--model", str(foreign), "--source", clip, "--sink", "vcam"], "foreign.onnx"),
        (["live", "--model", str(tiny_model), "--source", clip, "--sink", "out.xyz"], "unsupported output file"),
        (["live", "--model", str(tiny_model), "--source", clip, "--sink", "ftp://host/x"], "unsupported stream URL"),
        (["live", "--model", str(tiny_model), "--source", clip, "--sink", "preview"], "preview needs a display"),
        (["live", "--model", str(tiny_model), "--source", clip, "--sink", "srt://127.0.0.1:9"], "no srt:// support"),
        (["convert", "--model", str(tiny_model), str(junk), str(tmp_path / "o.mp4")], "cannot read video"),
        (["convert", "--model", str(tiny_model), str(tmp_path / "none.mp4"), str(tmp_path / "o.mp4")], "no such file"),
        # a TensorRT plan from `export --tensorrt` needs its engine; without a GPU the reason is one line
        (["convert", "--model", str(tiny_model), "--engine", "tensorrt", "--plan", str(tmp_path / "m.plan"), clip,
          str(tmp_path / "o.mp4")], "no inference engine can run here: tensorrt:"),
    ]
    for argv, message in cases:
        assert cli(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_sigint_during_a_file_sink_leaves_a_playable_file(tiny_model, tmp_path):
    out = tmp_path / "interrupted.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "swapcam.cli", "live", "--model", str(tiny_model), "--source",
         str(clip_a()), "--sink", str(out), "--stats-json", str(tmp_path / "s.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "s.json").exists():
        if out.exists() and out.stat().st_size > 50_000:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    frames = _decode(out)
    assert len(frames) > 10 and frames[0].shape == (480, 480, 3)
    import json

    assert json.loads((tmp_path / "s.json").read_text())["frames_written"][str(out)] == len(frames)


@pytest.mark.parametrize("which, per_frame", [("largest", 1), ("all", 2)])
def test_a_still_source_with_two_people_swaps_the_faces_asked_for(tiny_model, tmp_path, detect, which, per_frame):
    from swapcam.live.settings import SwapSettings

    still = shared("images/two_people.jpg")
    out = tmp_path / f"{which}.mkv"
    stats = run_live(LiveConfig(str(tiny_model), str(still), (str(out),), max_frames=12, status=False,
                                settings=SwapSettings(faces=which)))  # fmt: skip
    assert stats["faces"] == per_frame * stats["frames_processed"]
    from swapcam.core.media_io import load_image

    original = load_image(still)
    last = _decode(out)[-1]
    assert last.shape[:2] == (original.shape[0] - original.shape[0] % 2, original.shape[1] - original.shape[1] % 2)
    faces = sorted(detect(original), key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    changed = []
    for face in faces:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        core = (slice(y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4), slice(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4))
        changed.append(np.abs(last[core].astype(int) - original[: last.shape[0], : last.shape[1]][core]).mean() > 8)
    assert changed == ([True, False] if which == "largest" else [True, True])


@pytest.mark.parametrize("placement", [None, "follow", "exact"])
def test_live_places_the_marks_as_asked(tiny_model, tmp_path, detect, placement):
    """Both people of a still, with ``--faces all``. By default the sampled aligner measures the offset now and then
    and the marks are drawn in the composite; with ``--mark-placement follow`` (verify's tracker on a thread of its
    own) or ``exact`` (in line) every swapped frame's marks are drawn after the blend by the output tracker's stage,
    the aligner does not run, and the follower measures frames on its thread."""
    from swapcam.live.settings import SwapSettings

    out = tmp_path / f"{placement}.mkv"
    placed = {} if placement is None else {"mark_placement": placement}
    stats = run_live(LiveConfig(str(tiny_model), str(shared("images/two_people.jpg")), (str(out),), max_frames=12,
                                status=False, settings=SwapSettings(faces="all"), **placed))  # fmt: skip
    assert stats["faces"] == 2 * stats["frames_processed"] > 0
    stages = stats["stages"]
    if placement is None:  # the sampled aligner: 5 samples in a track's first second, one every 6 frames
        assert stages["mark align"]["n"] >= 1 and "mark track" not in stages and "mark follow" not in stages
    else:
        assert stages["mark track"]["n"] == stages["composite"]["n"] == stats["frames_processed"]
        assert "mark align" not in stages
        assert ("mark follow" in stages) == (placement == "follow")
    assert len(detect(_decode(out)[-1])) == 2  # both swapped faces are still faces to verify's landmarker


def test_a_udp_stream_is_a_source_too(tiny_model, tmp_path):
    """A PyAV sender streams a clip as MPEG-TS over UDP; `live` reads it as its source and writes a file."""
    port = _free_udp_port()
    frames = _decode(clip_a(), every=3)[:150]
    stop = threading.Event()

    def send() -> None:
        from fractions import Fraction

        time.sleep(1.0)  # let the receiver open the socket first
        with av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", "w", format="mpegts") as out:
            v = out.add_stream("libx264", rate=30)
            v.width, v.height, v.pix_fmt = 480, 480, "yuv420p"
            v.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "10"}
            for i, image in enumerate(frames):
                if stop.is_set():
                    break
                vf = av.VideoFrame.from_ndarray(image, format="rgb24")
                vf.pts, vf.time_base = i, Fraction(1, 30)
                for pkt in v.encode(vf):
                    out.mux(pkt)
                time.sleep(1 / 30)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    out = tmp_path / "from_udp.mkv"
    stats = run_live(LiveConfig(str(tiny_model), f"udp://127.0.0.1:{port}", (str(out),), max_frames=40, status=False))
    stop.set()
    sender.join(timeout=10)
    assert stats["frames_processed"] == 40 and stats["frames_with_face"] > 30
    assert len(_decode(out)) == stats["frames_written"][str(out)] >= 35


def test_the_preview_window_shows_frames_on_a_virtual_display(tiny_model, tmp_path, monkeypatch):
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("no Xvfb here to give the preview window a display (apt install xvfb)")
    display = ":87"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        monkeypatch.setenv("DISPLAY", display)
        result: dict = {}
        config = LiveConfig(str(tiny_model), str(clip_a()), ("preview",), max_frames=90,
                            status=False)  # fmt: skip
        loop = threading.Thread(target=lambda: result.update(run_live(config)))
        loop.start()
        toggled = False
        if shutil.which("xdotool"):  # press `s` in the window: the swap turns off for the rest of the run
            time.sleep(2.0)
            found = subprocess.run(["xdotool", "search", "--name", "swapcam preview"], capture_output=True, text=True)
            if found.stdout.split():
                subprocess.run(["xdotool", "key", "--window", found.stdout.split()[0], "s"], check=True)
                toggled = True
        loop.join(timeout=60)
        stats = result
        assert stats["frames_written"]["preview"] == stats["frames_out"] >= 80
        if toggled:
            assert 0 < stats["frames_with_face"] < stats["frames_processed"] - 10
        with av.open(display, format="x11grab", options={"video_size": "800x600"}) as c:
            screen = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
        assert screen.std() < 5  # the window closed with the loop
    finally:
        xvfb.terminate()
        xvfb.wait()


RECEIVER = """
import av, json, sys
n, shape = 0, None
with av.open(sys.argv[1], format="flv", options={"listen": "1"}, timeout=30) as c:
    meta = dict(c.metadata)
    try:  # to the end (a receiver that left early would be a failed sink); FFmpeg ends an RTMP session with EIO
        for f in c.decode(video=0):
            n, shape = n + 1, f.to_ndarray(format="rgb24").shape
    except av.FFmpegError:
        pass
print(json.dumps({"frames": n, "shape": shape, "comment": meta.get("comment", "")}))
"""


def test_live_publishes_rtmp_with_provenance(tiny_model):
    """An RTMP server (FFmpeg listening, in its own process as OBS or nginx-rtmp would be) receives the stream."""
    import json

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/live/test"
    server = subprocess.Popen([sys.executable, "-c", RECEIVER, url], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    stats = run_live(LiveConfig(str(tiny_model), str(clip_a()), (url,), max_frames=60,
                                status=False))  # fmt: skip
    got = json.loads(server.communicate(timeout=30)[0])
    assert stats["frames_processed"] == 60 and stats["frames_out"] >= 60  # the output clock may repeat a late frame
    assert got["frames"] >= 30 and got["shape"] == [480, 480, 3]
    assert "Synthetic media" in got["comment"]


def test_a_file_over_http_is_a_source_played_at_its_rate(tiny_model, tmp_path):
    import functools
    import http.server

    # MPEG-TS: no index to seek for (an MP4 needs its moov atom at the front and a server that answers Range)
    make_clip(tmp_path / "served.ts", _decode(clip_a(), every=10)[:30])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "from_http.mkv"
        t0 = time.perf_counter()
        stats = run_live(LiveConfig(str(tiny_model), f"http://127.0.0.1:{server.server_port}/served.ts", (str(out),),
                                    status=False))  # fmt: skip
        elapsed = time.perf_counter() - t0
    finally:
        server.shutdown()
    # every frame arrives (frames the loop had no time for on a busy machine are dropped by design, not lost)
    assert stats["frames_in"] == 30 and len(_decode(out)) == stats["frames_out"] >= 30 - stats["dropped_capture"]
    assert elapsed > 0.9  # 30 frames at 30 fps: paced like a camera, not read as fast as it downloads


def test_telemetry_memory_is_fixed_once_a_series_starts():
    """A show of any length keeps the last ``window`` samples per series in memory allocated when the series
    starts: appending far more samples than the window allocates nothing more, and percentiles see the newest."""
    import tracemalloc

    from swapcam.live.telemetry import Telemetry

    tel = Telemetry(window=5_000)
    tel.stage("infer", 0.001)
    tel.delivered("vcam", time.perf_counter() - 0.02, primary=True)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(30_000):  # six windows' worth
        tel.stage("infer", 0.001 if i < 25_000 else 0.004)
        tel.delivered("vcam", time.perf_counter() - 0.02, primary=True)
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename")
                if "telemetry" in s.traceback[0].filename)  # fmt: skip
    tracemalloc.stop()
    assert grown < 4_096, f"telemetry grew by {grown} bytes"
    summary = tel.summary()
    assert summary["stages"]["infer"]["n"] == 5_000 and summary["stages"]["infer"]["p50_ms"] == 4.0
    assert 19.0 < summary["latency_capture_to_sink"]["p50_ms"] < 40.0


def test_convert_is_repeatable(converted, tiny_model, tmp_path):
    """The same clip converted twice gives the same frames, the watermark included: convert places the marks by
    verify's tracker on every frame, in line (swapcam.live.mark_track), where the live loop's default aligner works
    on a thread."""
    again = tmp_path / "again.mp4"
    convert(ConvertConfig(str(tiny_model), str(clip_a()), str(again), progress=False))
    first, second = _decode(converted[1], every=10), _decode(again, every=10)
    assert len(first) == len(second) > 0
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
