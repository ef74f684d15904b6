"""HSCNN-R: residual CNN for spectral recovery from RGB (Table I "HSCNN-R [53]").

Reference: Z. Shi, C. Chen, Z. Xiong, D. Liu, F. Wu, "HSCNN+: Advanced CNN-based hyperspectral recovery from RGB
images", CVPR Workshops (NTIRE) 2018 — the residual variant "HSCNN-R".

Structure: a 3×3 convolution extracts ``width`` features from RGB; ``blocks`` residual blocks follow (3×3 conv →
ReLU → 3×3 conv, plus identity, no batch normalisation); a 3×3 convolution closes the body and a *global residual*
adds the first features back (``F = F₀ + body(F₀)``); a final 3×3 convolution maps to ``out_bands``. HSCNN+ takes RGB
directly (its predecessor HSCNN first upsampled RGB spectrally); the global residual therefore lives in feature space,
where input and output have the same number of channels.

Written from our reading of the paper (its text is not in this repository). Our choices, following the usual HSCNN-R
configuration: ``width = 64``, ``blocks = 16``, ReLU. No down-sampling, so any ``H × W`` works directly.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._blocks import ResidualBlock
from .registry import register


@register("hscnn_r")
class HSCNNR(nn.Module):
    """HSCNN-R: ``(N, 3, H, W) → (N, out_bands, H, W)``.

    Args:
        out_bands: output bands (default 31).
        width: feature channels (default 64).
        blocks: residual blocks (default 16).
    """

    input_keys = ("rgb",)

    def __init__(self, out_bands: int = 31, width: int = 64, blocks: int = 16) -> None:
        super().__init__()
        self.extract = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)], nn.Conv2d(width, width, 3, padding=1))
        self.reconstruct = nn.Conv2d(width, out_bands, 3, padding=1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        features = self.extract(rgb)
        return self.reconstruct(features + self.body(features))
