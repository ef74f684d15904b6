"""Training-free regressions from RGB to spectra: linear and root-polynomial least squares.

References: Y.-T. Lin, G. D. Finlayson, "Exposure invariance in spectral reconstruction from RGB images", Color and
Imaging Conference 2019 (and "On the optimization of regression-based spectral reconstruction", Sensors 2021);
root-polynomial terms from G. D. Finlayson, M. Mackiewicz, A. Hurlbert, "Color correction using root-polynomial
regression", IEEE TIP 24 (2015).

Each pixel is mapped on its own: ``y = φ(x) W`` with ``x = (r, g, b)``, ``φ`` a fixed expansion into ``T`` terms and
``W`` a ``T × C`` matrix fitted by ridge-regularised least squares,

    W = (XᵀX / P + ridge · I)⁻¹ (XᵀY / P),

where ``X`` is ``P × T`` (expanded RGB of ``P`` training pixels) and ``Y`` is ``P × C`` (their spectra). The normal
equations are accumulated in float64 and divided by ``P``, so ``ridge`` is in units of squared input values and does
not depend on how many pixels were used (``ridge = 0`` gives the plain, minimum-norm least-squares solution).

Expansions:

- ``linear_ls``: ``φ(x) = (r, g, b)``, or ``(r, g, b, 1)`` with ``bias=True``; ``T = 3`` or 4.
- ``root_polynomial_ls``: the ``degree``-th roots of all monomials of degree ``1..degree`` that are not powers of a
  single channel: degree 2 is ``(r, g, b, √(rg), √(gb), √(rb))`` (``T = 6``); degree 3 adds
  ``∛(r g²), ∛(r² g), ∛(g b²), ∛(g² b), ∛(r b²), ∛(r² b), ∛(rgb)`` (``T = 13``). Every term is homogeneous of degree
  1, so scaling the input by ``k ≥ 0`` scales the output by ``k`` (exposure invariance); there is no bias term for the
  same reason. Products are clamped at 0 before taking roots (negative RGB values, from noise, give 0 there).

These models have no trainable parameters: the matrix is a buffer, stored in checkpoints like any other state.
``closed_form = True`` tells the trainer to call :func:`fit_from_pairs` instead of running gradient descent.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations_with_replacement

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError, DataError
from .registry import register


class LeastSquaresMap(nn.Module):
    """Base class: a per-pixel map ``(N, 3, H, W) → (N, out_bands, H, W)``, ``y = φ(rgb) W``, fitted in closed form.

    Subclasses define :meth:`expand`. The matrix ``W`` (``terms × out_bands``, float64 buffer ``matrix``) starts at
    zero and ``fitted`` is ``False`` until :meth:`fit` or :func:`fit_from_pairs` ran; calling an unfitted model raises
    :class:`~hsinr.errors.ConfigError`.
    """

    input_keys = ("rgb",)
    closed_form = True

    matrix: torch.Tensor  # (terms, out_bands) float64
    fitted: torch.Tensor  # bool

    def __init__(self, out_bands: int, terms: int) -> None:
        super().__init__()
        if out_bands < 1:
            raise ConfigError(f"out_bands must be positive, got {out_bands}")
        self.out_bands = out_bands
        self.terms = terms
        self.register_buffer("matrix", torch.zeros(terms, out_bands, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    def expand(self, rgb: torch.Tensor) -> torch.Tensor:
        """Expansion ``φ``: ``(..., 3) → (..., terms)``, same dtype."""
        raise NotImplementedError

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise ConfigError(f"{type(self).__name__} has not been fitted: call fit() or fit_from_pairs() first")
        # float32 at least (float64 inputs stay float64): the map is fitted in float64, but applying it in float32
        # changes outputs by ~1e-6 and is ~5x faster than float64 on a CPU
        dtype = torch.promote_types(rgb.dtype, torch.float32)
        features = self.expand(rgb.permute(0, 2, 3, 1).to(dtype))
        return (features @ self.matrix.to(dtype)).to(rgb.dtype).permute(0, 3, 1, 2)

    def extra_macs(self, height: int, width: int) -> int:
        """Multiply-accumulates of ``φ(rgb) W`` for one ``height × width`` image (the expansion is not counted)."""
        return height * width * self.terms * self.out_bands

    def normal_equations(self, rgb_pixels: np.ndarray, cube_pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(XᵀX, XᵀY)`` in float64 for ``rgb_pixels (P, 3)`` and ``cube_pixels (P, out_bands)``; checks shapes."""
        rgb_pixels = np.asarray(rgb_pixels, dtype=np.float64)
        cube_pixels = np.asarray(cube_pixels, dtype=np.float64)
        if rgb_pixels.ndim != 2 or rgb_pixels.shape[1] != 3:
            raise DataError(f"RGB pixels must have shape (P, 3), got {rgb_pixels.shape}")
        if cube_pixels.shape != (rgb_pixels.shape[0], self.out_bands):
            raise DataError(
                f"spectra must have shape ({rgb_pixels.shape[0]}, {self.out_bands}) to match the RGB pixels and "
                f"out_bands, got {cube_pixels.shape}"
            )
        if not (np.isfinite(rgb_pixels).all() and np.isfinite(cube_pixels).all()):
            raise DataError("RGB pixels or spectra contain NaN or Inf values")
        features = self.expand(torch.from_numpy(rgb_pixels)).numpy()
        return features.T @ features, features.T @ cube_pixels

    def solve(self, xtx: np.ndarray, xty: np.ndarray, pixels: int, ridge: float = 1e-6) -> LeastSquaresMap:
        """Set ``W = (XᵀX/P + ridge·I)⁻¹ XᵀY/P`` (minimum-norm solution when singular); returns ``self``."""
        if pixels < 1:
            raise DataError("no pixels to fit the least-squares map on")
        if ridge < 0:
            raise ConfigError(f"ridge must be non-negative, got {ridge}")
        gram = xtx / pixels + ridge * np.eye(self.terms)
        matrix = np.linalg.lstsq(gram, xty / pixels, rcond=None)[0]
        self.matrix.copy_(torch.from_numpy(matrix))
        self.fitted.fill_(True)
        return self

    def fit(self, rgb_pixels: np.ndarray, cube_pixels: np.ndarray, ridge: float = 1e-6) -> LeastSquaresMap:
        """Fit ``W`` on ``rgb_pixels (P, 3)`` and ``cube_pixels (P, out_bands)`` (linear values); returns ``self``."""
        xtx, xty = self.normal_equations(rgb_pixels, cube_pixels)
        return self.solve(xtx, xty, len(rgb_pixels), ridge)


