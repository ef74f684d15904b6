"""How RGB values are encoded in image files, and the exposure level a model sees.

Every model in :mod:`hsinr.models` maps *linear* RGB (``rgb = cube @ srf.T``, eq. 4 of the INR-HSISR paper) to
spectra. Image files do not always store linear values:

* **sRGB** (IEC 61966-2-1:1999): what cameras, phones and most 8-bit PNG/JPEG files hold. The encoded value ``V`` of a
  linear value ``L`` (both in [0, 1]) is ``V = 12.92 L`` for ``L ≤ 0.0031308`` and ``V = 1.055 L^(1/2.4) − 0.055``
  above; decoding inverts it (``L = V / 12.92`` for ``V ≤ 0.04045``, else ``((V + 0.055) / 1.055)^2.4``). We use
  colour-science's implementation (``colour.models.eotf_inverse_sRGB`` / ``eotf_sRGB``, the functions behind
  ``colour.cctf_encoding`` / ``cctf_decoding`` with ``function="sRGB"``). Example: 0.5 linear → 0.7353569830524495.
* **linear**: the values are the camera's linear responses, as 16-bit PNGs and float TIFFs of scientific data are.

:func:`choose_input_encoding` implements ``hsinr reconstruct --input auto``: 8-bit files (PNG, JPEG, BMP, 8-bit TIFF)
are display images and are decoded as sRGB; 16-bit and float files are read as linear.

**Exposure.** A learned model is in general not exposure-equivariant (root-polynomial least squares is, a network
is not), yet a scene photographed twice as bright must give a cube twice as bright. :func:`reconstruct_at_exposure`
scales the linear input by ``k`` so that its level equals the level of the model's training inputs, runs the model,
and divides the cube by ``k``. Because ``k`` is inversely proportional to the input's level, ``f(a·rgb) = a·f(rgb)``
for every ``a > 0`` exactly, whatever the model. The level is the image's *white level*, the 99th percentile of each
pixel's largest channel (checkpoint meta ``rgb_stats["white_level"]``: its mean over the training images), or, for
checkpoints written before it was recorded, the mean RGB (``rgb_stats["mean_level"]``). A scene's mean depends on
what is in it (a dark scene is not an under-exposed one), its white level mostly on the exposure: on CAVE, scaling
each test image to the training mean level costs the recipe 0.19 dB, scaling it to the training white level nothing
(``docs/benchmarks.md``, "Exposure normalisation in hsinr reconstruct").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError

ENCODINGS = ("linear", "srgb")
"""Encodings of RGB values in files: ``linear`` (as rendered by eq. 4) and ``srgb`` (IEC 61966-2-1 transfer curve)."""

INPUT_CHOICES = ("auto", *ENCODINGS)
"""Choices of ``hsinr reconstruct --input``: ``auto`` decides from the file's stored sample type."""

_ROWS_PER_CHUNK = 256  # the transfer functions work in float64; convert this many rows at a time to bound memory


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear values (any shape, nominally in [0, 1]) → sRGB-encoded values, float32, same shape; not clipped.

    The IEC 61966-2-1 curve (see the module docstring), by ``colour.models.eotf_inverse_sRGB``; negative inputs stay
    on the linear segment (``12.92 L``).
    """
    return _apply_rows(linear, _encode_block)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded values (any shape, nominally in [0, 1]) → linear values, float32, same shape; not clipped.

    The inverse of :func:`srgb_encode`, by ``colour.models.eotf_sRGB``.
    """
    return _apply_rows(encoded, _decode_block)


def _encode_block(block: np.ndarray) -> np.ndarray:
    from colour.models import eotf_inverse_sRGB

    return np.asarray(eotf_inverse_sRGB(block))


def _decode_block(block: np.ndarray) -> np.ndarray:
    from colour.models import eotf_sRGB

    return np.asarray(eotf_sRGB(block))


