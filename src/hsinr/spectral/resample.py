"""Move spectra to other band centres: linear resampling and nearest-band picks, with one out-of-range policy.

**The policy: no extrapolation.** Values are interpolated linearly between the two nearest source centres; a target
centre outside ``[min(src), max(src)]`` (beyond a 1e-6 nm tolerance) is a :class:`~hsinr.errors.DataError`, because
nothing measured says what the spectrum does there. A target equal to a source centre gets that sample exactly, so
resampling to the same centres is the identity, bit for bit.

Where a quantity *is* known outside its measured range, its owner says so and pads explicitly before calling
:func:`resample_spectra`, instead of the resampler guessing:

* a camera response is zero where it was not measured (:meth:`hsinr.spectral.CameraResponse.resampled`), and more
  than half of the targets outside is still an error;
* a reflectance library holds its end values (:func:`hsinr.spectral.library.resample`: e.g. earthlib's 400 nm
  sample for AVIRIS bands at 365-395 nm).

:func:`nearest_bands` follows the same idea: the nearest band, and a target farther than
:data:`MAX_PICK_DISTANCE_NM` from every band is an error.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

TOLERANCE_NM = 1e-6
"""Targets this close outside the source range count as inside (rounding of stored centres)."""

MAX_PICK_DISTANCE_NM = 25.0
"""A band picked for a wavelength must lie within this many nm of it (:func:`nearest_bands`)."""


def _interpolation_weights(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lower, upper, fraction)``: target ``j`` is ``(1 − f_j)·x[lower_j] + f_j·x[upper_j]``.

    ``src`` is strictly increasing (nm); every ``dst`` lies within it (checked by the caller).
    """
    if src.size == 1:
        zeros = np.zeros(dst.size, dtype=np.intp)
        return zeros, zeros, np.zeros(dst.size)
    clamped = np.clip(dst, src[0], src[-1])
    upper = np.clip(np.searchsorted(src, clamped, side="right"), 1, src.size - 1)
    lower = upper - 1
    return lower, upper, (clamped - src[lower]) / (src[upper] - src[lower])


def resample_spectra(values: np.ndarray, src_nm: np.ndarray, dst_nm: np.ndarray, what: str = "spectra") -> np.ndarray:
    """Linearly interpolate ``(..., B)`` spectra sampled at ``src_nm`` to ``dst_nm`` (module policy: no extrapolation).

    Args:
        values: ``(..., B)`` samples, last axis the bands.
        src_nm: ``(B,)`` strictly increasing band centres, nm.
        dst_nm: ``(C,)`` target band centres, nm, each within ``[src_nm[0], src_nm[-1]]``.
        what: names the data in error messages.

    Returns:
        float64 ``(..., C)``, in the values' linear scale.

    Raises:
        DataError: shapes disagree, ``src_nm`` is not strictly increasing, or a target lies outside the source range.
    """
    data = np.asarray(values)
    src = np.asarray(src_nm, dtype=np.float64).reshape(-1)
    dst = np.asarray(dst_nm, dtype=np.float64).reshape(-1)
    if data.ndim < 1 or data.shape[-1] != src.size:
        raise DataError(f"{what}: values of shape {data.shape} do not have {src.size} bands on the last axis")
    if src.size == 0:
        raise DataError(f"{what}: no source band centres")
    if src.size > 1 and not np.all(np.diff(src) > 0):
        raise DataError(f"{what}: source wavelengths must be strictly increasing")
    outside = (dst < src[0] - TOLERANCE_NM) | (dst > src[-1] + TOLERANCE_NM)
    if outside.any():
        raise DataError(
            f"{what}: {int(outside.sum())} target wavelengths ({dst[outside].min():g}-{dst[outside].max():g} nm) lie "
            f"outside the measured range {src[0]:g}-{src[-1]:g} nm (no extrapolation)"
        )
    lower, upper, fraction = _interpolation_weights(src, dst)
    return data[..., lower] * (1.0 - fraction) + data[..., upper] * fraction


def resample_bands(cube: np.ndarray, src_nm: np.ndarray, dst_nm: np.ndarray) -> np.ndarray:
    """Linearly interpolate a ``(H, W, C)`` cube from band centres ``src_nm`` to ``dst_nm`` (both in nm).

    ``src_nm`` must be strictly increasing; every ``dst_nm`` must lie within ``[src_nm[0], src_nm[-1]]`` (no
    extrapolation, see the module policy). Returns float32 ``(H, W, len(dst_nm))``; values keep the cube's linear
    scale.

    Raises:
        DataError: wrong shapes, non-increasing ``src_nm`` or targets outside the source range.
    """
    data = np.asarray(cube)
    if data.ndim != 3:
        raise DataError(f"resample_bands: cube of shape {data.shape} is not (H, W, C)")
    return resample_spectra(data, src_nm, dst_nm, what="resample_bands").astype(np.float32)


def nearest_bands(wavelengths: np.ndarray, targets_nm, max_distance_nm: float = MAX_PICK_DISTANCE_NM) -> np.ndarray:
    """Index of the band whose centre is nearest each target wavelength.

    Args:
        wavelengths: band centres of the cube, nm ``(C,)`` (any order).
        targets_nm: wanted wavelengths, nm ``(K,)``.
        max_distance_nm: the farthest a picked band may be from its target.

    Returns:
        int ``(K,)`` indices into the band axis (ties: the first band).

    Raises:
        DataError: a target is more than ``max_distance_nm`` from every band.
    """
    centres = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets_nm, dtype=np.float64).reshape(-1)
    if centres.size == 0:
        raise DataError("no band centres to pick from")
    distance = np.abs(centres[None, :] - targets[:, None])
    index = distance.argmin(axis=1)
    far = distance[np.arange(targets.size), index] > max_distance_nm
    if far.any():
        raise DataError(
            f"no band within {max_distance_nm:g} nm of {targets[far].tolist()} nm "
            f"(the cube covers {centres.min():.0f}-{centres.max():.0f} nm)"
        )
    return index
