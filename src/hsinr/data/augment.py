"""Physics-preserving augmentation of (RGB, cube) training pairs: relighting, exposure and pigment density.

A scene lit by another illuminant ``l(λ)`` has the spectra ``cube(λ) · l(λ)``; a camera with response ``P`` sees
``rgb = (cube · l) @ Pᵀ`` (eq. 4 of the INR-HSISR paper). Multiplying each training patch's spectra by a smooth random
illuminant-like curve and an exposure factor, then re-rendering its RGB with the same response, makes new,
physically valid training pairs from few real scenes: the model sees the same materials under many lights instead
of memorising the few lights of its training scenes.

Pigment density: by the Beer–Lambert law a filter or a layer of dye whose absorbing pigment is ``γ``× as dense
transmits ``T(λ)^γ``; a pigmented surface's reflectance behaves approximately likewise (light crosses the pigment on
its way in and out). Raising a patch's spectra to a random power ``γ`` (``cube^γ``, values in [0, 1]) makes its
materials more saturated (``γ > 1``) or paler (``γ < 1``) with the same spectral shapes of absorption, and the RGB is
re-rendered from the result: saturated colours that few training scenes hold are seen more often. Geometric
augmentation (flips, transpose) lives in :mod:`.patches`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def smooth_illuminant(wavelengths: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A random smooth positive curve over ``wavelengths`` (nm), ``(C,)`` float32 with mean 1.

    ``log l(t) = strength · (a₁ (2t − 1) + a₂ cos(πt) + a₃ cos(2πt)) / √3`` with ``t`` the wavelength mapped to [0, 1]
    and ``aᵢ ~ N(0, 1)``: a tilt (warm/cool light) and two slower bends, like the spread between daylight phases and
    incandescent light. ``strength`` is the standard deviation of the log-curve's coefficients (0 → all ones;
    0.3 → the curve typically spans a factor of about 1.5–2 across the visible range).
    """
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    span = max(wavelengths.max() - wavelengths.min(), 1e-9)
    t = (wavelengths - wavelengths.min()) / span
    a = rng.normal(size=3)
    log_curve = strength * (a[0] * (2 * t - 1) + a[1] * np.cos(np.pi * t) + a[2] * np.cos(2 * np.pi * t)) / np.sqrt(3)
    curve = np.exp(log_curve)
    return (curve / curve.mean()).astype(np.float32)


class Relight:
    """Change a training pair's pigment density, light and exposure, then re-render its RGB.

    ``cube ← cube^γ · l(λ) · g``, ``rgb ← cube @ srfᵀ``, with ``γ`` and ``g`` drawn log-uniformly from their ranges and
    ``l`` from :func:`smooth_illuminant`.

    Args:
        srf: ``(3, C)`` camera response (``rgb = cube @ srf.T``).
        wavelengths: ``(C,)`` band centres in nm.
        strength: see :func:`smooth_illuminant` (0 disables relighting).
        exposure: ``(lo, hi)`` range of the exposure factor ``g`` (``(1, 1)`` disables it).
        density: ``(lo, hi)`` range of the pigment-density power ``γ`` (``(1, 1)`` disables it; the cube is clipped
            at 0 first).

    Call with ``(rgb (h, w, 3), cube (h, w, C), rng)``; returns the new ``(rgb, cube)`` float32 pair.
    """

    def __init__(
        self,
        srf: np.ndarray,
        wavelengths: np.ndarray,
        strength: float = 0.3,
        exposure: tuple[float, float] = (0.5, 1.5),
        density: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        srf = np.asarray(srf, dtype=np.float32)
        if srf.ndim != 2 or srf.shape[0] != 3 or srf.shape[1] != len(wavelengths):
            raise ConfigError(f"relighting needs a (3, {len(wavelengths)}) camera response, got {srf.shape}")
        lo, hi = (float(v) for v in exposure)
        dlo, dhi = (float(v) for v in density)
        if strength < 0 or not 0 < lo <= hi or not 0 < dlo <= dhi:
            raise ConfigError(
                f"relight strength must be ≥ 0, exposure and density ranges 0 < lo ≤ hi, got {strength}, {exposure}, "
                f"{density}"
            )
        self.srf, self.wavelengths = srf, np.asarray(wavelengths, dtype=np.float64)
        self.strength, self.exposure, self.density = float(strength), (lo, hi), (dlo, dhi)

    def __call__(self, rgb: np.ndarray, cube: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.exposure
        gain = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        curve = smooth_illuminant(self.wavelengths, rng, self.strength) * gain
        cube = cube.astype(np.float32)
        if self.density != (1.0, 1.0):  # drawn after the light: runs without density keep their random streams
            gamma = float(np.exp(rng.uniform(np.log(self.density[0]), np.log(self.density[1]))))
            cube = np.maximum(cube, 0.0) ** np.float32(gamma)
        cube = cube * curve
        return cube @ self.srf.T, cube


class QuantizeSRGB:
    """Simulate an 8-bit sRGB camera file: clip the linear RGB to [0, 1], apply the sRGB transfer function (IEC
    61966-2-1), round to ``bits`` bits, decode back to linear. A model trained this way expects what
    ``hsinr reconstruct --input srgb`` feeds it from a JPEG or 8-bit PNG. The cube is unchanged."""

    def __init__(self, bits: int = 8) -> None:
        if not 1 <= bits <= 16:
            raise ConfigError(f"quantize bits must be in 1..16, got {bits}")
        self.levels = float(2**bits - 1)

    def __call__(self, rgb: np.ndarray, cube: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        import colour

        encoded = np.round(colour.models.eotf_inverse_sRGB(np.clip(rgb, 0.0, 1.0)) * self.levels) / self.levels
        return colour.models.eotf_sRGB(encoded).astype(np.float32), cube


class Compose:
    """Apply pair transforms one after the other: ``t_n(… t_1(rgb, cube, rng) …)`` with the same generator."""

    def __init__(self, transforms: list) -> None:
        self.transforms = list(transforms)

    def __call__(self, rgb: np.ndarray, cube: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        for transform in self.transforms:
            rgb, cube = transform(rgb, cube, rng)
        return rgb, cube
