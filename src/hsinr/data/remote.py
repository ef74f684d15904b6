"""Remote-sensing cubes for INSS: band centres, RGB from three bands, water-absorption masks, benchmark loaders.

INSS (Liu, Zou, Shi, Sec. IV-A) trains on AVIRIS cubes whose "RGB" input is three of their own bands (35, 18, 8 of
224) and leaves the water-absorption bands (AVIRIS 104–114 and 152–168) out of training and evaluation.

* AVIRIS band centres are approximated as ``365 + 9.6·(k − 1)`` nm for band k = 1…224. This is **approximate**: the
  four AVIRIS spectrometers overlap and the calibrated centres differ by flight (a few nm to ~10 nm). It puts bands
  35/18/8 at 691.4/528.2/432.2 nm (red, green, blue).
* The water-absorption mask keeps a band unless its centre lies in [1350, 1450] nm, in [1810, 1970] nm, or above
  2450 nm. With the approximate AVIRIS centres the first two ranges are exactly the paper's bands 104–114 and
  152–168; the third also drops the noisy long-wave end (AVIRIS 219–224).
* Loaders for the benchmark cubes of ``../shared/data/remote`` (Jasper Ridge, Samson, HYDICE Urban) return a
  :class:`~hsinr.cube.Cube` with band centres assigned from the sensor (all approximate, see each loader).

The patches for training come from :class:`hsinr.data.patches.PatchDataset` over :func:`remote_pair` scenes; the
loss masks come from :func:`valid_band_mask`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cube import Cube
from ..errors import DataError
from ..io import read_cube
from ..spectral.resample import MAX_PICK_DISTANCE_NM, nearest_bands  # noqa: F401  (re-exported for callers)
from .datasets import ScenePair

AVIRIS_BAND_COUNT = 224
#: AVIRIS bands (1-based) that INSS uses as red, green and blue.
AVIRIS_RGB_BANDS = (35, 18, 8)
#: Centre-wavelength ranges (nm, inclusive) of the water-absorption bands left out of losses and metrics.
WATER_ABSORPTION_NM = ((1350.0, 1450.0), (1810.0, 1970.0))
#: Bands centred above this wavelength (nm) are left out too (low signal, sensor noise).
LONG_WAVE_LIMIT_NM = 2450.0

#: HYDICE Urban: 210 bands, 400–2500 nm; the usual 162-band version drops these 1-based bands.
_URBAN_DROPPED = [*range(1, 5), 76, 87, *range(101, 112), *range(136, 154), *range(198, 211)]


def aviris_band_centres(band_numbers=None) -> np.ndarray:
    """Approximate AVIRIS band centres in nm: ``365 + 9.6·(k − 1)`` for 1-based band numbers ``k``.

    Args:
        band_numbers: 1-based AVIRIS band numbers (any shape); ``None`` gives all 224 bands.

    Returns:
        float64 array of the same shape (``(224,)`` by default).
    """
    k = np.arange(1, AVIRIS_BAND_COUNT + 1) if band_numbers is None else np.asarray(band_numbers)
    if np.any(k < 1) or np.any(k > AVIRIS_BAND_COUNT):
        raise DataError(f"AVIRIS band numbers run from 1 to {AVIRIS_BAND_COUNT}, got {np.min(k)}..{np.max(k)}")
    return 365.0 + 9.6 * (k.astype(np.float64) - 1.0)


def default_rgb_wavelengths() -> np.ndarray:
    """Red, green, blue wavelengths (nm) of INSS's RGB: the approximate centres of AVIRIS bands 35, 18, 8."""
    return aviris_band_centres(AVIRIS_RGB_BANDS)


def band_pick_response(wavelengths: np.ndarray, picks_nm=None) -> np.ndarray:
    """A ``(3, C)`` one-hot camera response that copies the bands nearest ``picks_nm`` (R, G, B order).

    ``rgb = cube @ response.T`` is then :func:`rgb_from_bands`; the same matrix is INSS's ``x(·)`` of eq. 14.
    ``picks_nm`` defaults to :func:`default_rgb_wavelengths` (AVIRIS bands 35/18/8).
    """
    wavelengths = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    picks = default_rgb_wavelengths() if picks_nm is None else np.asarray(picks_nm, dtype=np.float64).reshape(-1)
    if picks.size != 3:
        raise DataError(f"an RGB image needs 3 pick wavelengths, got {picks.size}")
    response = np.zeros((3, wavelengths.size), dtype=np.float64)
    response[np.arange(3), nearest_bands(wavelengths, picks)] = 1.0
    return response


