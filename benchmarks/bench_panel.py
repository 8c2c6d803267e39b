"""What the live control panel costs (issue 13): capture->vcam latency and CPU with the panel open and its preview
streaming, against the same run without it, in one process run; the longest output gap during a model switch; the
page's load time in headless Chromium.

    python benchmarks/bench_panel.py --model A.onnx [--switch-to B.onnx] [--clip webcam_720p] [--seconds 20]

Runs alternate (off, on, off, on, ... ``--rounds`` times each) on the same clip, looped and paced at its 30 fps, into
the real pyvirtualcam.Camera with an in-memory backend. "on" has a client in another process polling
/api/preview.jpg at 10 Hz (the page's rate) and reading /api/events (the telemetry push), so only the server's
and the preview's work lands in the measured process. CPU is this process's CPU time over wall time (% of one
core). On a busy machine that A/B difference is mostly noise, so the panel's own costs are also measured directly:
the runner's two per-frame hook calls (percentiles) and the CPU time of the server's thread (JPEG encoding, JSON,
HTTP). Goal: on - off <= 2 ms at p95 and <= 10 % of one core. Results: benchmarks/results/panel.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, write_results  # noqa: E402
from swapcam.live.control import PanelConfig  # noqa: E402
from swapcam.live.runner import LiveConfig, run_live  # noqa: E402
from swapcam.live.sinks import SinkOptions  # noqa: E402
from swapcam.live.sources import SourceConfig  # noqa: E402

# The client: preview polling at 10 Hz and the event stream, in its own process (its CPU is not the panel's).
CLIENT = r"""
import sys, threading, time, urllib.request
base, seconds = sys.argv[1], float(sys.argv[2])
end = time.time() + seconds
def events():
    try:
        with urllib.request.urlopen(base + "api/events", timeout=10) as r:
            while time.time() < end and r.readline():
                pass
    except OSError:
        pass
threading.Thread(target=events, daemon=True).start()
n = 0
while time.time() < end:
    try:
        with urllib.request.urlopen(base + "api/preview.jpg", timeout=5) as r:
            n += len(r.read()) > 0
    except OSError:
        break
    time.sleep(0.1)
print(n, flush=True)
"""


HOOK_S: list[float] = []  # the runner's per-frame calls into the panel (before_frame + after_frame), seconds


def _timed_hooks() -> None:
    """Times LiveControl's two per-frame hooks where the runner calls them (what the panel adds to a frame)."""
    from swapcam.live.control import LiveControl

    before, after = LiveControl.before_frame, LiveControl.after_frame

    def timed_before(self, swap, frame):
        t0 = time.perf_counter()
        out = before(self, swap, frame)
        self._bench_t = time.perf_counter() - t0
        return out

    def timed_after(self, frame):
        t0 = time.perf_counter()
        after(self, frame)
        HOOK_S.append(getattr(self, "_bench_t", 0.0) + time.perf_counter() - t0)

    LiveControl.before_frame, LiveControl.after_frame = timed_before, timed_after


def _thread_cpu_s(name: str) -> float:
    """CPU seconds (user + system) of this process's thread called ``name`` (Linux /proc), 0 when absent."""
    import os

    for t in threading.enumerate():
        if t.name == name and t.native_id:
            fields = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


class StampCamera:
    """pyvirtualcam backend that keeps only the arrival times of new frames (the runner's output clock repeats the
    last frame to cover a late one: a repeat is recognised by a sample of its pixels and not counted)."""

    times: list[float] = []
    last_sig: bytes = b""

    def __init__(self, *, width, height, fps, fourcc, device, **kw) -> None:
        StampCamera.times, StampCamera.last_sig = [], b""

    def device(self) -> str:
        return "bench-panel0"

    def native_fmt(self):
        return None

    def send(self, frame) -> None:
        sig = frame[::4099].tobytes()  # ~700 bytes spread over the frame
        if sig != StampCamera.last_sig:
            StampCamera.last_sig = sig
            StampCamera.times.append(time.perf_counter())

    def close(self) -> None:
        pass


