"""PriNET and PriNET+: spectral super-resolution guided by band correlation (Table I "PriNET [55]", "PriNET+ [35]").

References:
    R. Hang, Z. Li, Q. Liu, S. S. Bhattacharyya, "PriNet: A prior driven spectral super-resolution network",
    ICME 2020.
    R. Hang, Q. Liu, Z. Li, "Spectral super-resolution network guided by intrinsic properties of hyperspectral
    imagery", IEEE TIP 30 (2021) 7256–7265.

Both papers use two properties of hyperspectral images. (1) *Spectral correlation*: neighbouring bands are strongly
correlated and the correlation matrix of natural scenes is nearly block-diagonal, so the bands are split into groups of
highly correlated bands and each group is reconstructed by its own sub-network on top of shared features (the
"decomposition sub-network"). (2) *Projection consistency*: the camera response maps the reconstruction back to the
input RGB; the papers use it as a self-supervised loss term. That loss is a training detail and lives with the
trainer, not here.

What we implemented (from our reading of the papers; their text is not in this repository):

- ``prinet``: a shared trunk (3×3 conv from RGB to ``width`` channels, ReLU, ``shared_blocks`` residual blocks of
  3×3 conv → ReLU → 3×3 conv) and one branch per band group (``branch_blocks`` residual blocks and a 3×3 conv to the
  group's bands); the groups' outputs are concatenated in band order.
- ``prinet_plus``: the same, with (a) squeeze-and-excitation channel attention inside every residual block
  (global average pool → 1×1 conv to ``width/reduction`` → ReLU → 1×1 conv → sigmoid, scaling the channels) and
  (b) cross-group feature fusion: the branch features of all groups are concatenated and fused by a 1×1 conv, and
  each group's output conv sees ``[own features, fused features]``, so groups can borrow from each other.

Our choices: ``width = 64``, ``shared_blocks = 4``, ``branch_blocks = 2``, ``reduction = 16``, and three contiguous
band groups ``group_sizes = [10, 9, 12]`` (400–490, 500–580, 590–700 nm for 31 bands), found by
:func:`group_bands_by_correlation` on the three distinct CAVE scenes of ``shared/data/cave`` (``balloons_256``,
``feathers_crop150``, ``chart_and_stuffed_toy_crop150``; see ``docs/models.md``). When
``group_sizes`` is not given and ``out_bands`` is not 31, the bands are split into three near-equal contiguous
groups. No down-sampling, so any ``H × W`` works directly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError, DataError
from .registry import register

DEFAULT_GROUPS_31 = [10, 9, 12]


class _ChannelAttention(nn.Module):
    """Squeeze-and-excitation: scale each channel by a sigmoid gate computed from global average pooling."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class _ResidualBlock(nn.Module):
    """3×3 conv → ReLU → 3×3 conv (→ channel attention when ``reduction`` is given), plus the input."""

    def __init__(self, channels: int, reduction: int | None) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        ]
        if reduction is not None:
            layers.append(_ChannelAttention(channels, reduction))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _resolve_groups(out_bands: int, group_sizes: list[int] | None) -> list[int]:
    if group_sizes is None:
        if out_bands == 31:
            return list(DEFAULT_GROUPS_31)
        base, extra = divmod(out_bands, 3)
        sizes = [base + (1 if index < extra else 0) for index in range(3)]
        return [size for size in sizes if size > 0]
    sizes = [int(size) for size in group_sizes]
    if any(size <= 0 for size in sizes) or sum(sizes) != out_bands:
        raise ConfigError(f"group_sizes {sizes} must be positive and sum to out_bands={out_bands}")
    return sizes


