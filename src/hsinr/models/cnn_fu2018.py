"""The HSI recovery CNN of Fu et al. (Table I "CNN [51]").

Reference: Y. Fu, T. Zhang, Y. Zheng, D. Zhang, H. Huang, "Joint camera spectral sensitivity selection and
hyperspectral image recovery", ECCV 2018.

The paper builds its recovery network from two properties of hyperspectral images, and we follow that split:

1. *Spectral nonlinear mapping*: each pixel's RGB is mapped to a spectrum by 1×1 convolutions with ReLU
   (a per-pixel MLP, ``3 → spectral_width → … → out_bands``), giving a first estimate ``Y₀``.
2. *Spatial similarity*: a residual CNN of 3×3 convolutions looks at the neighbourhood of ``Y₀`` and adds a
   correction, ``Y = Y₀ + f_spatial(Y₀)``; ``f_spatial`` is a 3×3 conv to ``spatial_width`` channels, residual blocks
   (3×3 conv → ReLU → 3×3 conv, plus identity) and a 3×3 conv back to ``out_bands``.

The camera-spectral-sensitivity selection layer of the paper (a 1×1 layer choosing among candidate cameras) is not part
of this model: our RGB comes from a known camera response. This module is written from our reading of the paper (its
text is not in this repository); the widths and depths are our choice: 3 hidden 1×1 layers of 64 channels and
4 residual blocks of 64 channels. No down-sampling, so any ``H × W`` works directly.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._blocks import ResidualBlock
from .registry import register


@register("cnn_fu2018")
class CNNFu2018(nn.Module):
    """Spectral 1×1 mapping followed by a spatial residual refinement: ``(N, 3, H, W) → (N, out_bands, H, W)``.

    Args:
        out_bands: output bands (default 31).
        spectral_width: channels of the hidden 1×1 layers (default 64).
        spectral_layers: number of hidden 1×1 layers with ReLU (default 3).
        spatial_width: channels of the 3×3 residual blocks (default 64).
        spatial_blocks: number of residual blocks (default 4).
    """

    input_keys = ("rgb",)

    def __init__(
        self,
        out_bands: int = 31,
        spectral_width: int = 64,
        spectral_layers: int = 3,
        spatial_width: int = 64,
        spatial_blocks: int = 4,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for _ in range(spectral_layers):
            layers += [nn.Conv2d(channels, spectral_width, 1), nn.ReLU(inplace=True)]
            channels = spectral_width
        layers.append(nn.Conv2d(channels, out_bands, 1))
        self.spectral = nn.Sequential(*layers)
        self.spatial = nn.Sequential(
            nn.Conv2d(out_bands, spatial_width, 3, padding=1),
            nn.ReLU(inplace=True),
            *[ResidualBlock(spatial_width) for _ in range(spatial_blocks)],
            nn.Conv2d(spatial_width, out_bands, 3, padding=1),
        )

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        first_estimate = self.spectral(rgb)
        return first_estimate + self.spatial(first_estimate)