def one_run(model: str, clip: str, seconds: float, *, panel: bool, switch_to: str | None = None,
            models_dir: str | None = None) -> dict:  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()
    config = LiveConfig(model, clip, ("vcam",), source_config=SourceConfig(loop=True), status=False,
                        sink_options=SinkOptions(vcam_backend="bench-panel"),
                        panel=PanelConfig(port=0, models_dir=models_dir,
                                          announce=lambda s: (lines.append(s), ready.set())) if panel else None)  # fmt: skip
    stop = threading.Event()
    out: dict = {}

    def run() -> None:
        out["stats"] = run_live(config, stop)

    t = threading.Thread(target=run)
    c0, w0 = time.process_time(), time.perf_counter()
    t.start()
    client = None
    switch: dict = {}
    if panel:
        ready.wait(60)
        url = re.search(r"http://\S+", lines[0]).group(0)
        time.sleep(1.0)
        left = seconds - (time.perf_counter() - w0) - 0.5
        client = subprocess.Popen([sys.executable, "-c", CLIENT, url, str(left)], stdout=subprocess.PIPE, text=True)
        if switch_to:
            time.sleep(seconds / 2)
            import urllib.request

            t_req = time.perf_counter()
            req = urllib.request.Request(url + "api/state", data=json.dumps({"model": switch_to}).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
            urllib.request.urlopen(req, timeout=10).read()
            while True:
                with urllib.request.urlopen(url + "api/state", timeout=10) as r:
                    if json.loads(r.read())["model"] == Path(switch_to).name:
                        break
                time.sleep(0.02)
            t_done = time.perf_counter()
            time.sleep(0.5)
            ts = np.array([x for x in StampCamera.times if t_req - 0.1 <= x <= t_done + 0.5])
            before = np.array([x for x in StampCamera.times if t_req - 3 <= x < t_req])
            switch = {"load_s": round(t_done - t_req, 2),
                      "longest_gap_ms": round(float(np.diff(ts).max()) * 1000, 1),
                      "longest_gap_in_the_3s_before_ms": round(float(np.diff(before).max()) * 1000, 1),
                      "new_frames_during": len(ts)}  # fmt: skip
    time.sleep(max(0.0, seconds - (time.perf_counter() - w0)))
    server_cpu = _thread_cpu_s("panel-http") / (time.perf_counter() - w0) * 100 if panel else 0.0
    stop.set()
    t.join()
    cpu = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
    polled = int(client.communicate(timeout=30)[0].strip() or 0) if client else 0
    hooks = {}
    if panel:
        from swapcam.core.timing import percentiles

        hooks = {"hooks_per_frame": percentiles(HOOK_S, (50, 95, 99)), "server_thread_cpu_percent": round(server_cpu, 2)}
        HOOK_S.clear()
    stats = out["stats"]
    gaps = np.diff(StampCamera.times[30:]) * 1000
    lat = stats["latency_capture_to_sink"]
    return {"panel": panel, "p50_ms": lat["p50_ms"], "p95_ms": lat["p95_ms"], "cpu_percent": round(cpu, 1),
            "frames_out": stats["frames_out"], "dropped": stats["dropped_capture"], "previews_polled": polled,
            "longest_new_frame_gap_ms": round(float(gaps.max()), 1) if len(gaps) else None, **hooks,
            **({"switch": switch} if switch else {})}  # fmt: skip


def page_load(model: str, clip: str) -> dict:
    """Seconds from navigation to the page's ready mark in headless Chromium (skipped when it is not installed)."""
    if not (Path("/usr/bin/chromium").is_file() and Path("/usr/bin/chromedriver").is_file()):
        return {"skipped": "chromium/chromedriver not installed"}
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    lines: list[str] = []
    ready = threading.Event()
    stop = threading.Event()
    config = LiveConfig(model, clip, ("vcam",), source_config=SourceConfig(loop=True), status=False,
                        sink_options=SinkOptions(vcam_backend="bench-panel"),
                        panel=PanelConfig(port=0, announce=lambda s: (lines.append(s), ready.set())))  # fmt: skip
    t = threading.Thread(target=run_live, args=(config, stop))
    t.start()
    profile = tempfile.mkdtemp(prefix="swapcam-chromium-")
    try:
        ready.wait(60)
        url = re.search(r"http://\S+", lines[0]).group(0)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                driver.get(url)
                while driver.execute_script("return document.body.dataset.ready") != "1":
                    time.sleep(0.005)
                times.append(time.perf_counter() - t0)
            first_preview = driver.execute_script("return performance.now()")
        finally:
            driver.quit()
        return {"ms": [round(x * 1000) for x in times], "median_ms": round(float(np.median(times)) * 1000),
                "note": "navigation to document.body.dataset.ready (settings, state and models fetched)",
                "performance_now_ms": round(first_preview)}  # fmt: skip
    finally:
        stop.set()
        t.join()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--switch-to", help="a second model, in the same folder, switched to during each panel run")
    parser.add_argument("--clip", default="webcam_720p")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import pyvirtualcam

    pyvirtualcam.register_backend("bench-panel", StampCamera)
    _timed_hooks()
    clip = SHARED_DATA / "clips" / f"{args.clip}.mp4"
    if not clip.is_file():
        sys.exit(f"bench_panel: {clip} not found (see ../shared/data/SOURCES.md)")
    one_run(args.model, str(clip), 5, panel=False)  # warm-up, not counted: first imports, caches
    HOOK_S.clear()
    runs = []
    for _ in range(args.rounds):
        for panel in (False, True):
            runs.append(one_run(args.model, str(clip), args.seconds, panel=panel))
            print(json.dumps(runs[-1]), flush=True)
    switches = []
    if args.switch_to:  # its own runs: a model load on the side is not the panel's steady cost
        for _ in range(args.rounds):
            r = one_run(args.model, str(clip), args.seconds, panel=True, switch_to=args.switch_to,
                        models_dir=str(Path(args.model).parent))  # fmt: skip
            print(json.dumps(r), flush=True)
            switches.append(r["switch"])
    off = [r for r in runs if not r["panel"]]
    on = [r for r in runs if r["panel"]]
    mean = lambda rs, k: float(np.mean([r[k] for r in rs]))
    median = lambda rs, k: float(np.median([r[k] for r in rs]))
    overhead = {"p95_ms": round(mean(on, "p95_ms") - mean(off, "p95_ms"), 2),
                "p95_ms_median_of_runs": round(median(on, "p95_ms") - median(off, "p95_ms"), 2),
                "p50_ms": round(mean(on, "p50_ms") - mean(off, "p50_ms"), 2),
                "cpu_percent_of_one_core": round(mean(on, "cpu_percent") - mean(off, "cpu_percent"), 1),
                "hooks_p95_ms": round(max(r["hooks_per_frame"]["p95_ms"] for r in on), 3),
                "hooks_max_p99_ms": round(max(r["hooks_per_frame"]["p99_ms"] for r in on), 3),
                "server_thread_cpu_percent": round(mean(on, "server_thread_cpu_percent"), 2)}  # fmt: skip
    results = {"model": args.model, "switch_to": args.switch_to, "clip": args.clip, "seconds": args.seconds,
               "runs": runs, "overhead": overhead, "switch": switches, "page_load": page_load(args.model, str(clip)),
               "goals_met": {"p95_overhead<=2ms": overhead["p95_ms"] <= 2,
                             "hooks_p95<=2ms": overhead["hooks_p95_ms"] <= 2,
                             "cpu_overhead<=10%": overhead["cpu_percent_of_one_core"] <= 10,
                             "server_thread_cpu<=10%": overhead["server_thread_cpu_percent"] <= 10,
                             "switch_gap<=2_intervals": all(s["longest_gap_ms"] <= 2000 / 30 for s in switches)}}  # fmt: skip
    print(json.dumps({"overhead": overhead, "switch": switches, "page_load": results["page_load"]}, indent=2))
    print(f"wrote {write_results('panel', results)}")


if __name__ == "__main__":
    main()