@register("linear_ls")
class LinearLeastSquares(LeastSquaresMap):
    """``y = (r, g, b[, 1]) W``: a 3×C (or 4×C with ``bias``) matrix fitted by least squares."""

    def __init__(self, out_bands: int = 31, bias: bool = False) -> None:
        super().__init__(out_bands, 4 if bias else 3)
        self.bias = bias

    def expand(self, rgb: torch.Tensor) -> torch.Tensor:
        if not self.bias:
            return rgb
        return torch.cat([rgb, torch.ones_like(rgb[..., :1])], dim=-1)


def root_polynomial_exponents(degree: int) -> list[tuple[int, int, int]]:
    """Exponents ``(a, b, c)`` of the monomials ``r^a g^b b^c`` whose ``(a+b+c)``-th roots form the expansion.

    All monomials of degree ``1..degree`` except powers of a single channel of degree > 1 (whose root is that
    channel again); in order of degree, e.g. degree 2: ``r, g, b, rg, rb, gb``.
    """
    if degree not in (1, 2, 3):
        raise ConfigError(f"root-polynomial degree must be 1, 2 or 3, got {degree}")
    exponents = []
    for total in range(1, degree + 1):
        for channels in combinations_with_replacement(range(3), total):
            exponent = tuple(channels.count(channel) for channel in range(3))
            if total > 1 and max(exponent) == total:
                continue
            exponents.append(exponent)
    return exponents


@register("root_polynomial_ls")
class RootPolynomialLeastSquares(LeastSquaresMap):
    """``y = φ(r, g, b) W``, exposure-invariant root-polynomial expansion of ``degree`` 2 (6 terms) or 3 (13)."""

    def __init__(self, out_bands: int = 31, degree: int = 2) -> None:
        exponents = root_polynomial_exponents(degree)
        super().__init__(out_bands, len(exponents))
        self.degree = degree
        self.exponents = exponents

    def expand(self, rgb: torch.Tensor) -> torch.Tensor:
        terms = []
        for exponent in self.exponents:
            total = sum(exponent)
            if total == 1:
                terms.append(rgb[..., exponent.index(1)])
                continue
            product = torch.ones_like(rgb[..., 0])
            for channel, power in enumerate(exponent):
                if power:
                    product = product * rgb[..., channel] ** power
            terms.append(product.clamp(min=0) ** (1.0 / total))
        return torch.stack(terms, dim=-1)


def fit_from_pairs(model: nn.Module, pairs: Iterable[tuple[np.ndarray, np.ndarray]], ridge: float = 1e-6) -> nn.Module:
    """Fit a closed-form model on ``(rgb (H, W, 3), cube (H, W, C))`` numpy pairs, one pair in memory at a time.

    For a :class:`LeastSquaresMap` the normal equations ``XᵀX`` (``T × T``) and ``XᵀY`` (``T × C``) are summed over
    the pairs in float64 and solved once (see the module docstring for ``ridge``). Models that are closed-form but
    have nothing to learn from data (the colour-science recoveries of :mod:`.colour_recovery`, which declare
    ``fits_data = False``) are returned unchanged. Returns ``model``.
    """
    if not getattr(model, "closed_form", False):
        raise ConfigError(f"{type(model).__name__} is not a closed-form model; train it with gradient descent")
    if not getattr(model, "fits_data", True):
        return model
    if not isinstance(model, LeastSquaresMap):
        raise ConfigError(f"fit_from_pairs does not know how to fit {type(model).__name__}")
    xtx = np.zeros((model.terms, model.terms))
    xty = np.zeros((model.terms, model.out_bands))
    pixels = 0
    for index, (rgb, cube) in enumerate(pairs):
        rgb, cube = np.asarray(rgb), np.asarray(cube)
        if rgb.ndim != 3 or cube.ndim != 3 or rgb.shape[:2] != cube.shape[:2]:
            raise DataError(
                f"pair {index}: expected rgb (H, W, 3) and cube (H, W, C) of the same size, "
                f"got {rgb.shape} and {cube.shape}"
            )
        try:
            pair_xtx, pair_xty = model.normal_equations(rgb.reshape(-1, rgb.shape[2]), cube.reshape(-1, cube.shape[2]))
        except DataError as exc:
            raise DataError(f"pair {index}: {exc}") from None
        xtx += pair_xtx
        xty += pair_xty
        pixels += rgb.shape[0] * rgb.shape[1]
    return model.solve(xtx, xty, pixels, ridge)
