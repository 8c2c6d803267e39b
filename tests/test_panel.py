"""The live control panel (issue 13): its API and safety rules over HTTP, and the page itself in a real headless
Chromium driven by Selenium, against a live run of the tiny model on a looped, frame-numbered real clip into the
real pyvirtualcam.Camera with an in-memory backend."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import threading
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam

from swapcam.core.errors import SwapcamError
from swapcam.live.control import LiveControl, PanelConfig, load_profile, parse_panel_address, save_profile
from swapcam.live.panel.server import PanelServer
from swapcam.live.runner import LiveConfig, run_live
from swapcam.live.settings import SwapSettings
from swapcam.live.sinks import SinkOptions
from tests.conftest import ROOT, make_clip, shared

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FPS = 30


# -- a live run with the panel, shared by the tests of this module ------------------------------------------------
class RecordingCamera:
    """A pyvirtualcam backend that keeps the arrival time and frame number of everything it is sent, and the last
    frames themselves."""

    times: list[float] = []
    codes: list[int] = []
    frames: deque = deque(maxlen=400)  # (arrival, code, (H, W, 3) uint8)
    lock = threading.Lock()

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        self._shape = (height, width, 3)

    def device(self) -> str:
        return "panel0"

    def native_fmt(self):
        return None

    def send(self, frame: np.ndarray) -> None:
        image = frame.reshape(self._shape).copy()
        t, code = time.perf_counter(), _read_code(image)
        with RecordingCamera.lock:
            RecordingCamera.times.append(t)
            RecordingCamera.codes.append(code)
            RecordingCamera.frames.append((t, code, image))

    def close(self) -> None:
        pass

    @classmethod
    def since(cls, t0: float) -> list[tuple[float, int, np.ndarray]]:
        with cls.lock:
            return [f for f in cls.frames if f[0] >= t0]


N_FRAMES = 60


def _read_code(image: np.ndarray) -> int:
    return sum(1 << bit for bit in range(6) if image[4:12, bit * 24 + 6 : bit * 24 + 18].mean() > 127)


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    """60 frames of person_a (every 4th) with their index as a bar code along the top edge, and the clip: the
    decoder gives the same pixels on every loop, so a vcam frame can be compared with its exact input."""
    import av

    path = shared("clips/person_a.mp4")
    with av.open(str(path)) as c:
        base = [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i % 4 == 0][:N_FRAMES]
    for i, image in enumerate(base):
        for bit in range(6):
            image[:16, bit * 24 : bit * 24 + 24] = 255 if (i >> bit) & 1 else 0
    clip = make_clip(tmp_path_factory.mktemp("panel_clip") / "numbered.mp4", base, fps=FPS)
    with av.open(str(clip)) as c:  # what the source decodes: the reference for "unchanged"
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert [_read_code(d) for d in decoded] == list(range(N_FRAMES))
    return clip, decoded


@pytest.fixture(scope="module")
def models(tiny_model, tiny_run, tmp_path_factory):
    """A models folder: the tiny model (a -> b), the same run exported the other way (b -> a), a damaged file."""
    from swapcam.export.api import export_model
    from swapcam.export.config import ExportConfig

    folder = tmp_path_factory.mktemp("panel_models")
    shutil.copy(tiny_model, folder / "a2b.onnx")
    export_model(ExportConfig(str(tiny_run), str(folder / "b2a.onnx"), direction="b2a"))
    (folder / "damaged.onnx").write_bytes(b"not a model")
    return folder


@pytest.fixture(scope="module")
def live(numbered, models, tmp_path_factory):
    """`swapcam live` with --panel on a free port; yields (base url, control-less helpers)."""
    clip, _ = numbered
    pyvirtualcam.register_backend("swapcam-panel-memory", RecordingCamera)
    lines: list[str] = []
    got_line = threading.Event()
    record_dir = tmp_path_factory.mktemp("panel_records")
    profile = tmp_path_factory.mktemp("panel_profile") / "show.toml"

    def announce(line: str) -> None:
        lines.append(line)
        got_line.set()

    panel = PanelConfig(port=0, models_dir=str(models), record_dir=str(record_dir), profile=str(profile),
                        announce=announce)  # fmt: skip
    from swapcam.live.sources import SourceConfig

    config = LiveConfig(str(models / "a2b.onnx"), str(clip), ("vcam",), source_config=SourceConfig(loop=True),
                        sink_options=SinkOptions(vcam_backend="swapcam-panel-memory"), status=False,
                        panel=panel)  # fmt: skip
    stop = threading.Event()
    result: dict = {}

    def run() -> None:
        try:
            result["stats"] = run_live(config, stop)
        except BaseException as exc:  # reported by the fixture's teardown
            result["error"] = exc
            got_line.set()

    thread = threading.Thread(target=run, name="live-under-test", daemon=True)
    thread.start()
    assert got_line.wait(120), "the panel did not start"
    if "error" in result:
        raise result["error"]
    url = re.search(r"http://\S+", lines[0]).group(0)
    _wait(lambda: len(RecordingCamera.times) > 10, 60, "no frames reached the vcam")
    yield {"url": url, "port": int(re.search(r":(\d+)/", url).group(1)), "record_dir": record_dir,
           "profile": profile, "models": models}  # fmt: skip
    stop.set()
    thread.join(60)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]


def _wait(cond, timeout: float, what: str, every: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out: {what}")


def _request(port: int, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict | bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference below the bar code (the face), 0..255."""
    return float(np.abs(a[16:].astype(np.int16) - b[16:].astype(np.int16)).mean())


