"""Multi-scale CNN of Yan et al. (Table I "Multi-scale CNN [54]").

Reference: Y. Yan, L. Zhang, J. Li, W. Wei, Y. Zhang, "Accurate spectral super-resolution from single RGB image using
multi-scale CNN", PRCV 2018.

The paper's idea: a symmetric down-sampling / up-sampling network (in the spirit of U-Net) so that each pixel's
spectrum is inferred from both its local neighbourhood and a wide, non-local context; up-sampling by sub-pixel
convolution (pixel shuffle), and skip connections that concatenate the features of the same scale.

Written from our reading of the paper (its text is not in this repository). Our choices: ``scales = 3`` (two 2×2
max-poolings; the input is reflection-padded to a multiple of 4 and the output cropped back), widths
``width·2^i`` = 64, 128, 256, each scale a pair of 3×3 convolutions with LeakyReLU(0.2); up-sampling is a 1×1
convolution to ``4·C/2`` channels followed by ``PixelShuffle(2)``; a final 1×1 convolution maps to ``out_bands``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._padding import crop_to, pad_to_multiple
from .registry import register


def _conv_pair(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
    )


@register("mscnn_yan2018")
class MultiScaleCNN(nn.Module):
    """Multi-scale CNN RGB → HSI: ``(N, 3, H, W) → (N, out_bands, H, W)`` for any ``H, W``.

    Args:
        out_bands: output bands (default 31).
        width: channels at full resolution; scale ``i`` has ``width · 2^i`` (default 64).
        scales: number of resolutions, i.e. ``scales - 1`` poolings (default 3).
    """

    input_keys = ("rgb",)

    def __init__(self, out_bands: int = 31, width: int = 64, scales: int = 3) -> None:
        super().__init__()
        self.poolings = scales - 1
        widths = [width * 2**scale for scale in range(scales)]
        self.encoder = nn.ModuleList()
        channels = 3
        for w in widths:
            self.encoder.append(_conv_pair(channels, w))
            channels = w
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for scale in reversed(range(scales - 1)):
            self.upsample.append(nn.Sequential(nn.Conv2d(widths[scale + 1], 4 * widths[scale], 1), nn.PixelShuffle(2)))
            self.decoder.append(_conv_pair(2 * widths[scale], widths[scale]))
        self.head = nn.Conv2d(widths[0], out_bands, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        height, width = rgb.shape[-2:]
        x = pad_to_multiple(rgb, 2**self.poolings)
        skips = []
        for index, block in enumerate(self.encoder):
            if index > 0:
                x = self.pool(x)
            x = block(x)
            skips.append(x)
        skips.pop()  # the coarsest scale is the decoder's starting point, not a skip
        for upsample, block, skip in zip(self.upsample, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([upsample(x), skip], dim=1))
        return crop_to(self.head(x), height, width)
