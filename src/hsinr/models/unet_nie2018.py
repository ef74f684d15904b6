"""The U-Net reconstruction network of Nie et al. (Table I "UNET [52]").

Reference: S. Nie, L. Gu, Y. Zheng, A. Lam, N. Ono, I. Sato, "Deeply learned filter response functions for
hyperspectral reconstruction", CVPR 2018.

The paper learns the camera's filter responses as a first 1×1 layer and reconstructs the spectra with a U-Net
(Ronneberger et al. 2015): an encoder of double 3×3 convolution blocks with 2×2 max-pooling, a bottleneck, and a
decoder that upsamples with 2×2 transposed convolutions and concatenates the encoder feature of the same scale. In our
setting the filter responses are the camera's (known), so the model starts from RGB.

Written from our reading of the paper (its text is not in this repository). Our choices: ``depth = 3`` poolings
(the input is reflection-padded to a multiple of 8 and the output cropped back), widths ``base_width·2^i`` with
``base_width = 32`` (32, 64, 128 and 256 at the bottleneck; ``base_width = 64`` gives the classic U-Net widths at
about 4× the operations), ReLU activations, no batch normalisation, and a final 1×1 convolution to ``out_bands``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._padding import crop_to, pad_to_multiple
from .registry import register


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
    )


@register("unet_nie2018")
class UNetNie2018(nn.Module):
    """U-Net RGB → HSI: ``(N, 3, H, W) → (N, out_bands, H, W)`` for any ``H, W``.

    Args:
        out_bands: output bands (default 31).
        base_width: channels of the first level; level ``i`` has ``base_width · 2^i`` (default 32).
        depth: number of 2×2 poolings (default 3).
    """

    input_keys = ("rgb",)

    def __init__(self, out_bands: int = 31, base_width: int = 32, depth: int = 3) -> None:
        super().__init__()
        self.depth = depth
        widths = [base_width * 2**level for level in range(depth + 1)]
        self.encoder = nn.ModuleList()
        channels = 3
        for width in widths[:-1]:
            self.encoder.append(_double_conv(channels, width))
            channels = width
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(widths[-2], widths[-1])
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(depth)):
            self.upsample.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.decoder.append(_double_conv(2 * widths[level], widths[level]))
        self.head = nn.Conv2d(widths[0], out_bands, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        height, width = rgb.shape[-2:]
        x = pad_to_multiple(rgb, 2**self.depth)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for upsample, block, skip in zip(self.upsample, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([upsample(x), skip], dim=1))
        return crop_to(self.head(x), height, width)
