"""Camera spectral responses: the ``(3, C)`` curves that turn a spectrum into an RGB triple.

A response holds one row per colour channel (R, G, B) sampled at band centres in nanometres, so that a linear RGB
pixel is ``rgb = spectrum @ srf.T`` (eq. 4 of the INR-HSISR paper, ``X_c(p) = sum_n R(p, l_n) Phi_c(l_n)``).

Where responses come from:

- :func:`builtin_response` -- the CIE 1931 2 deg and CIE 1964 10 deg colour-matching functions, an sRGB-primaries
  response derived from CIE 1931, and the measured cameras shipped with ``colour-science``;
- :func:`load_response` -- a file (CSV, ``.npy``, ``.mat``, ``.npz`` in the NTIRE and camspec layouts);
- :func:`resolve_response` -- a builtin name, a path or ``"path:key"``, as typed on the command line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cube import default_wavelengths
from ..errors import DataError
from .resample import resample_spectra

NORMALIZATIONS = ("sum", "max", "none")

_CIE_OBSERVERS = {
    "cie1931_xyz": "CIE 1931 2 Degree Standard Observer",
    "cie1964_xyz": "CIE 1964 10 Degree Standard Observer",
}


@dataclass
class CameraResponse:
    """A camera's spectral sensitivities.

    Attributes:
        srf: float64 ``(3, C)``, rows R, G, B; non-negative in physical responses. ``rgb = cube @ srf.T``.
        wavelengths: float64 ``(C,)``, strictly increasing band centres in nm.
        name: where the curves came from (a builtin name or a file), used in messages and checkpoints.
    """

    srf: np.ndarray
    wavelengths: np.ndarray
    name: str = "response"

    def __post_init__(self) -> None:
        self.srf = np.asarray(self.srf, dtype=np.float64)
        self.wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
        if self.srf.ndim != 2 or self.srf.shape[0] != 3:
            raise DataError(f"{self.name}: a camera response must have shape (3, C), got {self.srf.shape}")
        if self.srf.shape[1] != self.wavelengths.size:
            raise DataError(
                f"{self.name}: {self.wavelengths.size} wavelengths for a response of {self.srf.shape[1]} bands"
            )
        if not np.all(np.isfinite(self.srf)) or not np.all(np.isfinite(self.wavelengths)):
            raise DataError(f"{self.name}: the response or its wavelengths hold NaN/Inf values")
        if self.wavelengths.size > 1 and not np.all(np.diff(self.wavelengths) > 0):
            raise DataError(f"{self.name}: wavelengths must be strictly increasing")

    @property
    def bands(self) -> int:
        return int(self.srf.shape[1])

    def resampled(self, wavelengths: np.ndarray) -> CameraResponse:
        """The response linearly interpolated at ``wavelengths`` (nm), zero outside the measured range.

        A camera's response is zero where it was not measured (its filters block that light), so targets outside
        the measured range get 0 here, explicitly; the inside ones go through
        :func:`~hsinr.spectral.resample.resample_spectra`, which never extrapolates. Raises :class:`DataError` when
        more than half of the target wavelengths fall outside the measured range, since the result would then
        mostly be invented zeros.
        """
        target = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
        low, high = self.wavelengths[0], self.wavelengths[-1]
        inside = (target >= low) & (target <= high)
        if inside.sum() * 2 < target.size:
            raise DataError(
                f"{self.name}: measured on {low:g}-{high:g} nm, but {target.size - int(inside.sum())} of "
                f"{target.size} requested wavelengths ({target.min():g}-{target.max():g} nm) lie outside it"
            )
        srf = np.zeros((self.srf.shape[0], target.size), dtype=np.float64)
        srf[:, inside] = resample_spectra(self.srf, self.wavelengths, target[inside], what=self.name)
        return CameraResponse(srf, target, self.name)

    def normalized(self, mode: str = "sum") -> CameraResponse:
        """A copy with each row scaled.

        ``"sum"``: each row sums to 1 (like the CAVE Nikon ``P``), so a flat spectrum of value ``v`` renders to
        ``(v, v, v)`` -- white balanced for an equal-energy illuminant. ``"max"``: each row peaks at 1.
        ``"none"``: unchanged.
        """
        if mode not in NORMALIZATIONS:
            raise DataError(f"{self.name}: unknown normalisation {mode!r}; choose one of {', '.join(NORMALIZATIONS)}")
        if mode == "none":
            return CameraResponse(self.srf.copy(), self.wavelengths.copy(), self.name)
        scale = self.srf.sum(axis=1) if mode == "sum" else self.srf.max(axis=1)
        if np.any(scale <= 0):
            dead = [channel for channel, value in zip("RGB", scale, strict=True) if value <= 0]
            raise DataError(f"{self.name}: channel(s) {', '.join(dead)} have no positive response to normalise")
        return CameraResponse(self.srf / scale[:, None], self.wavelengths.copy(), self.name)


def _slug(name: str) -> str:
    """``"Nikon 5100 (NPL)"`` -> ``"nikon_5100_npl"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _colour_cameras() -> dict[str, str]:
    import colour

    return {_slug(label): label for label in colour.MSDS_CAMERA_SENSITIVITIES.keys()}


