"""The two discriminators of INSS's adversarial term (Liu, Zou, Shi, Sec. III-D, eq. 16–17).

Used by the INSS objective (:class:`hsinr.tasks.synthesis.INSSLoss`), never by inference: a conditional spatial
discriminator on ``[rgb, cube]`` and a spectral discriminator on single pixel spectra. Not registered as models (they
are parts of a training objective); their weights live in the training checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn as nn

LEAKY_SLOPE = 0.2


class SpatialDiscriminator(nn.Module):
    """Conditional patch discriminator on ``[rgb, cube]`` ``(N, 3 + C, H, W)`` → logits ``(N, 1, H/4, W/4)``.

    Three 4×4/3×3 convolutions (two of stride 2) with Leaky-ReLU; each logit judges a ~10×10-pixel neighbourhood.
    """

    def __init__(self, bands: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3 + bands, width, 4, 2, 1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(2 * width, 1, 3, 1, 1),
        )

    def forward(self, rgb: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([rgb, cube], dim=1))


class SpectralDiscriminator(nn.Module):
    """Discriminator of single spectra: ``(P, C)`` → logits ``(P,)``.

    1-D convolutions along the band axis (kernels 7 and 5, stride 2) with Leaky-ReLU, global average over bands and a
    linear layer: it judges the shape of a spectrum independently of where the pixel lies.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, width, 7, 2, 3),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv1d(width, 2 * width, 5, 2, 2),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        self.out = nn.Linear(2 * width, 1)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(spectra[:, None]).mean(dim=2)).squeeze(1)
