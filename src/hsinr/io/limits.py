"""Declared sizes are checked before anything is allocated.

A file's header says how large its array is (HDF5 dataset shape, MATLAB variable size, ``.npy`` header, ENVI
``lines × samples × bands``, PNG/TIFF width × height). A 2 KB file can declare a terabyte; reading it would end in a
``MemoryError`` traceback or an out-of-memory kill. Every reader therefore calls :func:`check_declared_size` with the
declared shape and stored item size first: reading needs the stored array plus its float32 copy, and that must fit in
:func:`memory_limit_bytes` — half the memory the operating system reports as available (``MemAvailable``), or the
number of bytes in the environment variable ``HSINR_MAX_READ_BYTES`` when set. Larger images can still be
reconstructed tile by tile with the streaming writers; a file that is truly too large is a one-line
:class:`~hsinr.errors.DataError` saying how large it is and how much memory there is.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import DataError

ENVIRONMENT_LIMIT = "HSINR_MAX_READ_BYTES"
AVAILABLE_FRACTION = 0.5
"""Share of the available memory one array may take (the rest is for the model, tiles and the copy it makes)."""


def available_memory_bytes() -> int:
    """Memory the OS can give without swapping: ``MemAvailable`` of ``/proc/meminfo``, else free physical pages."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**34  # unknown platform: assume 16 GiB


def memory_limit_bytes() -> int:
    """Largest array a reader may allocate: ``$HSINR_MAX_READ_BYTES`` or half the available memory."""
    override = os.environ.get(ENVIRONMENT_LIMIT)
    if override:
        try:
            return int(float(override))
        except ValueError:
            raise DataError(f"{ENVIRONMENT_LIMIT}={override!r}: expected a number of bytes") from None
    return int(available_memory_bytes() * AVAILABLE_FRACTION)


def _size(nbytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def check_declared_size(shape, itemsize: int, source: Path | str, what: str = "array") -> None:
    """Refuse an array whose declared ``shape`` (any length) of ``itemsize``-byte values cannot be read in memory.

    The need counted is ``values × (itemsize + 4)``: the stored array and its float32 copy.

    Raises:
        DataError: a negative size in the declaration, or a need above :func:`memory_limit_bytes`.
    """
    dims = [int(n) for n in shape]
    if any(n < 0 for n in dims):
        raise DataError(f"{source}: {what} declares a negative size {tuple(dims)}")
    values = math.prod(dims)
    need = values * (int(itemsize) + 4)
    limit = memory_limit_bytes()
    if need > limit:
        raise DataError(
            f"{source}: {what} declares shape {tuple(dims)} ({_size(values * int(itemsize))} stored, "
            f"{_size(need)} to read), more than the {_size(limit)} this reader may use "
            f"(half the available memory; set {ENVIRONMENT_LIMIT} to change)"
        )
