"""Training-free (classical) fusion of an LR-HSI and an HR-MSI, fitted to each image pair: the baselines a reviewer
asks for, and the prior under INF³'s residual (``inf3`` with ``prior: regression``).

Inputs as every fusion model: LR-HSI ``(N, C, h, w)`` and HR-MSI ``(N, M, r·h, r·w)``, linear values; output the
HR-HSI ``(N, C, r·h, r·w)``. Each method needs the spatial degradation between the two grids; it is the protocol's
(:func:`hsinr.spectral.degradation.blur_downsample`, Gaussian PSF of ``blur_sigma`` HR pixels on the block centre),
given as arguments. None needs the spectral response: where one is needed it is estimated from the pair (the
degraded MSI regressed on the LR-HSI). All three fit each image on its own (``tileable = False``: tiled inference
runs them in one whole-image pass) and have no trained parameters (``closed_form = True``, ``fits_data = False``).

* ``"regression_fusion"`` (:func:`regression_fusion`) — a root-polynomial map (Finlayson, Mackiewicz, Hurlbert,
  *Color correction using root-polynomial regression*, IEEE TIP 24(5), 2015) fitted by ridge least squares on the LR
  grid from the degraded MSI to the LR-HSI, applied to the HR-MSI, plus the bicubically upsampled LR residual (what
  the map cannot explain, e.g. metamers). With the protocol's exact simulation the degraded MSI is exactly the LR-HSI
  rendered with the response, so the map is fitted on the very relation it is applied to.
* ``"gsa_fusion"`` (:func:`gsa_fusion`) — Gram-Schmidt adaptive component substitution: B. Aiazzi, S. Baronti,
  M. Selva, *Improving component substitution pansharpening through multivariate regression of MS+Pan data*, IEEE
  TGRS 45(10), 2007, applied band group by band group as in N. Yokoya, C. Grohnfeldt, J. Chanussot, *Hyperspectral
  and multispectral data fusion: a comparative review of the recent literature*, IEEE GRSM 5(2), 2017: each HSI band
  is sharpened with the MSI band it correlates with best on the LR grid.
* ``"cnmf_fusion"`` (:func:`cnmf_fusion`) — coupled non-negative matrix factorisation: N. Yokoya, T. Yairi,
  A. Iwasaki, *Coupled nonnegative matrix factorization unmixing for hyperspectral and multispectral data fusion*,
  IEEE TGRS 50(2), 2012: endmembers from the LR-HSI, high-resolution abundances from the HR-MSI, alternately.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..spectral.degradation import BLUR_SIGMA, BLUR_SIZE, blur_downsample, upsample_bicubic
from ..spectral.library import successive_projection
from .fusion_baselines import check_fusion_inputs
from .registry import register

# ------------------------------------------------------------------------------------------- regression fusion


def root_polynomial_terms(bands: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent vectors of the root-polynomial terms of ``bands`` channels up to ``degree``: every monomial of degree
    ``k ≤ degree`` taken to the power ``1/k``, without repeats (``(x²)^{1/2} = x``). RGB: 3 terms at degree 1, 6 at
    degree 2, 13 at degree 3 (Finlayson et al. 2015)."""
    if degree < 1:
        raise ConfigError(f"root-polynomial degree must be at least 1, got {degree}")
    terms = []
    for k in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(bands), k):
            exponents = tuple(combo.count(b) for b in range(bands))
            if math.gcd(*[e for e in exponents if e]) == 1:  # (x y)^2 would repeat x y
                terms.append(exponents)
    return terms


def root_polynomial_features(image: torch.Tensor, degree: int) -> torch.Tensor:
    """Root-polynomial features ``(N, T, H, W)`` of a non-negative ``(N, M, H, W)`` image (negatives clipped to 0)."""
    x = image.clamp_min(0.0)
    features = []
    for exponents in root_polynomial_terms(x.shape[1], degree):
        k = sum(exponents)
        term = torch.ones_like(x[:, 0])
        for band, e in enumerate(exponents):
            if e:
                term = term * x[:, band] ** e
        features.append(term if k == 1 else (term + 1e-12) ** (1.0 / k))
    return torch.stack(features, dim=1)


