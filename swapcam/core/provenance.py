"""Provenance: every image, file or stream swapcam writes says that it is synthetic (on unless switched off)."""

from __future__ import annotations

import struct
import zlib

from swapcam.core.version import __version__

SYNTHETIC_NOTE = (
    "Synthetic media: faces in this content were generated or altered by swapcam "
    f"{__version__}, a face-swap tool. It does not show real events."
)
PNG_KEYWORD = "swapcam:provenance"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def provenance_tags(model: str | None = None) -> dict[str, str]:
    """Container metadata tags for files and streams (``comment`` is what most players show)."""
    tags = {"comment": SYNTHETIC_NOTE, "swapcam_synthetic": "true", "encoder_note": f"swapcam {__version__}"}
    if model:
        tags["swapcam_model"] = model
    return tags


def add_png_text(png: bytes, keyword: str, text: str) -> bytes:
    """Inserts a tEXt chunk (Latin-1 keyword and text) right after the IHDR chunk of an encoded PNG."""
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(_PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    data = keyword.encode("latin-1") + b"\x00" + text.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def read_png_text(png: bytes) -> dict[str, str]:
    """All tEXt chunks of an encoded PNG, keyword -> text."""
    out: dict[str, str] = {}
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"tEXt":
            key, _, value = png[pos + 8 : pos + 8 + length].partition(b"\x00")
            out[key.decode("latin-1")] = value.decode("latin-1")
        pos += 12 + length
    return out