def _new_frames_since(t0: float) -> list[tuple[float, int, np.ndarray]]:
    """The vcam frames since ``t0`` without the output clock's repeats (a repeat covers a late frame)."""
    frames = RecordingCamera.since(t0)
    return [f for i, f in enumerate(frames) if i == 0 or f[1] != frames[i - 1][1]]


def _diffs_since(t0: float, decoded: list[np.ndarray], n: int, timeout: float = 30) -> list[float]:
    """|vcam - its input| of the first ``n`` new vcam frames since ``t0``."""
    _wait(lambda: len(_new_frames_since(t0)) >= n, timeout, f"{n} new vcam frames")
    return [_diff(img, decoded[code]) for _, code, img in _new_frames_since(t0)[:n]]


# -- the API over HTTP ----------------------------------------------------------------------------------------------
def test_state_has_every_setting_and_the_telemetry(live):
    status, state = _request(live["port"], "GET", "/api/state")
    assert status == 200
    for name in SwapSettings().as_dict():  # every field, whatever other issues add to SwapSettings
        assert name in state
    assert state["swap"] is True and state["model"] == "a2b.onnx" and state["engine"]
    assert state["frames_out"] > 0 and state["fps"] > 0 and state["latency_ms"]["p95_ms"] > 0
    status, models = _request(live["port"], "GET", "/api/models")
    by_name = {m["name"]: m for m in models["models"]}
    assert (by_name["a2b.onnx"]["source"], by_name["a2b.onnx"]["target"]) == ("a", "b")
    assert by_name["b2a.onnx"]["direction"] == "b2a" and "error" in by_name["damaged.onnx"]


@pytest.mark.parametrize("body, reason", [
    ({"opacity": 2}, "opacity must be between"),
    ({"opacity": 0.5, "colour": "rct"}, "unknown setting: colour"),
    ({"swap": "off"}, "swap must be true or false"),
    ({"faces": "most"}, "faces must be one of"),
    ({"model": "../a2b.onnx"}, "not inside the models folder"),
    ({"model": "/etc/passwd"}, "not inside the models folder"),
    ({"model": "damaged.onnx"}, "damaged.onnx"),
    ([1, 2], "JSON object"),
    ("{nope", "not JSON"),
])  # fmt: skip
def test_bad_changes_get_400_with_one_line_and_change_nothing(live, body, reason):
    _, before = _request(live["port"], "GET", "/api/state")
    status, answer = _request(live["port"], "POST", "/api/state", body)
    assert status == 400 and reason in answer["error"] and "\n" not in answer["error"]
    _, after = _request(live["port"], "GET", "/api/state")
    assert {k: after[k] for k in SwapSettings().as_dict()} == {k: before[k] for k in SwapSettings().as_dict()}
    assert after["model"] == before["model"] and after["loading"] is None


