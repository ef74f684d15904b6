"""Warnings when an RGB input does not look like what a model was trained on (another camera, gamma, range).

A model learns the inverse of one camera response; an image from another camera, or an 8-bit sRGB photo with its
gamma curve, gives plausible-looking but wrong spectra. We cannot prove a mismatch from pixels alone, so these are
warnings, each saying what was seen and what the model expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STANDARD_RESPONSES = ("srgb",)
"""Responses of standard colour spaces, not of one camera: every camera's photos are meant to be in them."""

CHROMATICITY_MARGIN = 0.08
"""How far (in r, g, b chromaticity) the image mean may lie outside the training scenes' range before we warn."""


def input_warnings(rgb: np.ndarray, meta: dict, path: str | Path | None = None) -> list[str]:
    """Reasons to doubt that ``rgb`` ``(H, W, 3)`` in [0, 1] matches the checkpoint's training inputs (``meta``)."""
    warnings = []
    name = str(path) if path else "input"
    stats = meta.get("rgb_stats") or {}
    if stats:
        mean = rgb.reshape(-1, 3).mean(axis=0).astype(np.float64)
        chroma = mean / max(mean.sum(), 1e-12)
        low = np.asarray(stats["chromaticity_min"]) - CHROMATICITY_MARGIN
        high = np.asarray(stats["chromaticity_max"]) + CHROMATICITY_MARGIN
        if np.any(mean < 0) or mean.sum() <= 1e-6:  # chromaticity of a black or negative mean is meaningless
            warnings.append(
                f"{name}: mean RGB = {np.round(mean, 4).tolist()} is black or negative; the model expects linear "
                "RGB in [0, 1] with positive values"
            )
        elif np.any(chroma < low) or np.any(chroma > high):
            warnings.append(
                f"{name}: mean chromaticity (r, g, b) = {np.round(chroma, 3).tolist()} lies outside the training "
                f"range {np.round(low + CHROMATICITY_MARGIN, 3).tolist()}–"
                f"{np.round(high - CHROMATICITY_MARGIN, 3).tolist()}: the image may come from another camera "
                f"response than {meta.get('response')!r} the model was trained with"
            )
    camera = exif_camera(path) if path else None
    response = str(meta.get("response") or "")
    standard = response.lower() in STANDARD_RESPONSES  # cameras convert to these themselves: any make is fine
    if camera and response and not standard and not any(w.lower() in response.lower() for w in camera.split()[:2]):
        warnings.append(
            f"{name}: EXIF says the image comes from {camera!r}, but the model was trained with response {response!r}; "
            "it also expects linear RGB (no gamma), which camera JPEGs are not"
        )
    return warnings


def exif_camera(path: str | Path) -> str | None:
    """``"Make Model"`` from the image's EXIF tags, or ``None`` when absent or unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            exif = image.getexif()
        make, model = exif.get(0x010F), exif.get(0x0110)
    except Exception:  # no EXIF support for this file: nothing to say
        return None
    text = " ".join(str(v).strip() for v in (make, model) if v)
    return text or None
