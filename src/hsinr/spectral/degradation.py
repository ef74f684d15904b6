"""Degradation physics of the fusion task: blur, decimation, upsampling and multispectral band responses.

**One geometry** (used by the simulation, every upsampling of the project and INF³'s neighbour coordinates):
the LR pixel ``i`` covers the ``r × r`` block of HR pixels ``r·i … r·i + r − 1`` and is *centred on that block*, at
HR coordinate ``r·i + (r − 1)/2`` (pixel centres at integer HR coordinates). Equivalently, HR pixel ``I`` sits at
``u = (I + ½)/r − ½`` in LR pixel units (:func:`hr_to_lr_coordinate`): the pixel-centre convention of eq. 2 of INF³
on both grids, that of ``torch.nn.functional.interpolate(..., align_corners=False)`` and of block averaging
(``avg_pool2d``, INF³'s eq. 12).

Simulation protocol of the INF³ paper (Sec. 4, "Data Simulation"), for a ground-truth cube ``Z`` ``(H, W, C)``:

* LR-HSI ``X``: a Gaussian point-spread function of standard deviation ``σ`` = 0.5 HR pixels (the paper's
  3×3 kernel) centred on each LR pixel's block centre, sampled on the HR pixels (:func:`decimation_taps`).
  For an odd scale the block centre is an HR pixel and the taps are the paper's 3×3 kernel ("blur, then keep
  pixel ``r·i + (r−1)/2``"). For an even scale the block centre lies between four HR pixels; the taps are the
  Gaussian sampled at the half-integer offsets ±½, ±3/2 (a 4×4 kernel covering the same ±1.5-pixel support).
  Borders are padded by reflection (the mirror does not repeat the edge pixel), so a constant image stays constant.
  See :func:`blur_downsample`.
* HR-MSI ``Y = Z @ srf.T`` with an ``(M, C)`` spectral response (rows R, G, B for a camera such as the Nikon D700
  curve ``nikon_d700_cave.mat`` ``P``; the same product as :func:`hsinr.spectral.render_rgb`), no noise, no
  clipping. For sensors without a measured response, :func:`band_average_response` builds one.

Upsampling back to the HR grid (:func:`upsample_bicubic`, Keys' cubic convolution with ``a = −0.5`` as MATLAB's
``imresize``) uses the same geometry, so a smooth image decimated then upsampled returns close to itself (a linear
ramp exactly, away from the border).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from .responses import resolve_response

BLUR_SIGMA = 0.5
BLUR_SIZE = 3
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

# --------------------------------------------------------------------------------------------------------- geometry


def lr_pixel_centre(index, scale: int):
    """HR coordinate of the centre of LR pixel ``index``: ``scale·index + (scale − 1)/2`` (HR pixel centres are the
    integers). Works on numbers, numpy arrays and tensors."""
    return scale * index + (scale - 1) / 2.0


def hr_to_lr_coordinate(index, scale: int):
    """Position of HR pixel ``index`` in LR pixel units (LR pixel ``i`` centred at ``i``): ``(index + ½)/scale − ½``,
    the inverse of :func:`lr_pixel_centre`."""
    return (index + 0.5) / scale - 0.5


CUBIC_A = -0.5
"""Keys' cubic-convolution parameter (MATLAB's ``imresize``; it reproduces polynomials up to degree 2, whereas
PyTorch's ``a = −0.75`` does not even reproduce a linear ramp)."""


