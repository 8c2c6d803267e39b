"""The invisible watermark (swapcam.core.watermark, issue 16): cost, invisibility, robustness and false positives,
written to benchmarks/results/watermark.json.

    python benchmarks/bench_watermark.py [--model MODEL.onnx] [--resolution 128] [--max-seconds 10] [--png PATH]
        [--windows 2 [5 10 ...]] [--placement exact|sampled|follow] [--mark-strength 1.5]

1. Cost: median ms per face of the embed (one warp of the mark onto the face and a saturating add, in the frame
   after the blend) for the face of webcam_720p in its 720p frame and scaled to 1080p, and of the detection of one
   face in a 720p frame (block warp, DCT, correlation).
2. Invisibility: PSNR of the face region (the swap mask, > 0) of the marked against the unmarked swap, the same
   frames through the same pipeline with ``provenance`` on and off; ``--png`` writes a 100 % side-by-side of a face
   (unmarked | marked | difference x 16 around grey) to look at. It is not kept in the repository.
3. Robustness: every sample clip (up to ``--max-seconds`` each) is scaled onto a 1280x720 canvas, swapped through
   the live pipeline (a real model with ``--model``, else a pass-through "model" of ``--resolution`` px that
   returns its input face, so the figures are those of the mark and not of a model's looks; the marks placed as
   ``--placement`` says, ``convert``'s way by default, everything on the frame thread here, so that a run repeats
   to the digit) and written as
   convert writes it (x264 crf 18). Then: as written; x264 crf 28; scaled to 640x360 and sent as a WebRTC call
   sends it (real time, constant bit rate; VP8 and H.264 at libwebrtc's target for 640x360, 500 kbps, and VP8 at its
   minimum, 150 kbps); 640x360 and x264 crf 28 (62-243 kbps on these clips, under a call's minimum for most); 10 %
   of the frame cut from each border (crf 18); brightness x1.1 and x0.9 (crf 18); mirrored left-right (crf 18).
   Each attacked file is
   read back as ``swapcam verify`` reads it (landmarks again, up to 4 faces tracked, each track read on its own and
   the window marked when any track is) and judged per 2-second window (``--windows``: per window of each length
   given, one table each, from the same reading).
4. False positives: the same reading on unmarked faces: every frame of every sample clip (every face), the two
   packaged portraits and their virtual-camera clips; per frame, per 2-second window (every track of it read, a
   false positive when any is), and against 100 decoy keys
   (the same statistic with other keys, which samples the null far more densely).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swapcam.live.mark_track import MARK_PLACEMENTS
from swapcam.live.pipeline import FramePipeline, PipelineConfig
from swapcam.live.swapper import SwapConfig

from benchmarks.common import SHARED_DATA, write_results
from swapcam.core import watermark as wm
from swapcam.core.align import AlignSpec, align_face
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.mask import frame_mask
from swapcam.core.media_io import probe_video, read_video
from swapcam.core.messages import Frame, largest_face
from swapcam.core.model_info import ModelInfo

CLIPS = ("person_a.mp4", "person_b.mp4", "person_c_glasses.mp4", "webcam_720p.mp4", "greenscreen_short.mp4",
         "stage_small_faces.mp4")  # fmt: skip
WINDOW_S = 2.0
MIN_FACE_SHARE = 0.5  # a window counts as a clip with a face when a face is found in at least this share of frames
CANVAS = (1280, 720)


class PassThroughEngine:
    """A stand-in model: the "swapped" face is the input face and the mask is full. Everything else (landmarks,
    alignment, colour transfer, the mark, the blend) is the live pipeline's own."""

    name = "passthrough"

    def __init__(self, size: int) -> None:
        self.info = ModelInfo(AlignSpec(size=size), "passthrough", 0, "a", "a", "a2b")

    def run(self, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, _, r, _ = aligned.shape
        return aligned.copy(), np.ones((n, 1, r, r), np.float32)

    def close(self) -> None:
        pass


def _engine(args):
    if args.model:
        from swapcam.core.engines import open_engine

        return open_engine(args.model, "auto")
    return PassThroughEngine(args.resolution)


def to_canvas(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (720, 1280, 3): scaled to 720 rows, centred, the sides filled by reflection."""
    w, h = CANVAS
    if image.shape[:2] == (h, w):
        return image
    s = h / image.shape[0]
    img = cv2.resize(image, (round(image.shape[1] * s), h), interpolation=cv2.INTER_CUBIC)
    if img.shape[1] >= w:
        x0 = (img.shape[1] - w) // 2
        return np.ascontiguousarray(img[:, x0 : x0 + w])
    left = (w - img.shape[1]) // 2
    return cv2.copyMakeBorder(img, 0, 0, left, w - img.shape[1] - left, cv2.BORDER_REFLECT)


@dataclass(frozen=True)
class Encoding:
    """How an attacked clip is written: x264 at a constant quality (``crf``), or, with ``kbps``, a real-time encoder
    held to a video call's bit rate (libwebrtc's settings: no look-ahead, constant bit rate, a one-second buffer)."""

    codec: str = "libx264"  # or "libvpx" (VP8, the browsers' default for WebRTC calls)
    crf: int = 18
    kbps: int | None = None

    def options(self) -> dict[str, str]:
        if self.kbps is None:
            return {"crf": str(self.crf), "preset": "veryfast"}
        if self.codec == "libvpx":
            return {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0", "minrate": f"{self.kbps}k",
                    "maxrate": f"{self.kbps}k", "bufsize": f"{self.kbps}k", "undershoot-pct": "100",
                    "overshoot-pct": "15", "g": "3000"}  # fmt: skip
        return {"preset": "veryfast", "tune": "zerolatency",
                "x264-params": f"vbv-maxrate={self.kbps}:vbv-bufsize={self.kbps}:keyint=3000"}  # fmt: skip


def encode(frames, fps: float, how: Encoding = Encoding()) -> bytes:
    import av

    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(buf, "w", format="webm" if how.codec == "libvpx" else "mp4") as out:
        s = out.add_stream(how.codec, rate=rate)
        s.pix_fmt, s.options = "yuv420p", how.options()
        if how.kbps is not None:
            s.bit_rate = how.kbps * 1000
        first = True
        for i, f in enumerate(frames):
            if first:
                s.width, s.height = f.shape[1], f.shape[0]
                first = False
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts, vf.time_base = i, 1 / rate
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return buf.getvalue()


def decode(data: bytes):
    import av

    with av.open(io.BytesIO(data)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def _to_360p(f: np.ndarray) -> np.ndarray:
    return cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA)


# name: (what is done to each frame, how the result is written). The calls' bit rates are libwebrtc's for 640x360
# (media/engine/simulcast.cc: target 500, minimum 150 kbps); at crf 28 the 360p clips take 62-243 kbps.
ATTACKS = {
    "as_written": (None, Encoding()),
    "x264_crf28": (lambda f: f, Encoding(crf=28)),
    "downscale_640x360_crf28": (_to_360p, Encoding(crf=28)),
    "call_640x360_vp8_500kbps": (_to_360p, Encoding("libvpx", kbps=500)),
    "call_640x360_h264_500kbps": (_to_360p, Encoding(kbps=500)),
    "call_640x360_vp8_150kbps": (_to_360p, Encoding("libvpx", kbps=150)),
    "crop_10pct_each_border": (
        lambda f: np.ascontiguousarray(
            f[round(0.1 * f.shape[0]) : -round(0.1 * f.shape[0]), round(0.1 * f.shape[1]) : -round(0.1 * f.shape[1])]
        ),
        Encoding(),
    ),
    "brightness_plus10pct": (lambda f: cv2.convertScaleAbs(f, alpha=1.1), Encoding()),
    "brightness_minus10pct": (lambda f: cv2.convertScaleAbs(f, alpha=0.9), Encoding()),
    "mirrored": (lambda f: np.ascontiguousarray(f[:, ::-1]), Encoding()),  # a mirrored camera view
}


def read_blocks(frames, fps: float, *, largest_only: bool = True):
    """Per frame: (t, [(track, block)]) with the (B, B) luma mark block of each face, as swapcam verify reads them."""
    out = []
    with FaceLandmarker(LandmarkerConfig(video=True, max_faces=1 if largest_only else 4)) as lm:
        for i, f in enumerate(frames):
            faces = lm(Frame(f, i, i / fps))
            if largest_only and faces:
                faces = (largest_face(faces),)
            out.append(
                (
                    i / fps,
                    [(face.track_id, wm.face_block(f, face.landmarks)) for face in faces],
                )
            )
    return out


def windows(blocks, *, seconds: float = WINDOW_S):
    """Cuts the clip into consecutive windows of ``seconds`` and sums each face track's blocks within each, as
    ``swapcam verify`` reads a clip (every track on its own; the clip is marked when any track is): [(frames with a
    face, frames, [(faces, sum) per track])] for the windows that hold a face."""
    res, acc, n, frames, start = [], {}, 0, 0, 0.0

    def close() -> None:
        if n:
            res.append((n, frames, [(k, x) for k, x in acc.values()]))

    for t, faces in blocks:
        if t - start >= seconds - 1e-6:
            close()
            acc, n, frames, start = {}, 0, 0, t
        frames += 1
        n += bool(faces)
        for track, x in faces:
            k, total = acc.get(track, (0, None))
            acc[track] = (k + 1, x.astype(np.float64) if total is None else total + x)
    if blocks and (blocks[-1][0] - start) >= seconds * 0.9:
        close()
    return res


def read_window(tracks) -> wm.Reading:
    """A window's reading as ``swapcam verify`` gives it: its best track's (the highest z), marked when any track is
    marked."""
    readings = [wm.read_block(x.astype(np.float32), k) for k, x in tracks]
    best = max(readings, key=lambda r: r.z)
    return replace(best, marked=any(r.marked for r in readings))


def cost(results: dict) -> None:
    out = {}
    frame = next(iter(read_video(SHARED_DATA / "clips" / "webcam_720p.mp4")))
    with FaceLandmarker(LandmarkerConfig(video=False)) as lm:
        face = largest_face(lm(frame))
        spec = AlignSpec(size=128)
        emb = wm.WatermarkEmbedder(spec, 0x1234)
        for label, scale in (("720p", 1.0), ("1080p", 1.5)):  # the same face in a 720p and a 1080p frame
            image = cv2.resize(frame.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            f = largest_face(lm(Frame(image, 0, 0.0)))
            matrix = align_face(image, f, spec).matrix
            x0, y0, x1, y1 = f.box
            ts = []
            for _ in range(2000):
                t0 = time.perf_counter()
                emb(image, matrix)
                ts.append(time.perf_counter() - t0)
            out[f"embed_ms_per_face_{label}"] = round(float(np.median(ts)) * 1e3, 4)
            out[f"face_width_px_{label}"] = round(float(x1 - x0))
    ts = []
    wm.read_mark(wm.face_coefficients(frame.image, face.landmarks))  # builds the codebook and decoys once
    for _ in range(100):
        t0 = time.perf_counter()
        wm.face_coefficients(frame.image, face.landmarks)
        ts.append(time.perf_counter() - t0)
    out["detect_ms_per_face_720p"] = round(float(np.median(ts)) * 1e3, 3)  # per frame: warp, filter, DCT
    ts = []
    x = wm.face_coefficients(frame.image, face.landmarks)
    for _ in range(20):
        t0 = time.perf_counter()
        wm.read_mark(x)
        ts.append(time.perf_counter() - t0)
    out["read_ms_per_track"] = round(float(np.median(ts)) * 1e3, 3)  # once per face track at the end
    block = wm.face_block(frame.image, face.landmarks)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        wm.search_z(block)
        ts.append(time.perf_counter() - t0)
    out["search_ms_per_track"] = round(float(np.median(ts)) * 1e3, 1)  # when a track does not read as found
    results["cost"] = out
    print("cost", out, flush=True)


def swap_clip(path: Path, engine, max_s: float, psnrs: list, png: Path | None, *, placement: str = "exact",
              strength: float = 1.0):
    """The clip on the 720p canvas swapped with the mark (and, for the PSNR, without): the marked frames.
    ``placement`` (swapcam.live.mark_track): "exact" as ``convert`` places the marks, by verify's tracker on every
    swapped frame; "sampled" as the live loop does by default, by the sampled aligner (swapcam.live.mark_align);
    "follow" as ``live --mark-placement follow`` does, by that tracker's fit of each frame, first used on the next
    one (what its thread gives when it keeps up). All run in line here, so that a run is repeatable."""
    on = FramePipeline(engine, PipelineConfig(swap=SwapConfig(watermark=True, mark_strength=strength),
                                              mark_align_thread=False,
                                              mark_placement=placement))  # fmt: skip
    off = FramePipeline(engine, PipelineConfig(swap=replace(SwapConfig(), watermark=False)))
    frames, fps = [], probe_video(path).fps
    try:
        for fr in read_video(path):
            if fr.frame_id >= max_s * fps:
                break
            img = to_canvas(fr.image)
            frame = Frame(img.copy(), fr.frame_id, fr.t_capture)
            faces = on.find(frame)
            on.swap(frame, faces)
            if faces and fr.frame_id % 5 == 0:
                plain = Frame(img.copy(), fr.frame_id, fr.t_capture)
                off.swap(plain, faces)
                face = largest_face(faces)
                m = frame_mask(face.landmarks, img.shape).full(img.shape) > 0
                d = frame.image[m].astype(np.float64) - plain.image[m]
                mse = float(np.mean(d**2))
                psnrs.append(99.0 if mse == 0 else 10 * math.log10(255**2 / mse))
                if png is not None and not png.exists() and "webcam" in path.name and fr.frame_id >= 60:
                    side_by_side(plain.image, frame.image, face, png)
            frames.append(frame.image)
    finally:
        on.close()
        off.close()
    return frames, fps


def side_by_side(plain: np.ndarray, marked: np.ndarray, face, png: Path) -> None:
    x0, y0, x1, y1 = (int(v) for v in face.box)
    pad = (x1 - x0) // 4
    sl = (slice(max(y0 - pad, 0), y1 + pad), slice(max(x0 - pad, 0), x1 + pad))
    a, b = plain[sl], marked[sl]
    diff = np.clip(128 + 16 * (b.astype(np.int16) - a), 0, 255).astype(np.uint8)
    png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(png), cv2.cvtColor(np.hstack([a, b, diff]), cv2.COLOR_RGB2BGR))


def robustness(args, results: dict) -> None:
    engine = _engine(args)
    mid = wm.model_id(engine.info.to_metadata())
    psnrs: list[float] = []
    tables: dict[float, dict[str, dict]] = {w: {} for w in args.windows}
    per_clip: dict[str, dict] = {}
    png = Path(args.png) if args.png else None
    if png is not None and png.exists():
        png.unlink()
    for name in args.clips:
        path = SHARED_DATA / "clips" / name
        if not path.is_file():
            continue
        frames, fps = swap_clip(path, engine, args.max_seconds, psnrs, png, placement=args.placement,
                                strength=args.mark_strength)
        written = encode(frames, fps)
        del frames
        for attack, (fn, how) in ATTACKS.items():
            data = written if fn is None else encode((fn(f) for f in decode(written)), fps, how)
            blocks = read_blocks(decode(data), fps, largest_only=False)
            kbps = round(len(data) * 8 * fps / max(len(blocks), 1) / 1000)
            for w, table in tables.items():
                # a clip with a face: verify finds one in at least half of the window's frames (the stage clip's first
                # 2 s have a face in 1-3 of 60 frames, since the small faces are found only now and then)
                found = windows(blocks, seconds=w)
                kept = [tracks for n, frames, tracks in found if n >= MIN_FACE_SHARE * frames]
                readings = [read_window(tracks) for tracks in kept]
                row = table.setdefault(attack, {"clips": 0, "detected": 0, "id_read": 0, "id_wrong": 0, "z": [],
                                                "left_out_few_faces": 0})  # fmt: skip
                row["left_out_few_faces"] += len(found) - len(kept)
                row["clips"] += len(readings)
                row["detected"] += sum(r.marked for r in readings)
                row["id_read"] += sum(r.model_id == mid for r in readings)
                row["id_wrong"] += sum(r.model_id is not None and r.model_id != mid for r in readings)
                row["z"] += [round(r.z, 2) for r in readings]
                per_clip.setdefault(name, {}).setdefault(f"{w:g}s", {})[attack] = {
                    "clips": len(readings), "detected": sum(r.marked for r in readings),
                    "z": [round(r.z, 2) for r in readings], "kbps": kbps}  # fmt: skip
                print(f"{name:24s} {attack:26s} {w:4g} s windows {len(readings):3d} detected "
                      f"{sum(r.marked for r in readings):3d} z min {min((r.z for r in readings), default=0):6.2f} "
                      f"median {np.median([r.z for r in readings]) if readings else 0:6.2f}", flush=True)  # fmt: skip
    for table in tables.values():
        for row in table.values():
            z = row.pop("z")
            row["rate"] = round(row["detected"] / max(row["clips"], 1), 4)
            row["z_min"], row["z_median"] = (round(min(z), 2), round(float(np.median(z)), 2)) if z else (None, None)
    results["robustness"] = {
        "model": args.model or f"pass-through {args.resolution} px", "model_id": f"{mid:04x}",
        "mark_placement": args.placement,
        "mark_strength": args.mark_strength,
        "clip": f"windows of {', '.join(f'{w:g}' for w in args.windows)} s (each a per-clip decision; a window counts "
                f"when a face is found in at least {MIN_FACE_SHARE:.0%} of its frames), first {args.max_seconds:g} s "
                "of each sample clip on a 1280x720 canvas",
        "table": tables[args.windows[0]],
        "table_by_window_s": {f"{w:g}": t for w, t in tables.items()},
        "per_clip": per_clip,
    }  # fmt: skip
    results["psnr_face_region_db"] = {"min": round(min(psnrs), 2), "median": round(float(np.median(psnrs)), 2),
                                      "frames": len(psnrs)}  # fmt: skip
    print("psnr", results["psnr_face_region_db"], flush=True)


def decoy_directions(n: int) -> np.ndarray:
    """(N, n) marker directions of ``n`` other keys, built exactly like the real one."""
    cb = wm.codebook()
    signs = wm.payload_signs(0)[: wm.MARKER_BITS] * wm.bit_amplitudes()[: wm.MARKER_BITS]
    out = []
    for k in range(n):
        rng = np.random.default_rng([7, k])
        q, _ = np.linalg.qr(rng.standard_normal((len(cb.index[0]), wm.MARKER_BITS)))
        pattern = wm._from_band(q @ signs, cb.index, wm.MARK_SPEC.size) * cb.amplitude
        out.append(wm._detector_band(pattern, cb.index, cb.detect, cb.weights))
    return np.stack(out, axis=1)


def _search_decoys(block: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(K,) for the (N, K) other keys' marker directions ``u``: each key's best reading over the search grid (as-is
    and mirrored), the statistic verify's search would give if ``u`` were swapcam's key."""
    xs = wm.search_coefficients(block)
    best = np.full(u.shape[1], -np.inf)
    for m in (xs, xs * wm._mirror_signs()):
        rms = np.sqrt(np.mean((m @ wm.decoys()) ** 2, axis=1))[:, None]
        best = np.maximum(best, ((m @ u) / rms).max(axis=0))
    return best


def false_positives(args, results: dict) -> None:
    from swapcam.live.virtual_camera import CameraConfig, VirtualCamera

    from swapcam.core.portraits import portraits

    per_frame: list[np.ndarray] = []  # (B, B) luma blocks of every unmarked face
    window_blocks: dict[float, list[np.ndarray]] = {w: [] for w in args.windows}
    sources = {}
    for name in CLIPS:
        path = SHARED_DATA / "clips" / name
        if path.is_file():
            fps = 30.0
            frames = (f.image for f in read_video(path))
            sources[name] = (frames, fps)
    with FaceLandmarker(LandmarkerConfig(video=False, max_faces=4)) as lm:
        for i, image in enumerate(portraits()):
            faces = lm(Frame(image, 0, 0.0))
            for face in faces:
                per_frame.append(wm.face_block(image, face.landmarks))
            x0, y0, x1, y1 = largest_face(faces).box
            m = 0.3 * (x1 - x0)
            cam = VirtualCamera(image, CameraConfig(seed=i), focus=(x0 - m, y0 - m, x1 + m, y1 + m))
            sources[f"portrait_{i}_virtual_camera"] = (iter(cam), 30.0)
    counts = {}
    for name, (frames, fps) in sources.items():
        blocks = read_blocks(frames, fps, largest_only=False)
        xs = [x for _, faces in blocks for _, x in faces]
        counts[name] = len(xs)
        per_frame += xs
        for w, wb in window_blocks.items():
            wb += [[x.astype(np.float32) for _, x in tracks] for _, _, tracks in windows(blocks, seconds=w)]
        print(f"unmarked {name}: {len(xs)} faces", flush=True)
    t, ts = wm.Z_THRESHOLD, wm.Z_SEARCH
    x = np.stack([wm.block_coefficients(b) for b in per_frame])  # (F, N)
    z = wm.marker_z(x)
    zs = np.array([wm.search_z(b)[0] for b in per_frame])  # verify's search on every face alone
    print("searched every unmarked face", flush=True)
    u = decoy_directions(100)  # keys apart from the 128 the statistic is scaled by
    zd = (x @ u) / np.sqrt(np.mean((x @ wm.decoys()) ** 2, axis=1))[:, None]
    per_window = {}
    for w, wb in window_blocks.items():
        sums = [b for window in wb for b in window]  # every track of every window, each read on its own
        z0 = wm.marker_z(np.stack([wm.block_coefficients(b) for b in sums])) if sums else np.zeros(0)
        zw = np.array([wm.search_z(b)[0] for b in sums])
        zk = np.stack([_search_decoys(b, u) for b in sums]) if sums else np.zeros((0, u.shape[1]))
        hit = (z0 > t) | (zw > ts)
        owner = np.repeat(np.arange(len(wb)), [len(window) for window in wb])  # the window of each track sum
        per_window[f"per_{w:g}s_window"] = {
            "windows": len(wb), "false_positives": len(set(owner[hit].tolist())),
            "track_readings": len(sums), "track_false_positives": int(np.sum(hit)),
            "z_max": round(float(z0.max()), 2) if sums else None,
            "search_z_max": round(float(zw.max()), 2) if sums else None,
            "decoy_keys_search": {"samples": int(zk.size), "above_search_threshold": int(np.sum(zk > ts)),
                                  "above_4": int(np.sum(zk > 4.0)),
                                  "z_max": round(float(zk.max()), 2) if sums else None},
        }  # fmt: skip
    results["false_positives"] = {
        "threshold_z": t,
        "threshold_z_search": ts,
        "analytic_rate": float(math.erfc(t / math.sqrt(2))),  # two-sided: as-is or mirrored
        "analytic_rate_search_union_bound": float(len(wm.SEARCH_GRID) * math.erfc(ts / math.sqrt(2))),
        "faces_per_source": counts,
        "per_face_frame": {"faces": len(z), "false_positives": int(np.sum((z > t) | (zs > ts))),
                           "z_max": round(float(z.max()), 2), "z_mean": round(float(z.mean()), 3),
                           "z_std": round(float(z.std()), 3), "search_z_max": round(float(zs.max()), 2),
                           "search_z_mean": round(float(zs.mean()), 3)},
        **per_window,
        "decoy_keys": {"keys": u.shape[1], "samples": int(zd.size), "false_positives": int(np.sum(zd > t)),
                       "one_sided_normal_tail": float(0.5 * math.erfc(t / math.sqrt(2))),
                       "rate_above_3": float(np.mean(zd > 3.0)), "normal_tail_above_3": 0.00135,
                       "z_std": round(float(zd.std()), 3)},
    }  # fmt: skip
    print("false positives", results["false_positives"], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model from `swapcam export` (default: a pass-through model)")
    parser.add_argument(
        "--resolution",
        type=int,
        default=128,
        help="pass-through model's crop size (default 128)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=10.0,
        help="seconds of each clip to swap (default 10)",
    )
    parser.add_argument("--png", help="write the 100 %% side-by-side here (not into the repository)")
    parser.add_argument("--skip", action="append", default=[], choices=("cost", "robustness", "fpr"))
    parser.add_argument(
        "--clips",
        nargs="+",
        default=list(CLIPS),
        help="sample clips for the robustness test",
    )
    parser.add_argument("--windows", nargs="+", type=float, default=[WINDOW_S],
                        help="seconds per decision; several give a table each (default 2; the first is 'table')")
    parser.add_argument("--name", default="watermark", help="results file name (default: watermark)")
    parser.add_argument("--placement", choices=MARK_PLACEMENTS, default="exact",
                        help="where the marks go (swapcam live/convert --mark-placement): exact, as convert does "
                        "(default); sampled, as the live loop does by default; follow, as live --mark-placement "
                        "follow does")
    parser.add_argument("--mark-strength", type=float, default=1.0, metavar="X",
                        help="the mark's strength, times its default (swapcam live/convert --mark-strength; default 1)")
    args = parser.parse_args()
    results: dict = {
        "parameters": {
            "mark_block": {
                "size": wm.MARK_SPEC.size,
                "coverage_face_widths": wm.MARK_SPEC.coverage,
            },
            "band_dct_radius": list(wm.BAND),
            "band_columns": "odd only: every pattern antisymmetric left-right",
            "coefficients": len(wm.codebook().index[0]),
            "payload_bits": {
                "marker": wm.MARKER_BITS,
                "model_id": wm.ID_BITS,
                "crc": wm.CRC_BITS,
            },
            "strength_rms_levels_smooth_skin": wm.STRENGTH,
            "texture_masking": {"reference_levels": wm.MASK_REF, "power": wm.MASK_P, "cap": wm.MASK_CAP},
            "marker_share": wm.MARKER_SHARE,
            "threshold_z": wm.Z_THRESHOLD,
            "threshold_z_search": wm.Z_SEARCH,
            "search_grid": {"shifts_block_px": list(wm.SEARCH_SHIFTS)},
        }
    }
    if "cost" not in args.skip:
        cost(results)
    if "robustness" not in args.skip:
        robustness(args, results)
    if "fpr" not in args.skip:
        false_positives(args, results)
    print(write_results(args.name, results))


if __name__ == "__main__":
    main()
