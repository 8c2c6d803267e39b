"""An invisible watermark in every swapped face: spread spectrum in the DCT mid-band of a template-aligned block
(issue 16). NumPy and OpenCV only.

Where it lives. The mark is defined in a fixed *mark block*: ``MARK_SPEC``, a 128 x 128 crop of the face aligned
onto swapcam's canonical template (``swapcam.core.template``), 1.1 face widths across, centred on the face. Inside
it an ``envelope`` (an ellipse over the inner face, where the swap mask is opaque) limits the mark to the face.
The block does not depend on the model. The compositor draws it **in the frame, after the blend**: one warp of the
block onto the pasted face (block and model crop are the same least-squares fit onto the template, scaled and
shifted), weighted by the blend's alpha so that it stays on the swapped face, and one saturating add to the luma.
Drawn at the frame's resolution, the mark keeps its whole band whatever the model's resolution (a 64 or 128 px
crop would cut off or soften the top of the band when the blend scales it up). ``swapcam verify`` re-detects
landmarks, re-aligns the block and correlates, without the model.

The payload (40 bits): a fixed 16-bit "synthetic" marker, a 16-bit model id (a hash of the model's metadata, see
``model_id``) and an 8-bit CRC of the id. Every bit i has its own pattern: a unit vector over the N = 1364 DCT
coefficients of the band (9 to 28 cycles per face width) **in odd columns only**, so that every pattern is
antisymmetric left-right: faces are nearly symmetric, so their own content, the noise the detector has to beat,
is far smaller there. The 40 vectors are pseudo-random from the public ``KEY`` and orthonormal. The mark is
``sum_i a_i s_i v_i`` (s_i = +-1; the marker bits carry ``MARKER_SHARE`` of the energy), inverse-DCT'd and limited
to the ``envelope``. A model's payload is fixed, so this is one fixed image, built once per model (and once per
smaller face size, band-limited to what the face's pixels hold). Per frame it is then shaped by texture masking
(``WatermarkEmbedder._masking``): ``STRENGTH`` levels RMS where the swapped face is smooth, where a pattern would
show, and up to 3.9x that where this face has detail of its own (eyes, brows, lips, glasses' rims), which hides it.

Detection (Cox et al. 1997, spread spectrum; the weighting is the matched filter for a host of known variance).
The block's luma is high-passed, weighted per pixel by ``envelope / activity`` and per frequency by
``radius^HOST_SLOPE`` (the inverse spread of face content, which whitens the host face), and its band is summed
over the frames of a face track. The marker statistic is its correlation with the marker direction, in units of
its RMS correlation with ``DECOYS`` directions of other keys built the same way (and made orthogonal to the 40
bits' own, so that a strong mark does not inflate its own scale):

    z = <x, u> / sqrt(mean_j <x, d_j>^2)

Without a mark, z is close to a standard normal whatever the face (the decoys measure the scale on the data
itself). The left-right mirrored reading (a mirrored camera view) is tried too; for antisymmetric patterns it is
the same reading with its sign turned, so the test is two-sided and the analytic false-positive rate of
``z > Z_THRESHOLD`` is twice the normal tail, 6.3e-5 for 4.0; the empirical rate on unmarked faces is in
benchmarks/results/watermark.json. The id bits are estimated together by least squares (the detector's weighting
makes their directions overlap a little, and the strong marker bits would otherwise leak into the weak id bits)
and reported only when their CRC matches and they are strong.

What was tried on the way, and what each try measured, is in docs/watermark.md.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import cv2
import numpy as np

from swapcam.core.align import AlignSpec, alignment_matrix

MARK_SPEC = AlignSpec(size=128, coverage=1.1, y_offset=0.0)  # the mark block: the whole face, 1.1 face widths
# DCT index radius sqrt(u^2 + v^2) of the coefficients used: index r is r / 2 cycles per block, 0.45 r cycles per
# face width, so 9 to 28 cycles per face width. Lower, faces themselves have most of their energy; higher, x264 at
# crf 28 and a 2x downscale keep little (measured per band on the sample clips, see the benchmark).
BAND = (20.0, 62.0)
KEY = 0x5CA3_0025  # the spread-spectrum key: public, so anyone can verify. (Chosen, for the earlier symmetric
# patterns, as one whose marker direction is uncorrelated with the mean of 302 sample faces; the antisymmetric
# patterns of today see nothing of a symmetric mean face whatever the key.)
MARKER = 0xC0DE  # the 16-bit "synthetic" marker
MARKER_BITS, ID_BITS, CRC_BITS = 16, 16, 8
N_BITS = MARKER_BITS + ID_BITS + CRC_BITS
STRENGTH = 1.0  # luma levels: RMS of the mark on smooth skin (activity at most 1.1, the cheeks; faces: PSNR ~ 45 dB)
MARKER_SHARE = 0.75  # of the mark's energy on the 16 marker bits (detection); the rest carries the model id
HOST_SLOPE = 1.3  # face content's DCT spread falls like radius^-1.3 (sample clips); detection whitens by it
Z_THRESHOLD = 4.0  # marked when the marker's z exceeds this: two-sided normal tail 6.3e-5
DECOYS = 128  # other keys whose correlations give the statistic's scale on each input
ID_BIT_Z = 2.0  # the id is reported when its CRC checks out and its bits' mean |z| is at least this (noise: 0.8)
# Texture masking on the face itself: the mark's local amplitude is STRENGTH x (detail / MASK_REF)^MASK_P, the detail
# clipped to [MASK_REF, MASK_CAP x MASK_REF], where detail is the swapped face's own local high-pass RMS in the block,
# measured per frame: strong only where this face is busy (eyes, brows, lips; up to 3^1.25 = 3.9x), never stronger
# than STRENGTH where it is smooth
MASK_REF = 4.0  # luma levels: the local high-pass RMS of smooth skin in the block (cheeks of the sample faces: 3.3-4.5)
MASK_P = 1.25
MASK_CAP = 3.0
# The embedder draws a large face's mark at half the frame's resolution and scales it up (cubic): a quarter of the
# pixels to warp, the costly step (at 720p 0.41 -> 0.17 ms, at 1080p 0.98 -> 0.32 ms per face; the drawn mark's
# correlation with the full-resolution one 0.999). Only when the band's top then still sits at or under this share
# of the half-resolution Nyquist frequency (faces wider than about 190 px), so that nothing of the band is lost
# (measured 2026-12-06 on webcam_720p's face at 0.8-2x: the frame's change correlates 0.991-0.995 with the
# full-resolution drawing's, rounding included, and is 1-2 % stronger: cubic scaling overshoots a little).
HALF_RES_FILL = 0.6

# How much a face varies inside the band, over the mark block: the RMS of the band-passed luma of 302 faces (every
# 8th frame of five sample clips, mirrored to be symmetric), relative to its median. Eyes, brows, nostrils and
# the mouth vary most. The detector trusts them least (it weights by 1 / activity^2, the inverse variance), and
# its model of the mark's shape is the masking this average face would get.
# fmt: off
_ACTIVITY = np.array([
    [2.98, 1.63, 1.58, 1.84, 1.72, 1.26, 0.81, 0.66, 0.66, 0.81, 1.26, 1.72, 1.84, 1.58, 1.63, 2.98],
    [2.90, 1.71, 2.14, 2.29, 2.00, 1.49, 0.96, 0.64, 0.64, 0.96, 1.49, 2.00, 2.29, 2.14, 1.71, 2.90],
    [2.58, 1.82, 1.98, 2.20, 2.29, 1.66, 0.94, 0.60, 0.60, 0.94, 1.66, 2.29, 2.20, 1.98, 1.82, 2.58],
    [2.26, 1.98, 2.19, 3.17, 3.83, 1.96, 0.99, 0.71, 0.71, 0.99, 1.96, 3.83, 3.17, 2.19, 1.98, 2.26],
    [2.71, 2.28, 3.24, 4.17, 3.79, 2.95, 1.73, 0.84, 0.84, 1.73, 2.95, 3.79, 4.17, 3.24, 2.28, 2.71],
    [2.24, 1.80, 1.47, 1.85, 2.08, 1.64, 0.98, 0.87, 0.87, 0.98, 1.64, 2.08, 1.85, 1.47, 1.80, 2.24],
    [2.13, 1.30, 0.99, 0.77, 0.88, 1.04, 0.91, 0.76, 0.76, 0.91, 1.04, 0.88, 0.77, 0.99, 1.30, 2.13],
    [1.81, 1.31, 0.99, 0.69, 0.75, 0.90, 0.84, 0.77, 0.77, 0.84, 0.90, 0.75, 0.69, 0.99, 1.31, 1.81],
    [1.78, 1.46, 1.03, 0.63, 0.62, 1.00, 1.69, 1.52, 1.52, 1.69, 1.00, 0.62, 0.63, 1.03, 1.46, 1.78],
    [2.08, 1.64, 1.00, 0.70, 0.62, 0.85, 2.01, 2.41, 2.41, 2.01, 0.85, 0.62, 0.70, 1.00, 1.64, 2.08],
    [2.75, 1.91, 1.16, 0.88, 0.67, 0.80, 1.09, 1.33, 1.33, 1.09, 0.80, 0.67, 0.88, 1.16, 1.91, 2.75],
    [2.46, 2.30, 1.66, 1.06, 1.00, 1.63, 2.09, 2.39, 2.39, 2.09, 1.63, 1.00, 1.06, 1.66, 2.30, 2.46],
    [2.35, 2.50, 2.14, 1.36, 1.32, 2.18, 2.90, 3.59, 3.59, 2.90, 2.18, 1.32, 1.36, 2.14, 2.50, 2.35],
    [2.77, 3.09, 2.42, 1.50, 1.17, 1.31, 1.90, 2.30, 2.30, 1.90, 1.31, 1.17, 1.50, 2.42, 3.09, 2.77],
    [3.12, 3.51, 2.96, 1.83, 1.09, 1.17, 1.38, 1.55, 1.55, 1.38, 1.17, 1.09, 1.83, 2.96, 3.51, 3.12],
    [3.67, 3.41, 3.12, 1.98, 1.01, 1.03, 1.00, 1.08, 1.08, 1.00, 1.03, 1.01, 1.98, 3.12, 3.41, 3.67],
], np.float32)  # (16, 16) over the mark block, rows top to bottom; 1 = the median inside the envelope
# fmt: on


@dataclass(frozen=True, slots=True)
class Codebook:
    """Everything derived from the key once: the band, the bit patterns and the detection references."""

    index: tuple[np.ndarray, np.ndarray]  # the band's (rows, cols) in the block's DCT, N each
    basis: np.ndarray  # (N_BITS, N) float64, orthonormal rows: each bit's coefficients
    amplitude: np.ndarray  # (B, B) float32: the mark's amplitude on the average face (envelope x masking)
    detect: np.ndarray  # (B, B) float32: the detector's weight per pixel (envelope / activity)
    weights: np.ndarray  # (N,) float64: detection whitening over frequency
    refs: np.ndarray = field(repr=False)  # (N_BITS, N) float64: what each bit looks like to the detector


def envelope(size: int) -> np.ndarray:
    """(size, size) float32 in [0, 1]: where the mark goes in the block. An ellipse over the inner face (half
    axes 0.36 x 0.47 face widths, about where the swap mask is fully opaque), with a soft edge 0.1 face widths
    wide, so the mark has no border and little of it is lost to the mask's feathering."""
    fw = size / MARK_SPEC.coverage
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    d = np.hypot((x - c) / (0.36 * fw), (y - c + 0.02 * fw) / (0.47 * fw))  # 1 on the ellipse
    t = np.clip((1.0 - d) / (0.1 / 0.4), 0, 1)  # 0 at the ellipse, 1 about 0.1 face widths inside
    return (t * t * (3 - 2 * t)).astype(np.float32)


