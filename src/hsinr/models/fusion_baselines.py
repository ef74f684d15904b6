"""Baselines for LR-HSI + HR-MSI fusion: bicubic upsampling and a two-stream residual CNN (ResTFNet).

* ``"bicubic_fusion"`` — the "Bicubic" row of Table 1 of the INF³ paper: the LR-HSI upsampled bicubically
  (:func:`hsinr.spectral.degradation.upsample_bicubic`: Keys' ``a = −0.5`` as MATLAB's ``imresize``, LR pixel centres
  on the HR block centres as in eq. 2 and in the simulation); the HR-MSI is ignored. No parameters;
  ``closed_form = True`` so the trainer does not try to optimise it.
* ``"restfnet"`` — a two-stream residual fusion network after ResTFNet: X. Liu, Q. Liu, Y. Wang, *Remote sensing image
  fusion based on two-stream fusion network*, Information Fusion 55 (2020) 1–15 (reference [16] of the INF³ paper,
  which retrains it on the same simulated pairs). Our choices, since we implement it from the description only:

  - the two streams take the bicubic LR-HSI ``X^U`` and the HR-MSI ``Y``; each is a 3×3 convolution, a residual
    block and a stride-2 3×3 convolution (full- and half-resolution features);
  - fusion: concatenation of the half-resolution features, a residual block, a stride-2 convolution (quarter
    resolution) and a residual block;
  - reconstruction: two 2×2 transposed convolutions back to full resolution, each followed by concatenation with the
    matching stream features (U-Net skips), a 3×3 convolution and (at half resolution) a residual block;
    a final 3×3 convolution to ``S`` bands;
  - PReLU activations, residual blocks ``x + conv(PReLU(conv(x)))``, width ``width`` at full resolution doubling
    at each halving;
  - the output is added to ``X^U`` (a global residual, as INFN's eq. 6) — our addition, which makes short trainings
    start from the bicubic result;
  - trained like INFN (L1 loss, Adam); images whose HR size is not a multiple of 4 are padded (reflection, bottom and
    right) and cropped back.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError, DataError
from ..spectral.degradation import upsample_bicubic
from ._padding import crop_to, pad_to_multiple
from .registry import register


def check_fusion_inputs(model: nn.Module, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> None:
    """Raise :class:`DataError` unless ``hr_msi`` is ``model.scale`` × the size of ``lr_hsi`` and bands match."""
    h, w = lr_hsi.shape[-2:]
    height, width = hr_msi.shape[-2:]
    if lr_hsi.shape[1] != model.hsi_bands or hr_msi.shape[1] != model.msi_bands:
        raise DataError(
            f"expected {model.hsi_bands} HSI and {model.msi_bands} MSI bands, "
            f"got {lr_hsi.shape[1]} and {hr_msi.shape[1]}"
        )
    if (height, width) != (model.scale * h, model.scale * w):
        raise DataError(f"the HR-MSI is {height}x{width} but must be scale {model.scale} x the LR-HSI {h}x{w}")


def _check_bands(name: str, hsi_bands: int, out_bands: int | None) -> None:
    if out_bands is not None and out_bands != hsi_bands:
        raise ConfigError(f"{name}: out_bands={out_bands} must equal hsi_bands={hsi_bands}")


@register("bicubic_fusion")
class BicubicFusion(nn.Module):
    """Bicubic upsampling of the LR-HSI ``(N, S, h, w)`` to ``(N, S, scale·h, scale·w)``; no parameters.

    Args:
        scale: HR/LR size ratio the inputs must have.
        hsi_bands, msi_bands: expected band counts (checked); ``out_bands`` defaults to and must equal ``hsi_bands``.
    """

    input_keys = ("lr_hsi", "hr_msi")
    closed_form = True
    fits_data = False

    def __init__(self, scale: int = 4, hsi_bands: int = 31, msi_bands: int = 3, out_bands: int | None = None):
        super().__init__()
        _check_bands("bicubic_fusion", hsi_bands, out_bands)
        self.scale, self.hsi_bands, self.msi_bands, self.out_bands = int(scale), hsi_bands, msi_bands, hsi_bands

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        check_fusion_inputs(self, lr_hsi, hr_msi)
        return upsample_bicubic(lr_hsi, self.scale)


class ResidualBlock(nn.Module):
    """``x + conv3x3(PReLU(conv3x3(x)))`` at constant width."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels), nn.Conv2d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Stream(nn.Module):
    """One input stream: full-resolution features ``(width)`` and half-resolution features ``(2·width)``."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.full_res = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.PReLU(width), ResidualBlock(width)
        )
        self.half_res = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.PReLU(2 * width))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = self.full_res(x)
        return full, self.half_res(full)


@register("restfnet")
class ResTFNet(nn.Module):
    """Two-stream residual fusion CNN (see the module docstring): ``(N, S, h, w)``, ``(N, s, r·h, r·w)`` → HR-HSI.

    Args:
        scale: HR/LR size ratio the inputs must have.
        hsi_bands, msi_bands: band counts of the LR-HSI and HR-MSI; ``out_bands`` must equal ``hsi_bands``.
        width: channels at full resolution (doubled at each of the two halvings).
    """

    input_keys = ("lr_hsi", "hr_msi")

    def __init__(
        self, scale: int = 4, hsi_bands: int = 31, msi_bands: int = 3, out_bands: int | None = None, width: int = 32
    ):
        super().__init__()
        _check_bands("restfnet", hsi_bands, out_bands)
        self.scale, self.hsi_bands, self.msi_bands, self.out_bands = int(scale), hsi_bands, msi_bands, hsi_bands
        w = width
        self.hsi_stream = Stream(hsi_bands, w)
        self.msi_stream = Stream(msi_bands, w)
        self.fusion = nn.Sequential(
            ResidualBlock(4 * w),
            nn.Conv2d(4 * w, 4 * w, 3, stride=2, padding=1),
            nn.PReLU(4 * w),
            ResidualBlock(4 * w),
        )
        self.up_half = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.merge_half = nn.Sequential(
            nn.Conv2d(2 * w + 4 * w, 2 * w, 3, padding=1), nn.PReLU(2 * w), ResidualBlock(2 * w)
        )
        self.up_full = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.merge_full = nn.Sequential(nn.Conv2d(w + 2 * w, w, 3, padding=1), nn.PReLU(w))
        self.head = nn.Conv2d(w, hsi_bands, 3, padding=1)

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        check_fusion_inputs(self, lr_hsi, hr_msi)
        height, width = hr_msi.shape[-2:]
        upsampled = upsample_bicubic(lr_hsi, self.scale)
        hsi_full, hsi_half = self.hsi_stream(pad_to_multiple(upsampled, 4))
        msi_full, msi_half = self.msi_stream(pad_to_multiple(hr_msi, 4))
        half = torch.cat([hsi_half, msi_half], dim=1)
        x = self.merge_half(torch.cat([self.up_half(self.fusion(half)), half], dim=1))
        x = self.merge_full(torch.cat([self.up_full(x), hsi_full, msi_full], dim=1))
        return crop_to(self.head(x), height, width) + upsampled
