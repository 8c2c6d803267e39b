"""Issue 12: the output never goes dark. Fault injection with real processes on loopback (a UDP or TCP sender that
stops, is paused or killed; a stream receiver that dies; a full disk; a truncated file; a burst of garbage), the
tracking-lost policy on footage where the face is lost while still in view, a model file deleted under a running
loop, and the settings and camera errors that must be one line. Each fault test is bounded to a few seconds."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam

from swapcam.cli import main as cli
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.live import runner as runner_module
from swapcam.live.runner import LiveConfig, run_live
from swapcam.live.settings import SwapSettings
from swapcam.live.sinks import SinkOptions
from swapcam.live.sources import SourceConfig
from tests.conftest import ROOT, clip_a, make_clip

FPS = 30

# A PyAV sender in its own process: streams frames of a clip as H.264 MPEG-TS at 30 fps to a URL (udp:// sends,
# tcp://...?listen=1 serves one client), for ``seconds``, then exits.
SENDER = r"""
import sys, time
from fractions import Fraction
import av
url, clip, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with av.open(clip) as c:
    frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(60), c.decode(video=0))]
opts = {"pkt_size": "1316"} if url.startswith("udp") else {}
with av.open(url, "w", format="mpegts", options=opts, timeout=20) as out:
    v = out.add_stream("libx264", rate=30)
    v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    v.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "10"}
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        vf = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
        vf.pts, vf.time_base = i, Fraction(1, 30)
        for p in v.encode(vf):
            out.mux(p)
        i += 1
        if i == 1:
            print("streaming", flush=True)
        time.sleep(max(0.0, t0 + i / 30 - time.perf_counter()))
"""

# A stream receiver in its own process: listens (tcp:// MPEG-TS, or rtmp:// FLV through FFmpeg's own RTMP server
# side), counts the frames it decodes until the sender goes away. It does not probe the stream first: FFmpeg's
# default (up to 5 s of it) would hold the first frame of an FLV back by seconds.
RECEIVER = r"""
import json, sys
import av
n = 0
opts = {"listen": "1", "analyzeduration": "0", "probesize": "32768"}
try:
    with av.open(sys.argv[1], format=sys.argv[2], options=opts, timeout=30) as c:
        for f in c.decode(video=0):
            n += 1
            print(json.dumps({"frames": n}), flush=True)
except av.FFmpegError:
    pass
