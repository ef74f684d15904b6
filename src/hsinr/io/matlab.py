"""MATLAB ``.mat`` cubes: v4/v5/v7 through scipy, v7.3 (HDF5) through h5py; writing as v7.3.

Which variable is the cube (the first that applies):

1. ``key=`` when given;
2. a 3-D array named, in this order, ``cube`` (ARAD / NTIRE 2022), ``rad`` (ICVL / NTIRE 2018), ``ref`` (Harvard),
   ``Omsi`` (CAVE-style);
3. ``Y`` of shape ``(bands, pixels)`` — the remote-sensing unmixing layout (Jasper Ridge, Samson): the image size
   comes from ``nRow``/``nCol`` (or ``lines``/``cols``) or a square pixel count, and the pixels are unfolded in
   MATLAB (column-major) order, ``pixel = row + H · column``;
4. the only 3-D numeric array.

Otherwise a :class:`DataError` lists the variables with their shapes. A ``maxValue`` variable is the full-scale
divisor; without it integers are divided by their dtype maximum and floats kept as stored. Band centres come from a
``bands`` or ``wavelengths`` variable; without one, a 31-band ``cube``/``rad``/``Omsi`` gets 400…700 nm and a 31-band
``ref`` 420…720 nm (the published band centres of those datasets; ``meta["wavelengths_from"]`` says which).

h5py lists a MATLAB array's axes in reverse (MATLAB is column-major): an ``(H, W, C)`` MATLAB array is stored as
``(C, W, H)``. Reading transposes every v7.3 variable back to MATLAB order; writing stores the transposed array, with
a 512-byte user block holding the ``MATLAB 7.3 MAT-file`` header so MATLAB (and scipy's version check) recognise it.
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from .. import __version__
from ..cube import Cube
from ..errors import DataError
from ._shared import to_unit_scale, wavelengths_or_none
from .hdf5 import HDF5CubeWriter
from .limits import check_declared_size

LIBRARY_ERRORS = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    MatReadError,
)
DATASET_KEYS = ("cube", "rad", "ref", "Omsi")
WAVELENGTH_NAMES = ("bands", "wavelengths")
SIZE_NAMES = (("nRow", "nCol"), ("lines", "cols"))
#: Published band centres (nm) of 31-band files that store none.
CONVENTION_WAVELENGTHS = {
    "cube": np.arange(400.0, 701.0, 10.0),
    "rad": np.arange(400.0, 701.0, 10.0),
    "Omsi": np.arange(400.0, 701.0, 10.0),
    "ref": np.arange(420.0, 721.0, 10.0),
}
USERBLOCK_BYTES = 512
_NUMERIC_CLASSES = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
_ITEMSIZE = {
    "double": 8,
    "single": 4,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
}
_MATLAB_CLASS_OF_DTYPE = {"float64": "double", "float32": "single"}  # integer dtypes already share MATLAB's names


@dataclass(frozen=True)
class _Variable:
    """A variable's shape in MATLAB axis order, its MATLAB class name and whether it holds real numbers."""

    shape: tuple[int, ...]
    matlab_class: str
    numeric: bool


def has_matlab_header(path: Path) -> bool:
    """True when the file starts with the text header MATLAB writes into a v7.3 file's user block."""
    with open(path, "rb") as handle:
        return handle.read(19) == b"MATLAB 7.3 MAT-file"


