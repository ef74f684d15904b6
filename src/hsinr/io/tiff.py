"""Multi-page / 3-D TIFF cubes through ``tifffile``.

Written files hold one float32 page per band (``C`` pages of ``H × W``); the first page's ImageDescription is JSON
``{"hsinr_cube": {"axes": "CYX", "wavelengths_nm": [...]}}``. Reading takes the file's first image series: pages or a
planar sample axis first (``C, H, W``) are moved last; a contiguous sample axis (``H, W, C``) is kept. Band centres
come from our JSON description when present. Integers are divided by their dtype maximum, floats kept as stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile

from ..cube import Cube
from ..errors import DataError
from ._shared import stored_cube
from .limits import check_declared_size

LIBRARY_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, ZeroDivisionError)  # tifffile on a damaged IFD
DESCRIPTION_KEY = "hsinr_cube"


def read_tiff(path: Path) -> Cube:
    """Read a 3-D TIFF as float32 ``(H, W, C)``; wavelengths from our JSON description, else ``None``."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        check_declared_size(series.shape, series.dtype.itemsize, path, "TIFF image")
        stored = series.asarray()
        axes = series.axes
        description = tif.pages[0].description
    if stored.ndim != 3:
        raise DataError(f"{path}: TIFF image has shape {stored.shape} (axes {axes}), not a 3-D cube")
    if not axes.endswith("S"):
        stored = np.moveaxis(stored, 0, -1)  # bands as pages or planar samples: (C, H, W) → (H, W, C)
    return stored_cube(stored, _described_wavelengths(description), path, {"format": "tiff", "axes": axes})


def write_tiff(path: Path, data: np.ndarray, wavelengths: np.ndarray | None) -> None:
    """Write float32 ``(H, W, C)`` as ``C`` single-band pages with a JSON description holding the wavelengths."""
    info = {"axes": "CYX", "wavelengths_nm": None if wavelengths is None else [float(w) for w in wavelengths]}
    planes = np.ascontiguousarray(np.moveaxis(np.asarray(data, dtype=np.float32), -1, 0))
    tifffile.imwrite(
        path, planes, photometric="minisblack", description=json.dumps({DESCRIPTION_KEY: info}), metadata=None
    )


def _described_wavelengths(description: str):
    try:
        info = json.loads(description)
    except (TypeError, ValueError):
        return None
    if isinstance(info, dict) and isinstance(info.get(DESCRIPTION_KEY), dict):
        return info[DESCRIPTION_KEY].get("wavelengths_nm")
    return None
