"""Read a CAVE multispectral scene folder (Yasuma et al. 2010) as a cube.

A CAVE scene is 31 grey PNGs ``<scene>_ms_01.png … <scene>_ms_31.png`` for 400, 410, …, 700 nm, usually with a
``<scene>_RGB.bmp`` rendering beside them (ignored here). The public archive nests them as
``<scene>_ms/<scene>_ms/…``; either folder level is accepted. Bands are 16-bit (÷ 65535), but a few real scenes
have 8-bit (÷ 255) or RGBA band images: each band is scaled by its own bit depth and the first channel is taken.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..cube import Cube
from ..errors import DataError
from ._shared import to_unit_scale
from .rgb import read_image_native

BAND_COUNT = 31
FIRST_NM, STEP_NM = 400.0, 10.0
_BAND_FILE = re.compile(r"^(?P<scene>.+)_ms_(?P<band>\d{2})\.png$", re.IGNORECASE)


def read_cave_folder(folder: Path | str) -> Cube:
    """Read one CAVE scene as a float32 ``(H, W, 31)`` cube in [0, 1] with wavelengths 400…700 nm (10 nm step).

    Raises:
        DataError: no band images, a band missing, bands of different sizes, or several scenes in one folder.
    """
    folder = _scene_folder(Path(folder))
    bands = _band_files(folder)
    missing = [f"_ms_{number:02d}.png" for number in range(1, BAND_COUNT + 1) if number not in bands]
    if missing:
        raise DataError(f"{folder}: CAVE scene is missing band image(s) {', '.join(missing)}")
    planes: list[np.ndarray] = []
    divisors: list[float] = []
    for number in range(1, BAND_COUNT + 1):
        image = read_image_native(bands[number])
        plane = image if image.ndim == 2 else image[:, :, 0]
        values, divisor = to_unit_scale(plane, bands[number])
        if planes and values.shape != planes[0].shape:
            raise DataError(f"{bands[number]}: band is {values.shape}, band 01 is {planes[0].shape}")
        planes.append(values)
        divisors.append(divisor)
    match = _BAND_FILE.match(bands[1].name)
    scene = match.group("scene") if match else folder.name
    return Cube(
        data=np.stack(planes, axis=2),
        wavelengths=FIRST_NM + STEP_NM * np.arange(BAND_COUNT),
        source=str(folder),
        scale=Counter(divisors).most_common(1)[0][0],
        meta={"format": "cave", "scene": scene, "band_scales": divisors},
    )


def _band_files(folder: Path) -> dict[int, Path]:
    """Map band number → PNG path for the ``*_ms_NN.png`` files directly inside ``folder``."""
    found = {}
    for path in folder.iterdir():
        match = _BAND_FILE.match(path.name)
        if match and path.is_file():
            found[int(match.group("band"))] = path
    return found


def _scene_folder(folder: Path) -> Path:
    """The folder that holds the band images: ``folder`` itself, or the single one up to two levels below it."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if _band_files(folder):
        return folder
    children = [child for child in sorted(folder.iterdir()) if child.is_dir()]
    candidates = [child for child in children if _band_files(child)]
    if not candidates:
        grandchildren = [inner for child in children for inner in sorted(child.iterdir()) if inner.is_dir()]
        candidates = [inner for inner in grandchildren if _band_files(inner)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{folder}: no CAVE band images (<scene>_ms_01.png … _ms_31.png) in this folder or below it")
    names = ", ".join(child.name for child in candidates[:5]) + (", …" if len(candidates) > 5 else "")
    raise DataError(f"{folder}: holds {len(candidates)} CAVE scenes ({names}); pass one scene folder")
