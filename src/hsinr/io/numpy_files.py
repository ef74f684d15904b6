"""NumPy cubes: ``.npy`` (``(H, W, C)`` array, band centres in a sidecar text file) and ``.npz`` archives.

``cube.npy`` keeps its wavelengths in ``cube.npy.wavelengths.txt`` (one value in nm per line) when they are known.
A ``.npz`` holds ``cube`` plus ``wavelengths`` (or ``bands``); without ``cube``, its only 3-D array is used.
Integers are divided by their dtype maximum, floats kept as stored. Pickled objects are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..cube import Cube
from ..errors import DataError
from ._shared import CubeWriter, stored_cube
from .atomic import preallocate
from .limits import check_declared_size

LIBRARY_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
SIDECAR_SUFFIX = ".wavelengths.txt"
WAVELENGTH_NAMES = ("wavelengths", "bands")


def sidecar_of(path: Path) -> Path:
    """``cube.npy`` → ``cube.npy.wavelengths.txt``."""
    return Path(path).with_name(Path(path).name + SIDECAR_SUFFIX)


def read_npy(path: Path) -> Cube:
    """Read an ``(H, W, C)`` ``.npy`` array and, when present, its sidecar wavelengths."""
    stored = np.lib.format.open_memmap(path, mode="r")  # checks the .npy magic; never unpickles
    if stored.ndim != 3:
        raise DataError(f"{path}: array has shape {stored.shape}, not a 3-D (H, W, C) cube")
    sidecar = sidecar_of(path)
    wavelengths = np.loadtxt(sidecar, dtype=np.float64, ndmin=1) if sidecar.is_file() else None
    return stored_cube(stored, wavelengths, path, {"format": "npy"})


def read_npz(path: Path, key: str | None = None) -> Cube:
    """Read ``key``, else ``cube``, else the only 3-D array of a ``.npz``; bands from ``wavelengths``/``bands``."""
    shapes, itemsizes = _npz_shapes(path)
    with np.load(path, allow_pickle=False) as archive:
        names = list(shapes)
        three_d = [name for name in names if len(shapes[name]) == 3]
        if key is not None:
            if key not in names:
                raise DataError(f"{path}: no array {key!r}; arrays: {_describe(shapes)}")
            name = key
        elif "cube" in names:
            name = "cube"
        elif len(three_d) == 1:
            name = three_d[0]
        elif three_d:
            raise DataError(f"{path}: several 3-D arrays ({', '.join(three_d)}); choose one with key=")
        else:
            raise DataError(f"{path}: no 3-D array; arrays: {_describe(shapes)}")
        if len(shapes[name]) != 3:
            raise DataError(f"{path}: array {name!r} has shape {shapes[name]}, not a 3-D (H, W, C) cube")
        check_declared_size(shapes[name], itemsizes.get(name, 8), path, f"array {name!r}")
        stored = archive[name]
        wavelengths = next((archive[w] for w in WAVELENGTH_NAMES if w in names), None)
    return stored_cube(stored, wavelengths, path, {"format": "npz", "key": name})


def write_npz(path: Path, data: np.ndarray, wavelengths: np.ndarray | None) -> None:
    """Write ``cube`` (float32 ``(H, W, C)``) and, when known, ``wavelengths`` (nm) to a compressed ``.npz``."""
    arrays = {"cube": np.asarray(data, dtype=np.float32)}
    if wavelengths is not None:
        arrays["wavelengths"] = np.asarray(wavelengths, dtype=np.float64)
    np.savez_compressed(path, **arrays)


class NpyCubeWriter(CubeWriter):
    """Streaming writer for ``.npy`` through ``np.lib.format.open_memmap``; the sidecar is written on close."""

    def __init__(self, path: Path, shape, wavelengths=None) -> None:
        super().__init__(path, shape, wavelengths)
        self._target = self.stage(self.path)
        with self._opening():
            self._memmap = np.lib.format.open_memmap(self._target, mode="w+", dtype=np.float32, shape=self.shape)
            # reserve the disk now: a full disk is an OSError here, never a SIGBUS in the middle of the memory map
            preallocate(self._target, self._memmap.offset + self.nbytes)

    def _store(self, y0: int, x0: int, block: np.ndarray) -> None:
        self._memmap[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1], :] = block

    def _finish(self) -> None:
        self._memmap.flush()
        del self._memmap
        sidecar = sidecar_of(self.path)
        if self.wavelengths is None:
            sidecar.unlink(missing_ok=True)  # a stale sidecar from an earlier cube would mislabel this one
        else:
            np.savetxt(self.stage(sidecar), self.wavelengths, fmt="%.10g")  # renamed after the cube

    def _abort(self) -> None:
        if hasattr(self, "_memmap"):
            del self._memmap


def _npz_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Array shapes and item sizes of a ``.npz`` read from each member's ``.npy`` header, without loading them."""
    shapes, itemsizes = {}, {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(handle)
                    shapes[member[: -len(".npy")]] = shape
                    itemsizes[member[: -len(".npy")]] = dtype.itemsize
    return shapes, itemsizes


def _describe(shapes: dict[str, tuple]) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in shapes.items()) or "(none)"