def regression_fusion(
    lr_hsi: torch.Tensor,
    hr_msi: torch.Tensor,
    scale: int,
    degree: int = 2,
    ridge: float = 1e-6,
    blur_sigma: float = BLUR_SIGMA,
    blur_kernel: int = BLUR_SIZE,
) -> torch.Tensor:
    """Root-polynomial regression fusion (module docstring), batched: ``(N, C, h, w)``, ``(N, M, H, W)`` → HR-HSI.

    ``A = argmin ‖φ(D Y) A − X‖² + λ ‖A‖²`` per image (``φ`` the root-polynomial features, ``D`` the protocol's
    blur and decimation, ``λ = ridge × mean diag(φᵀφ)``); the result is ``φ(Y) A + U(X − φ(D Y) A)`` with ``U`` the
    bicubic upsampling. Computed in float64, returned in the input's dtype.
    """
    dtype = lr_hsi.dtype
    lr, msi = lr_hsi.double(), hr_msi.double()
    features_lr = root_polynomial_features(blur_downsample(msi, scale, blur_sigma, blur_kernel), degree)
    features_hr = root_polynomial_features(msi, degree)
    n, terms = features_lr.shape[:2]
    design = features_lr.reshape(n, terms, -1)  # (N, T, P)
    target = lr.reshape(n, lr.shape[1], -1)  # (N, C, P)
    gram = design @ design.transpose(1, 2)
    penalty = ridge * gram.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-12)
    gram = gram + penalty[:, None, None] * torch.eye(terms, dtype=gram.dtype, device=gram.device)
    coefficients = torch.linalg.solve(gram, design @ target.transpose(1, 2))  # (N, T, C)
    mapped_hr = torch.einsum("nthw,ntc->nchw", features_hr, coefficients)
    residual = lr - torch.einsum("nthw,ntc->nchw", features_lr, coefficients)
    return (mapped_hr + upsample_bicubic(residual, scale)).to(dtype)


def check_window(scale: int, window: int, stride: int) -> None:
    """ConfigError unless ``window`` and ``stride`` are positive multiples of ``scale`` with ``stride ≤ window``."""
    if window <= 0 or not 0 < stride <= window or window % scale or stride % scale:
        raise ConfigError(
            f"regression window {window} and stride {stride} must be multiples of the scale {scale}, "
            "with 0 < stride <= window"
        )


def _window_starts(size: int, window: int, stride: int) -> list[int]:
    """Start offsets of windows of ``window`` pixels every ``stride`` that cover ``0..size`` (the last flush right)."""
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    return starts if starts[-1] == size - window else [*starts, size - window]


