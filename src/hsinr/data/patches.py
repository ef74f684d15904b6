"""Torch datasets over loaded scenes: random augmented patches for training, whole images for evaluation.

Both yield dicts of float32 tensors without batch axis: ``"rgb"`` ``(3, h, w)`` and ``"cube"`` ``(C, h, w)``, values
as loaded (linear, 1.0 = full scale). Training follows the INR-HSISR paper (Sec. IV-B): an epoch is a fixed number of
random 64x64 patches (1000 for CAVE and NUS) cropped from the training scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .datasets import ScenePair

#: Number of distinct dihedral operations (flips and transpose) :func:`dihedral` can apply.
DIHEDRAL_OPS = 8


def dihedral(image: np.ndarray, op: int) -> np.ndarray:
    """One of the 8 symmetries of the square applied to an ``(H, W, ...)`` array (a view, no copy).

    ``op`` is read as three bits applied in this order: bit 0 mirrors left-right (columns reversed), bit 1 mirrors
    top-bottom (rows reversed), bit 2 transposes rows and columns. ``op = 0`` is the identity.
    """
    if not 0 <= op < DIHEDRAL_OPS:
        raise ValueError(f"dihedral op must be in 0..7, got {op}")
    if op & 1:
        image = image[:, ::-1]
    if op & 2:
        image = image[::-1]
    if op & 4:
        image = image.swapaxes(0, 1)
    return image


class EpochPatchSampler(Dataset):
    """Shared bookkeeping of the patch datasets: length, :meth:`set_epoch` and the seeded random draw of a patch.

    Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: :meth:`draw` picks a scene uniformly, a uniformly
    random top-left corner inside it and, when ``augment``, one of the 8 :func:`dihedral` operations. Subclasses set
    :attr:`scene_sizes` (``(H, W)`` of each scene) and build the item from the draw.
    """

    scene_sizes: list[tuple[int, int]]

    def __init__(self, patch_size: int, patches_per_epoch: int, augment: bool, seed: int) -> None:
        self.patch_size = int(patch_size)
        self.patches_per_epoch = int(patches_per_epoch)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose patches the dataset yields (a non-negative integer)."""
        if epoch < 0:
            raise ConfigError(f"epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.patches_per_epoch

    def draw(self, index: int) -> tuple[int, int, int, int]:
        """The random choices of item ``index`` in the current epoch: ``(scene index, top row, left column, op)``."""
        if not 0 <= index < self.patches_per_epoch:
            raise IndexError(f"patch index {index} out of range 0..{self.patches_per_epoch - 1}")
        rng = np.random.default_rng((self.seed, self.epoch, index))
        scene = int(rng.integers(len(self.scene_sizes)))
        height, width = self.scene_sizes[scene]
        top = int(rng.integers(height - self.patch_size + 1))
        left = int(rng.integers(width - self.patch_size + 1))
        op = int(rng.integers(DIHEDRAL_OPS)) if self.augment else 0
        return scene, top, left, op


class PatchDataset(EpochPatchSampler):
    """Random ``patch_size`` x ``patch_size`` crops of random scenes, the same crop and augmentation on RGB and cube.

    Item ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: it draws a scene uniformly, a uniformly random
    top-left corner inside it and, when ``augment``, one of the 8 :func:`dihedral` operations (random horizontal and
    vertical flips and transpose). Call :meth:`set_epoch` before each epoch to get new patches; with DataLoader
    workers do it before creating the epoch's iterator (and do not use ``persistent_workers``, whose copies of the
    dataset would not see the new epoch).

    Args:
        pairs: loaded scenes, all with the same number of bands and RGB and cube of the same size.
        patch_size: side of the square patches in pixels.
        patches_per_epoch: the dataset's length.
        augment: apply random flips/transpose.
        seed: non-negative random seed.
        transform: optional ``transform(rgb, cube, rng) -> (rgb, cube)`` applied to each ``(p, p, ·)`` crop with a
            generator seeded by ``(seed, epoch, index)`` (e.g. :class:`~hsinr.data.augment.Relight`).
        mix: probability that a crop is blended with a second crop of another random draw (mixup of scenes:
            ``cube = a·cube₁ + (1 − a)·cube₂``, the same for the RGB, ``a ~ U(0, 1)``), before ``transform``. A
            blend of two spectra is the spectrum of a pixel covered by both materials, and a linearly rendered RGB
            blends the same way, so the pair stays physically consistent; with non-linearly encoded RGB give a
            ``transform`` that re-renders it from the cube.

    Returns (per item): ``{"rgb": (3, p, p), "cube": (C, p, p)}`` float32 tensors.

    Raises:
        DataError: no scenes, a scene smaller than the patch, RGB/cube sizes differ, band counts differ.
        ConfigError: non-positive ``patch_size`` / ``patches_per_epoch`` or negative ``seed``.
    """

    def __init__(
        self,
        pairs: Sequence[ScenePair],
        patch_size: int = 64,
        patches_per_epoch: int = 1000,
        augment: bool = True,
        seed: int = 0,
        transform: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None,
        mix: float = 0.0,
    ) -> None:
        if not 0.0 <= mix <= 1.0:
            raise ConfigError(f"the mix probability must be in [0, 1], got {mix}")
        if patch_size < 1 or patches_per_epoch < 1 or seed < 0:
            raise ConfigError(
                f"patch_size and patches_per_epoch must be positive and seed non-negative, got {patch_size}, "
                f"{patches_per_epoch} and {seed}"
            )
        self.pairs = _checked_pairs(pairs)
        small = [
            f"{pair.name} ({pair.cube.shape[0]}x{pair.cube.shape[1]})"
            for pair in self.pairs
            if min(pair.cube.shape[:2]) < patch_size
        ]
        if small:
            raise DataError(f"scenes smaller than the {patch_size}x{patch_size} patch: {', '.join(small)}")
        super().__init__(patch_size, patches_per_epoch, augment, seed)
        self.scene_sizes = [pair.cube.shape[:2] for pair in self.pairs]
        self.transform = transform
        self.mix = float(mix)

    def _crop(self, scene: int, top: int, left: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[scene]
        rows, cols = slice(top, top + self.patch_size), slice(left, left + self.patch_size)
        return pair.rgb[rows, cols], pair.cube[rows, cols]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        scene, top, left, op = self.draw(index)
        rgb, cube = self._crop(scene, top, left)
        if self.mix > 0:
            rng = np.random.default_rng((self.seed, self.epoch, index, 2))
            if rng.random() < self.mix:
                other = int(rng.integers(len(self.pairs)))
                height, width = self.scene_sizes[other]
                top2 = int(rng.integers(height - self.patch_size + 1))
                rgb2, cube2 = self._crop(other, top2, int(rng.integers(width - self.patch_size + 1)))
                a = np.float32(rng.random())
                rgb, cube = a * rgb + (1 - a) * rgb2, a * cube + (1 - a) * cube2
        if self.transform is not None:
            rgb, cube = self.transform(rgb, cube, np.random.default_rng((self.seed, self.epoch, index, 1)))
        return {"rgb": _to_chw(dihedral(rgb, op)), "cube": _to_chw(dihedral(cube, op))}


class FullImageDataset(Dataset):
    """Whole scenes in a fixed order, without augmentation, for validation and evaluation.

    Item ``i`` is ``{"name": str, "rgb": (3, H, W), "cube": (C, H, W)}`` for ``pairs[i]``. Scenes of different sizes
    cannot be stacked: use ``batch_size=1`` in the DataLoader.

    Raises:
        DataError: no scenes, RGB/cube sizes differ, band counts differ.
    """

    def __init__(self, pairs: Sequence[ScenePair]) -> None:
        self.pairs = _checked_pairs(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        pair = self.pairs[index]
        return {"name": pair.name, "rgb": _to_chw(pair.rgb), "cube": _to_chw(pair.cube)}


def _checked_pairs(pairs: Sequence[ScenePair]) -> list[ScenePair]:
    """The scenes as a list, after checking there is one, sizes agree and all cubes have the same band count."""
    pairs = list(pairs)
    if not pairs:
        raise DataError("no scenes to sample from (is the subset of the split empty?)")
    for pair in pairs:
        if pair.rgb.shape[:2] != pair.cube.shape[:2] or pair.rgb.ndim != 3 or pair.rgb.shape[2] != 3:
            raise DataError(f"scene {pair.name}: RGB {pair.rgb.shape} and cube {pair.cube.shape} do not match")
    bands = sorted({pair.cube.shape[2] for pair in pairs})
    if len(bands) > 1:
        raise DataError(f"scenes have different band counts {bands}; resample them to common wavelengths first")
    return pairs


def _to_chw(image: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` numpy array to a contiguous float32 ``(C, H, W)`` tensor (a copy)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))
