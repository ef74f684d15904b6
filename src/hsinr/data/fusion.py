"""Training and evaluation datasets of the fusion task: ground-truth cubes with their simulated input pairs.

Training uses random ``patch_size`` crops of the ground truth (64×64 in the INF³ paper), each simulated on its own
(:class:`FusionPatchDataset`); evaluation uses whole images cropped to a multiple of the scale
(:class:`FusionFullDataset`). The simulation is :func:`hsinr.spectral.degradation.simulate_pair`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from ..spectral.degradation import BLUR_SIGMA, BLUR_SIZE, crop_to_scale, response_matrix, simulate_pair
from .patches import EpochPatchSampler, dihedral


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
        sigma, kernel: the blur of :func:`hsinr.spectral.degradation.blur_downsample`.

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