def list_builtin_responses() -> list[str]:
    """Names accepted by :func:`builtin_response`: CIE observers, ``"srgb"`` and the colour-science cameras."""
    return [*_CIE_OBSERVERS, "srgb", *sorted(_colour_cameras())]


def builtin_response(name: str, wavelengths: np.ndarray | None = None, normalize: str = "sum") -> CameraResponse:
    """A response shipped with ``colour-science``, resampled to ``wavelengths`` (default 400..700 nm every 10 nm).

    Names:
        ``cie1931_xyz`` / ``cie1964_xyz``: the CIE 2 deg / 10 deg colour-matching functions x, y, z as the three
        channels (point samples of the 1 nm tables, linearly interpolated).
        ``srgb``: CIE 1931 CMFs multiplied through the XYZ -> linear-sRGB (D65) matrix, negative lobes clipped to 0.
        Any camera of ``colour.MSDS_CAMERA_SENSITIVITIES`` under its slug, e.g. ``nikon_5100_npl``.

    ``normalize`` is applied after resampling (see :meth:`CameraResponse.normalized`); the default ``"sum"`` makes
    a flat spectrum render grey.
    """
    import colour

    target = default_wavelengths() if wavelengths is None else wavelengths
    key = name.lower()
    cameras = _colour_cameras()
    if key in _CIE_OBSERVERS or key == "srgb":
        cmfs = colour.MSDS_CMFS[_CIE_OBSERVERS.get(key, _CIE_OBSERVERS["cie1931_xyz"])]
        srf = np.asarray(cmfs.values, dtype=np.float64).T
        if key == "srgb":
            xyz_to_rgb = np.asarray(colour.models.RGB_COLOURSPACE_sRGB.matrix_XYZ_to_RGB, dtype=np.float64)
            srf = np.clip(xyz_to_rgb @ srf, 0.0, None)
        measured = CameraResponse(srf, cmfs.wavelengths, key)
    elif key in cameras:
        sensitivities = colour.MSDS_CAMERA_SENSITIVITIES[cameras[key]]
        measured = CameraResponse(np.asarray(sensitivities.values).T, sensitivities.wavelengths, key)
    else:
        raise DataError(f"unknown camera response {name!r}; builtin ones: {', '.join(list_builtin_responses())}")
    return measured.resampled(target).normalized(normalize)


def _as_rows(array: np.ndarray, where: str) -> np.ndarray:
    """Orient a 2-D response array as ``(3, C)``; ``(C, 3)`` is transposed, ``(3, 3)`` is read as rows."""
    array = np.asarray(array)
    if array.ndim != 2 or 3 not in array.shape:
        raise DataError(f"{where}: expected a (3, C) or (C, 3) response, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{where}: the response is not numeric (dtype {array.dtype})")
    rows = array if array.shape[0] == 3 else array.T
    return rows.astype(np.float64)