def activity(size: int) -> np.ndarray:
    """(size, size) float32: ``_ACTIVITY`` smoothly upsampled to the block, at least 0.3."""
    a = cv2.resize(_ACTIVITY, (size, size), interpolation=cv2.INTER_CUBIC)
    a = cv2.GaussianBlur(a, (0, 0), size / 32)
    return np.maximum(a, 0.3)


def _highpass(block: np.ndarray) -> np.ndarray:
    """Removes the block's low frequencies (below the band) before the detector weights it per pixel, so that
    the weighting does not smear the face's strong low frequencies into the band."""
    return block - cv2.GaussianBlur(block, (0, 0), 3.0, borderType=cv2.BORDER_REFLECT)


def _dct_band(block: np.ndarray, index: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return cv2.dct(block)[index].astype(np.float64)


def _from_band(coeffs: np.ndarray, index: tuple[np.ndarray, np.ndarray], size: int) -> np.ndarray:
    full = np.zeros((size, size), np.float32)
    full[index] = coeffs
    return cv2.idct(full)


@lru_cache(maxsize=1)
def codebook() -> Codebook:
    b = MARK_SPEC.size
    u, v = np.meshgrid(np.arange(b), np.arange(b), indexing="ij")
    r = np.hypot(u, v)
    sel = (r >= BAND[0]) & (r <= BAND[1]) & (v % 2 == 1)  # odd columns: patterns antisymmetric left-right
    index = (u[sel], v[sel])
    n = len(index[0])
    rng = np.random.default_rng(KEY)
    q, _ = np.linalg.qr(rng.standard_normal((n, N_BITS)))  # (N, N_BITS) orthonormal columns
    basis = q.T * np.where(rng.random(N_BITS) < 0.5, -1.0, 1.0)[:, None]
    act = activity(b)
    env = envelope(b)
    amplitude = env * np.clip(act, 1.0, MASK_CAP) ** MASK_P  # what the masking gives the average face
    # The detector weights the data and the references alike, so these weights count twice: 1 / activity here
    # and radius^HOST_SLOPE below make the matched filter's 1 / variance, in space and in frequency.
    detect = env / act
    detect /= detect.mean()
    weights = r[sel] ** HOST_SLOPE
    weights /= weights.mean()
    refs = np.stack([_detector_band(_from_band(basis[i], index, b) * amplitude, index, detect, weights)
                     for i in range(N_BITS)])  # fmt: skip
    return Codebook(
        index,
        basis,
        amplitude.astype(np.float32),
        detect.astype(np.float32),
        weights,
        refs,
    )


def _detector_band(block: np.ndarray, index, detect: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N,) float64: what the detector takes from a (B, B) float32 luma block: high-passed, weighted per pixel,
    DCT band, whitened over frequency."""
    return _dct_band(_highpass(block) * detect, index) * weights


# -- the payload ----------------------------------------------------------------------------------------------------
def model_id(metadata: dict[str, str]) -> int:
    """16-bit id of a model from its metadata (``ModelInfo.to_metadata()``): the same file always gives the same
    id, models of different people or training steps almost always different ones."""
    text = "\n".join(f"{k}={metadata[k]}" for k in sorted(metadata))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big")


def _crc8(value: int) -> int:
    crc = 0
    for byte in value.to_bytes(2, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def payload_signs(mid: int) -> np.ndarray:
    """(N_BITS,) float64 of +-1: marker, model id, CRC-8 of the id, most significant bit first."""
    word = (MARKER << (ID_BITS + CRC_BITS)) | ((mid & 0xFFFF) << CRC_BITS) | _crc8(mid & 0xFFFF)
    bits = [(word >> (N_BITS - 1 - i)) & 1 for i in range(N_BITS)]
    return np.array(bits, np.float64) * 2 - 1


def bit_amplitudes() -> np.ndarray:
    """(N_BITS,) float64: each bit's share of the mark, so that the marker bits carry ``MARKER_SHARE`` of its
    energy (the orthonormal bit patterns make the energies add)."""
    amp = np.empty(N_BITS)
    amp[:MARKER_BITS] = math.sqrt(MARKER_SHARE / MARKER_BITS)
    amp[MARKER_BITS:] = math.sqrt((1 - MARKER_SHARE) / (N_BITS - MARKER_BITS))
    return amp


@lru_cache(maxsize=1)
def _smooth_skin() -> np.ndarray:
    """(B, B) bool: the block's smooth skin (well inside the envelope, activity at most 1.1: cheeks, forehead), where
    the mark would show first; ``STRENGTH`` is its RMS there."""
    return (envelope(MARK_SPEC.size) > 0.9) & (activity(MARK_SPEC.size) <= 1.1)


def mark_block(mid: int, strength: float | None = None, *, max_radius: float | None = None,
               shaped: bool = True) -> np.ndarray:
    """(B, B) float32 luma offsets, the mark of model ``mid`` in the mark block, RMS ``strength`` on the block's
    smooth skin. ``max_radius`` drops the band above it (a crop too small to hold the top of the band). ``shaped``:
    with the masking the average face would get (the detector's model of the mark); else inside the envelope only, as
    the embedder keeps it before it masks it by the face at hand."""
    cb = codebook()
    coeffs = (payload_signs(mid) * bit_amplitudes()) @ cb.basis  # (N,)
    if max_radius is not None:
        coeffs = np.where(np.hypot(*cb.index) <= max_radius, coeffs, 0.0)
    pattern = _from_band(coeffs, cb.index, MARK_SPEC.size) * (cb.amplitude if shaped else envelope(MARK_SPEC.size))
    inside = pattern[_smooth_skin()].astype(np.float64)
    strength = STRENGTH if strength is None else strength
    return pattern * np.float32(strength / max(float(np.sqrt(np.mean(inside**2))), 1e-9))


def frame_max_radius(scale: float) -> float:
    """The highest band radius a face drawn at ``scale`` mark-block pixels per frame pixel renders faithfully: 0.75
    of the frame's Nyquist frequency (faces wider than about 75 px hold the whole band)."""
    return 0.75 * MARK_SPEC.size / max(scale, 1e-9)


def block_to_crop(spec: AlignSpec) -> np.ndarray:
    """(2, 3) float64: mark-block pixels -> pixels of a crop aligned with ``spec`` (a scale and a shift: both are
    the same least-squares fit onto the template, scaled and placed differently)."""
    k = spec.face_width / MARK_SPEC.face_width
    cb = np.array(
        [
            (MARK_SPEC.size - 1) / 2.0,
            (MARK_SPEC.size - 1) / 2.0 + MARK_SPEC.y_offset * MARK_SPEC.size,
        ]
    )
    cc = np.array([(spec.size - 1) / 2.0, (spec.size - 1) / 2.0 + spec.y_offset * spec.size])
    return np.array([[k, 0.0, cc[0] - k * cb[0]], [0.0, k, cc[1] - k * cb[1]]])


# -- embedding ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarkCall:
    """What the embedder needs to draw one face's mark once the frame is finished (``WatermarkEmbedder.__call__``)."""

    matrix: np.ndarray  # (2, 3) frame -> crop of the pasted face
    alpha: np.ndarray  # (h, w) float32 blend weights of the pasted rectangle (a copy)
    origin: tuple[int, int]  # that rectangle's top-left frame pixel
    track: int  # the input face's track


class WatermarkEmbedder:
    """Adds model ``mid``'s mark to the luma of a swapped face **in the frame**, after the blend, in place.

    The mark is drawn at the frame's own resolution (not in the model's crop, whose pixels are often coarser than
    the frame's: a 64 or 128 px model would cut off the top of the band, and the crop's upscaling in the blend
    would soften the rest). Per face: one warp of the (B, B) mark onto the face's rectangle, weighted by the
    blend's alpha so that it stays on the swapped face, and one saturating add; before the warp, the mark is scaled
    by the face's own detail (texture masking, ``_masking``: one 64 x 64 sample of the face and two blurs). A face
    wider than about 190 px is warped at half the frame's resolution and scaled up (``HALF_RES_FILL``)."""

    def __init__(self, spec: AlignSpec, mid: int, *, strength: float | None = None) -> None:
        self.spec, self.model_id, self.strength = spec, mid, strength
        self._c2b = cv2.invertAffineTransform(block_to_crop(spec))  # crop -> block
        # (2, 3) block -> block: where the swapped face's own landmarks put the block, from where the input's put it
        # (a model paints its person's features a few pixels from the input's); set by swapcam.live.mark_align, so
        # that the mark is drawn where verify, which sees only the swapped face, will look for it. None: identity.
        # ``corrections`` holds them by face track (each person's own); ``correction`` is for the other tracks.
        self.correction: np.ndarray | None = None
        self.corrections: dict[int, np.ndarray] = {}
        ys, xs = np.nonzero(codebook().amplitude > 0)  # where the mark can be non-zero, in the block
        self._support = np.array(
            [[xs.min(), ys.min()], [xs.max() + 1, ys.min()], [xs.min(), ys.max() + 1], [xs.max() + 1, ys.max() + 1]],
            np.float64,
        )
        # by the band's top for the face's size, all built here so that the frame loop never builds one
        self._marks: dict[float | None, np.ndarray] = {
            key: mark_block(mid, strength, max_radius=key, shaped=False)
            for key in (None, *(float(r) for r in range(int(BAND[0]) + 4, int(BAND[1]), 4)))
        }
        self._factor = np.empty((MARK_SPEC.size, MARK_SPEC.size), np.float32)  # per-frame buffers of the masking
        self._masked = np.empty_like(self._factor)
        self._cap = (0, 0)
        self._one = np.empty((0, 0), np.float32)
        self._half = np.empty((0, 0), np.float32)
        self._three = np.empty((0, 0, 3), np.float32)

    def _mark(self, top: float) -> np.ndarray:
        """The mark for a face whose pixels hold the band up to radius ``top``."""
        return self._marks[None if top >= BAND[1] else float(4 * math.floor(top / 4))]

    def _masking(self, frame: np.ndarray, m: np.ndarray) -> np.ndarray:
        """(B, B) float32 in [1, MASK_CAP^MASK_P]: how much stronger than on smooth skin the mark may be, pixel by
        pixel of the block, where this face has detail of its own (texture masking). The face is sampled at half the
        block's resolution (64 x 64 whatever its size, so the cost does not grow with it; green stands in for luma),
        and the map, which is smooth, is scaled up: about 0.1 ms."""
        b = MARK_SPEC.size
        half = m * 0.5
        half[:, 2] -= 0.25  # half-resolution pixel j is centred on block pixel 2j + 0.5
        host = cv2.warpAffine(frame, half, (b // 2, b // 2), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        g = host[..., 1].astype(np.float32)
        h = g - cv2.GaussianBlur(g, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)  # 3 block px
        local = cv2.GaussianBlur(h * h, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)  # 4 block px
        # (sqrt(local) / MASK_REF)^MASK_P, clipped, as one power of the variance, in place
        np.clip(local, MASK_REF**2, (MASK_CAP * MASK_REF) ** 2, out=local)
        local *= np.float32(1.0 / MASK_REF**2)
        cv2.pow(local, MASK_P / 2, dst=local)
        return cv2.resize(local, (b, b), dst=self._factor, interpolation=cv2.INTER_LINEAR)

    def frame_to_block(self, matrix: np.ndarray, *, corrected: bool = True, track: int | None = None) -> np.ndarray:
        """(2, 3) frame -> mark block, from the blend's (2, 3) frame -> crop ``matrix`` (the input face's
        alignment); ``corrected``: moved by the correction of face ``track`` (else ``correction``) onto where the
        swapped face's landmarks put it."""
        m = self._c2b[:, :2] @ matrix
        m[:, 2] += self._c2b[:, 2]
        c = self.corrections.get(track, self.correction)  # track None: not a key
        if corrected and c is not None:
            m = c[:, :2] @ m
            m[:, 2] += c[:, 2]
        return m

    def __call__(self, frame: np.ndarray, matrix: np.ndarray, alpha: np.ndarray | None = None,
                 origin: tuple[int, int] = (0, 0), track: int | None = None) -> None:  # fmt: skip
        """frame: (H, W, 3) uint8 RGB, changed in place; matrix: (2, 3) frame -> crop of the swapped face (the
        blend's); alpha: optional (h, w) float32 blend weights of the pasted rectangle whose top-left frame pixel
        is ``origin``: the mark is weighted by it and kept inside it; track: the face's track, for its correction."""
        m = self.frame_to_block(matrix, track=track)
        top = frame_max_radius(math.sqrt(abs(float(np.linalg.det(m[:, :2])))))  # from block px per frame px
        if top < BAND[0] + 4:  # the face is too small to hold the band
            return
        pts = cv2.transform(self._support[None], cv2.invertAffineTransform(m))[0]
        h, w = frame.shape[:2]
        x0, y0 = max(math.floor(pts[:, 0].min()), 0), max(math.floor(pts[:, 1].min()), 0)
        x1, y1 = min(math.ceil(pts[:, 0].max()) + 1, w), min(math.ceil(pts[:, 1].max()) + 1, h)
        if alpha is not None:
            ax, ay = origin
            x0, y0 = max(x0, ax), max(y0, ay)
            x1, y1 = min(x1, ax + alpha.shape[1]), min(y1, ay + alpha.shape[0])
        rw, rh = x1 - x0, y1 - y0
        if rw <= 0 or rh <= 0:
            return
        if rh > self._cap[0] or rw > self._cap[1]:  # buffers grow to the largest face seen (even sizes)
            self._cap = (max(rh + rh % 2, self._cap[0]), max(rw + rw % 2, self._cap[1]))
            self._one = np.empty(self._cap, np.float32)
            self._half = np.empty((self._cap[0] // 2, self._cap[1] // 2), np.float32)
            self._three = np.empty((*self._cap, 3), np.float32)
        one, three = self._one[:rh, :rw], self._three[:rh, :rw]
        shifted = m.copy()
        shifted[:, 2] += m[:, :2] @ (x0, y0)
        # frame pixel (u + x0, v + y0) samples the block at m @ (u + x0, v + y0, 1); cubic keeps the band's top
        mark = cv2.multiply(self._mark(top), self._masking(frame, m), dst=self._masked)
        # a large face: drawn at half resolution, then scaled up (``top`` is 0.75 of the frame's Nyquist frequency)
        if top >= 1.5 * BAND[1] / HALF_RES_FILL:
            hh, hw = (rh + 1) // 2, (rw + 1) // 2
            half = shifted * (2.0, 2.0, 1.0)  # half-resolution pixel j is centred on frame pixel 2j + 0.5
            half[:, 2] += shifted[:, :2] @ (0.5, 0.5)
            small = self._half[:hh, :hw]
            cv2.warpAffine(mark, half, (hw, hh), dst=small, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
            cv2.resize(small, (2 * hw, 2 * hh), dst=self._one[: 2 * hh, : 2 * hw], interpolation=cv2.INTER_CUBIC)
        else:
            cv2.warpAffine(mark, shifted, (rw, rh), dst=one, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        if alpha is not None:
            ax, ay = origin
            np.multiply(one, alpha[y0 - ay : y1 - ay, x0 - ax : x1 - ax], out=one)
        cv2.merge((one, one, one), dst=three)  # the same offset on R, G and B changes luma only
        target = frame[y0:y1, x0:x1]
        cv2.add(target, three, dst=target, dtype=cv2.CV_8U)  # rounds and saturates


# -- detection ------------------------------------------------------------------------------------------------------
def block_matrix(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) frame -> mark-block matrix for (478, 2) frame landmarks."""
    return alignment_matrix(landmarks, MARK_SPEC)


def face_coefficients(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N,) float64: the whitened band of the mark block of one face in the (H, W, 3) uint8 RGB ``image``."""
    return block_coefficients(face_block(image, landmarks))


def block_coefficients(block: np.ndarray) -> np.ndarray:
    """(N,) float64: the whitened band of a (B, B) float32 luma mark block (or of a sum of them: it is linear)."""
    cb = codebook()
    return _detector_band(block, cb.index, cb.detect, cb.weights)


def face_block(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(B, B) float32: the luma of one face's mark block in the (H, W, 3) uint8 RGB ``image``. ``verify`` sums
    these over a face track and reads the sum once (``read_block``)."""
    m = block_matrix(landmarks)
    b = MARK_SPEC.size
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))  # block px per frame px
    # only the block's region of interest (plus a margin for the filters) is filtered and warped
    corners = cv2.transform(
        np.array([[[0, 0], [b, 0], [0, b], [b, b]]], np.float64),
        cv2.invertAffineTransform(m),
    )
    h, w = image.shape[:2]
    x0, y0 = (max(int(v) - 8, 0) for v in corners[0].min(axis=0))
    x1, y1 = (min(int(v) + 9, lim) for v, lim in zip(corners[0].max(axis=0), (w, h)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((b, b), np.float32)
    src = image[y0:y1, x0:x1]
    m = m.copy()
    m[:, 2] += m[:, :2] @ (x0, y0)
    if scale < 0.5:  # the face is large: low-pass before sampling (a pyramid step per halving)
        levels = int(math.floor(math.log2(1.0 / scale)))
        for _ in range(levels):
            src = cv2.pyrDown(src)
        m[:, :2] *= 2.0**levels  # pyrDown's pixel i sits on the larger image's pixel 2i
    block = cv2.warpAffine(src, m, (b, b), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(block, cv2.COLOR_RGB2GRAY).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the correlations of one face, or of the sum over a clip's faces, say."""

    z: float  # marker statistic (about N(0, 1) without a mark)
    marked: bool  # z > Z_THRESHOLD
    model_id: int | None  # the id when its CRC checks out and its bits are read with confidence
    id_z: float  # mean |z| of the id and CRC bits (about 0.8 when they are noise)
    bit_errors: int  # marker bits read wrongly (0..16)
    faces: int  # how many face blocks were summed
    offset: tuple[float, float] | None = None  # (dx, dy) in block px when found by the search


@lru_cache(maxsize=1)
def _mirror_signs() -> np.ndarray:
    """(N,) +-1: flipping a block left-right multiplies its DCT coefficient (u, v) by (-1)^v (the detector's
    maps are symmetric, so the flip passes through them)."""
    return np.where(codebook().index[1] % 2, -1.0, 1.0)


@lru_cache(maxsize=1)
def decoys() -> np.ndarray:
    """(N, DECOYS) float64: the marker directions of ``DECOYS`` other keys, built exactly like the real one. The
    spread of a face's correlations with them is the spread its correlation with the real key would have if it
    were not marked: the statistic's scale, measured on the data itself. They are made orthogonal to the 40 bits'
    own directions (and keep their length), so that the mark itself does not inflate the scale: a strong, clean
    mark reads with a z as high as its strength gives, and its id bits with it."""
    cb = codebook()
    b = MARK_SPEC.size
    signs = payload_signs(0)[:MARKER_BITS] * bit_amplitudes()[:MARKER_BITS]
    out = np.empty((len(cb.index[0]), DECOYS))
    for k in range(DECOYS):
        rng = np.random.default_rng([KEY, k + 1])
        q, _ = np.linalg.qr(rng.standard_normal((len(cb.index[0]), MARKER_BITS)))
        pattern = _from_band(q @ signs, cb.index, b) * cb.amplitude
        out[:, k] = _detector_band(pattern, cb.index, cb.detect, cb.weights)
    q, _ = np.linalg.qr(cb.refs.T)  # (N, N_BITS): the bits' span as the detector sees it
    norms = np.linalg.norm(out, axis=0)
    out -= q @ (q.T @ out)
    return out * (norms / np.linalg.norm(out, axis=0))


@lru_cache(maxsize=1)
def _marker() -> np.ndarray:
    """(N,) the marker direction as the detector sees it."""
    return (payload_signs(0)[:MARKER_BITS] * bit_amplitudes()[:MARKER_BITS]) @ codebook().refs[:MARKER_BITS]


def _decoy_rms(x: np.ndarray) -> float:
    """RMS correlation of ``x`` with the decoy directions: the scale of the marker statistic for this input."""
    return math.sqrt(float(np.mean((decoys().T @ x) ** 2)))


def marker_z(xs: np.ndarray) -> np.ndarray:
    """(F,) the marker statistic of each row of the (F, N) ``xs`` (the larger of as-is and mirrored), as
    ``read_mark`` computes it, in a few matrix products: for measuring false positives over many faces."""
    marker = _marker()
    out = np.full(len(xs), -np.inf)
    for m in (xs, xs * _mirror_signs()):
        rms = np.sqrt(np.mean((m @ decoys()) ** 2, axis=1))
        out = np.maximum(out, (m @ marker) / np.where(rms > 0, rms, np.inf))
    return out


@lru_cache(maxsize=1)
def _bit_solver() -> tuple[np.ndarray, np.ndarray]:
    """((N_BITS, N) least-squares map from the band to the bits' amplitudes, (N_BITS,) each amplitude's noise for a
    decoy RMS of 1): with per-direction noise s, a decoy's correlation has RMS s |d|, the estimate of bit i
    s sqrt((R R^T)^-1_ii)."""
    refs = codebook().refs
    g = np.linalg.inv(refs @ refs.T)
    d = float(np.sqrt(np.mean(np.sum(decoys() ** 2, axis=0))))  # the decoys' length
    return g @ refs, np.sqrt(np.diag(g)) / d


def read_mark(x: np.ndarray, faces: int = 1) -> Reading:
    """Reads the (N,) whitened band ``x`` (one face, or the sum of a clip's faces)."""
    signs = payload_signs(0)[:MARKER_BITS]
    marker = _marker()
    best = None
    for candidate in (
        x,
        x * _mirror_signs(),
    ):  # as it is, and flipped left-right (a mirrored camera view)
        rms = _decoy_rms(candidate)
        z = float(marker @ candidate) / rms if rms > 0 else 0.0
        if best is None or z > best[1]:
            best = (candidate, z, rms)
    x, z, rms = best
    # each bit alone, by least squares over the 40 bit directions (the detector's weighting makes them overlap a
    # little, and the strong marker bits would leak into the weak id bits), in units of its own noise
    solve, noise = _bit_solver()
    bit_z = (solve @ x) / (noise * rms) if rms > 0 else np.zeros(N_BITS)
    errors = int(np.sum((bit_z[:MARKER_BITS] > 0) != (signs > 0)))
    id_z = float(np.mean(np.abs(bit_z[MARKER_BITS:])))
    word = 0
    for bit in bit_z[MARKER_BITS:] > 0:
        word = (word << 1) | int(bit)
    cand, crc = word >> CRC_BITS, word & 0xFF
    mid = cand if z > Z_THRESHOLD and id_z >= ID_BIT_Z and _crc8(cand) == crc else None
    return Reading(z, z > Z_THRESHOLD, mid, id_z, errors, faces)


# -- the search for a shifted mark --------------------------------------------------------------------------------
# A real swap draws the new face's eyes, nose and mouth a few pixels from where the input's were, and verify finds
# the landmarks of the face it sees: the block it reads is then off the block the mark was drawn in by a constant
# offset (the model's, for that face: 2.5 and 1 block px on webcam_720p with the `fast` model, frame to frame
# within 0.3 px), enough to lose most of the band (its period is 4 to 13 block px). When the block as found does not
# read as marked, the sum is therefore read again on a grid of shifts of up to 3 block px, and the best reading
# counts above ``Z_SEARCH``. The grid's null is not 49 independent normal readings: a shifted face is no longer
# centred, its symmetric content leaks into the antisymmetric band, and some faces lean towards the key there
# (2026-11-28, every third frame of the six sample clips, 879 unmarked faces: a grid of +-4 px and scales 0.98-1.02,
# 243 readings, put 9 faces above 5.0, highest 5.78; this grid none, highest 4.63). ``Z_SEARCH`` is set above what
# unmarked faces reach, with a margin; the rates are in benchmarks/results/watermark.json.
SEARCH_SHIFTS = tuple(float(d) for d in range(-3, 4))  # block px
SEARCH_GRID = tuple((dx, dy) for dx in SEARCH_SHIFTS for dy in SEARCH_SHIFTS)  # 49 shifts
Z_SEARCH = 5.5


def shifted_block(block: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The (B, B) block resampled so that a mark drawn ``dx, dy`` block px away comes back to its place."""
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(block, m, block.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def search_coefficients(block: np.ndarray) -> np.ndarray:
    """(len(SEARCH_GRID), N): the whitened band of a (B, B) block sum at every shift of the search."""
    return np.stack([block_coefficients(shifted_block(block, *g)) for g in SEARCH_GRID])


def search_z(block: np.ndarray) -> tuple[float, tuple[float, float]]:
    """The highest marker statistic over the search grid (as-is and mirrored) of a (B, B) block sum, and where."""
    z = marker_z(search_coefficients(block))
    i = int(np.argmax(z))
    return float(z[i]), SEARCH_GRID[i]


def read_block(block: np.ndarray, faces: int = 1) -> Reading:
    """Reads a (B, B) luma block sum (one face, or a clip's faces). Marked when the block as found passes
    ``Z_THRESHOLD`` or the best of the search grid passes ``Z_SEARCH``; the search is skipped when the block as found
    already reads with its model id, and its reading is reported when it is the stronger (at a shift: the grid's zero
    shift is the block as found, whatever the rounding says)."""
    reading = read_mark(block_coefficients(block), faces)
    if reading.model_id is not None:
        return reading
    z, where = search_z(block)
    if where == (0.0, 0.0) or z <= (reading.z if reading.marked else Z_SEARCH):
        return reading
    return replace(read_mark(block_coefficients(shifted_block(block, *where)), faces), marked=True, offset=where)
