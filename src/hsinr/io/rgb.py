"""Read and write RGB images (PNG, JPEG, BMP, TIFF) as float32 ``(H, W, 3)`` arrays in [0, 1].

Channel order is R, G, B everywhere: imageio and tifffile return the channels in file order, which is RGB (unlike
OpenCV, which returns BGR). The value range is decided by the stored dtype, never guessed from the values: 8-bit
files are divided by 255 and 16-bit files by 65535. 16-bit colour PNGs go through :mod:`hsinr.io.png16` because
Pillow would silently drop them to 8 bits.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .atomic import atomic_path
from .limits import check_declared_size
from .png16 import decode_png16, encode_png16, read_png_header

RGB_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_TIFF_EXTENSIONS = (".tif", ".tiff")
_NON_RGB_MODES = {
    "CMYK": "cyan, magenta, yellow, black",
    "YCbCr": "luma and chroma",
    "LAB": "CIE L*a*b*",
    "HSV": "hue, saturation, value",
}
_LIBRARY_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    RuntimeError,
    SyntaxError,
    ZeroDivisionError,  # tifffile on a damaged IFD
    struct.error,
    zlib.error,
)


def read_image_native(path: Path | str) -> np.ndarray:
    """Read one image file with its stored dtype and values: ``(H, W)`` grey or ``(H, W, K)`` with K channels.

    TIFF goes through tifffile (channel-planar pages are moved last), 16-bit colour PNG through libpng
    (:mod:`hsinr.io.png16`), everything else (16-bit grey PNG included) through imageio's Pillow plugin. A missing
    or unreadable file is a :class:`DataError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        if path.suffix.lower() in _TIFF_EXTENSIONS:
            return _read_tiff_image(path)
        _check_pillow_image(path)
        header = read_png_header(path)
        if header is not None and header.bit_depth == 16 and header.color_type != 0:
            return decode_png16(path)  # Pillow cuts 16-bit colour to 8 bits (16-bit grey it keeps)
        return np.asarray(iio.imread(path, plugin="pillow"))
    except DataError:
        raise
    except (*_LIBRARY_ERRORS, Image.DecompressionBombError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {first})") from exc


def _check_pillow_image(path: Path) -> None:
    """Refuse, from the header alone, colour modes that are not RGB (CMYK, YCbCr, Lab, HSV) and images whose
    declared size cannot be read in memory (a PNG "bomb" of a few KB declaring gigapixels)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = None  # our own limit below, derived from the available memory, decides
        try:
            with Image.open(path) as image:
                mode, (width, height), channels = image.mode, image.size, len(image.getbands())
        except UnidentifiedImageError:
            return  # let the decoder name the problem
    if mode in _NON_RGB_MODES:
        raise DataError(
            f"{path}: image is in the {mode} colour mode ({_NON_RGB_MODES[mode]}); an RGB image is "
            "needed (convert it to RGB first)"
        )
    itemsize = 2 if mode.startswith("I;16") else 4 if mode in ("I", "F") else 1
    check_declared_size((height, width, channels), itemsize, path, "image")


def read_rgb(path: Path | str) -> np.ndarray:
    """Read an RGB image as float32 ``(H, W, 3)``, channels in R, G, B order, values in [0, 1].

    The channel order is the file's, R-G-B: imageio and tifffile do not swap channels the way OpenCV's ``imread``
    (B-G-R) does, so arrays from OpenCV must be reversed (``[..., ::-1]``) before they are compared with these.

    uint8 files are divided by 255, uint16 files by 65535; float TIFFs are returned as stored. An alpha channel is
    dropped. Grey images, other channel counts and other dtypes raise :class:`DataError`.
    """
    path = Path(path)
    if path.suffix.lower() not in RGB_EXTENSIONS:
        raise DataError(f"{path}: unsupported RGB image type {path.suffix!r}; supported: {', '.join(RGB_EXTENSIONS)}")
    image = read_image_native(path)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 2)):
        raise DataError(f"{path}: image is greyscale (shape {image.shape}); an RGB image is needed")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise DataError(f"{path}: expected an (H, W, 3) RGB or (H, W, 4) RGBA image, got shape {image.shape}")
    rgb = image[:, :, :3]
    if min(rgb.shape[:2]) < 1:
        raise DataError(f"{path}: image has no pixels (shape {image.shape})")
    if rgb.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(rgb)))
        if bad:
            raise DataError(
                f"{path}: {bad} RGB values are NaN or Inf; they would spread through the "
                "reconstruction (fix or mask them first)"
            )
    return unit_rgb(rgb, str(path))


def unit_rgb(samples: np.ndarray, source: str = "RGB array") -> np.ndarray:
    """RGB samples ``(H, W, 3)`` → float32 in [0, 1] by their type: uint8 divided by 255, uint16 by 65535, floats
    as they are (already on the [0, 1] scale). Other types raise :class:`DataError` naming ``source``."""
    samples = np.asarray(samples)
    if samples.dtype == np.uint8:
        return samples.astype(np.float32) / np.float32(255)
    if samples.dtype == np.uint16:
        return samples.astype(np.float32) / np.float32(65535)
    if samples.dtype.kind == "f":
        return samples.astype(np.float32)
    raise DataError(f"{source}: unsupported pixel type {samples.dtype} (need 8-bit, 16-bit or float)")


def write_rgb(path: Path | str, rgb: np.ndarray, bits: int = 8) -> None:
    """Write a float ``(H, W, 3)`` RGB image with values in [0, 1] (clipped) as an 8- or 16-bit file.

    Values are rounded to ``round(v · (2**bits − 1))``. PNG and TIFF take 8 or 16 bits, JPEG (quality 95) and BMP
    only 8 bits. Channel order on disk is R, G, B.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RGB_EXTENSIONS:
        raise DataError(f"{path}: unsupported RGB image type {suffix!r}; supported: {', '.join(RGB_EXTENSIONS)}")
    if bits not in (8, 16):
        raise DataError(f"{path}: bits must be 8 or 16, got {bits}")
    if bits == 16 and suffix not in (".png", ".tif", ".tiff"):
        raise DataError(f"{path}: {suffix} stores only 8 bits; use .png or .tif for 16-bit output")
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"{path}: write_rgb needs an (H, W, 3) array, got shape {rgb.shape}")
    if not np.isfinite(rgb).all():
        raise DataError(f"{path}: RGB image holds NaN/Inf values")
    full_scale = 2**bits - 1
    quantised = np.rint(np.clip(rgb, 0.0, 1.0) * full_scale).astype(np.uint8 if bits == 8 else np.uint16)
    with atomic_path(path) as temporary:  # complete at `path` or not there at all; an old file survives a failure
        if suffix in _TIFF_EXTENSIONS:
            tifffile.imwrite(temporary, quantised, photometric="rgb")
        elif bits == 16:
            encode_png16(temporary, quantised)
        elif suffix in (".jpg", ".jpeg"):
            iio.imwrite(temporary, quantised, plugin="pillow", extension=suffix, quality=95)
        else:
            iio.imwrite(temporary, quantised, plugin="pillow", extension=suffix)


def _read_tiff_image(path: Path) -> np.ndarray:
    """First image series of a TIFF, with a planar sample axis (``S`` first) moved last; CMYK and Lab refused."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        photometric = getattr(series.keyframe.photometric, "name", str(series.keyframe.photometric))
        if photometric in ("SEPARATED", "CIELAB", "ICCLAB", "ITULAB"):
            kind = "CMYK (separated)" if photometric == "SEPARATED" else "Lab"
            raise DataError(f"{path}: TIFF image is {kind}, not RGB; convert it to RGB first")
        check_declared_size(series.shape, series.dtype.itemsize, path, "TIFF image")
        image = series.asarray()
        axes = series.axes
    if image.ndim == 3 and axes.startswith("S"):
        image = np.moveaxis(image, 0, -1)
    return image