def local_regression_fusion(
    lr_hsi: torch.Tensor,
    hr_msi: torch.Tensor,
    scale: int,
    window: int,
    stride: int,
    degree: int = 2,
    ridge: float = 1e-6,
    blur_sigma: float = BLUR_SIGMA,
    blur_kernel: int = BLUR_SIZE,
) -> torch.Tensor:
    """:func:`regression_fusion` fitted in overlapping square windows of ``window`` HR pixels every ``stride``,
    blended: ``Σ_k t_k · F_k / Σ_k t_k`` with ``F_k`` the fusion of window ``k`` (its own map, fitted on its own
    ``window / scale`` LR pixels) and ``t_k`` a separable triangle peaking at the window's centre (a partition of
    unity after the division). A map per neighbourhood follows the materials of that neighbourhood; on CAVE ×4 the
    64-px windows every 16 px gain about 1 dB over one map per image (``docs/fusion.md``). ``window`` and ``stride``
    are multiples of ``scale``; an image no larger than the window is one window, i.e. exactly
    :func:`regression_fusion`.
    """
    check_window(scale, window, stride)
    height, width = hr_msi.shape[-2:]
    if height <= window and width <= window:
        return regression_fusion(lr_hsi, hr_msi, scale, degree, ridge, blur_sigma, blur_kernel)
    win_h, win_w = min(window, height), min(window, width)

    def ramp(size: int) -> torch.Tensor:  # triangle over pixel centres, > 0 at the edges
        return 1.0 - (2.0 * (torch.arange(size, dtype=torch.float64) + 0.5) / size - 1.0).abs() + 1e-3

    taper = (ramp(win_h)[:, None] * ramp(win_w)[None, :]).to(hr_msi.device)
    total = torch.zeros(lr_hsi.shape[0], lr_hsi.shape[1], height, width, dtype=torch.float64, device=hr_msi.device)
    weight = torch.zeros(height, width, dtype=torch.float64, device=hr_msi.device)
    for top in _window_starts(height, win_h, stride):
        for left in _window_starts(width, win_w, stride):
            fused = regression_fusion(
                lr_hsi[..., top // scale : (top + win_h) // scale, left // scale : (left + win_w) // scale],
                hr_msi[..., top : top + win_h, left : left + win_w],
                scale,
                degree,
                ridge,
                blur_sigma,
                blur_kernel,
            )
            total[..., top : top + win_h, left : left + win_w] += fused.double() * taper
            weight[top : top + win_h, left : left + win_w] += taper
    return (total / weight).to(lr_hsi.dtype)


# ------------------------------------------------------------------------------------------------------------ GSA


def gsa_fusion(
    lr_hsi: np.ndarray, hr_msi: np.ndarray, scale: int, blur_sigma: float = BLUR_SIGMA, blur_kernel: int = BLUR_SIZE
) -> np.ndarray:
    """GSA (Aiazzi et al. 2007) for one pair, numpy float64: ``(h, w, C)``, ``(H, W, M)`` → ``(H, W, C)``.

    For each MSI band ``m`` (the "pan" ``P``): the intensity ``I = Σ_k w_k X^U_k + b`` with ``(w, b)`` the least-squares
    regression of the degraded pan ``D P`` on the LR-HSI bands (the paper's multivariate regression, which matches
    ``I`` to ``P`` radiometrically); each HSI band ``k`` assigned to ``m`` (the MSI band it correlates with best on the
    LR grid) becomes ``X^U_k + g_k (P − I)`` with the injection gain ``g_k = cov(X^U_k, I) / var(I)``.
    """
    upsampled = _upsample_np(lr_hsi, scale)
    lr_msi = blur_downsample(hr_msi, scale, blur_sigma, blur_kernel).astype(np.float64)
    bands = lr_hsi.shape[2]
    lr_flat = lr_hsi.reshape(-1, bands).astype(np.float64)
    design = np.concatenate([lr_flat, np.ones((lr_flat.shape[0], 1))], axis=1)
    assignment = np.argmax(_correlation(lr_flat, lr_msi.reshape(-1, lr_msi.shape[2])), axis=1)
    fused = upsampled.copy()
    up_flat = upsampled.reshape(-1, bands)
    for m in np.unique(assignment):
        weights, *_ = np.linalg.lstsq(design, lr_msi[..., m].reshape(-1), rcond=None)
        intensity = up_flat @ weights[:-1] + weights[-1]
        detail = hr_msi[..., m].reshape(-1).astype(np.float64) - intensity
        variance = max(float(np.var(intensity)), 1e-20)
        for k in np.flatnonzero(assignment == m):
            gain = float(np.mean((up_flat[:, k] - up_flat[:, k].mean()) * (intensity - intensity.mean()))) / variance
            fused[..., k] += gain * detail.reshape(fused.shape[:2])
    return fused


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation ``(Ka, Kb)`` between the columns of ``a (P, Ka)`` and ``b (P, Kb)``."""
    a = (a - a.mean(axis=0)) / np.maximum(a.std(axis=0), 1e-12)
    b = (b - b.mean(axis=0)) / np.maximum(b.std(axis=0), 1e-12)
    return a.T @ b / a.shape[0]


def _upsample_np(image: np.ndarray, scale: int) -> np.ndarray:
    """:func:`upsample_bicubic` of an ``(h, w, C)`` numpy image, float64 ``(r·h, r·w, C)``."""
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float64))[None]
    return upsample_bicubic(tensor, scale)[0].permute(1, 2, 0).numpy()


# ----------------------------------------------------------------------------------------------------------- CNMF


def _nmf_update(data, endmembers, abundances, iterations, update_endmembers, update_abundances, delta):
    """Lee-Seung multiplicative updates of ``data (B, P) ≈ endmembers (B, K) @ abundances (K, P)`` with the
    sum-to-one constraint of CNMF (a row ``delta · 1`` appended to data and endmembers)."""
    eps = 1e-12
    data_aug = np.vstack([data, np.full((1, data.shape[1]), delta)])
    for _ in range(iterations):
        w = np.vstack([endmembers, np.full((1, endmembers.shape[1]), delta)])
        if update_abundances:
            abundances *= (w.T @ data_aug) / (w.T @ (w @ abundances) + eps)
        if update_endmembers:
            endmembers *= (data @ abundances.T) / (endmembers @ (abundances @ abundances.T) + eps)
    return endmembers, abundances


def cnmf_fusion(
    lr_hsi: np.ndarray,
    hr_msi: np.ndarray,
    scale: int,
    endmembers: int = 20,
    outer_iterations: int = 3,
    inner_iterations: int = 100,
    blur_sigma: float = BLUR_SIGMA,
    blur_kernel: int = BLUR_SIZE,
    delta: float = 0.01,
) -> np.ndarray:
    """CNMF (Yokoya et al. 2012) for one pair, numpy float64: ``(h, w, C)``, ``(H, W, M)`` → ``(H, W, C)``.

    1. The response ``R`` ``(M, C)``: non-negative least squares fit of the degraded MSI on the LR-HSI.
    2. HS unmixing: endmembers ``W_h`` initialised by :func:`~hsinr.spectral.library.successive_projection`,
       abundances ``H_h`` and then both updated by NMF on the LR-HSI.
    3. Alternately (``outer_iterations`` times): MS unmixing — ``W_m = R W_h`` fixed, HR abundances ``H_m``
       (initialised by upsampling ``H_h``) updated on the HR-MSI; HS unmixing — ``H_h = D H_m`` (the protocol's
       degradation) fixed, ``W_h`` updated on the LR-HSI.
    4. The result ``W_h H_m``.
    """
    h, w, bands = lr_hsi.shape
    height, width, msi_bands = hr_msi.shape
    x = np.clip(lr_hsi.reshape(-1, bands).T.astype(np.float64), 0, None)  # (C, p)
    y = np.clip(hr_msi.reshape(-1, msi_bands).T.astype(np.float64), 0, None)  # (M, P)
    lr_msi = blur_downsample(hr_msi, scale, blur_sigma, blur_kernel).reshape(-1, msi_bands).astype(np.float64)
    response = np.clip(np.linalg.lstsq(x.T, lr_msi, rcond=None)[0].T, 0, None)  # (M, C)
    count = int(min(endmembers, bands, x.shape[1]))
    w_h = x[:, successive_projection(x.T, count)] + 1e-6
    h_h = np.full((count, x.shape[1]), 1.0 / count)
    w_h, h_h = _nmf_update(x, w_h, h_h, inner_iterations, False, True, delta)
    w_h, h_h = _nmf_update(x, w_h, h_h, inner_iterations, True, True, delta)
    h_m = np.clip(_upsample_np(h_h.T.reshape(h, w, count), scale), 1e-6, None).reshape(-1, count).T
    for _ in range(outer_iterations):
        w_m = response @ w_h
        _, h_m = _nmf_update(y, w_m, h_m, inner_iterations, False, True, delta)
        h_h = np.clip(blur_downsample(h_m.T.reshape(height, width, count), scale, blur_sigma, blur_kernel), 1e-9, None)
        h_h = h_h.reshape(-1, count).T.astype(np.float64)
        w_h, _ = _nmf_update(x, w_h, h_h, inner_iterations, True, False, delta)
    return (w_h @ h_m).T.reshape(height, width, bands)


# --------------------------------------------------------------------------------------------- registered models


class _ClassicalFusion(nn.Module):
    """Common shape of the classical fusions: no parameters, fitted per image, checked inputs."""

    input_keys = ("lr_hsi", "hr_msi")
    closed_form = True
    fits_data = False
    tileable = False

    def __init__(
        self,
        name: str,
        scale: int,
        hsi_bands: int,
        msi_bands: int,
        out_bands: int | None,
        blur_sigma: float,
        blur_kernel: int,
    ):
        super().__init__()
        if out_bands is not None and out_bands != hsi_bands:
            raise ConfigError(f"{name}: out_bands={out_bands} must equal hsi_bands={hsi_bands}")
        if int(scale) < 1 or blur_sigma <= 0 or blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ConfigError(f"{name}: scale must be positive, blur_sigma > 0 and blur_kernel odd")
        self.scale, self.hsi_bands, self.msi_bands, self.out_bands = int(scale), hsi_bands, msi_bands, hsi_bands
        self.blur_sigma, self.blur_kernel = float(blur_sigma), int(blur_kernel)

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        check_fusion_inputs(self, lr_hsi, hr_msi)
        outputs = []
        for lr, msi in zip(lr_hsi, hr_msi, strict=True):
            fused = self.fuse_one(
                lr.permute(1, 2, 0).detach().cpu().double().numpy(),
                msi.permute(1, 2, 0).detach().cpu().double().numpy(),
            )
            outputs.append(torch.from_numpy(np.ascontiguousarray(fused.transpose(2, 0, 1))))
        return torch.stack(outputs).to(device=lr_hsi.device, dtype=lr_hsi.dtype)

    def fuse_one(self, lr: np.ndarray, msi: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@register("regression_fusion")
class RegressionFusion(_ClassicalFusion):
    """Root-polynomial regression fusion (:func:`regression_fusion`).

    Args:
        scale, hsi_bands, msi_bands, out_bands: as every fusion model.
        degree: root-polynomial degree (1 = linear map; 2: 6 terms for RGB; 3: 13 terms).
        ridge: relative ridge weight of the least-squares fit.
        window, stride: ``None`` (default) fits one map per image; a window side in HR pixels (and a stride, default
            ``window // 4``) fits one per overlapping window and blends them (:func:`local_regression_fusion`).
        blur_sigma, blur_kernel: the protocol's degradation between the grids.
    """

    def __init__(
        self,
        scale: int = 4,
        hsi_bands: int = 31,
        msi_bands: int = 3,
        out_bands: int | None = None,
        degree: int = 2,
        ridge: float = 1e-6,
        window: int | None = None,
        stride: int | None = None,
        blur_sigma: float = BLUR_SIGMA,
        blur_kernel: int = BLUR_SIZE,
    ):
        super().__init__("regression_fusion", scale, hsi_bands, msi_bands, out_bands, blur_sigma, blur_kernel)
        root_polynomial_terms(msi_bands, degree)  # validates the degree
        self.degree, self.ridge = int(degree), float(ridge)
        self.window = int(window) if window else None
        self.stride = int(stride) if stride is not None else (self.window // 4 if self.window else None)
        if self.window is not None and self.stride is not None:
            check_window(scale, self.window, self.stride)

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        check_fusion_inputs(self, lr_hsi, hr_msi)
        if self.window is not None and self.stride is not None:
            return local_regression_fusion(
                lr_hsi,
                hr_msi,
                self.scale,
                self.window,
                self.stride,
                self.degree,
                self.ridge,
                self.blur_sigma,
                self.blur_kernel,
            )
        return regression_fusion(lr_hsi, hr_msi, self.scale, self.degree, self.ridge, self.blur_sigma, self.blur_kernel)


@register("gsa_fusion")
class GSAFusion(_ClassicalFusion):
    """GSA component substitution (:func:`gsa_fusion`); arguments as :class:`RegressionFusion` without the map."""

    def __init__(
        self,
        scale: int = 4,
        hsi_bands: int = 31,
        msi_bands: int = 3,
        out_bands: int | None = None,
        blur_sigma: float = BLUR_SIGMA,
        blur_kernel: int = BLUR_SIZE,
    ):
        super().__init__("gsa_fusion", scale, hsi_bands, msi_bands, out_bands, blur_sigma, blur_kernel)

    def fuse_one(self, lr: np.ndarray, msi: np.ndarray) -> np.ndarray:
        return gsa_fusion(lr, msi, self.scale, self.blur_sigma, self.blur_kernel)


@register("cnmf_fusion")
class CNMFFusion(_ClassicalFusion):
    """CNMF (:func:`cnmf_fusion`).

    Args:
        endmembers: number of endmembers (at most the band count).
        outer_iterations, inner_iterations: alternations between the two unmixings, NMF updates per unmixing.
        Other arguments as :class:`RegressionFusion`.
    """

    def __init__(
        self,
        scale: int = 4,
        hsi_bands: int = 31,
        msi_bands: int = 3,
        out_bands: int | None = None,
        endmembers: int = 20,
        outer_iterations: int = 3,
        inner_iterations: int = 100,
        blur_sigma: float = BLUR_SIGMA,
        blur_kernel: int = BLUR_SIZE,
    ):
        super().__init__("cnmf_fusion", scale, hsi_bands, msi_bands, out_bands, blur_sigma, blur_kernel)
        if min(endmembers, outer_iterations, inner_iterations) < 1:
            raise ConfigError("cnmf_fusion: endmembers and iteration counts must be positive")
        self.endmembers, self.outer, self.inner = int(endmembers), int(outer_iterations), int(inner_iterations)

    def fuse_one(self, lr: np.ndarray, msi: np.ndarray) -> np.ndarray:
        return cnmf_fusion(
            lr, msi, self.scale, self.endmembers, self.outer, self.inner, self.blur_sigma, self.blur_kernel
        )
