"""Torch twins of :mod:`hsinr.metrics` for batches: ``(N, C, H, W)`` in, one value per image ``(N,)`` out.

Same formulas, constants and edge-case policy as the numpy versions (see ``docs/metrics.md``); computed in the
input's floating dtype (float16/bfloat16 are promoted to float32), on the input's device, and differentiable
(PSNR through the cap is flat; SAM is written as ``2*atan2(|a-b|, |a+b|)`` so identical spectra have a finite
gradient). With float64 inputs the results agree with :mod:`hsinr.metrics` to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DataError
from .metrics import MRAE_EPS, PSNR_CAP_DB, SAM_EPS, SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW
from .spectral.render import render_rgb_torch
from .spectral.responses import CameraResponse


def _pair(gt: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if gt.ndim != 4 or gt.shape != pred.shape:
        raise DataError(
            f"metrics need two (N, C, H, W) tensors of one shape, got {tuple(gt.shape)} and {tuple(pred.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(gt.dtype, pred.dtype), torch.float32)
    return gt.to(dtype), pred.to(dtype)


def _band_mse(gt: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """``(N, C)``: mean squared error of each band over its pixels."""
    return ((pred - gt) ** 2).mean(dim=(2, 3))


def _psnr_from_mse(mse: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """``mse`` (N, C), ``peak`` (N, 1) -> (N,) mean over bands of the capped per-band PSNR in dB."""
    floor = peak**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return (10.0 * torch.log10(peak**2 / torch.maximum(mse, floor))).mean(dim=1)


def psnr(gt: torch.Tensor, pred: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """PSNR-peak1 per image in dB (see :func:`hsinr.metrics.psnr`)."""
    if peak <= 0:
        raise DataError(f"psnr: peak must be positive, got {peak}")
    gt, pred = _pair(gt, pred)
    peak_tensor = torch.full((gt.shape[0], 1), float(peak), dtype=gt.dtype, device=gt.device)
    return _psnr_from_mse(_band_mse(gt, pred), peak_tensor)


def psnr_max(gt: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """PSNR-max per image in dB, eq. 12: peak = max of that image's ground truth
    (see :func:`hsinr.metrics.psnr_max`)."""
    gt, pred = _pair(gt, pred)
    peak = gt.detach().amax(dim=(1, 2, 3)).unsqueeze(1)
    if bool((peak <= 0).any()):
        raise DataError("psnr_max: a ground-truth image has no positive value, so max(gt) cannot be the peak")
    return _psnr_from_mse(_band_mse(gt, pred), peak)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=torch.float64) - (SSIM_WINDOW - 1) / 2
    taps = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    return (taps / taps.sum()).to(dtype=dtype, device=device)


def _filter_valid(image: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian local mean of each band, only where the 11x11 window fits (no padding)."""
    channels = image.shape[1]
    vertical = taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    horizontal = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    return F.conv2d(F.conv2d(image, vertical, groups=channels), horizontal, groups=channels)


def ssim(gt: torch.Tensor, pred: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM per image, eq. 13 per band, averaged over bands and window positions (see :func:`hsinr.metrics.ssim`)."""
    gt, pred = _pair(gt, pred)
    if min(gt.shape[2:]) < SSIM_WINDOW:
        raise DataError(f"ssim: images of {gt.shape[2]}x{gt.shape[3]} pixels are smaller than the 11x11 window")
    taps = _gaussian_window(gt.dtype, gt.device)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _filter_valid(gt, taps), _filter_valid(pred, taps)
    var_x = _filter_valid(gt * gt, taps) - mu_x**2
    var_y = _filter_valid(pred * pred, taps) - mu_y**2
    cov = _filter_valid(gt * pred, taps) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3))


def sam(gt: torch.Tensor, pred: torch.Tensor, eps: float = SAM_EPS) -> torch.Tensor:
    """SAM per image in degrees, eq. 14, over pixels with a non-zero ground-truth spectrum
    (see :func:`hsinr.metrics.sam`)."""
    gt, pred = _pair(gt, pred)
    gt_norm = torch.linalg.vector_norm(gt, dim=1, keepdim=True)
    pred_norm = torch.linalg.vector_norm(pred, dim=1, keepdim=True)
    valid = (gt_norm[:, 0] > eps).to(gt.dtype)
    counts = valid.sum(dim=(1, 2))
    if bool((counts == 0).any()):
        raise DataError("sam: a ground-truth image has only zero spectra; the spectral angle is undefined")
    unit_gt = gt / gt_norm.clamp_min(eps)
    unit_pred = pred / pred_norm.clamp_min(eps) * (pred_norm > eps).to(pred.dtype)
    angle = 2.0 * torch.atan2(
        torch.linalg.vector_norm(unit_gt - unit_pred, dim=1), torch.linalg.vector_norm(unit_gt + unit_pred, dim=1)
    )
    return (angle * valid).sum(dim=(1, 2)) / counts * (180.0 / math.pi)


def rmse(gt: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """RMSE per image over all pixels and bands (see :func:`hsinr.metrics.rmse`)."""
    gt, pred = _pair(gt, pred)
    return torch.sqrt(((pred - gt) ** 2).mean(dim=(1, 2, 3)))


def ergas(gt: torch.Tensor, pred: torch.Tensor, ratio: float = 1.0) -> torch.Tensor:
    """ERGAS per image, ``100/ratio * sqrt(mean_b RMSE_b**2 / mu_b**2)`` (see :func:`hsinr.metrics.ergas`)."""
    if ratio <= 0:
        raise DataError(f"ergas: ratio must be positive, got {ratio}")
    gt, pred = _pair(gt, pred)
    band_mean = gt.mean(dim=(2, 3))
    if bool((band_mean == 0).any()):
        raise DataError("ergas: a ground-truth band has zero mean")
    return 100.0 / ratio * torch.sqrt((_band_mse(gt, pred) / band_mean**2).mean(dim=1))


def mrae(gt: torch.Tensor, pred: torch.Tensor, eps: float = MRAE_EPS) -> torch.Tensor:
    """MRAE per image, ``mean |pred - gt| / max(gt, eps)`` (see :func:`hsinr.metrics.mrae`)."""
    gt, pred = _pair(gt, pred)
    return ((pred - gt).abs() / gt.clamp_min(eps)).mean(dim=(1, 2, 3))


def backprojection_mrae(
    rgb: torch.Tensor, pred: torch.Tensor, srf: torch.Tensor | np.ndarray | CameraResponse, eps: float = MRAE_EPS
) -> torch.Tensor:
    """MRAE per image between ``rgb`` (N, 3, H, W) and ``pred`` (N, C, H, W) rendered with the (3, C) ``srf``."""
    return mrae(rgb, render_rgb_torch(pred, srf), eps)
