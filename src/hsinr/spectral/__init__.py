"""Camera responses, RGB rendering and band resampling.

- :mod:`.responses`: :class:`CameraResponse`, builtin (CIE, sRGB, colour-science cameras) and file responses.
- :mod:`.render`: eq. 4 of INR-HSISR (``rgb = cube @ srf.T``) plus an optional camera pipeline (noise, JPEG).
- :mod:`.resample`: linear resampling along the band axis and nearest-band picks; one policy: no extrapolation.
"""

from .render import render_rgb, render_rgb_torch
from .resample import nearest_bands, resample_bands, resample_spectra
from .responses import (
    CameraResponse,
    builtin_response,
    list_builtin_responses,
    load_response,
    resolve_response,
)

__all__ = [
    "CameraResponse",
    "builtin_response",
    "list_builtin_responses",
    "load_response",
    "nearest_bands",
    "render_rgb",
    "render_rgb_torch",
    "resample_bands",
    "resample_spectra",
    "resolve_response",
]
