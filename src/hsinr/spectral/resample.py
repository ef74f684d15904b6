"""Resample a cube along its band axis to other band centres."""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def resample_bands(cube: np.ndarray, src_nm: np.ndarray, dst_nm: np.ndarray) -> np.ndarray:
    """Linearly interpolate a ``(H, W, C)`` cube from band centres ``src_nm`` to ``dst_nm`` (both in nm).

    ``src_nm`` must be strictly increasing; every ``dst_nm`` must lie within ``[src_nm[0], src_nm[-1]]`` (no
    extrapolation). Returns float32 ``(H, W, len(dst_nm))``; values keep the cube's linear scale.

    Raises:
        DataError: wrong shapes, non-increasing ``src_nm`` or targets outside the source range.
    """
    data = np.asarray(cube)
    src = np.asarray(src_nm, dtype=np.float64).reshape(-1)
    dst = np.asarray(dst_nm, dtype=np.float64).reshape(-1)
    if data.ndim != 3 or data.shape[2] != src.size:
        raise DataError(f"resample_bands: cube of shape {data.shape} does not have {src.size} bands (H, W, C)")
    if src.size > 1 and not np.all(np.diff(src) > 0):
        raise DataError("resample_bands: source wavelengths must be strictly increasing")
    tolerance = 1e-6
    outside = (dst < src[0] - tolerance) | (dst > src[-1] + tolerance)
    if outside.any():
        raise DataError(
            f"resample_bands: {int(outside.sum())} target wavelengths ({dst[outside].min():g}-"
            f"{dst[outside].max():g} nm) lie outside the cube's range {src[0]:g}-{src[-1]:g} nm"
        )
    if src.size == 1:
        return np.repeat(data[:, :, :1], dst.size, axis=2).astype(np.float32)
    clamped = np.clip(dst, src[0], src[-1])
    upper = np.clip(np.searchsorted(src, clamped, side="right"), 1, src.size - 1)
    lower = upper - 1
    weight = (clamped - src[lower]) / (src[upper] - src[lower])
    resampled = data[:, :, lower] * (1.0 - weight) + data[:, :, upper] * weight
    return resampled.astype(np.float32)
