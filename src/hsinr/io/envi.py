"""ENVI cubes: a text header ``.hdr`` next to a raw data file, read and written through the ``spectral`` package.

Either file's path is accepted: ``scene.hdr`` (the data file is found beside it: ``scene``, ``scene.img``,
``scene.dat``, …) or the data file (its header is ``scene.img.hdr`` or ``scene.hdr``). Band centres come from the
header's ``wavelength`` list and are converted to nm from ``wavelength units`` (nanometers or micrometers); a header
without units is taken as nm when the largest value is ≥ 100 and as µm otherwise (``meta["wavelength_units"]``
records the assumption), and other units (wavenumbers, band indices) leave the wavelengths unknown. A
``reflectance scale factor`` in the header is the full-scale divisor; otherwise integers are divided by their dtype
maximum and floats kept as stored.

Writing produces ``scene.hdr`` + ``scene.img``, float32, band-interleaved-by-pixel (BIP: the file is the ``(H, W, C)``
array in C order), so a tile is written as ``h`` contiguous runs of ``w · C`` values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import spectral.io.envi as spectral_envi
from spectral.utilities.errors import SpyException

from ..cube import Cube
from ..errors import DataError
from ._shared import CubeWriter, stored_cube
from .atomic import preallocate, temporary_beside
from .limits import check_declared_size

LIBRARY_ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError, SpyException)
HEADER_SUFFIX = ".hdr"
DATA_SUFFIX = ".img"
_NANOMETRE_UNITS = {"nanometers", "nanometer", "nanometres", "nanometre", "nm"}
_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "microns", "micron", "um", "µm"}


def header_of(path: Path) -> Path | None:
    """The ENVI header belonging to ``path`` (itself when it is a ``.hdr``), or ``None`` when there is none."""
    path = Path(path)
    if path.suffix.lower() == HEADER_SUFFIX:
        return path
    for candidate in (path.with_name(path.name + HEADER_SUFFIX), path.with_suffix(HEADER_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def read_envi(path: Path) -> Cube:
    """Read an ENVI cube as float32 ``(H, W, C)`` with band centres in nm (see the module docstring)."""
    header = header_of(path)
    if header is None or not header.is_file():
        raise DataError(f"{path}: no ENVI header ({HEADER_SUFFIX}) found")
    data_file = None if Path(path).suffix.lower() == HEADER_SUFFIX else Path(path)
    image = spectral_envi.open(str(header), None if data_file is None else str(data_file))
    if isinstance(image, spectral_envi.SpectralLibrary):
        raise DataError(f"{path}: is an ENVI spectral library (a list of spectra), not an image cube")
    _check_data_size(path, image)
    stored = np.asarray(image.load(dtype=image.dtype, scale=False))  # stored values; we apply the scale below
    metadata = image.metadata
    max_value = metadata.get("reflectance scale factor")
    wavelengths, units = _wavelengths_nm(metadata)
    return stored_cube(
        stored,
        wavelengths,
        path,
        {"format": "envi", "header": str(header), "wavelength_units": units},
        None if max_value is None else float(max_value),
    )


def _check_data_size(path: Path, image) -> None:
    """The header's ``lines × samples × bands`` must fit in memory and match the data file's size exactly."""
    shape = (int(image.nrows), int(image.ncols), int(image.nbands))
    check_declared_size(shape, image.sample_size, path, "ENVI header")
    expected = int(image.offset) + shape[0] * shape[1] * shape[2] * int(image.sample_size)
    data_file = Path(image.filename)
    actual = data_file.stat().st_size
    if actual != expected:
        raise DataError(
            f"{path}: the header declares {shape[0]} lines × {shape[1]} samples × {shape[2]} bands of "
            f"{image.sample_size} bytes (+{image.offset} header bytes) = {expected} bytes, but {data_file.name} holds "
            f"{actual} bytes; the header does not describe this data file"
        )


def _wavelengths_nm(metadata: dict) -> tuple[np.ndarray | None, str | None]:
    """Header ``wavelength`` list in nm, and a note on the units it was read in."""
    if "wavelength" not in metadata:
        return None, None
    values = np.asarray([float(value) for value in metadata["wavelength"]], dtype=np.float64)
    units = str(metadata.get("wavelength units", "")).strip().lower()
    if units in _NANOMETRE_UNITS:
        return values, "nm"
    if units in _MICROMETRE_UNITS:
        return values * 1000.0, "µm"
    if units in ("", "unknown"):
        if values.size and values.max() < 100:
            return values * 1000.0, "assumed µm (no units in header)"
        return values, "assumed nm (no units in header)"
    return None, f"{units} (not a wavelength; ignored)"


def envi_pair(path: Path) -> tuple[Path, Path]:
    """``(header, data)`` paths written for ``scene.hdr`` or ``scene.img``."""
    path = Path(path)
    if path.suffix.lower() not in (HEADER_SUFFIX, DATA_SUFFIX):
        raise DataError(f"{path}: an ENVI output path ends in {HEADER_SUFFIX} or {DATA_SUFFIX}")
    return path.with_suffix(HEADER_SUFFIX), path.with_suffix(DATA_SUFFIX)


class EnviCubeWriter(CubeWriter):
    """Streaming writer for ENVI: float32 BIP ``scene.img`` through a writable memory map, plus ``scene.hdr``."""

    def __init__(self, path: Path, shape, wavelengths=None) -> None:
        super().__init__(path, shape, wavelengths)
        self.header_path, self.data_path = envi_pair(self.path)
        metadata = {"description": "hsinr cube (H, W, C) float32"}
        if self.wavelengths is not None:
            metadata["wavelength"] = [f"{value:.10g}" for value in self.wavelengths]
            metadata["wavelength units"] = "Nanometers"
        header_tmp = temporary_beside(self.header_path)  # .scene.hdr.<hex>.tmp.hdr (spectral wants .hdr)
        data_tmp = header_tmp.with_suffix(DATA_SUFFIX)  # the data file spectral derives from that header name
        self.stage(self.data_path, data_tmp)  # renamed first: a header never points at a missing cube
        self.stage(self.header_path, header_tmp)
        with self._opening():
            image = spectral_envi.create_image(
                str(header_tmp),
                metadata,
                shape=self.shape,
                dtype=np.float32,
                interleave="bip",
                ext=DATA_SUFFIX,
                force=True,
            )
            preallocate(data_tmp, self.nbytes)  # a full disk is an OSError now, never a SIGBUS in the memory map
            self._memmap = image.open_memmap(writable=True)

    def _store(self, y0: int, x0: int, block: np.ndarray) -> None:
        self._memmap[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1], :] = block

    def _finish(self) -> None:
        self._memmap.flush()
        del self._memmap

    def _abort(self) -> None:
        if hasattr(self, "_memmap"):
            del self._memmap
