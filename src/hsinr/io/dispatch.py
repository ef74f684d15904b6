"""Choose the reader or writer of a cube file from its path, and turn library failures into :class:`DataError`.

Every format lives in its own module; this table ties file suffixes to them. A user's bad file never shows a raw
scipy/h5py/tifffile traceback: the exceptions those libraries raise for unreadable input become a DataError that
names the file, the format tried and the library's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cube import Cube
from ..errors import DataError
from . import envi, hdf5, matlab, numpy_files, tiff
from ._shared import CubeWriter
from .atomic import atomic_path, check_free_space, check_output_folder
from .cave import read_cave_folder


@dataclass(frozen=True)
class _Format:
    """One file format: suffixes, a one-line description, and the functions that read and write it."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    reader: Callable[..., Cube]
    takes_key: bool
    library_errors: tuple[type[BaseException], ...]
    writer: Callable[[Path, np.ndarray, np.ndarray | None], None] | None = None
    streaming_writer: type[CubeWriter] | None = None


_FORMATS = (
    _Format(
        "MATLAB",
        (".mat",),
        ".mat  MATLAB v5/v7.3: cube (ARAD) | rad (ICVL) | ref (Harvard) | Omsi (CAVE) | Y (bands, pixels) | "
        "the single 3-D array; wavelengths from bands; written as v7.3 (cube + bands)",
        matlab.read_mat,
        True,
        matlab.LIBRARY_ERRORS,
        streaming_writer=matlab.MatlabCubeWriter,
    ),
    _Format(
        "HDF5",
        (".h5", ".hdf5"),
        ".h5 .hdf5  HDF5: dataset cube (H, W, C) or the single 3-D dataset; wavelengths dataset/attribute",
        hdf5.read_hdf5,
        True,
        hdf5.LIBRARY_ERRORS,
        streaming_writer=hdf5.HDF5CubeWriter,
    ),
    _Format(
        "ENVI",
        (".hdr", ".img"),
        ".hdr (+ data file)  ENVI through spectral; wavelengths from the header; written as float32 BIP .img",
        envi.read_envi,
        False,
        envi.LIBRARY_ERRORS,
        streaming_writer=envi.EnviCubeWriter,
    ),
    _Format(
        "TIFF",
        (".tif", ".tiff"),
        ".tif .tiff  multi-page / 3-D TIFF, one page per band; wavelengths in our JSON ImageDescription",
        tiff.read_tiff,
        False,
        tiff.LIBRARY_ERRORS,
        writer=tiff.write_tiff,
    ),
    _Format(
        "NPY",
        (".npy",),
        ".npy  (H, W, C) array; wavelengths in <file>.npy.wavelengths.txt",
        numpy_files.read_npy,
        False,
        numpy_files.LIBRARY_ERRORS,
        streaming_writer=numpy_files.NpyCubeWriter,
    ),
    _Format(
        "NPZ",
        (".npz",),
        ".npz  cube + wavelengths (or bands), or the single 3-D array",
        numpy_files.read_npz,
        True,
        numpy_files.LIBRARY_ERRORS,
        writer=numpy_files.write_npz,
    ),
)
_CAVE_DESCRIPTION = "folder  CAVE scene: <scene>_ms_01.png … _ms_31.png (16-bit), 400–700 nm"


def supported_formats() -> list[str]:
    """One line per cube format: the suffixes it is recognised by and what is read from it."""
    return [_CAVE_DESCRIPTION] + [spec.description for spec in _FORMATS]


