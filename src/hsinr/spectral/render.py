"""Render RGB images from hyperspectral cubes through a camera response, optionally simulating a real camera.

The core is eq. 4 of the INR-HSISR paper, ``X_c(p) = sum_n R(p, l_n) Phi_c(l_n)``, i.e. ``rgb = cube @ srf.T``
on linear values. :func:`render_rgb` can follow it with the steps of a camera pipeline in this order (the NTIRE
2022 "real world" recipe: response -> noise -> 8-bit JPEG):

1. white balance (grey-world on the cube's mean spectrum),
2. exposure (a gain, or a percentile mapped to 1),
3. Poisson shot noise and Gaussian read noise,
4. clipping to [0, 1] and 8-bit JPEG compression.

:func:`render_rgb_torch` is the differentiable linear part only, used for back-projection losses and metrics.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .responses import CameraResponse

if TYPE_CHECKING:
    import torch


def _response_matrix(srf: CameraResponse | np.ndarray, bands: int, cube_nm: np.ndarray | None) -> np.ndarray:
    """The ``(3, bands)`` float64 matrix of ``srf``, checked against the cube's band count and wavelengths."""
    name = srf.name if isinstance(srf, CameraResponse) else "camera response"
    matrix = srf.srf if isinstance(srf, CameraResponse) else np.asarray(srf, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape != (3, bands):
        raise DataError(
            f"{name}: response of shape {matrix.shape} cannot render a cube of {bands} bands (needs (3, {bands})); "
            "resample it with CameraResponse.resampled(cube_wavelengths)"
        )
    if isinstance(srf, CameraResponse) and cube_nm is not None and not np.allclose(srf.wavelengths, cube_nm):
        raise DataError(
            f"{name}: response sampled at {srf.wavelengths[0]:g}-{srf.wavelengths[-1]:g} nm but the cube at "
            f"{cube_nm[0]:g}-{cube_nm[-1]:g} nm; resample it with CameraResponse.resampled(cube_wavelengths)"
        )
    return matrix


def _exposure_gain(rgb: np.ndarray, exposure: float | str) -> float:
    """A number is a gain; a string ``"pQ"`` (e.g. ``"p99"``) scales so the Q-th percentile of all values is 1."""
    if isinstance(exposure, str):
        if not exposure.startswith("p"):
            raise DataError(f"exposure {exposure!r}: use a gain (number) or a percentile like 'p99'")
        try:
            percentile = float(exposure[1:])
        except ValueError:
            raise DataError(f"exposure {exposure!r}: use a gain (number) or a percentile like 'p99'") from None
        if not 0.0 < percentile <= 100.0:
            raise DataError(f"exposure {exposure!r}: the percentile must lie in (0, 100]")
        level = float(np.percentile(rgb, percentile))
        if level <= 0.0:
            raise DataError(f"exposure {exposure!r}: the image is black at that percentile, cannot normalise")
        return 1.0 / level
    gain = float(exposure)
    if not np.isfinite(gain) or gain <= 0.0:
        raise DataError(f"exposure gain must be a positive number, got {exposure!r}")
    return gain


def _jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Quantise [0, 1] values to 8 bits, JPEG-encode at ``quality`` (1..100) in memory and decode back to [0, 1]."""
    import imageio.v3 as iio

    if not 1 <= int(quality) <= 100:
        raise DataError(f"jpeg_quality must lie in 1..100, got {quality}")
    eight_bit = np.round(rgb * 255.0).astype(np.uint8)
    buffer = io.BytesIO(iio.imwrite("<bytes>", eight_bit, extension=".jpg", quality=int(quality)))
    return iio.imread(buffer, extension=".jpg").astype(np.float64) / 255.0


def render_rgb(
    cube,
    srf: CameraResponse | np.ndarray,
    *,
    white_balance: bool = False,
    exposure: float | str | None = None,
    shot_noise_photons: float | None = None,
    read_noise: float = 0.0,
    jpeg_quality: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Render a linear ``(H, W, 3)`` float32 RGB image from a cube (eq. 4: ``rgb = cube @ srf.T``).

    Args:
        cube: ``(H, W, C)`` array or :class:`hsinr.cube.Cube`; linear values, 1.0 = full scale.
        srf: :class:`CameraResponse` or ``(3, C)`` array at the cube's band centres.
        white_balance: per-channel gains (green gain 1) making the cube's mean spectrum render grey.
        exposure: ``None``; a positive gain; or ``"pQ"`` to scale so the Q-th percentile of the RGB values is 1.
        shot_noise_photons: photon count of a full-scale (1.0) value; each value becomes
            ``Poisson(value * photons) / photons``. ``None`` = no shot noise.
        read_noise: standard deviation of additive Gaussian noise, in full-scale units (e.g. 0.01).
        jpeg_quality: when given, quantise to 8 bits and JPEG-compress at this quality (1..100); the result is a
            multiple of 1/255.
        seed: seed of the ``numpy.random.Generator`` drawing the noise; same seed, same image.

    Returns:
        float32 ``(H, W, 3)``. Plain rendering (no noise, no JPEG) is exactly linear and is *not* clipped; as soon as
        noise or JPEG is requested the sensor saturates: values are clipped to [0, 1] after the noise.
    """
    cube_nm = getattr(cube, "wavelengths", None)
    data = np.asarray(getattr(cube, "data", cube))
    if data.ndim != 3:
        raise DataError(f"render_rgb expects a (H, W, C) cube, got shape {data.shape}")
    matrix = _response_matrix(srf, data.shape[2], cube_nm)
    rgb = data.astype(np.float64) @ matrix.T
    if white_balance:
        grey = matrix @ data.reshape(-1, data.shape[2]).mean(axis=0, dtype=np.float64)
        if np.any(grey <= 0.0):
            raise DataError("white balance: the cube's mean spectrum gives a zero or negative channel")
        rgb *= grey[1] / grey
    if exposure is not None:
        rgb *= _exposure_gain(rgb, exposure)
    simulate_sensor = shot_noise_photons is not None or read_noise > 0.0 or jpeg_quality is not None
    if simulate_sensor:
        rng = np.random.default_rng(seed)
        if shot_noise_photons is not None:
            if shot_noise_photons <= 0:
                raise DataError(f"shot_noise_photons must be positive, got {shot_noise_photons}")
            rgb = rng.poisson(np.clip(rgb, 0.0, None) * shot_noise_photons) / shot_noise_photons
        if read_noise < 0.0:
            raise DataError(f"read_noise must be non-negative, got {read_noise}")
        if read_noise > 0.0:
            rgb = rgb + rng.normal(0.0, read_noise, size=rgb.shape)
        rgb = np.clip(rgb, 0.0, 1.0)
        if jpeg_quality is not None:
            rgb = _jpeg_roundtrip(rgb, jpeg_quality)
    return rgb.astype(np.float32)


def render_rgb_torch(cube_nchw: torch.Tensor, srf: CameraResponse | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Differentiable eq. 4 on a batch: ``(N, C, H, W)`` cube -> ``(N, 3, H, W)`` linear RGB (no clipping).

    ``srf`` is a ``(3, C)`` response (numpy, tensor or :class:`CameraResponse`); it is moved to the cube's
    device and dtype.
    """
    import torch  # here, so that importing hsinr.spectral (e.g. by the CLI's argument parser) does not load torch

    matrix = srf.srf if isinstance(srf, CameraResponse) else srf
    matrix = torch.as_tensor(matrix, dtype=cube_nchw.dtype, device=cube_nchw.device)
    if cube_nchw.ndim != 4 or matrix.shape != (3, cube_nchw.shape[1]):
        raise DataError(
            f"render_rgb_torch: cube {tuple(cube_nchw.shape)} (N, C, H, W) and response {tuple(matrix.shape)} "
            "(3, C) do not match"
        )
    return torch.einsum("nchw,kc->nkhw", cube_nchw, matrix)