def cubic_kernel(t: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    """Keys' cubic convolution kernel at distances ``t`` (in LR pixels): support ``|t| < 2``, ``W(0) = 1``."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    inner = ((a + 2) * t - (a + 3)) * t * t + 1
    outer = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, inner, np.where(t < 2, outer, 0.0))


def upsample_bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling ``(N, C, h, w)`` → ``(N, C, scale·h, scale·w)`` in the project's geometry.

    Separable cubic convolution (Keys, ``a = −0.5``, :data:`CUBIC_A`) with LR pixel ``i`` at HR coordinate
    :func:`lr_pixel_centre`: HR pixel ``I`` takes the four LR pixels around ``u = (I + ½)/scale − ½``, weighted by
    :func:`cubic_kernel`; indices beyond the border are clamped (edge replication). Reproduces linear and quadratic
    functions exactly away from the border; differentiable. The bicubic baseline, INF³'s long skip ``X^U``,
    ResTFNet and the classical fusions all upsample with this function.
    """
    scale = int(scale)
    if scale == 1:
        return lr
    offsets = np.arange(-2, 3)  # LR neighbours i-2 … i+2 of the HR pixels in block i
    phases = hr_to_lr_coordinate(np.arange(scale), scale)  # u - i of each HR pixel of a block, in (-½, ½)
    taps = torch.as_tensor(cubic_kernel(phases[:, None] - offsets[None, :]), dtype=lr.dtype, device=lr.device)
    return _upsample_axis(_upsample_axis(lr, taps, -1), taps, -2)


def _upsample_axis(x: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    """Upsample one axis with per-phase 5-tap kernels ``taps`` ``(scale, 5)`` (edge-replicated border)."""
    x = x.movedim(dim, -1)
    shape, size = x.shape[:-1], x.shape[-1]
    scale = taps.shape[0]
    flat = F.pad(x.reshape(-1, 1, size), (2, 2), mode="replicate")
    out = F.conv1d(flat, taps[:, None, :])  # (M, scale, size): phase p of block i at [.., p, i]
    return out.transpose(1, 2).reshape(*shape, size * scale).movedim(-1, dim)


def decimation_taps(scale: int, sigma: float = BLUR_SIGMA, kernel: int = BLUR_SIZE) -> tuple[np.ndarray, int]:
    """1-D taps of the point-spread function of one LR pixel and the HR index of the first tap of LR pixel 0.

    The taps are ``exp(−d²/2σ²)`` at the offsets ``d`` of the HR pixel centres from the LR pixel centre
    (:func:`lr_pixel_centre`) with ``|d| ≤ kernel/2`` (``kernel`` odd; for an even ``scale`` the offsets are
    half-integers, giving ``kernel + 1`` taps), normalised to sum 1. The 2-D PSF is their outer product.

    Returns:
        ``(taps (K,), first)``: LR pixel ``i`` is ``Σ_k taps[k] · Z[scale·i + first + k]`` along each axis
        (``first`` may be negative: the border is then padded).
    """
    if kernel < 1 or kernel % 2 == 0 or sigma <= 0:
        raise ConfigError(f"blur kernel needs an odd positive size and sigma > 0, got size {kernel}, sigma {sigma}")
    centre = (scale - 1) / 2.0
    half = kernel / 2.0
    candidates = np.arange(int(np.floor(centre - half)), int(np.ceil(centre + half)) + 1)
    candidates = candidates[np.abs(candidates - centre) <= half + 1e-9]
    offsets = candidates - centre
    first_index = int(candidates[0])
    taps = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return taps / taps.sum(), first_index


def gaussian_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A ``(size, size)`` float64 Gaussian ``exp(-(x² + y²) / (2σ²))`` on integer offsets, normalised to sum 1
    (the PSF of an odd scale)."""
    taps, _ = decimation_taps(1, sigma, size)
    return np.outer(taps, taps)


def blur_downsample(cube, scale: int, sigma: float = BLUR_SIGMA, kernel: int = BLUR_SIZE):
    """The LR-HSI of the protocol: each LR pixel the Gaussian PSF of :func:`decimation_taps` centred on its block.

    Args:
        cube: numpy ``(H, W, C)`` (returns float32 numpy ``(H/scale, W/scale, C)``, computed in float64) or a torch
            tensor ``(N, C, H, W)`` (returns a tensor ``(N, C, H/scale, W/scale)`` of its dtype, differentiable).
            ``H`` and ``W`` must be multiples of ``scale``.
        scale: positive integer downsampling factor (1 = blur only).
        sigma: standard deviation of the Gaussian in HR pixels (paper: 0.5).
        kernel: odd side of the Gaussian kernel in HR pixels (paper: 3); ``kernel + 1`` taps for even scales.

    The border is padded by reflection (edge replication for images too small to reflect).
    """
    if int(scale) != scale or scale < 1:
        raise ConfigError(f"scale must be a positive integer, got {scale}")
    scale = int(scale)
    if isinstance(cube, torch.Tensor):
        return _blur_downsample_torch(cube, scale, sigma, kernel)
    data = np.asarray(getattr(cube, "data", cube))
    if data.ndim != 3:
        raise DataError(f"blur_downsample expects an (H, W, C) cube, got shape {data.shape}")
    batch = torch.from_numpy(np.ascontiguousarray(data.transpose(2, 0, 1), dtype=np.float64))[None]
    return _blur_downsample_torch(batch, scale, sigma, kernel)[0].permute(1, 2, 0).numpy().astype(np.float32)


def _blur_downsample_torch(batch: torch.Tensor, scale: int, sigma: float, kernel: int) -> torch.Tensor:
    if batch.ndim != 4:
        raise DataError(f"blur_downsample expects an (N, C, H, W) tensor, got shape {tuple(batch.shape)}")
    height, width = batch.shape[-2:]
    if height % scale or width % scale:
        raise DataError(
            f"image of {height}x{width} pixels is not a multiple of the scale {scale}; crop it to "
            f"{height - height % scale}x{width - width % scale} first"
        )
    taps, first = decimation_taps(scale, sigma, kernel)
    size = taps.size
    # taps of the last LR pixel reach HR index scale·(n − 1) + first + size − 1 = n·scale − 1 + (first + size − scale)
    pad = max(0, -first, first + size - scale)
    bands = batch.shape[1]
    weights = torch.as_tensor(np.outer(taps, taps), dtype=batch.dtype, device=batch.device)
    if pad:
        mode = "reflect" if pad < min(height, width) else "replicate"
        batch = F.pad(batch, (pad, pad, pad, pad), mode=mode)
    start = first + pad
    batch = batch[..., start:, start:]
    out = F.conv2d(batch, weights.expand(bands, 1, size, size), stride=scale, groups=bands)
    return out[..., : height // scale, : width // scale]


def crop_to_scale(cube: np.ndarray, scale: int) -> np.ndarray:
    """The top-left ``(H - H mod scale, W - W mod scale)`` pixels of an ``(H, W, C)`` cube (a view)."""
    height, width = cube.shape[:2]
    if height < scale or width < scale:
        raise DataError(f"a {height}x{width} image is smaller than one {scale}x{scale} block")
    return cube[: height - height % scale, : width - width % scale]


def fusion_scale(lr_size: tuple[int, int], hr_size: tuple[int, int], expected: int | None = None) -> int:
    """The integer ratio ``r`` with ``hr_size == r · lr_size`` (checked against ``expected`` when given)."""
    (h, w), (height, width) = lr_size, hr_size
    scale = height // h if h else 0
    if scale < 1 or (height, width) != (scale * h, scale * w) or (expected is not None and scale != expected):
        wanted = f"{expected} x " if expected is not None else "an integer multiple of "
        raise DataError(f"HR-MSI of {height}x{width} pixels must be {wanted}the LR-HSI size {h}x{w}")
    return scale


# ------------------------------------------------------------------------------------------------ band responses


def response_matrix(srf, bands: int) -> np.ndarray:
    """The ``(M, bands)`` float64 matrix of a response: a :class:`hsinr.spectral.CameraResponse` or an array."""
    name = getattr(srf, "name", "spectral response")
    matrix = np.asarray(getattr(srf, "srf", srf), dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != bands:
        raise DataError(f"{name}: shape {matrix.shape} cannot project a cube of {bands} bands (needs (M, {bands}))")
    return matrix


def simulate_pair(cube, srf, scale: int, sigma: float = BLUR_SIGMA, kernel: int = BLUR_SIZE):
    """The protocol's input pair from a ground-truth cube.

    Args:
        cube: ``(H, W, C)`` numpy array or :class:`hsinr.cube.Cube`, linear values; ``H, W`` multiples of ``scale``.
        srf: ``(M, C)`` spectral response (array or :class:`hsinr.spectral.CameraResponse`); ``msi = cube @ srf.T``.
        scale: integer resolution ratio.
        sigma, kernel: the blur (:func:`blur_downsample`).

    Returns:
        ``(lr_hsi (H/scale, W/scale, C), hr_msi (H, W, M))``, float32.
    """
    data = np.asarray(getattr(cube, "data", cube))
    if data.ndim != 3:
        raise DataError(f"simulate_pair expects an (H, W, C) cube, got shape {data.shape}")
    matrix = response_matrix(srf, data.shape[2])
    hr_msi = (data.astype(np.float64) @ matrix.T).astype(np.float32)
    return blur_downsample(data, scale, sigma, kernel), hr_msi


def band_average_response(
    wavelengths: Sequence[float], centres: Sequence[float], widths: Sequence[float], shape: str = "box"
) -> np.ndarray:
    """A multispectral response for cubes without a measured one: each MSI band averages nearby HSI bands.

    Args:
        wavelengths: the cube's band centres in nm, ``(C,)``.
        centres: centre of each MSI band in nm, ``(M,)``.
        widths: full width of each MSI band in nm, ``(M,)``: the box width for ``"box"``, the full width at half
            maximum for ``"gaussian"``.
        shape: ``"box"`` (equal weights for the cube bands within ``centre ± width/2``, ends included) or
            ``"gaussian"`` (weights ``exp(-(λ - centre)² / 2σ²)``, ``σ = width / 2.3548``).

    Returns:
        float64 ``(M, C)``, non-negative rows summing to 1 (``msi = cube @ response.T`` is a weighted band average).

    Raises:
        DataError: lengths differ, a width is not positive, or a band covers none of the cube's wavelengths.
    """
    nm = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1)
    widths = np.asarray(widths, dtype=np.float64).reshape(-1)
    if centres.size != widths.size or centres.size == 0:
        raise DataError(f"band_average_response: {centres.size} centres but {widths.size} widths")
    if np.any(widths <= 0):
        raise DataError(f"band_average_response: widths must be positive, got {widths.tolist()}")
    offset = nm[None, :] - centres[:, None]
    if shape == "box":
        response = (np.abs(offset) <= widths[:, None] / 2.0 + 1e-9).astype(np.float64)
    elif shape == "gaussian":
        sigma = widths[:, None] / FWHM_PER_SIGMA
        response = np.exp(-(offset**2) / (2.0 * sigma**2))
        response[response < 1e-12] = 0.0
    else:
        raise DataError(f"band_average_response: shape {shape!r}; use 'box' or 'gaussian'")
    empty = np.flatnonzero(response.sum(axis=1) == 0)
    if empty.size:
        bands = ", ".join(f"{centres[k]:g}±{widths[k] / 2:g} nm" for k in empty)
        raise DataError(f"band_average_response: no cube band ({nm.min():g}-{nm.max():g} nm) falls in {bands}")
    return response / response.sum(axis=1, keepdims=True)


#: Landsat 8 OLI reflective bands (USGS band ranges in nm, band 9 "cirrus" left out): the multispectral sensor of
#: ``data.response: band_average`` for cubes without a measured response.
LANDSAT8_OLI_BANDS = {
    "coastal": (430.0, 450.0),
    "blue": (450.0, 510.0),
    "green": (530.0, 590.0),
    "red": (640.0, 670.0),
    "nir": (850.0, 880.0),
    "swir1": (1570.0, 1650.0),
    "swir2": (2110.0, 2290.0),
}


@dataclass(frozen=True)
class MultispectralResponse:
    """An ``(M, C)`` response of the HR-MSI (``msi = cube @ srf.T``) at the cube's band centres ``wavelengths`` (nm);
    ``name`` says where it came from (stored in checkpoints)."""

    srf: np.ndarray
    wavelengths: np.ndarray
    name: str


def fusion_response(spec, wavelengths: Sequence[float]):
    """The HR-MSI response of a ``task: fusion`` config (``data.response``) at the cube's band centres (nm).

    Args:
        spec: one of

            * a camera spec of :func:`hsinr.spectral.resolve_response` (builtin name, file, ``"path:key"``) → its
              ``(3, C)`` :class:`~hsinr.spectral.CameraResponse` (e.g. ``nikon_d700_cave.mat`` for CAVE);
            * ``"band_average"`` → the :data:`LANDSAT8_OLI_BANDS` whose whole range lies inside the cube's
              wavelengths, each a box average of the cube bands it covers (:func:`band_average_response`);
            * ``{"centres": [...], "widths": [...], "shape": "box" | "gaussian"}`` (nm) → those bands.
        wavelengths: the cube's band centres in nm, ``(C,)``.

    Returns:
        An object with ``srf`` ``(M, C)`` float64 and ``name`` (:class:`MultispectralResponse` for the band averages).

    Raises:
        ConfigError: a spec of none of these forms, or ``band_average`` for a cube covering no OLI band.
        DataError: as :func:`band_average_response` / :func:`hsinr.spectral.resolve_response`.
    """
    nm = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"centres", "widths", "shape"})
        if unknown or "centres" not in spec or "widths" not in spec:
            raise ConfigError(f"data.response as a mapping needs centres and widths (nm), optionally shape; got {spec}")
        shape = spec.get("shape", "box")
        srf = band_average_response(nm, spec["centres"], spec["widths"], shape)
        name = f"band_average {shape} centres {list(spec['centres'])} nm widths {list(spec['widths'])} nm"
        return MultispectralResponse(srf, nm, name)
    if not isinstance(spec, str):
        raise ConfigError(f"data.response must be a camera spec, 'band_average' or {{centres, widths}}, got {spec!r}")
    if spec != "band_average":
        return resolve_response(spec, nm)
    inside = {band: rng for band, rng in LANDSAT8_OLI_BANDS.items() if rng[0] >= nm.min() and rng[1] <= nm.max()}
    if not inside:
        raise ConfigError(f"data.response band_average: no Landsat 8 OLI band lies inside {nm.min():g}-{nm.max():g} nm")
    centres = [(low + high) / 2.0 for low, high in inside.values()]
    widths = [high - low for low, high in inside.values()]
    srf = band_average_response(nm, centres, widths, "box")
    return MultispectralResponse(srf, nm, f"band_average Landsat 8 OLI {'/'.join(inside)}")


def degrade_cube(cube, scale: int, response, sigma: float = BLUR_SIGMA, kernel: int = BLUR_SIZE):
    """Simulate an (LR-HSI, HR-MSI) pair from a user's cube (``hsinr degrade``), with the protocol and geometry above.

    Args:
        cube: a :class:`hsinr.cube.Cube` ``(H, W, C)``; cropped to its top-left multiple of ``scale`` first. Band
            centres default to ``C`` bands evenly spaced over 400–700 nm when the cube has none.
        scale: integer resolution ratio.
        response: a ``data.response`` spec of :func:`fusion_response` (camera file or name, ``band_average``,
            ``{centres, widths}``).
        sigma, kernel: the blur of :func:`blur_downsample`.

    Returns:
        ``(lr_hsi (H/r, W/r, C) float32, hr_msi (H, W, M) float32, wavelengths (C,) nm, response)``.
    """
    from ..cube import default_wavelengths

    data = np.asarray(getattr(cube, "data", cube))
    wavelengths = getattr(cube, "wavelengths", None)
    if wavelengths is None:
        wavelengths = default_wavelengths(data.shape[2])
    resolved = fusion_response(response, wavelengths)
    lr_hsi, hr_msi = simulate_pair(crop_to_scale(data, int(scale)), resolved, int(scale), sigma, kernel)
    return lr_hsi, hr_msi, np.asarray(wavelengths, dtype=np.float64), resolved
