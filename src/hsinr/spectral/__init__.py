"""Camera responses, RGB rendering and band resampling.

- :mod:`.responses`: :class:`CameraResponse`, builtin (CIE, sRGB, colour-science cameras) and file responses.
- :mod:`.render`: eq. 4 of INR-HSISR (``rgb = cube @ srf.T``) plus an optional camera pipeline (noise, JPEG).
- :mod:`.resample`: linear resampling of a cube along its band axis.
"""

from .render import render_rgb, render_rgb_torch
from .resample import resample_bands
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
    "render_rgb",
    "render_rgb_torch",
    "resample_bands",
    "resolve_response",
]
