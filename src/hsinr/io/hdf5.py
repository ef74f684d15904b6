"""Plain HDF5 cubes (``.h5`` / ``.hdf5``): dataset ``cube`` stored ``(H, W, C)`` plus ``wavelengths`` in nm.

Reading takes the dataset ``cube`` (or the one named by ``key``, or else the only 3-D numeric dataset in the file)
and band centres from a ``wavelengths`` or ``bands`` dataset, or from an attribute of that name on the cube dataset or
the file. Writing stores ``cube`` as float32 ``(H, W, C)`` in chunks of ``(s, s, C)`` — whole spectra of an ``s × s``
patch, ``s`` = 64 for 31 bands, smaller for many bands so a chunk stays ≤ 1 MiB (see
:func:`hsinr.io._shared.chunk_side`) — and ``wavelengths`` float64 ``(C,)`` with attribute ``units = "nm"``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..cube import Cube
from ..errors import DataError
from ._shared import CubeWriter, chunk_side, is_numeric, stored_cube
from .limits import check_declared_size

LIBRARY_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
WAVELENGTH_NAMES = ("wavelengths", "bands")
#: h5 chunk cache of the streaming writer: tiles not aligned to chunks rewrite partial chunks from this cache.
_CHUNK_CACHE_BYTES = 64 * 2**20
_CHUNK_CACHE_SLOTS = 10007  # a prime well above the number of chunks the cache holds, as HDF5 recommends


def read_hdf5(path: Path, key: str | None = None) -> Cube:
    """Read an ``(H, W, C)`` cube from a plain HDF5 file (integers ÷ dtype max, floats as stored)."""
    with h5py.File(path, "r") as handle:
        datasets = _numeric_datasets(handle)
        name = _choose_dataset(path, datasets, key)
        dataset = datasets[name]
        check_declared_size(dataset.shape, dataset.dtype.itemsize, path, f"dataset {name!r}")
        stored = dataset[()]
        wavelengths = _stored_wavelengths(handle, dataset)
    return stored_cube(stored, wavelengths, path, {"format": "hdf5", "key": name})


class HDF5CubeWriter(CubeWriter):
    """Streaming writer for ``.h5``: dataset ``cube`` ``(H, W, C)`` float32, chunked ``(s, s, C)``, zero-filled."""

    def __init__(self, path: Path, shape, wavelengths=None) -> None:
        super().__init__(path, shape, wavelengths)
        self._target = self.stage(self.path)  # written here, renamed over self.path when complete
        with self._opening():
            self._file = h5py.File(
                self._target,
                "w",
                rdcc_nbytes=_CHUNK_CACHE_BYTES,
                rdcc_nslots=_CHUNK_CACHE_SLOTS,
                **self._file_options(),
            )
            self._dataset = self._file.create_dataset(
                "cube", shape=self._storage_shape(), dtype=np.float32, chunks=self._chunks(), fillvalue=0.0
            )

    def _file_options(self) -> dict:
        return {}

    def _storage_shape(self) -> tuple[int, int, int]:
        return self.shape

    def _chunks(self) -> tuple[int, int, int]:
        height, width, bands = self.shape
        side = chunk_side(bands)
        return (min(side, height), min(side, width), bands)

    def _store(self, y0: int, x0: int, block: np.ndarray) -> None:
        self._dataset[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1], :] = block

    def _finish(self) -> None:
        if self.wavelengths is not None:
            self._file.create_dataset("wavelengths", data=self.wavelengths).attrs["units"] = "nm"
        self._file.close()

    def _abort(self) -> None:
        if hasattr(self, "_file"):
            self._file.close()


def _numeric_datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    """Every dataset of real numbers in the file, by its path inside the file."""
    found: dict[str, h5py.Dataset] = {}

    def visit(name: str, item) -> None:
        if isinstance(item, h5py.Dataset) and is_numeric(item.dtype):
            found[name] = item

    handle.visititems(visit)
    return found


def _choose_dataset(path: Path, datasets: dict[str, h5py.Dataset], key: str | None) -> str:
    """``key`` when given, else ``cube``, else the only 3-D dataset; a DataError lists the datasets otherwise."""
    three_d = [name for name, dataset in datasets.items() if dataset.ndim == 3]
    if key is not None:
        if key not in datasets:
            raise DataError(f"{path}: no numeric dataset {key!r}; datasets: {_describe(datasets)}")
        if datasets[key].ndim != 3:
            raise DataError(f"{path}: dataset {key!r} has shape {datasets[key].shape}, not a 3-D (H, W, C) cube")
        return key
    if "cube" in three_d:
        return "cube"
    if len(three_d) == 1:
        return three_d[0]
    if not three_d:
        raise DataError(f"{path}: no 3-D dataset; datasets: {_describe(datasets)}")
    raise DataError(f"{path}: several 3-D datasets ({', '.join(three_d)}); choose one with key=")


def _stored_wavelengths(handle: h5py.File, dataset: h5py.Dataset):
    for name in WAVELENGTH_NAMES:
        if name in handle and isinstance(handle[name], h5py.Dataset):
            return handle[name][()]
    for holder in (dataset, handle):
        for name in WAVELENGTH_NAMES:
            if name in holder.attrs:
                return holder.attrs[name]
    return None


def _describe(datasets: dict[str, h5py.Dataset]) -> str:
    return ", ".join(f"{name} {dataset.shape} {dataset.dtype}" for name, dataset in datasets.items()) or "(none)"