def read_cube(path: Path | str, key: str | None = None, *, allow_nonfinite: bool = False) -> Cube:
    """Read a hyperspectral cube from a file or a CAVE scene folder, choosing the format from the path.

    Args:
        path: a CAVE scene folder, or a ``.mat``, ``.h5``/``.hdf5``, ENVI ``.hdr`` (or its data file), ``.tif``/
            ``.tiff``, ``.npy`` or ``.npz`` file.
        key: the variable / dataset / array holding the cube (``.mat``, ``.h5`` and ``.npz`` only); by default it is
            found as each format module describes.
        allow_nonfinite: keep NaN/Inf values instead of raising.

    Returns:
        :class:`~hsinr.cube.Cube` with float32 ``(H, W, C)`` data (integers ÷ dtype maximum or ``maxValue``, floats
        as stored; the divisor is ``Cube.scale``), wavelengths in nm or ``None``, ``source`` = the path.

    Raises:
        DataError: missing path, unknown extension, unreadable or corrupt file, no 3-D array, NaN/Inf values.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        if key is not None:
            raise DataError(f"{path}: key= does not apply to a CAVE scene folder")
        cube = read_cave_folder(path)
    else:
        spec = _reading_format(path)
        if key is not None and not spec.takes_key:
            raise DataError(f"{path}: key= applies only to .mat, .h5 and .npz files, not {spec.name}")
        try:
            cube = spec.reader(path, key) if spec.takes_key else spec.reader(path)
        except DataError:
            raise
        except spec.library_errors as exc:
            raise DataError(f"{path}: cannot read as {spec.name} ({type(exc).__name__}: {exc})") from exc
    if not allow_nonfinite:
        cube.check_finite()
    return cube


def write_cube(path: Path | str, cube: Cube) -> None:
    """Write ``cube.data`` (float32 ``(H, W, C)``) and its wavelengths in the format named by the suffix.

    ``.mat`` → MATLAB v7.3 (``cube`` + ``bands``, ARAD layout), ``.h5``/``.hdf5`` → ``cube`` + ``wavelengths``,
    ``.hdr``/``.img`` → ENVI pair, ``.tif``/``.tiff`` → one page per band, ``.npy`` (+ sidecar), ``.npz``.
    The values written are ``cube.data`` as they are (already divided by ``cube.scale``), so reading back gives
    ``scale`` 1.
    """
    path = Path(path)
    spec = _writing_format(path, streaming=False)
    try:
        if spec.streaming_writer is not None:
            with spec.streaming_writer(path, cube.shape, cube.wavelengths) as writer:
                writer.write(0, 0, cube.data)
        else:
            check_free_space(check_output_folder(path).parent, cube.data.size * 4, path)
            with atomic_path(path) as temporary:  # complete at `path` or absent; an old file survives a failure
                spec.writer(temporary, cube.data, cube.wavelengths)
    except DataError:
        raise
    except spec.library_errors as exc:
        raise DataError(f"{path}: cannot write {spec.name} ({type(exc).__name__}: {exc})") from exc


def check_cube_output(path: Path | str) -> Path:
    """``path`` as a :class:`Path` once a cube could be written there: an extension :func:`write_cube` knows, in a
    folder that exists and may be written in. Commands call it before the work whose result it will hold.

    Raises:
        DataError: naming ``path`` and what is wrong with it.
    """
    path = check_output_folder(path)
    _writing_format(path, streaming=False)
    return path


def open_cube_writer(path: Path | str, shape, wavelengths=None) -> CubeWriter:
    """Open a tile-by-tile writer for an ``(H, W, C)`` float32 cube: ``.h5``/``.hdf5``, ``.mat``, ENVI, ``.npy``.

    Use it as a context manager and call ``write(y0, x0, block)`` with ``(h, w, C)`` blocks; only the blocks (and an
    h5 chunk cache of at most 64 MiB) are ever in memory. The finished file is the one :func:`write_cube` writes.
    HDF5 and MATLAB files are chunked by whole spectra of ``s × s`` pixels — ``(s, s, C)`` in ``.h5``, ``(C, s, s)``
    in a ``.mat`` (reversed axes) — with ``s`` = 64 up to 64 bands and smaller beyond, so a chunk is ≤ 1 MiB;
    tiles whose sides are multiples of 64 fill whole chunks. ENVI is written as BIP, ``.npy`` through
    ``np.lib.format.open_memmap``.
    """
    path = Path(path)
    spec = _writing_format(path, streaming=True)
    try:
        return spec.streaming_writer(path, shape, wavelengths)
    except DataError:
        raise
    except spec.library_errors as exc:
        raise DataError(f"{path}: cannot create {spec.name} file ({type(exc).__name__}: {exc})") from exc


def _reading_format(path: Path) -> _Format:
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5") and matlab.has_matlab_header(path):
        return _by_name("MATLAB")
    for spec in _FORMATS:
        if suffix in spec.suffixes and spec.name != "ENVI":
            return spec
    if envi.header_of(path) is not None:
        return _by_name("ENVI")
    if suffix == envi.DATA_SUFFIX:
        raise DataError(
            f"{path}: ENVI data file without a header (looked for {path.name}.hdr and {path.with_suffix('.hdr').name})"
        )
    readable = sorted({s for spec in _FORMATS for s in spec.suffixes if spec.name != "ENVI"} | {".hdr"})
    raise DataError(
        f"{path}: unknown cube file type {suffix or '(no extension)'!r}; supported: a CAVE scene "
        f"folder, {', '.join(readable)}, or an ENVI data file with its .hdr"
    )


def _writing_format(path: Path, streaming: bool) -> _Format:
    suffix = path.suffix.lower()
    candidates = [spec for spec in _FORMATS if not streaming or spec.streaming_writer is not None]
    for spec in candidates:
        if suffix in spec.suffixes:
            return spec
    known = ", ".join(s for spec in candidates for s in spec.suffixes)
    kind = "streaming cube writer" if streaming else "cube file"
    raise DataError(f"{path}: cannot write a {kind} with extension {suffix or '(none)'!r}; supported: {known}")


def _by_name(name: str) -> _Format:
    return next(spec for spec in _FORMATS if spec.name == name)