@register("prinet")
class PriNet(nn.Module):
    """PriNET: shared trunk + one branch per band group; ``(N, 3, H, W) → (N, out_bands, H, W)``.

    Args:
        out_bands: output bands (default 31).
        group_sizes: contiguous band-group sizes, in band order, summing to ``out_bands`` (default: see module doc).
        width: feature channels (default 64).
        shared_blocks: residual blocks in the shared trunk (default 4).
        branch_blocks: residual blocks in each group branch (default 2).
    """

    input_keys = ("rgb",)
    attention_reduction: int | None = None
    fuse_groups = False

    def __init__(
        self,
        out_bands: int = 31,
        group_sizes: list[int] | None = None,
        width: int = 64,
        shared_blocks: int = 4,
        branch_blocks: int = 2,
    ) -> None:
        super().__init__()
        self.group_sizes = _resolve_groups(out_bands, group_sizes)
        reduction = self.attention_reduction
        self.trunk = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(inplace=True),
            *[_ResidualBlock(width, reduction) for _ in range(shared_blocks)],
        )
        self.branches = nn.ModuleList(
            nn.Sequential(*[_ResidualBlock(width, reduction) for _ in range(branch_blocks)]) for _ in self.group_sizes
        )
        groups = len(self.group_sizes)
        self.fuse = nn.Conv2d(groups * width, width, 1) if self.fuse_groups else None
        head_in = 2 * width if self.fuse_groups else width
        self.heads = nn.ModuleList(nn.Conv2d(head_in, size, 3, padding=1) for size in self.group_sizes)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        shared = self.trunk(rgb)
        features = [branch(shared) for branch in self.branches]
        if self.fuse is not None:
            fused = self.fuse(torch.cat(features, dim=1))
            features = [torch.cat([feature, fused], dim=1) for feature in features]
        return torch.cat([head(feature) for head, feature in zip(self.heads, features, strict=True)], dim=1)


@register("prinet_plus")
class PriNetPlus(PriNet):
    """PriNET+: PriNET with channel attention in every residual block and cross-group feature fusion.

    Same arguments as :class:`PriNet`; the attention reduction is 16.
    """

    attention_reduction = 16
    fuse_groups = True


def group_bands_by_correlation(cubes: Iterable[np.ndarray], groups: int = 3) -> list[int]:
    """Split bands into ``groups`` contiguous groups of highly correlated bands; returns the group sizes.

    Args:
        cubes: hyperspectral images ``(H, W, C)`` (any float dtype), all with the same ``C``.
        groups: number of groups.

    The Pearson correlation matrix ``R`` (``C × C``) is computed over all pixels of all cubes, and the partition of
    ``0..C-1`` into ``groups`` contiguous runs minimising ``Σ_groups Σ_{i,j ∈ group} (1 − R_ij)`` is found exactly by
    dynamic programming (``O(groups · C²)``).
    """
    count = 0
    total = None
    outer = None
    for cube in cubes:
        pixels = np.asarray(cube, dtype=np.float64).reshape(-1, np.shape(cube)[-1])
        if total is None or outer is None:
            total = np.zeros(pixels.shape[1])
            outer = np.zeros((pixels.shape[1], pixels.shape[1]))
        elif pixels.shape[1] != total.size:
            raise DataError(f"cubes have different band counts: {total.size} and {pixels.shape[1]}")
        count += pixels.shape[0]
        total += pixels.sum(axis=0)
        outer += pixels.T @ pixels
    if total is None or outer is None or count < 2:
        raise DataError("group_bands_by_correlation needs at least one cube with two pixels")
    bands = total.size
    if not 1 <= groups <= bands:
        raise ConfigError(f"groups must be between 1 and the number of bands ({bands}), got {groups}")
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(covariance), 1e-30, None))
    dissimilarity = 1.0 - covariance / np.outer(std, std)
    # cost[a, b] = sum of dissimilarities inside the run a..b-1, from 2-D prefix sums.
    prefix = np.zeros((bands + 1, bands + 1))
    prefix[1:, 1:] = dissimilarity.cumsum(axis=0).cumsum(axis=1)

    def cost(a: int, b: int) -> float:
        return prefix[b, b] - prefix[a, b] - prefix[b, a] + prefix[a, a]

    best = np.full((groups + 1, bands + 1), np.inf)
    choice = np.zeros((groups + 1, bands + 1), dtype=int)
    best[0, 0] = 0.0
    for g in range(1, groups + 1):
        for end in range(g, bands + 1):
            for start in range(g - 1, end):
                value = best[g - 1, start] + cost(start, end)
                if value < best[g, end]:
                    best[g, end], choice[g, end] = value, start
    sizes = []
    end = bands
    for g in range(groups, 0, -1):
        start = int(choice[g, end])
        sizes.append(int(end - start))
        end = start
    return sizes[::-1]
