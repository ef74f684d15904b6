"""16-bit PNG files (PNG specification, ISO/IEC 15948) through libpng, which Pillow cannot handle in colour.

Pillow (and so imageio) silently reduces a 16-bit RGB or RGBA PNG to 8 bits and cannot write one at all. These
functions read and write 16-bit PNGs losslessly with libpng as packaged by ``imagecodecs``: grey, grey+alpha, RGB
and RGBA, interlaced or not. Channels stay in file order (R, G, B, A): unlike OpenCV, libpng does not swap them.

``benchmarks/png_codec.py`` compares this codec with OpenCV and with the numpy codec of hsinr 0.1.0
(``docs/performance.md``): a 4096×4096 16-bit RGB PNG decodes in about one CPU second instead of 9–11.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import imagecodecs
import numpy as np

from ..errors import DataError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZLIB_LEVEL = 6
"""zlib compression level of :func:`encode_png16` (0 = none … 9 = smallest and slowest)."""
_CHANNELS_OF_COLOR_TYPE = {0: 1, 2: 3, 4: 2, 6: 4}


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
    """Read a 16-bit grey, grey+alpha, RGB or RGBA PNG.

    Returns:
        uint16 array ``(H, W)`` for grey, ``(H, W, K)`` for grey+alpha (K=2), RGB (3) and RGBA (4), channels in file
        order (R, G, B, A), values as stored (0 … 65535).

    Raises:
        DataError: not a PNG, not 16 bits per sample, or corrupt (CRC mismatch, bad zlib stream, truncated).
    """
    path = Path(path)
    header = read_png_header(path)
    if header is None:
        raise DataError(f"{path}: not a PNG file")
    if header.bit_depth != 16 or header.color_type not in _CHANNELS_OF_COLOR_TYPE:
        raise DataError(
            f"{path}: expected a 16-bit grey/RGB PNG, got bit depth {header.bit_depth}, colour type {header.color_type}"
        )
    try:
        image = imagecodecs.png_decode(path.read_bytes())
    except (imagecodecs.PngError, ValueError) as exc:
        raise DataError(f"{path}: corrupt PNG ({exc})") from exc
    channels = _CHANNELS_OF_COLOR_TYPE[header.color_type]
    expected = (header.height, header.width) if channels == 1 else (header.height, header.width, channels)
    if image.dtype != np.uint16 or image.shape != expected:
        raise DataError(f"{path}: decoded {image.dtype} {image.shape}, but the header says uint16 {expected}")
    return image


def encode_png16(path: Path, image: np.ndarray) -> None:
    """Write a uint16 ``(H, W)`` grey or ``(H, W, K)`` image (K = 2 grey+alpha, 3 RGB, 4 RGBA) as a 16-bit PNG.

    Channels are written in the given order (R, G, B, A), with zlib level :data:`ZLIB_LEVEL`.
    """
    image = np.asarray(image)
    if image.dtype != np.uint16:
        raise DataError(f"{path}: a 16-bit PNG needs uint16 values, got {image.dtype}")
    channels = 1 if image.ndim == 2 else (image.shape[2] if image.ndim == 3 else 0)
    if channels not in _CHANNELS_OF_COLOR_TYPE.values() or min(image.shape[:2], default=0) < 1:
        raise DataError(f"{path}: cannot write an image of shape {image.shape} as PNG")
    if image.ndim == 3 and channels == 1:
        image = image[:, :, 0]
    encoded = imagecodecs.png_encode(np.ascontiguousarray(image), level=ZLIB_LEVEL)
    Path(path).write_bytes(encoded)