def _apply_rows(values: np.ndarray, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``function`` applied to ``values`` in chunks of rows (first axis), result float32 of the same shape."""
    values = np.asarray(values)
    if values.ndim == 0:
        return np.asarray(function(values.astype(np.float64)), dtype=np.float32)
    out = np.empty(values.shape, dtype=np.float32)
    for start in range(0, values.shape[0], _ROWS_PER_CHUNK):
        out[start : start + _ROWS_PER_CHUNK] = function(values[start : start + _ROWS_PER_CHUNK].astype(np.float64))
    return out


def decode_rgb(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """File values ``(H, W, 3)`` in [0, 1] → linear RGB float32 for a model; ``encoding`` is ``linear`` or ``srgb``."""
    _check_encoding(encoding)
    return np.asarray(rgb, dtype=np.float32) if encoding == "linear" else srgb_decode(rgb)


def encode_rgb(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """Linear RGB ``(H, W, 3)`` → values to store in a file, float32 in [0, 1].

    Values are clipped to [0, 1] first (a camera saturates), then ``srgb`` applies the sRGB transfer function;
    ``linear`` stores the clipped values as they are.
    """
    _check_encoding(encoding)
    clipped = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    return clipped if encoding == "linear" else np.clip(srgb_encode(clipped), 0.0, 1.0)


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise DataError(f"unknown RGB encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


def stored_sample_type(path: str | Path) -> str:
    """The sample type stored in an RGB image file, read from its header only: ``"uint8"``, ``"uint16"`` or ``"float"``.

    PNG: the IHDR bit depth (palette and ≤ 8-bit PNGs are ``uint8``); JPEG and BMP: ``uint8``; TIFF: the dtype of the
    first image series. Anything else (for example 32-bit integer TIFFs) is returned as numpy names it.
    """
    from ..io.png16 import read_png_header

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                dtype = np.dtype(tif.series[0].dtype)
        elif suffix == ".png" and (header := read_png_header(path)) is not None:
            return "uint16" if header.bit_depth == 16 else "uint8"
        else:
            from PIL import Image

            with Image.open(path) as image:
                mode = image.mode
            return "uint16" if mode.startswith("I;16") else "float" if mode == "F" else "uint8"
    except (OSError, ValueError, IndexError) as exc:
        raise DataError(f"{path}: cannot read image header ({type(exc).__name__}: {exc})") from None
    return "float" if dtype.kind == "f" else str(dtype)


def choose_input_encoding(path: str | Path, requested: str = "auto") -> tuple[str, str | None]:
    """The encoding to decode ``path`` with for ``--input requested``; returns ``(encoding, note)``.

    ``requested`` ``linear`` or ``srgb`` is returned as given (``note`` is ``None``). ``auto`` reads the stored sample
    type (:func:`stored_sample_type`): 8-bit → ``srgb`` (a display image: photo, JPEG, ordinary PNG), 16-bit or float
    → ``linear``; ``note`` is a one-line sentence saying what was chosen and why, for stderr.
    """
    if requested not in INPUT_CHOICES:
        raise DataError(f"--input {requested!r}: choose one of {', '.join(INPUT_CHOICES)}")
    if requested != "auto":
        return requested, None
    sample = stored_sample_type(path)
    if sample == "uint8":
        return "srgb", (
            f"{Path(path).name} stores 8-bit values: decoding them as sRGB (pass --input linear if they are linear)"
        )
    stored = "float" if sample == "float" else sample.replace("uint", "") + "-bit"
    return "linear", (
        f"{Path(path).name} stores {stored} values: reading them as linear RGB "
        "(pass --input srgb if they are sRGB-encoded)"
    )


# --- exposure ----------------------------------------------------------------------------------------------------


WHITE_PERCENTILE = 99.0
"""The percentile of each pixel's largest channel that :func:`image_level` calls an image's white level."""


class ExposureReference(NamedTuple):
    """The level an image is scaled to before a model sees it: ``statistic`` (``"white"`` or ``"mean"``, see
    :func:`image_level`) and its value ``level`` over the model's training images."""

    statistic: str
    level: float


def image_level(rgb: np.ndarray, statistic: str) -> float:
    """The exposure level of a linear RGB image ``(H, W, 3)``: ``"white"``, the :data:`WHITE_PERCENTILE`-th
    percentile of each pixel's largest channel, or ``"mean"``, its mean value. Both scale with the image:
    ``level(a·x) = a·level(x)`` for ``a > 0``."""
    if statistic == "white":
        largest = np.asarray(rgb).max(axis=-1)  # a new (H, W) array: the percentile may reorder it in place
        return float(np.percentile(largest, WHITE_PERCENTILE, overwrite_input=True))
    if statistic == "mean":
        return float(np.mean(rgb, dtype=np.float64))
    raise ValueError(f"unknown exposure statistic {statistic!r}")


def exposure_factor(rgb: np.ndarray, reference: ExposureReference) -> float:
    """The gain ``k`` with ``level(k · rgb) = reference.level`` for a linear RGB image ``(H, W, 3)``.

    Raises :class:`DataError` for a black image (no positive level), which has no exposure to normalise.
    """
    target = float(reference.level)
    if not np.isfinite(target) or target <= 0:
        raise DataError(f"reference exposure level must be a positive number, got {reference.level!r}")
    level = image_level(rgb, reference.statistic)
    if not np.isfinite(level) or level <= 0:
        raise DataError(
            f"the image is black ({reference.statistic} level {level:g}): there is no exposure to normalise"
        )
    return target / level


def reference_level(meta: dict) -> ExposureReference | None:
    """The exposure reference of a checkpoint: its training images' white level (``meta["rgb_stats"]
    ["white_level"]``), else their mean level (``"mean_level"``, checkpoints written before the white level was
    recorded), else ``None``."""
    stats = meta.get("rgb_stats") or {}
    for statistic, key in (("white", "white_level"), ("mean", "mean_level")):
        level = stats.get(key)
        if level is not None and float(level) > 0:
            return ExposureReference(statistic, float(level))
    return None


class ScaledWriter:
    """A ``write(y0, x0, block)`` sink that multiplies every ``(h, w, C)`` block by ``scale`` before passing it on."""

    def __init__(self, sink, scale: float) -> None:
        self.sink = sink
        self.scale = np.float32(scale)

    def write(self, y0: int, x0: int, block: np.ndarray) -> None:
        self.sink.write(y0, x0, block * self.scale)


def reconstruct_at_exposure(
    rgb: np.ndarray,
    predict: Callable[..., np.ndarray | None],
    reference: ExposureReference | None,
    *,
    writer=None,
) -> tuple[np.ndarray | None, float]:
    """Run ``predict`` on ``rgb`` scaled to the ``reference`` mean level and scale its cube back.

    Args:
        rgb: linear RGB ``(H, W, 3)`` float32.
        predict: ``predict(rgb)`` → cube ``(H, W, C)``, or ``predict(rgb, writer=sink)`` → ``None`` when ``writer``
            is given (for example ``functools.partial(hsinr.infer.reconstruct, model=model)``).
        reference: the level to scale to (see :func:`reference_level`); ``None`` runs ``predict`` on ``rgb``
            unchanged.
        writer: optional ``write(y0, x0, block)`` sink; it receives blocks already scaled back.

    Returns:
        ``(cube or None, k)``: the cube in the input's exposure (``None`` with a ``writer``) and the gain ``k`` that
        was applied to the input (1.0 when ``reference`` is ``None``).
    """
    if reference is None:
        factor = 1.0
    else:
        factor = exposure_factor(rgb, reference)
    scaled = rgb if factor == 1.0 else (np.asarray(rgb, dtype=np.float32) * np.float32(factor))
    if writer is not None:
        predict(scaled, writer=writer if factor == 1.0 else ScaledWriter(writer, 1.0 / factor))
        return None, factor
    cube = predict(scaled)
    if cube is None:
        raise TypeError("predict returned no cube: give it no writer, or pass writer= to reconstruct_at_exposure")
    return (cube if factor == 1.0 else cube * np.float32(1.0 / factor)), factor