def _with_wavelengths(
    srf: np.ndarray, stored_nm: np.ndarray | None, wavelengths: np.ndarray | None, name: str
) -> CameraResponse:
    """Attach band centres: resample when the file stores them, otherwise take ``wavelengths`` (or the default)."""
    if stored_nm is not None:
        response = CameraResponse(srf, np.asarray(stored_nm, dtype=np.float64).reshape(-1), name)
        return response if wavelengths is None else response.resampled(wavelengths)
    target = default_wavelengths() if wavelengths is None else np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    if srf.shape[1] != target.size:
        given = "the given" if wavelengths is not None else "the default 400-700 nm"
        raise DataError(
            f"{name}: the file stores no wavelengths and has {srf.shape[1]} bands, but {given} wavelengths "
            f"have {target.size}; pass wavelengths= with the file's band centres"
        )
    return CameraResponse(srf, target, name)


def _read_csv(path: Path) -> np.ndarray:
    """Rows ``wavelength, r, g, b``; a non-numeric first line is taken as a header."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file") from None
    if rows:
        try:
            [float(cell) for cell in rows[0]]
        except ValueError:
            rows = rows[1:]
    try:
        table = np.array([[float(cell) for cell in row] for row in rows], dtype=np.float64)
    except ValueError as error:
        raise DataError(f"{path}: non-numeric value in the response table ({error})") from None
    if table.ndim != 2 or table.shape[0] < 2 or table.shape[1] != 4:
        raise DataError(f"{path}: expected at least two rows of 4 columns (wavelength, r, g, b), got {table.shape}")
    return table


def _read_mat(path: Path, key: str | None) -> np.ndarray:
    """The array ``key`` (default ``P``, else the only 2-D array with a side of 3) of a MATLAB v5 or v7.3 file."""
    import h5py
    import scipy.io

    try:
        if h5py.is_hdf5(path):  # MATLAB v7.3; arrays come transposed, which _as_rows absorbs
            with h5py.File(path, "r") as handle:
                arrays = {name: handle[name][()] for name in handle if isinstance(handle[name], h5py.Dataset)}
        else:
            arrays = {name: value for name, value in scipy.io.loadmat(str(path)).items() if not name.startswith("__")}
    except (ValueError, OSError, NotImplementedError, scipy.io.matlab.MatReadError) as error:
        raise DataError(f"{path}: not a readable MATLAB file ({error})") from None
    if key is None and "P" in arrays:
        key = "P"
    if key is None:
        candidates = [name for name, value in arrays.items() if np.ndim(value) == 2 and 3 in np.shape(value)]
        if len(candidates) != 1:
            raise DataError(
                f"{path}: cannot tell which array is the response (candidates: {candidates or 'none'}); "
                f"give a key, e.g. '{path}:{candidates[0] if candidates else 'P'}'"
            )
        key = candidates[0]
    if key not in arrays:
        raise DataError(f"{path}: no array {key!r}; the file holds {sorted(arrays)}")
    return np.asarray(arrays[key])


def _camera_index(names: list[str], key: str | None, path: Path) -> int:
    if key is None:
        raise DataError(f"{path}: holds {len(names)} cameras; choose one with '{path}:NAME', NAME among {names}")
    for index, name in enumerate(names):
        if key == name or key.lower() == name.lower() or _slug(key) == _slug(name):
            return index
    raise DataError(f"{path}: no camera {key!r}; cameras: {names}")


def _read_npz(path: Path, key: str | None, wavelengths: np.ndarray | None) -> CameraResponse:
    """NTIRE (``filters`` (C, 3) + optional ``bands``), camspec (``srf`` (K, 3, B) + ``names`` + ``wavelengths``),
    or a named 2-D array with optional ``wavelengths``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    name = str(path)
    if "srf" in arrays and arrays["srf"].ndim == 3:
        names = [str(item) for item in arrays.get("names", np.arange(arrays["srf"].shape[0]))]
        index = _camera_index(names, key, path)
        srf, stored_nm, name = _as_rows(arrays["srf"][index], name), arrays.get("wavelengths"), f"{path}:{names[index]}"
    elif key is not None:
        if key not in arrays:
            raise DataError(f"{path}: no array {key!r}; the file holds {sorted(arrays)}")
        srf, stored_nm, name = _as_rows(arrays[key], name), arrays.get("wavelengths"), f"{path}:{key}"
    elif "filters" in arrays:
        srf, stored_nm = _as_rows(arrays["filters"], name), arrays.get("bands")
    elif "srf" in arrays:
        srf, stored_nm = _as_rows(arrays["srf"], name), arrays.get("wavelengths")
    else:
        raise DataError(f"{path}: no 'filters' or 'srf' array; the file holds {sorted(arrays)} (give a key)")
    return _with_wavelengths(srf, stored_nm, wavelengths, name)


