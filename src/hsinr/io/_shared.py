"""Pieces every cube format shares: value scaling, wavelength checks and the tile-by-tile writer protocol.

Scaling rule (the same for every format): a ``maxValue`` stored with the data wins; otherwise integer arrays are
divided by their dtype's maximum (uint8 → 255, uint16 → 65535, int16 → 32767, …) and float arrays are kept as
stored. The divisor is what :attr:`hsinr.cube.Cube.scale` records.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..cube import Cube
from ..errors import DataError
from .atomic import check_free_space, check_output_folder, commit, discard, output_error, temporary_beside
from .limits import check_declared_size

#: Largest h5 chunk we aim for, in float32 values (2**18 values = 1 MiB).
_CHUNK_VALUES = 2**18


def to_unit_scale(array: np.ndarray, source: Path | str, max_value: float | None = None) -> tuple[np.ndarray, float]:
    """Convert stored values to float32 on a linear scale where 1.0 = full scale of the source.

    Args:
        array: numeric array as stored (any shape).
        source: file name, for error messages.
        max_value: the full-scale value written next to the data (for example MATLAB ``maxValue``), or ``None``.

    Returns:
        ``(values, divisor)``: float32 ``array / divisor`` and the divisor (dtype maximum for integers, 1.0 for floats,
        ``max_value`` when given).
    """
    array = np.asarray(array)
    if max_value is not None:
        divisor = float(max_value)
        if not math.isfinite(divisor) or divisor <= 0:
            raise DataError(f"{source}: maxValue must be a positive number, got {max_value}")
    elif array.dtype.kind in "ui":
        divisor = float(np.iinfo(array.dtype).max)
    elif array.dtype.kind == "f":
        divisor = 1.0
    else:
        raise DataError(f"{source}: unsupported data type {array.dtype} (need integers or floats)")
    values = array.astype(np.float32, order="C")
    if divisor != 1.0:
        values /= np.float32(divisor)
    return values, divisor


def is_numeric(dtype: np.dtype) -> bool:
    """True for real integer and float dtypes (not bool, complex, strings or objects)."""
    return np.dtype(dtype).kind in "uif"


def wavelengths_or_none(values, count: int, source: Path | str) -> np.ndarray | None:
    """Flatten stored band centres to float64 ``(count,)``; ``None`` stays ``None``; a wrong length is a DataError."""
    if values is None:
        return None
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size != count:
        raise DataError(f"{source}: {flat.size} wavelengths stored for a cube of {count} bands")
    return flat


def chunk_side(bands: int) -> int:
    """Spatial side ``s`` of an h5 chunk holding ``s × s`` whole spectra: at most 1 MiB of float32, 8 ≤ s ≤ 64.

    A chunk of all bands for a small square lets a tile writer fill whole chunks (tiles are multiples of 64 px in
    practice) and a reader fetch whole spectra; 31 bands give 64 × 64 (508 KiB), 224 bands give 34 × 34.
    """
    return max(8, min(64, math.isqrt(_CHUNK_VALUES // max(bands, 1))))


def check_cube_shape(shape, source: Path | str) -> tuple[int, int, int]:
    """Validate a requested ``(H, W, C)`` shape of positive integers."""
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise DataError(f"{source}: a cube shape is (H, W, C) with positive sizes, got {shape}")
    return shape  # type: ignore[return-value]


class CubeWriter(ABC):
    """Write an ``(H, W, C)`` float32 cube block by block; use as a context manager.

    ``write(y0, x0, block)`` stores ``block`` (``(h, w, C)``, any real dtype, converted to float32) at rows
    ``y0 … y0+h-1`` and columns ``x0 … x0+w-1``. Pixels never written read back as 0.

    **Atomic.** Subclasses write into temporary files beside the targets (:meth:`stage`; see
    :mod:`hsinr.io.atomic`). Leaving the ``with`` block normally finalises them and renames them over the targets;
    leaving it with an exception (Ctrl-C included) deletes the temporary files, so a half-written cube never appears
    at the output path and a file that was already there is kept. Free disk space for the whole cube is checked
    first, and an OS error while writing (disk full, read-only folder) is a one-line :class:`DataError`.
    Subclasses implement ``_store``, ``_finish`` and ``_abort`` (close their handles; the base removes the files).
    """

    def __init__(self, path: Path, shape, wavelengths=None) -> None:
        self.path = check_output_folder(path)
        self.shape = check_cube_shape(shape, self.path)
        self.wavelengths = wavelengths_or_none(wavelengths, self.shape[2], self.path)
        self._closed = False
        self._staged: list[tuple[Path, Path]] = []
        check_free_space(self.path.parent, self.nbytes, self.path)

    @property
    def nbytes(self) -> int:
        """Size of the float32 cube in bytes."""
        return int(np.prod(self.shape)) * 4

    @contextmanager
    def _opening(self):
        """Wrap a subclass's file creation: on failure remove what was staged; an OS error becomes a DataError."""
        try:
            yield
        except BaseException as exc:
            self._closed = True
            self._discard()
            if isinstance(exc, OSError):
                raise output_error(exc, self.path) from exc
            raise

    def stage(self, final: Path, temporary: Path | None = None) -> Path:
        """Register a file to write as ``temporary`` (default: a fresh name beside ``final``), renamed over
        ``final`` on success; files are renamed in the order they were staged (data before header)."""
        temporary = Path(temporary) if temporary is not None else temporary_beside(final)
        self._staged.append((temporary, Path(final)))
        return temporary

    def write(self, y0: int, x0: int, block: np.ndarray) -> None:
        """Store an ``(h, w, C)`` block with its top-left pixel at row ``y0``, column ``x0``."""
        if self._closed:
            raise DataError(f"{self.path}: writer is already closed")
        block = np.asarray(block, dtype=np.float32)
        height, width, bands = self.shape
        if block.ndim != 3 or block.shape[2] != bands:
            raise DataError(f"{self.path}: a block must be (h, w, {bands}), got {block.shape}")
        y0, x0 = int(y0), int(x0)
        if y0 < 0 or x0 < 0 or y0 + block.shape[0] > height or x0 + block.shape[1] > width:
            raise DataError(
                f"{self.path}: block {block.shape[:2]} at (y0={y0}, x0={x0}) falls outside the cube {(height, width)}"
            )
        try:
            self._store(y0, x0, block)
        except OSError as exc:
            raise output_error(exc, self.path) from exc

    def close(self) -> None:
        """Finalise the files and rename them into place; calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            self._finish()
            for temporary, final in self._staged:
                commit(temporary, final)
        except BaseException as exc:
            self._discard()
            if isinstance(exc, OSError):
                raise output_error(exc, self.path) from exc
            raise

    def __enter__(self) -> CubeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._closed = True
            try:
                self._abort()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            finally:
                self._discard()

    def _discard(self) -> None:
        for temporary, _ in self._staged:
            discard(temporary)

    @abstractmethod
    def _store(self, y0: int, x0: int, block: np.ndarray) -> None:
        """Write a validated float32 block."""

    @abstractmethod
    def _finish(self) -> None:
        """Complete and close the staged temporary file(s)."""

    @abstractmethod
    def _abort(self) -> None:
        """Close the handles of the incomplete file(s); the base class deletes them."""


def stored_cube(
    stored: np.ndarray, wavelengths, source: Path | str, meta: dict, max_value: float | None = None
) -> Cube:
    """A :class:`Cube` from an array as stored: scaled to unit full scale (:func:`to_unit_scale`) with its band
    centres checked against the band count (:func:`wavelengths_or_none`)."""
    if np.ndim(stored) != 3 or min(np.shape(stored)) < 1:
        raise DataError(f"{source}: cube has shape {tuple(np.shape(stored))}; an (H, W, C) cube needs every size >= 1")
    check_declared_size(np.shape(stored), np.asarray(stored).dtype.itemsize, source, "cube")
    values, divisor = to_unit_scale(stored, source, max_value)
    return Cube(
        data=values,
        wavelengths=wavelengths_or_none(wavelengths, values.shape[2], source),
        source=str(source),
        scale=divisor,
        meta=meta,
    )