"""


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:port (read from /proc, so that no probe connection is made)."""
    want = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        pytest.skip("needs Linux /proc/net/tcp to wait for a listener")
    return any(line.split()[1] == want and line.split()[3] == "0A" for line in lines)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _child(script: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _grows(path: Path, min_bytes: int = 20_000, timeout: float = 60) -> float:
    """Waits until ``path`` holds ``min_bytes`` (a sink has been writing); returns the instant it did."""
    _wait(lambda: path.exists() and path.stat().st_size >= min_bytes, timeout, f"{path.name} to grow")
    return time.perf_counter()


def _streaming(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Waits until a SENDER child has sent its first frame."""
    _wait(lambda: proc.stdout.readline().strip() == "streaming", timeout, "the sender")


_RUNNING: list[_Live] = []


@pytest.fixture(autouse=True)
def _stop_leftover_loops():
    """A test that fails half-way must not leave its live loop feeding the next test's sinks."""
    yield
    while _RUNNING:
        live = _RUNNING.pop()
        live.stop_event.set()
        live.thread.join(30)


class _Live:
    """run_live on a thread; ``stop()`` ends it and returns its stats (or raises its error)."""

    def __init__(self, config: LiveConfig) -> None:
        _RUNNING.append(self)
        self.stop_event = threading.Event()
        self.result: dict = {}
        self.error: BaseException | None = None
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self._run, args=(config,), daemon=True)
        self.thread.start()

    def _run(self, config: LiveConfig) -> None:
        try:
            self.result.update(run_live(config, self.stop_event))
        except BaseException as exc:
            self.error = exc

    def stop(self, timeout: float = 30) -> dict:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the live loop did not stop"
        if self.error is not None:
            raise self.error
        return self.result


def _pts_seconds(path) -> list[float]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return sorted(float(f.pts * f.time_base) for f in c.decode(v))


def _assert_at_rate(times: list[float], wall: float, what: str, stats: dict | None = None, sink: str = "") -> None:
    """The output covers ``wall`` seconds with no gap over half a second, and the output clock handed the sinks
    30 fps +-10 % over it. ``times``: a sink's frame times (s). Where ``stats`` are given, a frame a starved encoder
    dropped (``dropped_sink``: a loaded machine) still counts as handed over: the clock is what is under test."""
    span = times[-1] - times[0]
    assert span > 0.8 * wall, (what, span, wall)
    assert max(np.diff(times)) < 0.5, (what, max(np.diff(times)))
    handed = len(times) + (stats.get(f"dropped_sink {sink}", 0) if stats else 0)
    rate = (handed - 1) / span
    assert abs(rate - FPS) <= 0.1 * FPS, (what, rate, len(times), stats and stats.get(f"dropped_sink {sink}"))


def test_a_udp_source_that_stops_for_3_s_is_held_reconnected_and_resumes(tiny_model, tmp_path):
    port = _free_port(socket.SOCK_DGRAM)
    url = f"udp://127.0.0.1:{port}"
    first = _child(SENDER, url, clip_a(), 120)
    second = None
    out = tmp_path / "udp.mkv"
    try:
        _streaming(first)
        live = _Live(LiveConfig(str(tiny_model), url, (str(out),), status=False))
        t_first = _grows(out)
        time.sleep(1.0)
        first.kill()  # the outage under test: no sender at all for 3 s
        first.wait()
        time.sleep(3.0)
        second = _child(SENDER, url, clip_a(), 120)
        _streaming(second)
        grown = out.stat().st_size
        _grows(out, grown + 100_000)  # pictures again, not held frames (those compress to nearly nothing)
        time.sleep(1.0)
        stats = live.stop()
        t_stop = time.perf_counter()
    finally:
        for p in (first, second):
            if p is not None:
                _end(p)
    _assert_at_rate(_pts_seconds(out), t_stop - t_first, "udp file sink", stats, str(out))
    assert stats["reconnects"] >= 1 and stats["frames_held"] >= 45  # at least 1.5 s of the 3 s were held frames
    assert stats["frames_swapped_since_reconnect"] > 5  # swapping resumed on the second sender's frames
    assert stats["seconds_without_source"] > 2.5


def test_a_tcp_source_whose_server_is_killed_and_restarted(tiny_model, tmp_path):
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    server = _child(SENDER, url + "?listen=1", clip_a(), 120)
    restarted = None
    out = tmp_path / "tcp.ts"
    try:
        _wait(lambda: _listening(port), 60, "the TCP server")
        live = _Live(LiveConfig(str(tiny_model), url, (str(out),), status=False))
        t_first = _grows(out)
        time.sleep(1.0)
        server.kill()  # the server dies mid-stream
        server.wait()
        time.sleep(1.0)
        restarted = _child(SENDER, url + "?listen=1", clip_a(), 120)
        _streaming(restarted)  # it has a client again: swapcam reconnected
        _grows(out, out.stat().st_size + 100_000)
        time.sleep(1.0)
        stats = live.stop()
        t_stop = time.perf_counter()
    finally:
        for p in (server, restarted):
            if p is not None:
                _end(p)
    assert stats["reconnects"] >= 1 and stats["frames_swapped_since_reconnect"] > 5
    _assert_at_rate(_pts_seconds(out), t_stop - t_first, "tcp source", stats, str(out))


# (the sink's URL, the receiver's URL, the receiver's demuxer): RTMP connects when the sink opens (a handshake and
# a publish), TCP on the first packet; the receiver takes a single connection and ends when the sender goes away
STREAM_SINKS = {
    "tcp": ("tcp://127.0.0.1:{port}", "tcp://127.0.0.1:{port}?listen=1", "mpegts"),
    "rtmp": ("rtmp://127.0.0.1:{port}/live/swapcam", "rtmp://127.0.0.1:{port}/live/swapcam", "flv"),
}


@pytest.mark.parametrize("scheme", STREAM_SINKS)
def test_a_stream_sink_whose_receiver_dies_reconnects_and_the_file_sink_gets_every_frame(tiny_model, tmp_path,
                                                                                         scheme):  # fmt: skip
    port = _free_port()
    url, listen, demuxer = (s.format(port=port) for s in STREAM_SINKS[scheme])
    first = _child(RECEIVER, listen, demuxer)
    second = None
    out = tmp_path / "beside.mkv"
    config = LiveConfig(str(tiny_model), str(clip_a()), (str(out), url), status=False,
                        source_config=SourceConfig(loop=True))  # fmt: skip
    try:
        _wait(lambda: _listening(port), 60, "the receiver")
        live = _Live(config)
        _wait(lambda: first.stdout.readline() != "", 60, "frames at the first receiver")
        t_first = time.perf_counter()
        time.sleep(1.0)
        first.kill()  # the receiver dies mid-run
        first.wait()
        time.sleep(1.0)
        second = _child(RECEIVER, listen, demuxer)
        _wait(lambda: second.stdout.readline() != "", 60, "frames at the restarted receiver")
        time.sleep(1.0)
        stats = live.stop()
        t_stop = time.perf_counter()
        second.wait(timeout=30)
        received = [json.loads(line) for line in second.stdout.read().splitlines() if line.strip()]
    finally:
        for p in (first, second):
            if p is not None:
                _end(p)
    net = stats["sink_status"][url]
    assert net["reconnects"] >= 1 and len(net["errors"]) >= 1 and not net["failed"]
    assert len(net["reconnect_s"]) == net["reconnects"] and 0 < net["reconnect_s"][0] < 20
    assert received and received[-1]["frames"] > 10  # the second receiver got pictures after the reconnect
    file = stats["sink_status"][str(out)]
    times = _pts_seconds(out)
    assert file["errors"] == [] and file["frames_lost"] == 0 and len(times) == file["frames"] == stats["frames_out"]
    assert file["frames"] + stats[f"dropped_sink {out}"] == stats["frames_emitted"]  # every frame it was handed
    _assert_at_rate(times, t_stop - t_first, "file beside a failing stream", stats, str(out))


class MemoryCamera:
    """A pyvirtualcam backend that keeps what it is sent (see tests/test_live.py), with arrival times."""

    received: list[np.ndarray] = []
    times: list[float] = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        self._shape = (height, width, 3)
        MemoryCamera.received, MemoryCamera.times = [], []

    def device(self) -> str:
        return "memory0"

    def native_fmt(self):
        return None

    def send(self, frame: np.ndarray) -> None:
        MemoryCamera.received.append(frame.reshape(self._shape)[::8, ::8].copy())  # small: enough to check
        MemoryCamera.times.append(time.perf_counter())

    def close(self) -> None:
        pass


VCAM = SinkOptions(vcam_backend="swapcam-test-memory")


@pytest.fixture()
def vcam():
    pyvirtualcam.register_backend("swapcam-test-memory", MemoryCamera)
    return MemoryCamera


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 2 MB tmpfs with about 250 KB left (root and mount(8) needed; skipped with the reason otherwise)."""
    mnt = tmp_path / "tiny_disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    try:
        (mnt / "filler").write_bytes(b"\0" * 1_850_000)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_closes_the_recording_and_the_vcam_keeps_its_rate(tiny_model, vcam, tiny_disk, caplog):
    out = tiny_disk / "recording.mp4"
    config = LiveConfig(str(tiny_model), str(clip_a()), ("vcam", str(out)), sink_options=VCAM, status=False,
                        source_config=SourceConfig(loop=True))  # fmt: skip
    live = _Live(config)
    _wait(lambda: not live.thread.is_alive() or any("disk is full" in r.getMessage() for r in caplog.records), 120,
          "the disk to fill up")
    time.sleep(2.0)  # the vcam goes on beside the failed recording
    stats = live.stop()
    rec = stats["sink_status"][str(out)]
    assert rec["failed"] and "disk is full" in rec["errors"][0] and len(rec["errors"]) == 1
    times = np.array(vcam.times)
    _assert_at_rate(list(times), times[-1] - times[0], "vcam beside a full disk")
    with av.open(str(out)) as c:  # what was written before the disk filled up plays, to its end, without an error
        played = sum(1 for _ in c.decode(video=0))
    assert 25 < played <= rec["frames"]


def test_the_run_fails_at_its_end_only_when_the_primary_sink_failed(tiny_model, vcam, tiny_disk, caplog):
    out = tiny_disk / "primary.mkv"
    config = LiveConfig(str(tiny_model), str(clip_a()), (str(out), "vcam"), sink_options=VCAM, status=False,
                        source_config=SourceConfig(loop=True))  # fmt: skip
    live = _Live(config)
    _wait(lambda: not live.thread.is_alive() or any("disk is full" in r.getMessage() for r in caplog.records), 120,
          "the disk to fill up")
    time.sleep(2.0)  # the vcam goes on beside the failed recording
    with pytest.raises(SwapcamError, match="the primary sink .*primary.mkv failed: .*disk is full"):
        live.stop()
    times = np.array(vcam.times)  # the vcam beside it went on to the end all the same
    _assert_at_rate(list(times), times[-1] - times[0], "vcam beside a failed primary")


@contextlib.contextmanager
def _udp_sender():
    """A child process streaming clip A as MPEG-TS to a free loopback UDP port: yields (url, port, process), once
    it streams; continued (if a test stopped it) and ended afterwards."""
    port = _free_port(socket.SOCK_DGRAM)
    url = f"udp://127.0.0.1:{port}"
    sender = _child(SENDER, url, clip_a(), 120)
    try:
        _streaming(sender)
        yield url, port, sender
    finally:
        sender.send_signal(signal.SIGCONT)
        _end(sender)


def test_sigstop_of_the_source_process_is_held_over_and_resumes(tiny_model, tmp_path):
    out = tmp_path / "stopped.mkv"
    with _udp_sender() as (url, _, sender):
        live = _Live(LiveConfig(str(tiny_model), url, (str(out),), status=False))
        t_first = _grows(out)
        sender.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        sender.send_signal(signal.SIGCONT)
        _grows(out, out.stat().st_size + 100_000)
        time.sleep(1.0)
        stats = live.stop()
        t_stop = time.perf_counter()
    assert stats["frames_held"] >= 30 and stats["frames_swapped_since_reconnect"] > 5
    _assert_at_rate(_pts_seconds(out), t_stop - t_first, "udp source paused by SIGSTOP", stats, str(out))


def test_a_burst_of_garbage_packets_does_not_end_the_run(tiny_model, tmp_path):
    out = tmp_path / "garbage.mkv"
    with _udp_sender() as (url, port, _):
        live = _Live(LiveConfig(str(tiny_model), url, (str(out),), status=False))
        t_first = _grows(out)
        rng = np.random.default_rng(0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(200):  # 200 datagrams of noise, with TS sync bytes, amid the real stream
                junk = rng.integers(0, 256, 1316, dtype=np.uint8)
                junk[::188] = 0x47
                s.sendto(junk.tobytes(), ("127.0.0.1", port))
        _grows(out, out.stat().st_size + 100_000)  # pictures keep coming after the burst
        assert not live.result  # still running
        stats = live.stop()
        t_stop = time.perf_counter()
    assert stats["frames_processed"] > 10
    _assert_at_rate(_pts_seconds(out), t_stop - t_first, "udp source with garbage", stats, str(out))


def test_a_truncated_file_source_ends_cleanly_after_its_frames(tiny_model, tmp_path, capsys):
    frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(60), av.open(str(clip_a())).decode(video=0))]
    whole = make_clip(tmp_path / "whole.ts", frames)
    cut = tmp_path / "cut.ts"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    out = tmp_path / "from_cut.mp4"
    assert cli(["live", "--model", str(tiny_model), "--source", str(cut), "--sink", str(out)]) == 0
    n = len(_pts_seconds(out))
    assert 20 < n < 60
    mp4 = make_clip(tmp_path / "whole.mp4", frames[:20])
    (tmp_path / "cut.mp4").write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])  # no index: not playable at all
    capsys.readouterr()
    assert cli(["live", "--model", str(tiny_model), "--source", str(tmp_path / "cut.mp4"), "--sink", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read video" in err


class _FlakyCamera:
    """Stands in for a USB camera that is unplugged after ``frames`` reads and is back after two failed reopens
    (no camera can be unplugged on this machine; the capture thread sees exactly what OpenCV would give it:
    a read that fails, then opens that fail)."""

    reconnectable = True
    opens = 0

    def __init__(self, image: np.ndarray, frames: int, *, reconnectable: bool = True) -> None:
        self.image, self.left, self.reconnectable = image, frames, reconnectable
        self.height, self.width = image.shape[:2]
        self.fps, self.name, self.n = 30.0, "camera 0", 0

    def read(self) -> Frame | None:
        if self.left == 0:
            return None  # unplugged: cv2.VideoCapture.read() returns (False, None)
        self.left -= 1
        time.sleep(1 / 30)
        self.n += 1
        return Frame(self.image.copy(), self.n, time.perf_counter())

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_an_unplugged_camera_is_held_then_marked_then_reopened(tiny_model, vcam, monkeypatch):
    image = next(av.open(str(clip_a())).decode(video=0)).to_ndarray(format="rgb24")

    def fake_open(spec, config=None, **kw):
        _FlakyCamera.opens += 1
        if _FlakyCamera.opens in (2, 3):
            raise SwapcamError("cannot open camera 0: no camera there, or it is in use")
        if _FlakyCamera.opens == 1:
            return _FlakyCamera(image, 45)
        return _FlakyCamera(image, 60, reconnectable=False)  # then it ends as a file would: the run ends

    _FlakyCamera.opens = 0
    monkeypatch.setattr(runner_module, "open_source", fake_open)
    stats = run_live(LiveConfig(str(tiny_model), "0", ("vcam",), sink_options=VCAM, status=False,
                                source_config=SourceConfig(reconnect=-1)))  # fmt: skip
    assert stats["reconnects"] == 1 and _FlakyCamera.opens == 4
    # the outage: 0.25 + 0.5 + 1 s of backoff; held frames at the rate, then the dimmed "reconnecting" frame
    assert stats["frames_held"] >= 0.9 * FPS * (stats["reconnect_s"][0] - 0.1)
    levels = np.array([f.mean() for f in vcam.received])
    bright = np.median(levels[:30])
    dimmed = np.flatnonzero(levels < 0.5 * bright)
    assert len(dimmed) >= 10  # about half a second of marked frames ...
    assert levels[-1] > 0.8 * bright  # ... and live pictures again after the reconnect
    _assert_at_rate(vcam.times, vcam.times[-1] - vcam.times[0], "vcam over an unplugged camera")


def test_the_vcam_gets_a_steady_rate_when_frames_take_longer_than_their_interval(tiny_model, vcam, monkeypatch):
    from swapcam.live.faceswap import FaceSwap

    real = FaceSwap.process

    def slow(self, frame, faces=None):
        time.sleep(0.06)  # 60 ms a frame against a 33 ms interval
        return real(self, frame, faces)

    monkeypatch.setattr(FaceSwap, "process", slow)
    stats = run_live(LiveConfig(str(tiny_model), str(clip_a()), ("vcam",), sink_options=VCAM, status=False,
                                max_frames=40))  # fmt: skip
    assert stats["frames_repeated"] > 10
    _assert_at_rate(vcam.times, vcam.times[-1] - vcam.times[0], "vcam with slow frames")


def test_the_output_clock_keeps_its_count_when_its_thread_and_a_sink_are_held_up():
    """A loaded machine holds up the output clock's thread for 0.3 s now and then (inside ``source_age``, which it
    calls for every repeat), and the sink's thread for 0.2 s now and then: the sink still gets one frame per window
    over the whole run, each stamped with an instant in its own window. (With a plain slot of 4 frames, the
    windows of any hold-up longer than 4 intervals were lost: 106 of 120 written here, and the 30-minute soak's
    vcam got 96.3 % of its frames on a loaded machine.)"""
    from swapcam.live.pacer import CATCH_UP_S, CadenceSlot, Pacer
    from swapcam.live.slot import Closed, LatestSlot
    from swapcam.live.telemetry import Telemetry

    calls = 0

    def source_age() -> float:  # the source delivers (repeats, not held frames); every 40th call: a hold-up
        nonlocal calls
        calls += 1
        if calls % 40 == 0:
            time.sleep(0.3)
        return 0.0

    sink = CadenceSlot(4, max_repeats=round(FPS * CATCH_UP_S))
    pacer = Pacer(FPS, [sink], Telemetry(), source_age=source_age)
    frames = LatestSlot[Frame]()
    written: list[float] = []

    def write() -> None:  # the sink's thread: writes every window of what it takes, is held up every 20 takes
        for n in itertools.count(1):
            try:
                out = sink.get(timeout=1)
            except Closed:
                return
            if out is not None:
                written.extend(out.instants)
            if n % 20 == 0:
                time.sleep(0.2)

    threads = [threading.Thread(target=pacer.run, args=(frames,)), threading.Thread(target=write)]
    for t in threads:
        t.start()
    image = np.zeros((8, 8, 3), np.uint8)
    t_end = time.perf_counter() + 4.0
    while time.perf_counter() < t_end:  # processing at 12 fps: most windows are repeats
        frames.put(Frame(image.copy(), 0, time.perf_counter()))
        time.sleep(1 / 12)
    frames.close()
    for t in threads:
        t.join(10)
    counts = f"repeated {pacer.repeated}, skipped {pacer.skipped}, dropped {sink.dropped}, written {len(written)}"
    assert pacer.repeated > 50 and pacer.skipped == 0 and sink.dropped == 0, counts
    assert len(written) == pacer.emitted, (counts, pacer.emitted)
    off = (np.array(written) - written[0]) * FPS - np.arange(len(written))  # in windows; a fresh frame: anywhere in it
    # one per window, in order; the windows may have moved a little towards when frames arrive (PHASE_GAIN): here
    # 0.16 windows at most, |off| up to 0.58
    shift = pacer.max_phase_shift * FPS
    assert shift < 0.5 and np.all(np.abs(off) <= 0.5 + shift + 1e-6) and np.all(np.diff(written) > 0), (off, shift)


def test_the_output_clock_follows_frames_when_the_first_one_was_late():
    """The first processed frame is often late (the model's first inferences are slower). The output windows once
    kept its phase for the whole run, and every later frame arrived before its window and waited for it: 14 ms a
    frame when the first was 30 ms late at 30 fps. Now they move towards when frames arrive, and after half a second
    a frame goes out as it arrives."""
    from swapcam.live.pacer import CadenceSlot, Pacer
    from swapcam.live.slot import Closed, LatestSlot
    from swapcam.live.telemetry import Telemetry

    sink = CadenceSlot(4, max_repeats=30)
    pacer = Pacer(FPS, [sink], Telemetry())
    frames = LatestSlot[Frame]()
    waits: list[float] = []

    def write() -> None:
        while True:
            try:
                out = sink.get(timeout=1)
            except Closed:
                return
            if out is not None and out.fresh:
                waits.append(out.t_out - out.frame.t_capture)  # t_capture: when the frame was handed over

    threads = [threading.Thread(target=pacer.run, args=(frames,)), threading.Thread(target=write)]
    for t in threads:
        t.start()
    image = np.zeros((8, 8, 3), np.uint8)
    t0 = time.perf_counter() + 0.05
    for k in range(60):  # 2 s at 30 fps, the first frame 30 ms late
        due = t0 + k / FPS + (0.030 if k == 0 else 0.0)
        while time.perf_counter() < due:
            time.sleep(0.0005)
        frames.put(Frame(image, k, time.perf_counter()))
    time.sleep(0.1)
    frames.close()
    for t in threads:
        t.join(10)
    assert len(waits) >= 50
    assert float(np.median(waits[15:])) < 0.25 / FPS, np.round(np.array(waits) * 1e3, 1)  # 0.4 ms here; 14 before
    assert pacer.max_phase_shift > 0.5 / FPS  # the windows moved by most of the first frame's delay


def _turned_away(image: np.ndarray) -> np.ndarray:
    """The frame squeezed to a quarter of its width in the middle, the sides filled with the wall's colour: the
    face is in view but narrow, as in profile, and the landmarker loses it (a real head turn, spliced in)."""
    import cv2

    h, w = image.shape[:2]
    out = np.empty_like(image)
    out[:] = image[:, :8].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    x = (w - w // 4) // 2
    out[:, x : x + w // 4] = cv2.resize(image, (w // 4, h), interpolation=cv2.INTER_AREA)
    return out


def _spliced(tmp_path) -> tuple[Path, list[np.ndarray], range]:
    """person_a: 30 frames facing the camera, 20 turned away (in view, not tracked), 30 facing it again."""
    frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(80), av.open(str(clip_a())).decode(video=0))]
    lost = range(30, 50)
    for i in lost:
        frames[i] = _turned_away(frames[i])
    return make_clip(tmp_path / "spliced.mp4", frames), frames, lost


@pytest.mark.parametrize("policy", ["blur", "hold", "passthrough"])
def test_the_tracking_lost_policy_never_shows_the_raw_face(tiny_model, tmp_path, detect, policy):
    from swapcam.live.convert import ConvertConfig, convert

    clip, raw, lost = _spliced(tmp_path)
    out = tmp_path / f"{policy}.mp4"
    result = convert(ConvertConfig(str(tiny_model), str(clip), str(out), progress=False,
                                   settings=SwapSettings(on_lost=policy)))  # fmt: skip
    got = [f.to_ndarray(format="rgb24") for f in av.open(str(out)).decode(video=0)]
    assert len(got) == len(raw) == 80 and result.frames_with_face <= 80 - 15  # the turn was not tracked
    h, w = raw[0].shape[:2]
    raw_shown = []
    for i, (a, b) in enumerate(zip(raw, got)):
        x0, y0, x1, y1 = (int(v) for v in detect(raw[i if i not in lost else 0])[0].box)
        if i in lost:  # the face's place in the squeezed frame
            off = (w - w // 4) // 2
            x0, x1 = off + x0 // 4, off + x1 // 4
        face = (slice(y0, y1), slice(x0, x1))
        raw_shown.append(bool(np.abs(a[face].astype(int) - b[face].astype(int)).mean() < 4))  # codec noise only
    longest = _longest_run(raw_shown)
    if policy == "passthrough":
        assert longest >= 15  # the control: without a policy the turned-away face is shown as it is
    else:
        assert longest <= 1, raw_shown


def _longest_run(flags: list[bool]) -> int:
    best = cur = 0
    for f in flags:
        cur = cur + 1 if f else 0
        best = max(best, cur)
    return best


def test_a_model_file_deleted_or_replaced_under_a_running_loop(tiny_model, tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(tiny_model, model)
    out = tmp_path / "o.mkv"
    live = _Live(LiveConfig(str(model), str(clip_a()), (str(out),), status=False))
    _wait(lambda: out.exists() and out.stat().st_size > 20_000, 30, "frames")
    model.unlink()
    time.sleep(0.5)
    model.write_bytes(b"\0" * 1000)  # replaced by garbage
    time.sleep(0.5)
    stats = live.stop()
    assert stats["frames_with_face"] > 10 and len(_pts_seconds(out)) == stats["frames_out"]


def test_bad_settings_and_a_missing_camera_get_one_line(tiny_model, tmp_path):
    clip = str(clip_a())
    for flag, value, message in [("--opacity", "5", "opacity must be between"), ("--erode", "-3", "erode must be"),
                                 ("--on-lost", "sometimes", "on_lost must be one of")]:  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "swapcam.cli", "live", "--model", str(tiny_model), "--source",
                               clip, "--sink", str(tmp_path / "o.mp4"), flag, value], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    # OpenCV's own warning lines about a camera index that does not exist are not shown: only ours (C stderr too)
    done = subprocess.run([sys.executable, "-m", "swapcam.cli", "live", "--model", str(tiny_model), "--source", "7",
                           "--sink", str(tmp_path / "o.mp4")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot open camera 7" in done.stderr, done.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_a_model_with_damaged_weights_is_refused_with_one_line(tiny_model, tmp_path, capsys):
    import onnx

    from swapcam.core.model_info import WEIGHTS_KEY

    model = onnx.load(str(tiny_model))
    assert WEIGHTS_KEY in {p.key for p in model.metadata_props}  # recorded by `swapcam export`
    data = bytearray(Path(tiny_model).read_bytes())
    weights = max(model.graph.initializer, key=lambda t: len(t.raw_data)).raw_data
    at = data.find(weights[:256])
    data[at : at + 5000] = bytes(5000)  # 5,000 bytes of weights zeroed: still a valid ONNX file
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(data)
    onnx.load(str(damaged))
    capsys.readouterr()
    argv = ["live", "--model", str(damaged), "--source", str(clip_a()), "--sink", str(tmp_path / "o.mp4")]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights do not match the hash recorded at export" in err, err
