"""Multispectral/hyperspectral fusion (LR-HSI + HR-MSI → HR-HSI): simulation, datasets, tiled inference, task.

Simulation protocol of the INF³ paper (Sec. 4, "Data Simulation"), for a ground-truth cube ``Z`` ``(H, W, C)``:

* LR-HSI ``X`` = ``Z`` blurred by a normalised 3×3 Gaussian of standard deviation 0.5 (reflection padding at the
  border, i.e. the mirror does not repeat the edge pixel), then every ``scale``-th pixel kept in both directions,
  starting at index ``scale // 2`` (the *phase*): LR pixel ``i`` is the blurred HR pixel ``scale·i + scale//2``.
  For odd scales this is the centre of the ``scale×scale`` block the LR pixel covers; for even scales the lower/right
  of the two central pixels. See :func:`blur_downsample`.
* HR-MSI ``Y`` = ``Z @ srf.T`` with a ``(M, C)`` spectral response (rows R, G, B for a camera such as the Nikon D700
  curve ``nikon_d700_cave.mat`` ``P``; eq. 4 of INR-HSISR, the same product as :func:`hsinr.spectral.render_rgb`),
  no noise, no clipping. For sensors without a measured response, :func:`band_average_response` builds one.

Training uses random ``patch_size`` crops of the ground truth (64×64 in the paper), each simulated on its own
(:class:`FusionPatchDataset`); evaluation uses whole images cropped to a multiple of the scale
(:class:`FusionFullDataset`). :func:`fuse` runs any fusion model on images of any size tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset

from .data import EpochPatchSampler, dihedral
from .errors import ConfigError, DataError
from .fusion_scenes import FusionScenes
from .spectral import resolve_response
from .tasks import EvalCase, config_wavelengths, mean_metrics, prepare_data_root, register_task, resolve_split

BLUR_SIGMA = 0.5
BLUR_SIZE = 3
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


# ------------------------------------------------------------------------------------------------------- simulation


def gaussian_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A ``(size, size)`` float64 Gaussian ``exp(-(x² + y²) / (2σ²))`` on integer offsets, normalised to sum 1."""
    if size < 1 or size % 2 == 0 or sigma <= 0:
        raise ConfigError(f"blur kernel needs an odd positive size and sigma > 0, got size {size}, sigma {sigma}")
    x = np.arange(size, dtype=np.float64) - size // 2
    profile = np.exp(-(x**2) / (2.0 * sigma**2))
    kernel = np.outer(profile, profile)
    return kernel / kernel.sum()


def downsample_phase(scale: int) -> int:
    """Index inside each ``scale×scale`` block of the HR pixel an LR pixel keeps: ``scale // 2``."""
    return scale // 2


