"""Image-quality metrics for hyperspectral reconstruction (numpy), with the contract written in ``docs/metrics.md``.

Every function takes a ground truth ``gt`` and a prediction ``pred`` of the same shape ``(H, W, C)`` (any float
dtype; computed in float64) and returns a Python float. The torch twins in :mod:`hsinr.metrics_torch` take
``(N, C, H, W)`` batches and return one value per image; both agree to 1e-6 on the same data.

Names used in tables: ``psnr`` is "PSNR-peak1" (fixed peak 1.0), ``psnr_max`` is "PSNR-max" (eq. 12 of the
INR-HSISR paper, peak = max of the ground truth).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from .errors import DataError

PSNR_CAP_DB = 100.0
"""PSNR of a band is capped here: the MSE is floored at ``peak**2 * 10**(-PSNR_CAP_DB / 10)``."""
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SAM_EPS = 1e-8
"""A ground-truth spectrum counts for SAM when its L2 norm exceeds this; a predicted one below it is 'zero'."""
MRAE_EPS = 1e-3
"""MRAE divides by ``max(gt, MRAE_EPS)``."""

METRIC_INFO: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR-peak1: mean over bands of 10*log10(1/MSE_b), dB", True),
    "psnr_max": ("PSNR-max: eq. 12, mean over bands of 10*log10(max(gt)^2/MSE_b), dB", True),
    "ssim": ("SSIM: eq. 13 per band, Gaussian 11x11 sigma 1.5, mean over bands", True),
    "sam": ("SAM: eq. 14 spectral angle in degrees, mean over non-zero pixels", False),
    "ergas": ("ERGAS: 100/ratio*sqrt(mean_b RMSE_b^2/mu_b^2)", False),
    "rmse": ("RMSE over all values, full-scale units", False),
    "mrae": ("MRAE: mean |pred-gt|/max(gt, 1e-3)", False),
    "backprojection_mrae": ("MRAE between the input RGB and the prediction re-rendered with the response", False),
}
"""Metric name -> (short description, higher is better)."""


def _pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if gt.ndim != 3 or gt.shape != pred.shape:
        raise DataError(f"metrics need two (H, W, C) arrays of one shape, got {gt.shape} and {pred.shape}")
    return gt, pred


def _band_mse(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean squared error of each band over the pixels, ``(C,)``."""
    return ((pred - gt) ** 2).mean(axis=(0, 1))


def _band_psnr_from_mse(mse: np.ndarray, peak: float) -> np.ndarray:
    floor = peak**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * np.log10(peak**2 / np.maximum(mse, floor))


def _psnr_from_mse(mse: np.ndarray, peak: float) -> float:
    return float(np.mean(_band_psnr_from_mse(mse, peak)))


