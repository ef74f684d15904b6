"""A small codec for 16-bit PNG files (PNG specification, ISO/IEC 15948), which Pillow cannot handle in colour.

Pillow (and so imageio) silently reduces a 16-bit RGB or RGBA PNG to 8 bits and cannot write one at all. These two
functions read and write 16-bit PNGs losslessly: grey, grey+alpha, RGB and RGBA, non-interlaced.

Decoding undoes the five per-row PNG filters (None, Sub, Up, Average, Paeth). Sub, Average and Paeth depend on the
already decoded pixel to the left, so a row cannot be vectorised; instead the decoder sweeps anti-diagonals
``y + x = d``: every pixel on one diagonal depends only on pixels of earlier diagonals (left, up, up-left), so each
diagonal is one vectorised numpy step, ``H + W - 1`` steps in all. The encoder uses the Up filter on every row.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS_OF_COLOR_TYPE = {0: 1, 2: 3, 4: 2, 6: 4}
_COLOR_TYPE_OF_CHANNELS = {channels: color_type for color_type, channels in _CHANNELS_OF_COLOR_TYPE.items()}


@dataclass(frozen=True)
class PngHeader:
    """The IHDR fields that decide how to read a PNG."""

    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool


def read_png_header(path: Path) -> PngHeader | None:
    """IHDR of a PNG file, or ``None`` when the file does not start with the PNG signature and an IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if len(head) < 33 or head[:8] != SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return PngHeader(width, height, bit_depth, color_type, interlace == 1)


def decode_png16(path: Path) -> np.ndarray:
    """Read a non-interlaced 16-bit PNG.

    Returns:
        uint16 array ``(H, W)`` for grey, ``(H, W, K)`` for grey+alpha (K=2), RGB (3) and RGBA (4), channels in file
        order (R, G, B, A), values as stored (0 … 65535).
    """
    path = Path(path)
    header = read_png_header(path)
    if header is None:
        raise DataError(f"{path}: not a PNG file")
    if header.bit_depth != 16 or header.color_type not in _CHANNELS_OF_COLOR_TYPE:
        raise DataError(f"{path}: expected a 16-bit grey/RGB PNG, got bit depth {header.bit_depth}, "
                        f"colour type {header.color_type}")
    if header.interlaced:
        raise DataError(f"{path}: Adam7-interlaced 16-bit PNG is not supported; save it without interlacing")
    compressed = b"".join(_idat_chunks(path))
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt PNG image data ({exc})") from exc
    channels = _CHANNELS_OF_COLOR_TYPE[header.color_type]
    bytes_per_pixel = 2 * channels
    row_bytes = 1 + header.width * bytes_per_pixel
    if len(raw) < header.height * row_bytes:
        raise DataError(f"{path}: truncated PNG image data ({len(raw)} of {header.height * row_bytes} bytes)")
    rows = np.frombuffer(raw, dtype=np.uint8, count=header.height * row_bytes).reshape(header.height, row_bytes)
    filter_types = rows[:, 0]
    if filter_types.max(initial=0) > 4:
        raise DataError(f"{path}: corrupt PNG (unknown row filter type {int(filter_types.max())})")
    filtered = rows[:, 1:].reshape(header.height, header.width, bytes_per_pixel)
    pixels = _unfilter(filtered, filter_types)
    image = pixels.reshape(header.height, header.width * bytes_per_pixel).view(">u2").astype(np.uint16)
    image = image.reshape(header.height, header.width, channels)
    return image[:, :, 0] if channels == 1 else image


def encode_png16(path: Path, image: np.ndarray) -> None:
    """Write a uint16 ``(H, W)`` grey or ``(H, W, K)`` image (K = 2 grey+alpha, 3 RGB, 4 RGBA) as a 16-bit PNG."""
    image = np.asarray(image)
    if image.dtype != np.uint16:
        raise DataError(f"{path}: a 16-bit PNG needs uint16 values, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _COLOR_TYPE_OF_CHANNELS or min(image.shape[:2]) < 1:
        raise DataError(f"{path}: cannot write an image of shape {image.shape} as PNG")
    height, width, channels = image.shape
    row_bytes = np.ascontiguousarray(image.astype(">u2")).view(np.uint8).reshape(height, width * channels * 2)
    up_filtered = row_bytes.copy()
    up_filtered[1:] -= row_bytes[:-1]  # uint8 arithmetic wraps modulo 256, as the Up filter requires
    scanlines = np.concatenate([np.full((height, 1), 2, dtype=np.uint8), up_filtered], axis=1)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, _COLOR_TYPE_OF_CHANNELS[channels], 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(SIGNATURE)
        handle.write(_chunk(b"IHDR", ihdr))
        handle.write(_chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)))
        handle.write(_chunk(b"IEND", b""))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _idat_chunks(path: Path):
    """Yield the payloads of the IDAT chunks, checking each chunk's CRC."""
    with open(path, "rb") as handle:
        handle.seek(len(SIGNATURE))
        while True:
            head = handle.read(8)
            if len(head) < 8:
                raise DataError(f"{path}: truncated PNG (no IEND chunk)")
            length, kind = struct.unpack(">I4s", head)
            payload = handle.read(length)
            crc = handle.read(4)
            if len(payload) < length or len(crc) < 4:
                raise DataError(f"{path}: truncated PNG chunk {kind!r}")
            if struct.unpack(">I", crc)[0] != zlib.crc32(kind + payload):
                raise DataError(f"{path}: corrupt PNG (CRC mismatch in chunk {kind!r})")
            if kind == b"IDAT":
                yield payload
            elif kind == b"IEND":
                return


def _unfilter(filtered: np.ndarray, filter_types: np.ndarray) -> np.ndarray:
    """Undo PNG row filters. ``filtered`` is uint8 ``(H, W, bpp)``; returns the raw bytes, same shape.

    With ``a`` = left, ``b`` = up, ``c`` = up-left (0 outside the image), the raw byte is the filtered byte plus
    0 (None), a (Sub), b (Up), floor((a + b) / 2) (Average) or the Paeth predictor, modulo 256.
    """
    height, width, _ = filtered.shape
    if np.all(filter_types == 0):
        return filtered.copy()
    values = filtered.astype(np.int16)
    padded = np.zeros((height + 1, width + 1, filtered.shape[2]), dtype=np.int16)
    for diagonal in range(height + width - 1):
        ys = np.arange(max(0, diagonal - width + 1), min(height - 1, diagonal) + 1)
        xs = diagonal - ys
        left, up, up_left = padded[ys + 1, xs], padded[ys, xs + 1], padded[ys, xs]
        kind = filter_types[ys][:, None]
        dist_left, dist_up, dist_diag = np.abs(up - up_left), np.abs(left - up_left), np.abs(left + up - 2 * up_left)
        paeth = np.where((dist_left <= dist_up) & (dist_left <= dist_diag), left,
                         np.where(dist_up <= dist_diag, up, up_left))
        prediction = np.select(
            [kind == 1, kind == 2, kind == 3, kind == 4], [left, up, (left + up) >> 1, paeth], default=0
        )
        padded[ys + 1, xs + 1] = (values[ys, xs] + prediction) & 0xFF
    return padded[1:, 1:].astype(np.uint8)