def load_response(path: str | Path, wavelengths: np.ndarray | None = None, key: str | None = None) -> CameraResponse:
    """Read a camera response file, returned at ``wavelengths`` (nm) and with the values as stored (no normalisation).

    Formats:
        ``.csv``: columns wavelength (nm), r, g, b; an optional header line.
        ``.npy``: a ``(3, C)`` or ``(C, 3)`` array.
        ``.mat``: key ``P`` (CAVE Nikon D700 convention) unless ``key`` is given, else the only 2-D array with a
        side of 3.
        ``.npz``: NTIRE (``filters`` (C, 3), optional ``bands``), camspec (``srf`` (K, 3, B), ``names``,
        ``wavelengths``; ``key`` picks the camera by name), or the array ``key``.

    Files that store their wavelengths are resampled to ``wavelengths`` when it is given. Files that do not
    (``.npy``, ``.mat``, NTIRE without ``bands``) are taken to be sampled at ``wavelengths`` -- default 400..700 nm
    every 10 nm -- and must have that many bands.

    Raises:
        DataError: missing file, unknown extension, wrong shape, missing key, band count mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: camera response file not found")
    suffix = path.suffix.lower()
    if key is not None and suffix in (".csv", ".npy"):
        raise DataError(f"{path}: a {suffix} response holds one array; key {key!r} does not apply")
    if suffix == ".csv":
        table = _read_csv(path)
        return _with_wavelengths(table[:, 1:].T.copy(), table[:, 0], wavelengths, str(path))
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from None
        return _with_wavelengths(_as_rows(array, str(path)), None, wavelengths, str(path))
    if suffix == ".mat":
        name = f"{path}:{key}" if key else str(path)
        return _with_wavelengths(_as_rows(_read_mat(path, key), name), None, wavelengths, name)
    if suffix == ".npz":
        return _read_npz(path, key, wavelengths)
    raise DataError(f"{path}: unknown camera response format {suffix!r} (use .csv, .npy, .mat or .npz)")


def resolve_response(spec: str, wavelengths: np.ndarray | None = None) -> CameraResponse:
    """A response from a command-line spec: a builtin name, a file path, or ``"path:key"`` for multi-array files.

    Builtin responses come sum-normalised (:func:`builtin_response`); files come as stored (:func:`load_response`).
    An existing file is read as one before the builtin names are looked up, so reading a file never imports
    ``colour`` (about half a second).
    """
    if Path(spec).is_file():
        return load_response(spec, wavelengths)
    if spec.lower() in list_builtin_responses():
        return builtin_response(spec, wavelengths)
    path, separator, key = spec.rpartition(":")
    if separator and Path(path).is_file():
        return load_response(path, wavelengths, key=key)
    raise DataError(
        f"camera response {spec!r} is neither a file nor a builtin name ({', '.join(list_builtin_responses())})"
    )