def band_psnr(gt: np.ndarray, pred: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """``(C,)`` PSNR of each band in dB, ``10*log10(peak**2 / MSE_b)``, each capped at :data:`PSNR_CAP_DB`: the
    terms whose mean is :func:`psnr`."""
    if peak <= 0:
        raise DataError(f"psnr: peak must be positive, got {peak}")
    gt, pred = _pair(gt, pred)
    return _band_psnr_from_mse(_band_mse(gt, pred), float(peak))


def psnr(gt: np.ndarray, pred: np.ndarray, peak: float = 1.0) -> float:
    """PSNR-peak1 in dB: ``mean_b 10*log10(peak**2 / MSE_b)``, MSE_b over the pixels of band b.

    Each band is capped at :data:`PSNR_CAP_DB` (identical images give 100 dB).
    """
    return float(np.mean(band_psnr(gt, pred, peak)))


def psnr_max(gt: np.ndarray, pred: np.ndarray) -> float:
    """PSNR-max in dB, eq. 12 of INR-HSISR: peak = ``max(gt)`` over the whole cube, per band, mean over bands.

    Capped like :func:`psnr`. Raises :class:`DataError` when the ground truth has no positive value.
    """
    gt, pred = _pair(gt, pred)
    peak = float(gt.max())
    if peak <= 0:
        raise DataError("psnr_max: the ground truth has no positive value, so max(gt) cannot be the peak")
    return _psnr_from_mse(_band_mse(gt, pred), peak)


def _gaussian_window() -> np.ndarray:
    """Normalised 1-D Gaussian taps, length :data:`SSIM_WINDOW`, standard deviation :data:`SSIM_SIGMA` pixels."""
    offsets = np.arange(SSIM_WINDOW, dtype=np.float64) - (SSIM_WINDOW - 1) / 2
    taps = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    return taps / taps.sum()


def _filter_valid(image: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local mean of each band over the windows that fit inside the image (no padding)."""
    taps = _gaussian_window()
    half = SSIM_WINDOW // 2
    smoothed = correlate1d(correlate1d(image, taps, axis=0, mode="constant"), taps, axis=1, mode="constant")
    return smoothed[half:-half, half:-half]


def ssim(gt: np.ndarray, pred: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM, eq. 13 of INR-HSISR, per band then averaged over bands and window positions.

    Local statistics use an 11x11 Gaussian window (sigma 1.5, population covariance), only where the window fits
    (no padding); ``c1 = (0.01*data_range)**2``, ``c2 = (0.03*data_range)**2``. Matches
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
    Raises :class:`DataError` for images smaller than 11x11.
    """
    gt, pred = _pair(gt, pred)
    if min(gt.shape[:2]) < SSIM_WINDOW:
        raise DataError(f"ssim: images of {gt.shape[0]}x{gt.shape[1]} pixels are smaller than the 11x11 window")
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _filter_valid(gt), _filter_valid(pred)
    var_x = _filter_valid(gt * gt) - mu_x**2
    var_y = _filter_valid(pred * pred) - mu_y**2
    cov = _filter_valid(gt * pred) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean(axis=(0, 1)).mean())


def sam(gt: np.ndarray, pred: np.ndarray, eps: float = SAM_EPS) -> float:
    """SAM in degrees, eq. 14 of INR-HSISR: the angle between the spectra of each pixel, averaged over the pixels
    whose ground-truth spectrum has norm > ``eps``.

    A zero predicted spectrum counts as 90 degrees. The angle is computed as ``2*atan2(|a-b|, |a+b|)`` on unit
    vectors ``a, b``: equal to ``arccos`` of the cosine clipped to [-1, 1], accurate near 0 and 180 degrees.
    Raises :class:`DataError` when no ground-truth spectrum is non-zero.
    """
    gt, pred = _pair(gt, pred)
    gt_norm = np.linalg.norm(gt, axis=2, keepdims=True)
    pred_norm = np.linalg.norm(pred, axis=2, keepdims=True)
    valid = gt_norm[..., 0] > eps
    if not valid.any():
        raise DataError("sam: every ground-truth spectrum is zero; the spectral angle is undefined")
    unit_gt = gt / np.maximum(gt_norm, eps)
    unit_pred = np.where(pred_norm > eps, pred / np.maximum(pred_norm, eps), 0.0)
    angle = 2.0 * np.arctan2(np.linalg.norm(unit_gt - unit_pred, axis=2), np.linalg.norm(unit_gt + unit_pred, axis=2))
    return float(np.degrees(angle[valid]).mean())


def rmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Root mean squared error over all pixels and bands, in the data's units (full scale = 1)."""
    gt, pred = _pair(gt, pred)
    return float(np.sqrt(((pred - gt) ** 2).mean()))


def ergas(gt: np.ndarray, pred: np.ndarray, ratio: float = 1.0) -> float:
    """ERGAS: ``100 / ratio * sqrt(mean_b RMSE_b**2 / mu_b**2)``, ``mu_b`` the mean of ground-truth band b.

    ``ratio`` is the resolution ratio LR pixel size / HR pixel size (4 for x4 fusion; 1 for spectral
    super-resolution from an RGB of the same size), i.e. the usual ``100 * h/l`` factor. Lower is better; 0 when
    identical. Raises :class:`DataError` when a ground-truth band has zero mean.
    """
    if ratio <= 0:
        raise DataError(f"ergas: ratio must be positive, got {ratio}")
    gt, pred = _pair(gt, pred)
    band_mean = gt.mean(axis=(0, 1))
    if np.any(band_mean == 0):
        raise DataError(f"ergas: ground-truth band(s) {np.flatnonzero(band_mean == 0).tolist()} have zero mean")
    return float(100.0 / ratio * np.sqrt(np.mean(_band_mse(gt, pred) / band_mean**2)))


def mrae(gt: np.ndarray, pred: np.ndarray, eps: float = MRAE_EPS) -> float:
    """Mean relative absolute error: ``mean |pred - gt| / max(gt, eps)`` over all pixels and bands.

    The floor ``eps`` (default 1e-3 of full scale) keeps dark values from dominating; ground truth is assumed
    non-negative.
    """
    gt, pred = _pair(gt, pred)
    return float((np.abs(pred - gt) / np.maximum(gt, eps)).mean())


def backprojection_mrae(rgb: np.ndarray, pred: np.ndarray, srf, eps: float = MRAE_EPS) -> float:
    """MRAE between the input ``rgb`` ``(H, W, 3)`` and the prediction ``(H, W, C)`` re-rendered linearly with the
    ``(3, C)`` response (eq. 4, ``pred @ srf.T``): how consistent the reconstruction is with what the camera saw.
    ``srf`` is a ``(3, C)`` array or a :class:`hsinr.spectral.CameraResponse`."""
    matrix = np.asarray(getattr(srf, "srf", srf), dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or matrix.shape != (3, pred.shape[2]):
        raise DataError(f"backprojection_mrae: response {matrix.shape} does not fit a prediction {pred.shape}")
    return mrae(rgb, pred @ matrix.T, eps)


def evaluate_all(
    gt: np.ndarray,
    pred: np.ndarray,
    *,
    rgb: np.ndarray | None = None,
    srf: np.ndarray | None = None,
    ratio: float = 1.0,
) -> dict[str, float]:
    """Every metric of one ``(H, W, C)`` pair: keys psnr, psnr_max, ssim, sam, ergas, rmse, mrae, plus
    backprojection_mrae when both ``rgb`` and ``srf`` are given. See :data:`METRIC_INFO` for names and directions."""
    results = {
        "psnr": psnr(gt, pred),
        "psnr_max": psnr_max(gt, pred),
        "ssim": ssim(gt, pred),
        "sam": sam(gt, pred),
        "ergas": ergas(gt, pred, ratio),
        "rmse": rmse(gt, pred),
        "mrae": mrae(gt, pred),
    }
    if rgb is not None and srf is not None:
        results["backprojection_mrae"] = backprojection_mrae(rgb, pred, srf)
    return results