def read_mat(path: Path, key: str | None = None) -> Cube:
    """Read a cube from a MATLAB v5 or v7.3 file; see the module docstring for which variable is used."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as handle:
            variables = _v73_variables(handle)
            return _read_cube(path, variables, lambda name: handle[name][()].T, key, "mat-v7.3")
    variables = {
        name: _Variable(tuple(shape), kind, kind in _NUMERIC_CLASSES) for name, shape, kind in scipy.io.whosmat(path)
    }
    return _read_cube(path, variables, lambda name: scipy.io.loadmat(path, variable_names=[name])[name], key, "mat-v5")


class MatlabCubeWriter(HDF5CubeWriter):
    """Streaming writer for MATLAB v7.3 ``.mat`` files laid out like ARAD: ``cube`` (H, W, C) single, ``bands`` (1, C).

    On disk (HDF5 order) ``cube`` is ``(C, W, H)`` in chunks of ``(C, s, s)``; MATLAB and :func:`read_mat` see
    ``(H, W, C)``.
    """

    def _file_options(self) -> dict:
        return {"userblock_size": USERBLOCK_BYTES}

    def _storage_shape(self) -> tuple[int, int, int]:
        height, width, bands = self.shape
        return (bands, width, height)

    def _chunks(self) -> tuple[int, int, int]:
        rows, columns, bands = super()._chunks()
        return (bands, columns, rows)

    def _store(self, y0: int, x0: int, block: np.ndarray) -> None:
        self._dataset[:, x0 : x0 + block.shape[1], y0 : y0 + block.shape[0]] = block.transpose(2, 1, 0)

    def _finish(self) -> None:
        self._dataset.attrs["MATLAB_class"] = np.bytes_("single")
        if self.wavelengths is not None:
            bands = self._file.create_dataset("bands", data=self.wavelengths.reshape(-1, 1))  # MATLAB (1, C)
            bands.attrs["MATLAB_class"] = np.bytes_("double")
        self._file.close()
        _write_matlab_header(self._target)


def _write_matlab_header(path: Path) -> None:
    """Fill the user block: 116 bytes of text, 8 bytes subsystem offset (none), version 0x0200, endian mark 'IM'."""
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    text = f"MATLAB 7.3 MAT-file, Platform: hsinr {__version__}, Created on: {stamp} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + struct.pack("<H", 0x0200) + b"IM"
    with open(path, "r+b") as handle:
        handle.write(header.ljust(USERBLOCK_BYTES, b"\x00"))


def _v73_variables(handle: h5py.File) -> dict[str, _Variable]:
    """Top-level MATLAB variables of a v7.3 file; structs, cells and strings are listed but not numeric."""
    variables = {}
    for name, item in handle.items():
        if name.startswith("#"):
            continue  # MATLAB's internal '#refs#' and '#subsystem#' groups
        if isinstance(item, h5py.Group):
            variables[name] = _Variable((), "struct", False)
            continue
        matlab_class = item.attrs.get("MATLAB_class", _MATLAB_CLASS_OF_DTYPE.get(item.dtype.name, item.dtype.name))
        if isinstance(matlab_class, bytes):
            matlab_class = matlab_class.decode("ascii", "replace")
        numeric = (
            item.dtype.kind in "uif" and matlab_class in _NUMERIC_CLASSES and not item.attrs.get("MATLAB_empty", 0)
        )
        variables[name] = _Variable(tuple(reversed(item.shape)), str(matlab_class), numeric)
    return variables


def _read_cube(
    path: Path, variables: dict[str, _Variable], load: Callable[[str], np.ndarray], key: str | None, file_format: str
) -> Cube:
    name = _choose_variable(path, variables, key)
    check_declared_size(
        variables[name].shape, _ITEMSIZE.get(variables[name].matlab_class, 8), path, f"variable {name!r}"
    )
    max_value = _scalar(path, variables, load, "maxValue")
    stored = load(name)
    if stored.ndim == 2:
        stored = _unfold_pixels(path, name, stored, variables, load)
    values, divisor = to_unit_scale(stored, path, max_value)
    bands = values.shape[2]
    wavelengths, origin = None, None
    for candidate in WAVELENGTH_NAMES:
        if candidate in variables and variables[candidate].numeric:
            wavelengths, origin = wavelengths_or_none(load(candidate), bands, path), f"file:{candidate}"
            break
    else:
        if name in CONVENTION_WAVELENGTHS and bands == CONVENTION_WAVELENGTHS[name].size:
            wavelengths, origin = CONVENTION_WAVELENGTHS[name].copy(), "convention"
    return Cube(
        data=values,
        wavelengths=wavelengths,
        source=str(path),
        scale=divisor,
        meta={"format": file_format, "key": name, "wavelengths_from": origin},
    )


def _choose_variable(path: Path, variables: dict[str, _Variable], key: str | None) -> str:
    if key is not None:
        if key not in variables:
            raise DataError(f"{path}: no variable {key!r}; variables: {_describe(variables)}")
        chosen = variables[key]
        if not chosen.numeric or len(chosen.shape) not in (2, 3):
            raise DataError(
                f"{path}: variable {key!r} is {chosen.matlab_class} {chosen.shape}, "
                "not a 3-D (H, W, C) cube or a 2-D (bands, pixels) matrix"
            )
        return key
    three_d = [name for name, variable in variables.items() if variable.numeric and len(variable.shape) == 3]
    for name in DATASET_KEYS:
        if name in three_d:
            return name
    if "Y" in variables and variables["Y"].numeric and len(variables["Y"].shape) == 2:
        return "Y"
    if len(three_d) == 1:
        return three_d[0]
    if three_d:
        raise DataError(f"{path}: several 3-D arrays ({', '.join(three_d)}); choose one with key=")
    raise DataError(f"{path}: no 3-D array; variables: {_describe(variables)}")


def _unfold_pixels(
    path: Path, name: str, matrix: np.ndarray, variables: dict[str, _Variable], load: Callable[[str], np.ndarray]
) -> np.ndarray:
    """``(bands, H·W)`` matrix → ``(H, W, bands)`` with MATLAB column-major pixel order (pixel = row + H · col)."""
    bands, pixels = matrix.shape
    height = width = None
    for row_name, column_name in SIZE_NAMES:
        if row_name in variables and column_name in variables:
            height = _scalar(path, variables, load, row_name)
            width = _scalar(path, variables, load, column_name)
            break
    if height is None or width is None:
        side = math.isqrt(pixels)
        if side * side != pixels:
            raise DataError(
                f"{path}: {name} is (bands={bands}, pixels={pixels}) but the pixel count is not square "
                "and there is no nRow/nCol; pass an (H, W, C) array instead"
            )
        height = width = side
    height, width = int(height), int(width)
    if height * width != pixels:
        raise DataError(f"{path}: {name} has {pixels} pixels but the image size is {height} × {width}")
    return matrix.reshape(bands, height, width, order="F").transpose(1, 2, 0)


def _scalar(path: Path, variables: dict[str, _Variable], load: Callable[[str], np.ndarray], name: str):
    """The value of a numeric 1 × 1 variable, or ``None`` when absent."""
    if name not in variables:
        return None
    value = np.asarray(load(name))
    if value.size != 1 or not variables[name].numeric:
        raise DataError(f"{path}: {name} should be one number, got {variables[name].matlab_class} {value.shape}")
    return value.item()


def _describe(variables: dict[str, _Variable]) -> str:
    return (
        ", ".join(f"{name} {variable.shape} {variable.matlab_class}" for name, variable in variables.items())
        or "(none)"
    )