def test_foreign_host_and_cross_origin_changes_are_refused(live):
    port = live["port"]
    status, answer = _request(port, "GET", "/api/state", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and "DNS rebinding" in answer["error"]
    status, answer = _request(port, "POST", "/api/state", {"swap": False}, headers={"Origin": "http://evil.example"})
    assert status == 403 and "origin" in answer["error"]
    _, state = _request(port, "GET", "/api/state")
    assert state["swap"] is True
    status, _ = _request(port, "GET", "/api/state", headers={"Host": f"localhost:{port}"})
    assert status == 200


def test_a_token_is_required_off_loopback_and_checked():
    assert PanelServer(None, "0.0.0.0", 8765).token  # a wildcard bind always gets a token (not started here)
    control = _FakeControl()
    with PanelServer(control, "127.0.0.1", 0, token="s3cret") as server:  # tests bind loopback only
        assert _request(server.port, "GET", "/api/state")[0] == 401
        assert _request(server.port, "GET", "/api/state", headers={"X-Swapcam-Token": "wrong"})[0] == 401
        assert _request(server.port, "GET", "/api/state", headers={"X-Swapcam-Token": "s3cret"})[0] == 200
        assert _request(server.port, "GET", "/api/state", headers={"Cookie": "swapcam_token=s3cret"})[0] == 200
        status, page = _request(server.port, "GET", "/?token=s3cret")
        assert status == 200 and b"swapcam" in page


class _FakeControl:
    models_dir = Path(".")

    def state(self):
        return {"swap": True}


def test_profile_round_trip_and_bad_profiles(tmp_path):
    s = SwapSettings().with_changes({"opacity": 0.4, "color": "lct", "faces": "all"})
    for name in ("p.toml", "p.json"):
        save_profile(tmp_path / name, s)
        assert SwapSettings().with_changes(load_profile(tmp_path / name)) == s
    (tmp_path / "bad.toml").write_text("opacity = 7\n")
    with pytest.raises(SwapcamError, match="opacity must be between"):
        load_profile(tmp_path / "bad.toml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SwapcamError, match="not valid"):
        load_profile(tmp_path / "bad.json")
    assert parse_panel_address(None) == ("127.0.0.1", 8765)
    assert parse_panel_address("9000") == ("127.0.0.1", 9000)
    assert parse_panel_address("0.0.0.0:9001") == ("0.0.0.0", 9001)
    with pytest.raises(SwapcamError, match="HOST:"):
        parse_panel_address("here:there")


def test_a_model_that_fails_to_load_leaves_the_current_one_running(models):
    class Swap:
        model, engine, settings = str(models / "a2b.onnx"), "fake", SwapSettings()

        def close(self):
            pass

    def load_model(path, *, info, warm):
        raise SwapcamError("out of GPU memory")

    from swapcam.live.telemetry import Telemetry

    swap = Swap()
    with LiveControl(PanelConfig(), swap, Telemetry(), load_model=load_model) as control:
        control.change({"model": "b2a.onnx"})
        _wait(lambda: control.state()["loading"] is None, 10, "the load to end")
        state = control.state()
        assert state["model"] == "a2b.onnx" and "could not load b2a.onnx: out of GPU memory" in state["message"]
        from swapcam.core.messages import Frame

        assert control.before_frame(swap, Frame(np.zeros((8, 8, 3), np.uint8), 0, 0.0)) is swap


def test_recording_and_profile_through_the_api(live):
    port = live["port"]
    status, state = _request(port, "POST", "/api/state", {"recording": True})
    assert status == 200 and state["recording"] and state["recording_path"]
    time.sleep(1.5)
    status, state = _request(port, "POST", "/api/state", {"recording": False})
    assert status == 200 and not state["recording"]
    import av

    files = list(Path(live["record_dir"]).glob("*.mp4"))
    assert len(files) == 1
    with av.open(str(files[0])) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 10 and "Synthetic media" in c.metadata["comment"]
    assert _request(port, "POST", "/api/state", {"feather": 0.05})[0] == 200
    status, saved = _request(port, "POST", "/api/profile/save", {})
    assert status == 200 and load_profile(saved["saved"])["feather"] == 0.05
    _request(port, "POST", "/api/state", {"feather": SwapSettings().feather})
    status, state = _request(port, "POST", "/api/profile/load", {})
    assert status == 200 and state["feather"] == 0.05
    _request(port, "POST", "/api/state", {"feather": SwapSettings().feather})


# -- the page in a real browser -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"headless Chromium not installed ({CHROMIUM}, {CHROMEDRIVER}): "
                    "apt-get install chromium chromium-driver")  # fmt: skip
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    import tempfile

    profile = tempfile.mkdtemp(prefix="swapcam-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,860", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(live, browser):
    t0 = time.perf_counter()
    browser.get(live["url"])
    _wait(lambda: browser.execute_script("return document.body.dataset.ready === '1'"), 30, "the page to start")
    live["load_s"] = time.perf_counter() - t0
    return browser


def _state(live) -> dict:
    return _request(live["port"], "GET", "/api/state")[1]


def test_the_page_loads_without_console_errors_and_the_preview_updates(page, live):
    frame = lambda: int(page.find_element("id", "preview-out").get_attribute("data-frame"))
    first = _wait(lambda: frame() >= 0 and frame(), 20, "a preview frame")
    _wait(lambda: frame() > first, 10, "the preview to update")
    img = page.find_element("id", "preview-out")
    # the next preview may be loading (naturalWidth 0 until it decodes): wait for a decoded one, 480 px wide
    _wait(lambda: page.execute_script("return arguments[0].naturalWidth", img) == 480, 10, "a decoded 480 px preview")
    page.find_element("id", "show-input").click()  # the input beside it
    shown = lambda: page.execute_script("return document.getElementById('preview-in').naturalWidth")
    _wait(lambda: shown() == 480, 10, "the input preview")
    page.find_element("id", "show-input").click()
    errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    print(f"page load to ready: {live['load_s'] * 1000:.0f} ms")


def test_clicking_swap_passes_frames_through_and_back(page, live, numbered):
    _, decoded = numbered
    button = page.find_element("id", "swap-toggle")
    assert button.get_attribute("data-state") == "on"
    assert min(_diffs_since(time.perf_counter(), decoded, 5)) > 3  # swapping: the face differs from the input
    button.click()
    _wait(lambda: _state(live)["swap"] is False, 5, "swap off")
    t_off = time.perf_counter()
    _wait(lambda: button.get_attribute("data-state") == "off", 5, "the button to show off")
    diffs = _diffs_since(t_off, decoded, 8)
    # within a few frames of the request every vcam frame is exactly its input frame
    assert max(diffs[3:]) == 0.0, diffs
    button.click()
    _wait(lambda: _state(live)["swap"] is True, 5, "swap on")
    assert min(_diffs_since(time.perf_counter(), decoded, 8)[3:]) > 3
    page.find_element("tag name", "body").send_keys("s")  # the keyboard shortcut
    _wait(lambda: _state(live)["swap"] is False, 5, "S to switch the swap off")
    page.find_element("tag name", "body").send_keys("s")
    _wait(lambda: _state(live)["swap"] is True, 5, "S to switch it on again")


def _set_slider(page, name: str, value: float) -> None:
    slider = page.find_element("id", f"setting-{name}")
    page.execute_script("arguments[0].value = arguments[1];"
                        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", slider, value)  # fmt: skip


def test_the_opacity_slider_scales_the_face_change(page, live, numbered):
    _, decoded = numbered

    def by_code(t0: float) -> dict[int, float]:  # a whole loop of the clip: the face's size changes along it
        _wait(lambda: len({f[1] for f in RecordingCamera.since(t0)}) >= 40, 30, "40 of the 60 frame numbers")
        return {code: _diff(img, decoded[code]) for _, code, img in RecordingCamera.since(t0)}

    full = by_code(time.perf_counter())
    _set_slider(page, "opacity", 0.5)
    _wait(lambda: _state(live)["opacity"] == 0.5, 5, "opacity 0.5")
    half = by_code(time.perf_counter() + 0.1)
    _set_slider(page, "opacity", 1.0)
    _wait(lambda: _state(live)["opacity"] == 1.0, 5, "opacity 1")
    common = sorted(set(full) & set(half))
    assert len(common) >= 20
    ratio = sum(half[c] for c in common) / sum(full[c] for c in common)
    # the blend is linear in opacity: |out - in| = opacity * |swapped - in| inside the mask, 0 outside
    assert 0.4 < ratio < 0.6, ratio


def test_switching_the_model_changes_the_face_without_a_gap(page, live, numbered):
    """The new model is swapped in between two frames: the vcam's stall across that moment (the time between two
    new frames) is at most two of the output's frame intervals. Only the model's engine and its stage of the
    pipeline load on the side thread (the landmarker is shared), but that load still competes for the CPU with
    the loop on this shared 2-core machine, so the gaps during the load are only bounded loosely here (0.07-0.16 s
    seen at a load average of 2, up to 0.47 s at 4-7; the benchmark reports them)."""
    from selenium.webdriver.support.ui import Select

    _, decoded = numbered
    t0 = time.perf_counter()
    before = {code: img for t, code, img in RecordingCamera.since(0) if t < t0}  # the old model's faces

    def face_change(img: np.ndarray, code: int) -> float:
        """Mean |img - the old model's output| over the pixels the old model changed (its face)."""
        ref = before[code]
        face = np.abs(ref.astype(np.int16) - decoded[code].astype(np.int16)).max(axis=2) > 8
        face[:16] = False  # the bar code
        if face.sum() < 500:
            return np.nan  # no swapped face in this frame
        return float(np.abs(img.astype(np.int16) - ref.astype(np.int16))[face].mean())

    with RecordingCamera.lock:  # the output's own interval between new frames (longer when the machine is busy)
        recent = [(t, c) for t, c in zip(RecordingCamera.times, RecordingCamera.codes) if t >= t0 - 2]
    fresh = [t for i, (t, c) in enumerate(recent) if i and c != recent[i - 1][1]]
    interval = max(1 / FPS, float(np.median(np.diff(fresh))))
    own_gap = float(np.diff(fresh).max())  # the loop's own longest gap between new frames, before any switch
    Select(page.find_element("id", "model")).select_by_value("b2a.onnx")
    _wait(lambda: _state(live)["model"] == "b2a.onnx", 60, "the switch to b2a")
    t1 = time.perf_counter()
    _wait(lambda: sum(f[1] in before for f in RecordingCamera.since(t1)) >= 8, 30, "8 frames of the new model")
    frames = RecordingCamera.since(t0 - 0.2)
    # new frames only: the runner's output clock repeats the last frame to cover a late one, and a stall is the
    # time between two new frames
    frames = [f for i, f in enumerate(frames) if i == 0 or f[1] != frames[i - 1][1]]
    times = np.array([f[0] for f in frames])
    changed = np.array([face_change(img, code) if code in before else np.nan for _, code, img in frames])
    # the first frame of the new model: from there on the other decoder paints another face
    known = [i for i in range(1, len(frames)) if not np.isnan(changed[i])]
    assert any(changed[i] > 6 for i in known), changed
    # the switch is where the split into "old face before, new face after" fits best: a frame that the loop got late
    # under the load (its tracker's smoothing a frame behind) can move the old face by ~10 levels once (CI, 2026-11-28)
    def misfits(split: int) -> int:
        return sum(changed[k] > 6 for k in known if k < split) + sum(changed[k] <= 6 for k in known if k >= split)

    first = min((k for k in known if changed[k] > 6), key=misfits)
    assert sum(changed[k] > 6 for k in known if k < first) <= 1, changed  # before it, the old model's face
    after = [changed[k] > 6 for k in known if k >= first]
    assert len(after) >= 5 and np.mean(after) >= 0.8, changed  # from it on, the new one's (a lost face aside)
    swap_gap = times[first] - times[first - 1]
    load_gap = float(np.diff(times[:first]).max())
    live["switch"] = {"load_s": round(t1 - t0, 2), "swap_gap_ms": round(swap_gap * 1000, 1),
                      "load_gap_ms": round(load_gap * 1000, 1), "interval_ms": round(interval * 1000, 1),
                      "own_gap_ms": round(own_gap * 1000, 1)}  # fmt: skip
    print(f"model switch: {live['switch']}")
    # at the swap: two output intervals (the swap-in is a reference swap; 16 runs at load averages 1.4-5 saw 16-60
    # ms against limits of 67 ms and more), or no more than the loop's own longest gap in the 2 s before, when a
    # busy machine already stalls it that long (the bare limit failed in 2 of 3 full-suite runs on 2026-11-27;
    # alone, this test's loop showed own gaps of 194 ms); benchmarks/bench_panel.py measures the real gap
    assert swap_gap <= max(2 * interval, own_gap), (swap_gap, interval, own_gap)
    assert load_gap <= 1.0, load_gap  # while it loads: no freeze
    assert "switched to b2a.onnx" in page.find_element("id", "message").text
    page.find_element("tag name", "body").send_keys("n")  # next model: back to a2b
    _wait(lambda: _state(live)["model"] == "a2b.onnx", 60, "N to switch back")


def test_screenshot_for_the_readme(page, live):
    _wait(lambda: int(page.find_element("id", "preview-out").get_attribute("data-frame")) >= 0, 10, "a preview")
    time.sleep(1.5)  # a few telemetry points on the charts
    png = page.get_screenshot_as_png()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] > 400 and image.shape[1] > 800
    out = ROOT / "docs" / "panel.png"
    out.parent.mkdir(exist_ok=True)
    for width in (1100, 960, 800, 640):  # the README's copy stays under 200 KB
        small = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
        _, data = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if len(data) <= 200_000:
            break
    out.write_bytes(data.tobytes())
    assert out.stat().st_size <= 200_000


# -- the panel's new settings: mirror, face scale and offset ---------------------------------------------------------
def test_mirror_flips_the_output_and_the_offset_moves_the_pasted_face(tiny_model, astronaut):
    from swapcam import FaceSwap

    def centroid(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
        """x, y centre and area (px) of where ``b`` differs from ``a``."""
        changed = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 8
        ys, xs = np.nonzero(changed)
        return float(xs.mean()), float(ys.mean()), float(changed.sum())

    with FaceSwap(tiny_model, video=False) as swap:
        plain = swap.swap(astronaut)
        swap.update(mirror=True)
        assert np.array_equal(swap.swap(astronaut), plain[:, ::-1])
        swap.update(mirror=False, face_x=0.1)
        right = swap.swap(astronaut)
        swap.update(face_x=0.0, face_scale=0.7)
        smaller = swap.swap(astronaut)
        with pytest.raises(SwapcamError, match="face_scale must be between"):
            swap.update(face_scale=3)
    x0, y0, area0 = centroid(astronaut, plain)
    x1, y1, _ = centroid(astronaut, right)
    assert x1 - x0 > 10 and abs(y1 - y0) < 0.3 * (x1 - x0)  # moved right, not down
    _, _, area_small = centroid(astronaut, smaller)
    assert area_small < 0.75 * area0  # 0.7x the size: about half the area changed