def rgb_from_bands(cube: np.ndarray, wavelengths: np.ndarray, picks_nm=None) -> np.ndarray:
    """RGB image made of the cube's bands nearest ``picks_nm`` (default AVIRIS bands 35/18/8, Sec. IV-A).

    Args:
        cube: ``(H, W, C)`` float array.
        wavelengths: its band centres, nm ``(C,)``.
        picks_nm: red, green, blue wavelengths in nm.

    Returns:
        ``(H, W, 3)`` float32, the chosen bands' values unchanged.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3 or cube.shape[2] != np.asarray(wavelengths).size:
        raise DataError(f"cube {cube.shape} does not match {np.asarray(wavelengths).size} wavelengths")
    index = nearest_bands(wavelengths, default_rgb_wavelengths() if picks_nm is None else picks_nm)
    if index.size != 3:
        raise DataError(f"an RGB image needs 3 pick wavelengths, got {index.size}")
    return np.ascontiguousarray(cube[:, :, index], dtype=np.float32)


def valid_band_mask(wavelengths: np.ndarray) -> np.ndarray:
    """True for bands used in losses and metrics; False in the water-absorption ranges and beyond 2450 nm.

    Args:
        wavelengths: band centres, nm ``(C,)``.

    Returns:
        bool ``(C,)``.
    """
    centres = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    valid = centres <= LONG_WAVE_LIMIT_NM
    for low, high in WATER_ABSORPTION_NM:
        valid &= ~((centres >= low) & (centres <= high))
    return valid


def _read_variable(path: Path, name: str) -> np.ndarray:
    """One small variable of a MATLAB v5 file (the cube itself is read by :func:`hsinr.io.read_cube`)."""
    from scipy.io import loadmat

    try:
        content = loadmat(path, variable_names=[name])
    except Exception as exc:  # scipy raises several types for files that are not MATLAB v5
        raise DataError(f"{path}: not a readable MATLAB v5 file ({type(exc).__name__}: {exc})") from None
    if name not in content:
        raise DataError(f"{path}: missing variable {name!r}")
    return np.asarray(content[name])


def _with_wavelengths(cube: Cube, wavelengths: np.ndarray, sensor: str) -> Cube:
    """The cube with band centres assigned (flagged approximate in ``meta``)."""
    if wavelengths.size != cube.bands:
        raise DataError(f"{cube.source}: {cube.bands} bands, expected {wavelengths.size} for {sensor}")
    meta = {**cube.meta, "sensor": sensor, "wavelengths_from": "approximate sensor band centres"}
    return Cube(cube.data, wavelengths, cube.source, cube.scale, meta).check_finite()


def load_jasper_ridge(path: str | Path) -> Cube:
    """Jasper Ridge (AVIRIS, 100 × 100, 198 bands), values ÷ ``maxValue`` (5000) ≈ reflectance.

    The cube is read by :func:`hsinr.io.read_cube` (``Y`` ``(198, 10000)`` unfolded column-major); band centres come
    from ``SlectBands`` (1-based AVIRIS band numbers) through :func:`aviris_band_centres` (approximate).
    """
    path = Path(path)
    cube = read_cube(path)
    numbers = _read_variable(path, "SlectBands").reshape(-1).astype(np.int64)
    return _with_wavelengths(cube, aviris_band_centres(numbers), "AVIRIS")


def load_samson(path: str | Path) -> Cube:
    """Samson (95 × 95, 156 bands, values 0–1), read by :func:`hsinr.io.read_cube` (``Y`` unfolded column-major).

    Band centres are taken evenly spaced from 401 to 889 nm (the published range; approximate).
    """
    cube = read_cube(Path(path))
    return _with_wavelengths(cube, np.linspace(401.0, 889.0, cube.bands), "Samson")


def load_urban(path: str | Path) -> Cube:
    """HYDICE Urban sub-image (``im`` ``(H, W, 162)``, ≈ reflectance), read by :func:`hsinr.io.read_cube`.

    Band centres: the sensor's 210 bands evenly spaced over 400–2500 nm, less the usually dropped bands 1–4, 76, 87,
    101–111, 136–153 and 198–210 (approximate).
    """
    cube = read_cube(Path(path))
    kept = np.setdiff1d(np.arange(1, 211), _URBAN_DROPPED) - 1
    return _with_wavelengths(cube, np.linspace(400.0, 2500.0, 210)[kept], "HYDICE")


#: Loader of each benchmark cube, by a word its file name contains.
REMOTE_LOADERS = {"jasper": load_jasper_ridge, "samson": load_samson, "urban": load_urban}


def load_remote_cube(path: str | Path, loader: str | None = None) -> Cube:
    """Load a benchmark cube with band centres; ``loader`` (``jasper``/``samson``/``urban``) or from the file name."""
    path = Path(path)
    name = loader or next((key for key in REMOTE_LOADERS if key in path.name.lower()), None)
    if name not in REMOTE_LOADERS:
        raise DataError(
            f"{path}: cannot tell which remote-sensing cube this is; name a loader ({', '.join(REMOTE_LOADERS)})"
        )
    return REMOTE_LOADERS[name](path)


def split_columns(cube: Cube, fraction: float = 0.5) -> tuple[Cube, Cube]:
    """Split a scene into a left part (``fraction`` of the columns) and the rest, e.g. train left / test right."""
    return _split_axis(cube, fraction, 1, "columns")


def split_rows(cube: Cube, fraction: float = 0.5) -> tuple[Cube, Cube]:
    """Split a scene into a top part (``fraction`` of the rows) and the rest, e.g. validate top / test bottom."""
    return _split_axis(cube, fraction, 0, "rows")


def _split_axis(cube: Cube, fraction: float, axis: int, what: str) -> tuple[Cube, Cube]:
    """The two parts of ``cube`` (H, W, C) cut at ``round(fraction · size)`` along ``axis`` (0 rows, 1 columns)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"split fraction must be in (0, 1), got {fraction}")
    size = cube.shape[axis]
    split = int(round(size * fraction))
    if split < 1 or split >= size:
        raise DataError(f"cannot split {size} {what} at fraction {fraction}")
    parts = []
    for part in (slice(0, split), slice(split, None)):
        index = (slice(None), part) if axis == 1 else (part,)
        parts.append(Cube(cube.data[index].copy(), cube.wavelengths, cube.source, cube.scale, dict(cube.meta)))
    return parts[0], parts[1]


def remote_pair(cube: Cube, name: str, picks_nm=None) -> ScenePair:
    """A training/evaluation scene (RGB from the cube's own bands, cube, band centres) for the patch datasets."""
    if cube.wavelengths is None:
        raise DataError(f"{cube.source or name}: band centres are needed to pick the RGB bands")
    return ScenePair(name, rgb_from_bands(cube.data, cube.wavelengths, picks_nm), cube.data, cube.wavelengths)