def blur_downsample(cube, scale: int, sigma: float = BLUR_SIGMA, kernel: int = BLUR_SIZE):
    """Gaussian blur then keep every ``scale``-th pixel from index ``scale // 2`` (the LR-HSI of the protocol).

    Args:
        cube: numpy ``(H, W, C)`` (returns float32 numpy ``(H/scale, W/scale, C)``, computed in float64) or a torch
            tensor ``(N, C, H, W)`` (returns a tensor ``(N, C, H/scale, W/scale)`` of its dtype, differentiable).
            ``H`` and ``W`` must be multiples of ``scale``.
        scale: positive integer downsampling factor (1 = blur only).
        sigma: standard deviation of the Gaussian in HR pixels (paper: 0.5).
        kernel: odd side of the Gaussian kernel in pixels (paper: 3).

    The border is padded by reflection (edge replication for images too small to reflect), so a constant image
    stays constant.
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
    bands = batch.shape[1]
    weights = torch.as_tensor(gaussian_kernel(kernel, sigma), dtype=batch.dtype, device=batch.device)
    pad = kernel // 2
    mode = "reflect" if pad < min(height, width) else "replicate"
    padded = F.pad(batch, (pad, pad, pad, pad), mode=mode) if pad else batch
    blurred = F.conv2d(padded, weights.expand(bands, 1, kernel, kernel), groups=bands)
    phase = downsample_phase(scale)
    return blurred[..., phase::scale, phase::scale]


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


# --------------------------------------------------------------------------------------------------------- datasets


def _cube_arrays(cubes) -> list[np.ndarray]:
    """Ground-truth cubes as float32 ``(H, W, C)`` arrays: accepts arrays, :class:`Cube` and scene pairs."""
    arrays = []
    for item in cubes:
        data = getattr(item, "cube", item)  # ScenePair
        data = np.asarray(getattr(data, "data", data), dtype=np.float32)  # Cube
        if data.ndim != 3:
            raise DataError(f"expected (H, W, C) cubes, got shape {data.shape}")
        arrays.append(data)
    if not arrays:
        raise DataError("no cubes to sample from (is the subset of the split empty?)")
    if len({a.shape[2] for a in arrays}) > 1:
        raise DataError(f"cubes have different band counts {sorted({a.shape[2] for a in arrays})}")
    return arrays


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


def _pair_item(cube: np.ndarray, srf, scale: int, sigma: float, kernel: int) -> dict[str, torch.Tensor]:
    lr_hsi, hr_msi = simulate_pair(cube, srf, scale, sigma, kernel)
    return {"lr_hsi": _chw(lr_hsi), "hr_msi": _chw(hr_msi), "cube": _chw(cube)}


class FusionPatchDataset(EpochPatchSampler):
    """Random ground-truth patches with their simulated (LR-HSI, HR-MSI) pair, as in the INF³ paper.

    Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: a scene drawn uniformly, a uniformly random
    ``patch_size`` crop and, when ``augment``, one of the 8 flips/transposes of :func:`hsinr.data.dihedral`. The crop
    is augmented first and then simulated on its own (blur with reflection at the patch border), so the pair is
    exactly the protocol applied to that patch. Call :meth:`set_epoch` for new patches.

    Args:
        cubes: ground-truth cubes: ``(H, W, C)`` arrays, :class:`hsinr.cube.Cube` or :class:`hsinr.data.ScenePair`.
        srf: ``(M, C)`` response of the HR-MSI.
        scale: resolution ratio; ``patch_size`` must be a multiple of it.
        patch_size: HR patch side in pixels (paper: 64).
        patches_per_epoch: the dataset's length.
        seed: non-negative seed.
        augment: random flips and transposes.
        sigma, kernel: the blur of :func:`blur_downsample`.

    Returns (per item): ``{"lr_hsi": (C, p/r, p/r), "hr_msi": (M, p, p), "cube": (C, p, p)}`` float32 tensors.
    """

    def __init__(
        self,
        cubes,
        srf,
        scale: int,
        patch_size: int = 64,
        patches_per_epoch: int = 1000,
        seed: int = 0,
        augment: bool = True,
        sigma: float = BLUR_SIGMA,
        kernel: int = BLUR_SIZE,
    ) -> None:
        if patch_size < 1 or patches_per_epoch < 1 or seed < 0 or scale < 1:
            raise ConfigError("patch_size, patches_per_epoch and scale must be positive and seed non-negative")
        if patch_size % scale:
            raise ConfigError(f"patch_size {patch_size} must be a multiple of the scale {scale}")
        self.cubes = _cube_arrays(cubes)
        small = [f"#{k} ({c.shape[0]}x{c.shape[1]})" for k, c in enumerate(self.cubes) if min(c.shape[:2]) < patch_size]
        if small:
            raise DataError(f"cubes smaller than the {patch_size}x{patch_size} patch: {', '.join(small)}")
        self.srf = response_matrix(srf, self.cubes[0].shape[2])
        super().__init__(patch_size, patches_per_epoch, augment, seed)
        self.scene_sizes = [cube.shape[:2] for cube in self.cubes]
        self.scale, self.sigma, self.kernel = int(scale), float(sigma), int(kernel)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        scene, top, left, op = self.draw(index)
        cube = self.cubes[scene]
        patch = dihedral(cube[top : top + self.patch_size, left : left + self.patch_size], op)
        return _pair_item(np.ascontiguousarray(patch), self.srf, self.scale, self.sigma, self.kernel)


class FusionFullDataset(Dataset):
    """Whole images for evaluation: each cube cropped to its top-left ``(H - H mod r) × (W - W mod r)`` pixels, then
    simulated. Item ``i``: ``{"name", "lr_hsi" (C, H/r, W/r), "hr_msi" (M, H, W), "cube" (C, H, W)}``.

    Args:
        cubes, srf, scale, sigma, kernel: as :class:`FusionPatchDataset`.
        names: one name per cube (default ``scene_0``, ``scene_1``, ...; a :class:`ScenePair`'s own name when given).
    """

    def __init__(
        self, cubes, srf, scale: int, names: Sequence[str] | None = None, sigma=BLUR_SIGMA, kernel=BLUR_SIZE
    ) -> None:
        cubes = list(cubes)
        if names is None:
            names = [getattr(cube, "name", f"scene_{k}") for k, cube in enumerate(cubes)]
        self.names = list(names)
        self.cubes = [crop_to_scale(c, scale) for c in _cube_arrays(cubes)]
        if len(self.names) != len(self.cubes):
            raise DataError(f"{len(self.names)} names for {len(self.cubes)} cubes")
        self.srf = response_matrix(srf, self.cubes[0].shape[2])
        self.scale, self.sigma, self.kernel = int(scale), float(sigma), int(kernel)

    def __len__(self) -> int:
        return len(self.cubes)

    def __getitem__(self, index: int) -> dict:
        item = _pair_item(self.cubes[index], self.srf, self.scale, self.sigma, self.kernel)
        return {"name": self.names[index], **item}


def crop_to_scale(cube: np.ndarray, scale: int) -> np.ndarray:
    """The top-left ``(H - H mod scale, W - W mod scale)`` pixels of an ``(H, W, C)`` cube (a view)."""
    height, width = cube.shape[:2]
    if height < scale or width < scale:
        raise DataError(f"a {height}x{width} image is smaller than one {scale}x{scale} block")
    return cube[: height - height % scale, : width - width % scale]


# ------------------------------------------------------------------------------------------------ tiled inference


DEFAULT_OVERLAP_PER_SCALE = 18
"""Default tile overlap of :func:`fuse` in LR pixels (×scale in HR pixels): exact tiling for the default INF³."""


def fuse(
    lr_hsi: np.ndarray,
    hr_msi: np.ndarray,
    model: nn.Module,
    tile: int = 256,
    overlap: int | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Fuse an LR-HSI ``(h, w, C)`` and an HR-MSI ``(H, W, M)`` (``H = r·h``) into an ``(H, W, C)`` float32 cube.

    The HR image is cut into ``tile``×``tile`` tiles (rounded up to a multiple of ``r`` so that each has an exact
    LR counterpart) overlapping by ``overlap`` pixels (rounded up to a multiple of ``r``); the last tile of a row or
    column is moved back to end at the border. In the band two tiles share, each tile's weight is 0 on the quarter
    nearest its own edge (where its convolutions see padding instead of the neighbouring pixels) and rises linearly
    to 1 across the middle half; the weighted tiles are averaged. Consequently, when ``overlap / 4`` is at least the
    model's receptive radius in HR pixels, the result equals a single whole-image pass up to float rounding; with
    less overlap the seams are feathered. Peak memory: the model's activations on one tile plus the output.

    Args:
        lr_hsi, hr_msi: float32 numpy arrays, linear values as the model was trained on.
        model: a fusion model taking ``(lr_hsi (N, C, h, w), hr_msi (N, M, H, W))``; put in eval mode here and moved
            to ``device``.
        tile, overlap: HR pixels. ``overlap=None`` uses ``DEFAULT_OVERLAP_PER_SCALE × r`` (72 px at ×4, 144 px at
            ×8), at least four times the measured reach of the default INF³ (18 px at ×4, 34 px at ×8), so the
            default result is exact; ``tile`` is then raised to twice the overlap when smaller.
        device: where to run the model.

    Raises:
        DataError: arrays not 3-D, HR size not an integer multiple of the LR size (or not ``model.scale`` × it).
    """
    lr_hsi, hr_msi = np.asarray(lr_hsi, dtype=np.float32), np.asarray(hr_msi, dtype=np.float32)
    if lr_hsi.ndim != 3 or hr_msi.ndim != 3:
        raise DataError(f"fuse expects (h, w, C) and (H, W, M) arrays, got {lr_hsi.shape} and {hr_msi.shape}")
    scale = fusion_scale(lr_hsi.shape[:2], hr_msi.shape[:2], getattr(model, "scale", None))
    if overlap is None:
        overlap = DEFAULT_OVERLAP_PER_SCALE * scale
        tile = max(int(tile), 2 * overlap)
    tile = _round_up(max(int(tile), scale), scale)
    overlap = _round_up(max(int(overlap), 0), scale)
    if overlap >= tile:
        raise ConfigError(f"overlap {overlap} must be smaller than the tile {tile} (both rounded to the scale {scale})")
    model = model.to(device).eval()
    height, width = hr_msi.shape[:2]
    rows, cols = _tile_starts(height, tile, overlap), _tile_starts(width, tile, overlap)
    total = weight_sum = None
    for top in rows:
        for left in cols:
            th, tw = min(tile, height - top), min(tile, width - left)
            out = _run_tile(model, lr_hsi, hr_msi, top, left, th, tw, scale, device)
            if total is None:
                total = np.zeros((height, width, out.shape[2]), dtype=np.float32)
                weight_sum = np.zeros((height, width, 1), dtype=np.float32)
            wy = _blend_ramp(th, overlap, top > 0, top + th < height)
            wx = _blend_ramp(tw, overlap, left > 0, left + tw < width)
            weight = (wy[:, None] * wx[None, :])[..., None]
            total[top : top + th, left : left + tw] += out * weight
            weight_sum[top : top + th, left : left + tw] += weight
    return total / weight_sum


def fusion_scale(lr_size: tuple[int, int], hr_size: tuple[int, int], expected: int | None = None) -> int:
    """The integer ratio ``r`` with ``hr_size == r · lr_size`` (checked against ``expected`` when given)."""
    (h, w), (height, width) = lr_size, hr_size
    scale = height // h if h else 0
    if scale < 1 or (height, width) != (scale * h, scale * w) or (expected is not None and scale != expected):
        wanted = f"{expected} x " if expected is not None else "an integer multiple of "
        raise DataError(f"HR-MSI of {height}x{width} pixels must be {wanted}the LR-HSI size {h}x{w}")
    return scale


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: steps of ``tile - overlap``, the last tile ending at ``size``."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap)) + [size - tile]
    return sorted(set(starts))


def _blend_ramp(length: int, overlap: int, inner_start: bool, inner_end: bool) -> np.ndarray:
    """1-D tile weights: 0 on the first ``overlap // 4`` pixels of an inner edge, then a linear ramp up to 1 over
    the next ``overlap // 2`` pixels, 1 elsewhere (image borders are never down-weighted)."""
    weight = np.ones(length, dtype=np.float32)
    margin = overlap // 4
    ramp_length = overlap - 2 * margin
    edge = np.concatenate(
        [np.zeros(margin, dtype=np.float32), (np.arange(ramp_length, dtype=np.float32) + 0.5) / max(ramp_length, 1)]
    )
    n = min(edge.size, length)
    if inner_start:
        weight[:n] = np.minimum(weight[:n], edge[:n])
    if inner_end:
        weight[length - n :] = np.minimum(weight[length - n :], edge[:n][::-1])
    return weight


def _run_tile(model, lr_hsi, hr_msi, top, left, th, tw, scale, device) -> np.ndarray:
    """The model on the HR tile ``[top:top+th, left:left+tw]`` and its LR counterpart → ``(th, tw, C)`` numpy."""
    lr = lr_hsi[top // scale : (top + th) // scale, left // scale : (left + tw) // scale]
    hr = hr_msi[top : top + th, left : left + tw]
    with torch.inference_mode():
        out = model(_chw(lr)[None].to(device), _chw(hr)[None].to(device))
    return out[0].permute(1, 2, 0).float().cpu().numpy()


# ------------------------------------------------------------------------------------------------------------- task


#: Defaults of ``scale``, ``hsi_bands`` and ``msi_bands`` shared by every fusion model of :mod:`hsinr.models`.
FUSION_MODEL_DEFAULTS = {"scale": 4, "hsi_bands": 31, "msi_bands": 3}


@register_task("fusion")
class FusionTask:
    """Training task ``task: fusion`` for :func:`hsinr.train.train`: the INF³ protocol on a set of cubes.

    Config keys used: the scene keys of :mod:`hsinr.fusion_scenes` (``data.kind/root/scenes/regions/wavelengths``;
    ``kind: remote`` for the remote-sensing cubes, ``regions`` to train and test on two halves of one scene);
    ``data.split`` as for ``spectral_sr``; ``data.response``, the HR-MSI response (:func:`fusion_response`: a camera
    spec, ``band_average`` or ``{centres, widths}``); ``data.scale`` (default: ``model.args.scale``, else 4);
    ``data.patch_size``, ``data.patches_per_epoch``, ``data.augment``. ``model.args.scale/hsi_bands/msi_bands``
    (defaults 4/31/3) must match the data (ConfigError otherwise). Loss: L1 (the paper's). Validation: whole images
    cropped to a multiple of the scale, fused with :func:`fuse` (``train.val_tile``), metrics of
    :func:`hsinr.metrics.evaluate_all` with ERGAS at ratio = scale.
    """

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.run_dir = config, Path(run_dir)
        data = config["data"]
        model_args = config.get("model", {}).get("args") or {}
        self.scale = int(data.get("scale") or model_args.get("scale") or FUSION_MODEL_DEFAULTS["scale"])
        if not data.get("response"):
            raise ConfigError("task fusion needs data.response: the response that renders the HR-MSI")
        kind, root = prepare_data_root(data, self.run_dir)
        self.scenes = FusionScenes(data, kind, root, config_wavelengths(data))
        self.wavelengths = self.scenes.wavelengths
        self.response = fusion_response(data["response"], self.wavelengths)
        needed = {"scale": self.scale, "hsi_bands": self.wavelengths.size, "msi_bands": len(self.response.srf)}
        for key, value in needed.items():
            given = model_args.get(key, FUSION_MODEL_DEFAULTS[key])
            if int(given) != value:
                default = "" if key in model_args else " (the default)"
                raise ConfigError(
                    f"model.args.{key}={given}{default} but the data needs {value} (scale {self.scale}, "
                    f"{self.wavelengths.size} cube bands, {len(self.response.srf)} MSI bands); they must agree"
                )
        self.split = resolve_split(data, self.run_dir, self.scenes.names)

    def train_dataset(self, seed: int) -> FusionPatchDataset:
        data = self.config["data"]
        return FusionPatchDataset(
            self.scenes.cubes(self.split["train"]),
            self.response,
            self.scale,
            patch_size=int(data.get("patch_size", 64)),
            patches_per_epoch=int(data.get("patches_per_epoch", 1000)),
            seed=seed,
            augment=bool(data.get("augment", True)),
        )

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        module = model.module if hasattr(model, "module") else model
        pred = model(*(batch[key] for key in module.input_keys))
        loss = F.l1_loss(pred, batch["cube"])
        return loss, {"l1": float(loss.detach())}

    def eval_cases(self, subset: str = "val") -> list[EvalCase]:
        """Whole images of ``subset`` (cropped to a multiple of the scale), fused with :func:`fuse`."""
        tile = int(self.config["train"].get("val_tile", 512))
        cases = []
        names = self.split.get(subset) or []
        if not names:  # e.g. val: [] in leave-one-scene-out folds
            return cases
        for name, item in zip(names, FusionFullDataset(self.scenes.cubes(names), self.response, self.scale, names)):
            lr_hsi, hr_msi, cube = (item[key].permute(1, 2, 0).numpy() for key in ("lr_hsi", "hr_msi", "cube"))

            def predict(model, lr_hsi=lr_hsi, hr_msi=hr_msi):
                parameter = next(iter(model.parameters()), None)
                device = parameter.device if parameter is not None else "cpu"
                return fuse(lr_hsi, hr_msi, model, tile=tile, device=device)

            cases.append(EvalCase(name, cube, self.wavelengths, predict, {"ratio": self.scale}))
        return cases

    def validate(self, model, subset: str = "val") -> dict:
        """Mean metrics over the whole images of ``subset`` (empty dict when the subset is empty)."""
        return mean_metrics(model, self.eval_cases(subset))

    def meta(self) -> dict:
        """What a checkpoint needs to be used later without the config (see :mod:`hsinr.checkpoint`)."""
        return {
            "task": "fusion",
            "wavelengths": self.wavelengths.tolist(),
            "srf": np.asarray(self.response.srf).tolist(),
            "response": self.response.name,
            "scale": self.scale,
            "simulation": {"blur_sigma": BLUR_SIGMA, "blur_kernel": BLUR_SIZE, "phase": downsample_phase(self.scale)},
            "input": "LR-HSI (linear, blurred and downsampled) + HR-MSI = cube @ srf.T (linear, no gamma)",
            "split": self.split,
            "data": {key: self.config["data"].get(key) for key in ("kind", "scenes", "regions")}
            | {"root": str(self.config["data"].get("root"))},
        }
