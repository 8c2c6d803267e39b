"""Live control: the in-process object that the control panel and its API talk to while frames flow (issue 13).

The runner consults it once per frame, on its own thread, and nothing else in the hot path knows it exists:

    swap = control.before_frame(swap, frame)   # pending settings -> FaceSwap; a loaded model swapped in
    swap.process(frame)
    control.after_frame(frame)                 # a reduced preview (only while someone watches), the recording

Everything the web server calls (``state``, ``change``, ``models``, ``preview_jpeg``) takes a lock for a moment
and never waits for a frame. A model switch opens the new model on a side thread with ``FaceSwap.load_model``
(its engine and its stage of the pipeline only: the landmarker and its face tracks stay), ``before_frame`` swaps
it in between two frames with ``FaceSwap.use_model`` (a reference swap) and the side thread closes the old one, so
the output does not stall. A model that fails to load leaves the current one running and says why in
``state()["message"]``.

Settings are ``SwapSettings``' fields, found by ``dataclasses.fields``: a field added there is readable in the
state and settable through ``change`` with no code here. ``swap`` is an alias of ``enabled``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from swapcam.core.atomic import write_atomic
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.core.timing import percentiles
from swapcam.live.settings import CHOICES, RANGES, SwapSettings
from swapcam.live.slot import Closed, LatestSlot

if TYPE_CHECKING:
    from swapcam.core.model_info import ModelInfo

log = logging.getLogger(__name__)

# State keys that are not SwapSettings fields but can be POSTed.
CONTROL_KEYS = ("swap", "model", "recording")


@dataclass(frozen=True)
class PanelConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    models_dir: str | None = None  # default: the model's folder
    profile: str | None = None  # settings file (.json or .toml) to save to / load from
    record_dir: str = "."  # where the panel's recordings go
    preview_width: int = 480  # px; the preview keeps the frame's aspect ratio
    preview_fps: float = 10.0
    token: str | None = None  # required when host is not loopback (made up and printed when not given)
    announce: Callable[[str], None] | None = None  # shows the page address once (the CLI prints it; default: log)


def parse_panel_address(text: str | None) -> tuple[str, int]:
    """``[HOST:]PORT`` (or empty) -> (host, port); default 127.0.0.1:8765."""
    host, port = "127.0.0.1", 8765
    if text:
        h, sep, p = text.rpartition(":")
        if not sep:
            h, p = "", text
        try:
            port = int(p)
        except ValueError:
            raise SwapcamError(f"--panel wants [HOST:]PORT, not {text!r}") from None
        if not 0 < port < 65536:
            raise SwapcamError(f"--panel port must be 1..65535, not {port}")
        host = h.strip("[]") or host
    return host, port


# -- profiles -------------------------------------------------------------------------------------------------------
def load_profile(path: str | Path) -> dict[str, Any]:
    """A profile file (.toml, else JSON) -> the settings it holds, checked against ``SwapSettings`` (one line on
    a bad file or value)."""
    path = Path(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except OSError as exc:
        raise SwapcamError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SwapcamError(f"profile {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise SwapcamError(f"profile {path} must hold a table of settings")
    data = dict(data.get("settings", data))
    SwapSettings().with_changes(data)  # validates: unknown keys, types, ranges
    return data


def save_profile(path: str | Path, settings: SwapSettings) -> Path:
    path = Path(path)
    values = settings.as_dict()
    if path.suffix.lower() == ".toml":
        lines = ["# swapcam live settings (swapcam live --profile PATH)"]
        for k, v in values.items():
            lines.append(f"{k} = {'true' if v is True else 'false' if v is False else json.dumps(v)}")
        text = "\n".join(lines) + "\n"
    else:
        text = json.dumps(values, indent=2) + "\n"
    return write_atomic(path, text, sync=False)


def settings_schema() -> dict[str, dict[str, Any]]:
    """Every setting with its type, default and range or choices: the page builds its controls from this."""
    default = SwapSettings()
    out = {}
    for f in fields(SwapSettings):
        kind = f.type if f.type in ("bool", "int", "float") else "str"
        entry: dict[str, Any] = {"type": kind, "default": getattr(default, f.name)}
        if f.name in RANGES:
            entry["min"], entry["max"] = RANGES[f.name]
        if f.name in CHOICES:
            entry["choices"] = list(CHOICES[f.name])
        out[f.name] = entry
    return out


def describe_model(path: Path) -> dict[str, Any]:
    """What ``swapcam info`` says of a model file, as a dict (``error`` for a file this swapcam cannot run)."""
    from swapcam.core.model_info import read_model_info

    try:
        info = read_model_info(path)
    except SwapcamError as exc:
        return {"name": path.name, "error": str(exc)}
    a = info.align
    return {"name": path.name, "source": info.source, "target": info.target, "direction": info.direction,
            "precision": info.precision, "resolution": a.size, "preset": info.preset, "step": info.step,
            "alignment": a.template_id, "coverage": a.coverage, "exported_by": info.exported_by,
            "size_mb": round(path.stat().st_size / 1e6, 2)}  # fmt: skip


class LiveControl:
    """Current settings, the pending model switch, the latest preview frames and a telemetry snapshot.

    ``load_model(path, info=, warm=) -> LoadedModel`` opens a model on the side (default: ``swap.load_model``,
    which uses the run's engine, settings and telemetry, and runs ``warm``, a recent output frame, through the new
    model first so that its first live frame is not its slowest); ``dropped()`` reads the capture slot's drop count.
    """

    def __init__(self, config: PanelConfig, swap, telemetry, *, load_model: Callable[..., Any] | None = None,
                 fps: float = 30.0, dropped: Callable[[], int] = lambda: 0) -> None:  # fmt: skip
        self.config = config
        self._lock = threading.Lock()
        self._swap = swap  # the runner's FaceSwap (a model switch happens inside it)
        self._current: SwapSettings = swap.settings  # its settings, read by the runner's thread between frames
        self._pending_settings: SwapSettings | None = None  # changes not yet handed to it
        self._tel = telemetry
        self._load_model = load_model or swap.load_model
        self._fps = fps
        self._dropped = dropped
        self.models_dir = Path(config.models_dir or Path(swap.model).parent).resolve()
        self._model_path = Path(swap.model).resolve()
        self._loading: str | None = None
        self._ready = None  # (LoadedModel, path) waiting for the next frame
        self._message: str | None = None
        self._threads: list[threading.Thread] = []
        self._retired: queue.SimpleQueue = queue.SimpleQueue()  # a replaced LoadedModel, for the load thread to close
        # preview: allocated on the first watched frame, reused; a client asked for it within the last 3 s
        self._preview_every = 1.0 / max(config.preview_fps, 0.1)
        self._watch_until = 0.0  # perf_counter until which someone watches the output / the input
        self._watch_input_until = 0.0
        self._next_input = 0.0
        self._last_out: Frame | None = None  # the newest output frame while watched (a reference, not a copy)
        self._warm: Frame | None = None  # the newest output frame while a model loads (its warm-up input)
        self._out_small: np.ndarray | None = None  # (h, w, 3) uint8 RGB, the server thread's
        self._in_small: np.ndarray | None = None  # (h, w, 3) uint8 RGB, the newest reduced input
        self._in_buf: np.ndarray | None = None  # its spare twin, written by the runner's thread
        self._jpeg_lock = threading.Lock()
        self._jpeg_cache: dict[str, tuple[int, bytes | None, float]] = {}  # which -> (frame id, JPEG, fresh until)
        # recording
        self._record_slot: LatestSlot[Frame] | None = None
        self._record_thread: threading.Thread | None = None
        self._record_path: str | None = None
        # telemetry
        self._cpu = (time.perf_counter(), time.process_time(), 0.0)
        self._closed = False
        self.url: str | None = None  # the page address, set by open_panel

    # -- read side (any thread) -----------------------------------------------------------------------------------
    @property
    def settings(self) -> SwapSettings:
        """The settings in force from the next frame on (changes wait here and reach FaceSwap on the runner's
        thread, so that two quick changes never race inside FaceSwap's own hand-over)."""
        return self._pending_settings or self._current

    def models(self) -> list[dict[str, Any]]:
        """Every .onnx in the models folder, with what `swapcam info` says of it."""
        out = []
        for p in sorted(self.models_dir.glob("*.onnx")):
            d = describe_model(p)
            d["current"] = p.resolve() == self._model_path
            out.append(d)
        return out

    def _model_name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.models_dir))
        except ValueError:
            return str(path)

    def telemetry(self) -> dict[str, Any]:
        tel, last = self._tel, 300  # the last 300 samples: ten seconds at 30 fps
        with tel._lock:  # a short copy; percentiles are computed outside the lock
            tails = {k: d.latest(last) for k, d in tel.stages.items()}
            counters = dict(tel.counters)
            primary = tel._primary
        now, cpu_now = time.perf_counter(), time.process_time()
        t0, c0, pct = self._cpu
        if now - t0 >= 0.5:
            pct = 100.0 * (cpu_now - c0) / (now - t0)
            self._cpu = (now, cpu_now, pct)
        lat = percentiles(tails.get(f"latency {primary}", ()), (50, 95, 99))
        stages = {k: percentiles(v)["p50_ms"] for k, v in tails.items() if not k.startswith("latency")}
        if "faces" in counters:  # "faces" is also a setting (largest/all): the counter gets its own name
            counters["faces_swapped"] = counters.pop("faces")
        return {**counters, "fps": round(tel.fps_now(), 2), "dropped": self._dropped(),
                "latency_ms": {k: lat[k] for k in ("p50_ms", "p95_ms", "p99_ms")}, "stages_ms": stages,
                "cpu_percent": round(pct, 1), "engine": self._swap.engine}  # fmt: skip

    def state(self) -> dict[str, Any]:
        s = self.settings
        with self._lock:
            ctl = {"swap": s.enabled, "model": self._model_name(self._model_path), "loading": self._loading,
                   "message": self._message, "recording": self._record_slot is not None,
                   "recording_path": self._record_path}  # fmt: skip
        return {**self.telemetry(), **s.as_dict(), **ctl}  # settings win over any like-named counter

    # -- write side (the web server's thread) ---------------------------------------------------------------------
    def resolve_model(self, name: Any) -> tuple[Path, ModelInfo]:
        """A model name or path -> (a .onnx file inside the models folder that this swapcam can run, its
        ``ModelInfo``)."""
        if not isinstance(name, str) or not name:
            raise SwapcamError(f"model must be a file name, not {name!r}")
        path = (self.models_dir / name).resolve()
        if not path.is_relative_to(self.models_dir):
            raise SwapcamError(f"model {name!r} is not inside the models folder {self.models_dir}")
        if path.suffix != ".onnx" or not path.is_file():
            raise SwapcamError(f"no model {name!r} in {self.models_dir}")
        from swapcam.core.model_info import read_model_info

        return path, read_model_info(path)  # a foreign or damaged file: refused now, with its one line

    def change(self, changes: Any) -> dict[str, Any]:
        """Applies a JSON object of changes (settings, ``swap``, ``model``, ``recording``) from the next frame on;
        everything is checked first, and a bad value raises SwapcamError with nothing changed. Returns the state."""
        if not isinstance(changes, dict):
            raise SwapcamError("the request body must be a JSON object of settings to change")
        changes = dict(changes)
        if "swap" in changes:
            swap = changes.pop("swap")
            if not isinstance(swap, bool):
                raise SwapcamError(f"swap must be true or false, not {swap!r}")
            changes.setdefault("enabled", swap)
        model, info = self.resolve_model(changes.pop("model")) if "model" in changes else (None, None)
        recording = changes.pop("recording", None)
        if recording is not None and not isinstance(recording, bool):
            raise SwapcamError(f"recording must be true or false, not {recording!r}")
        with self._lock:
            if model is not None and model != self._model_path and self._loading is not None:
                raise SwapcamError(f"{self._loading} is still loading; try again when it is in use")
            if changes:
                self._pending_settings = self.settings.with_changes(changes)  # raises before anything changed
            if model is not None and model != self._model_path:
                self._start_load(model, info)
        if recording is not None:
            self._set_recording(recording)
        return self.state()

    def save_profile(self) -> str:
        if not self.config.profile:
            raise SwapcamError("no profile file: start with --profile PATH")
        return str(save_profile(self.config.profile, self.settings))

    def load_profile(self) -> dict[str, Any]:
        if not self.config.profile:
            raise SwapcamError("no profile file: start with --profile PATH")
        return self.change(load_profile(self.config.profile))

    def _start_load(self, path: Path, info: ModelInfo) -> None:
        self._loading, self._message = self._model_name(path), None

        def load() -> None:
            t0 = time.perf_counter()
            try:
                warm = self._last_out or self._warm  # a recent output frame (not changed any more): warm-up input
                new = self._load_model(path, info=info, warm=None if warm is None else warm.image)
            except Exception as exc:  # the current model keeps running
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("panel: cannot load %s (%s); %s keeps running", path.name, msg, self._model_path.name)
                with self._lock:
                    self._loading, self._message = None, f"could not load {path.name}: {msg}"
                return
            with self._lock:
                closed = self._closed
                if not closed:
                    self._ready = (new, path)
            if closed:
                new.close()
                return
            log.info("panel: %s loaded in %.2f s; switching", path.name, time.perf_counter() - t0)
            while not self._closed:  # this thread also closes the model it replaces (no thread start per frame)
                try:
                    old = self._retired.get(timeout=0.5)
                except queue.Empty:
                    continue
                old.close()
                return

        t = threading.Thread(target=load, name="panel-model-load", daemon=True)
        self._threads.append(t)
        t.start()

    # -- the runner's hooks (its thread, once per frame) ----------------------------------------------------------
    def before_frame(self, swap, frame: Frame):
        """Returns the FaceSwap to process ``frame`` with (``swap`` itself): a freshly loaded model is swapped into
        it here, between two frames, by a reference swap; a reduced copy of the input is kept while someone
        watches."""
        if self._ready is not None:
            with self._lock:
                (new, path), self._ready = self._ready, None
            old = swap.use_model(new)  # the settings and face tracks carry over
            with self._lock:
                self._model_path, self._loading, self._warm = path, None, None
                self._message = f"switched to {path.name}"
            self._retired.put(old)  # closed by the thread that loaded ``new``
        if self._pending_settings is not None:
            with self._lock:
                swap.settings, self._pending_settings = self._pending_settings, None  # applied by this frame
        self._current = swap.settings
        if frame.t_capture < self._watch_input_until and frame.t_capture >= self._next_input:
            # the input is changed in place by the swap: a reduced copy now (only while shown, <= preview_fps)
            self._next_input = frame.t_capture + self._preview_every
            small = self._shrink(frame.image, self._in_buf)
            with self._lock:
                self._in_buf, self._in_small = self._in_small, small  # double buffer: the server reads the other
        return swap

    def after_frame(self, frame: Frame) -> None:
        """Keeps a reference to the output frame while someone watches the preview (the frame is not changed after
        this; the server shrinks and encodes it on its own thread, at most ``preview_fps`` times a second) and
        hands the frame to the recording, if one runs. Nothing is copied or allocated here."""
        if self._record_slot is not None:
            self._record_slot.put(frame)
        if frame.t_capture < self._watch_until:
            self._last_out = frame
        elif self._loading is not None:
            self._warm = frame

    def _shrink(self, image: np.ndarray, buf: np.ndarray | None) -> np.ndarray:
        h, w = image.shape[:2]
        pw = min(self.config.preview_width, w)
        ph = max(2, round(h * pw / w))
        if buf is None or buf.shape[:2] != (ph, pw):
            buf = np.empty((ph, pw, 3), np.uint8)  # once: reused from then on
        cv2.resize(image, (pw, ph), dst=buf, interpolation=cv2.INTER_LINEAR)
        return buf

    def preview_jpeg(self, which: str = "output", quality: int = 80) -> tuple[int, bytes | None]:
        """(frame id, JPEG bytes) of the newest preview, encoded at most ``preview_fps`` times a second whatever
        the number of clients; asking keeps the preview running for 3 s. Runs on the server's thread."""
        now = time.perf_counter()
        self._watch_until = now + 3.0
        if which == "input":
            self._watch_input_until = now + 3.0
        with self._jpeg_lock:  # one encoder at a time; others get its result
            cached = self._jpeg_cache.get(which)
            if cached is not None and now < cached[2]:
                return cached[0], cached[1]
            if which == "input":
                with self._lock:
                    src, fid = self._in_small, -1
                    bgr = None if src is None else cv2.cvtColor(src, cv2.COLOR_RGB2BGR)
            else:
                frame = self._last_out
                if frame is None:
                    return -1, None
                fid = frame.frame_id
                self._out_small = self._shrink(frame.image, self._out_small)
                bgr = cv2.cvtColor(self._out_small, cv2.COLOR_RGB2BGR)
            if bgr is None:
                return fid, None
            ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            result = (fid, data.tobytes() if ok else None)
            self._jpeg_cache[which] = (*result, now + self._preview_every)
            return result

    # -- recording ------------------------------------------------------------------------------------------------
    def _set_recording(self, on: bool) -> None:
        if on and self._record_slot is None:
            from swapcam.live.sinks.av_out import AvSink

            folder = Path(self.config.record_dir)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SwapcamError(f"cannot record into {folder}: {exc.strerror or exc}") from exc
            path = folder / time.strftime("swapcam-%Y%m%d-%H%M%S.mp4")
            slot: LatestSlot[Frame] = LatestSlot()

            def record() -> None:
                sink = None
                try:
                    while True:
                        try:
                            frame = slot.get(timeout=0.5)
                        except Closed:
                            return
                        if frame is None:
                            continue
                        if sink is None:
                            h, w = frame.image.shape[:2]
                            sink = AvSink(str(path), w, h, self._fps, model=self._model_path.name)
                        sink.write(frame)
                except Exception as exc:
                    log.warning("panel: recording to %s stopped: %s", path, exc)
                    with self._lock:
                        self._message = f"recording stopped: {str(exc).splitlines()[0]}"
                        self._record_slot = None
                finally:
                    if sink is not None:
                        sink.close()
                        log.info("panel: recorded %d frames to %s", sink.frames, path)

            t = threading.Thread(target=record, name="panel-record", daemon=True)
            with self._lock:
                self._record_slot, self._record_path, self._record_thread = slot, str(path), t
            t.start()
        elif not on and self._record_slot is not None:
            with self._lock:
                slot, t, self._record_slot = self._record_slot, self._record_thread, None
            slot.close()
            t.join(timeout=10)

    # -- lifetime -------------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._set_recording(False)
        with self._lock:
            self._closed = True
            ready, self._ready = self._ready, None
        for t in self._threads:
            t.join(timeout=30)
        if ready is not None:
            ready[0].close()
        while True:  # replaced models their load thread did not close (the one in use is the runner's FaceSwap's)
            try:
                self._retired.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self) -> LiveControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
