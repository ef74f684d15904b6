"""Training-free spectral recovery with colour-science: camera RGB → CIE XYZ → a smooth reflectance-like spectrum.

Methods (``colour.XYZ_to_sd`` in colour-science 0.4.x):

- ``otsu2018``: H. Otsu, M. Yamamoto, T. Hachisuka, "Reproducing spectral reflectances from tristimulus colours",
  Computer Graphics Forum 37 (2018): a clustering tree over XYZ selects a PCA basis learnt from measured reflectances;
  three weights are solved so that the spectrum reproduces the XYZ exactly, then it is clipped to [0, 1].
  About 6 ms per colour.
- ``jakob2019``: W. Jakob, J. Hanika, "A low-dimensional function space for efficient spectral upsampling",
  Computer Graphics Forum 38 (2019): a sigmoid of a quadratic polynomial in wavelength (bounded in (0, 1)) whose three
  coefficients are optimised per colour. 0.06–0.6 s per colour: use small images or ``bits ≤ 5``.

(Meng et al. 2015 is also in colour-science, but its per-colour optimisation took seconds and failed to converge
in our trial; Smits 1999 and Mallett 2019 need sRGB input. They are not offered.)

Pipeline for an RGB pixel ``x`` (linear camera values, ``x = s @ srf.T`` for a scene spectrum ``s``):

1. ``XYZ = x M / Σ_λ ȳ(λ)`` where the 3×3 matrix ``M`` minimises ``‖srfᵀ M − CMF‖`` over the model's wavelengths
   (least squares between the camera response and the CIE 1931 2° colour matching functions sampled at the same
   band centres). The division makes a flat spectrum of 1.0 (a perfect white reflector) ``Y = 1``. Unless the camera
   satisfies the Luther condition (its response is a linear mix of the CMFs), ``M`` is approximate: this is the
   first source of error.
2. Negative X, Y or Z (from that approximation) are clamped to 0; pixels brighter than a perfect white (``Y > 1``)
   are divided by ``Y`` before recovery, since reflectances cannot exceed 1, and scaled back afterwards.
3. *Quantisation* (recovery is per colour and slow): ``XYZ / max(1, Y)`` is clipped to ``[0, 1.2]`` and each component
   coded on ``2**bits`` levels of ``√(v / 1.2)`` (finer steps for dark colours); pixels whose coded ``Y`` is 0
   (``Y`` below about 1e-4 at 6 bits) give a zero spectrum. Each distinct code is recovered once,
   by colour-science under the equal-energy illuminant E, resampled to the model's wavelengths by linear
   interpolation (constant beyond the method's range: Otsu 2018 covers 380–730 nm) and cached inside the model, so
   later images reuse it.
4. Each pixel gets its code's spectrum scaled by ``Y / Y_code`` plus the minimum-norm combination of the colour
   matching functions that makes its XYZ (on the model's bands) exactly the pixel's: the quantisation then only
   perturbs the spectral shape slightly (1.6 % mean difference between 6 and 12 bits on a CAVE crop,
   ``docs/models.md``), and with a Luther camera the result re-renders to the input RGB. This correction also
   absorbs the difference between colour-science's 1 nm integration and our band sums.
5. The output is clipped at 0, so spectra are non-negative (where the clip acts, the XYZ match is lost).

The builder takes the camera response ``srf`` (3 × C, rows R, G, B, as nested lists) and ``wavelengths`` (C band
centres in nm) because step 1 needs them; ``out_bands`` is ``C``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError, DataError
from .registry import register

_CODE_RANGE = 1.2  # XYZ values coded on [0, _CODE_RANGE]; a perfect white reflector under E is (1, 1, 1)


def cie1931_cmfs(wavelengths: np.ndarray) -> np.ndarray:
    """CIE 1931 2° colour matching functions ``(C, 3)`` at ``wavelengths`` (nm), linear interpolation, 0 outside."""
    import colour

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    return np.stack(
        [np.interp(wavelengths, cmfs.wavelengths, cmfs.values[:, k], left=0.0, right=0.0) for k in range(3)], axis=1
    )


def camera_to_xyz_matrix(srf: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """The 3×3 ``M`` minimising ``‖srf.T @ M − CMF‖_F``, so that ``XYZ ≈ rgb @ M`` (un-normalised sums over bands)."""
    return np.linalg.lstsq(srf.T, cie1931_cmfs(wavelengths), rcond=None)[0]


class ColourScienceRecovery(nn.Module):
    """Base class: per-colour recovery ``(N, 3, H, W) → (N, C, H, W)`` through XYZ (see the module docstring).

    Args:
        srf: camera response, 3 rows (R, G, B) of ``C`` values at ``wavelengths``.
        wavelengths: band centres in nm, ``C`` increasing values.
        out_bands: must equal ``C`` when given.
        bits: quantisation levels per XYZ component are ``2**bits`` (4–16).
    """

    input_keys = ("rgb",)
    closed_form = True
    fits_data = False
    method = ""

    def __init__(self, srf: list, wavelengths: list, out_bands: int | None = None, bits: int = 6) -> None:
        super().__init__()
        srf_array = np.asarray(srf, dtype=np.float64)
        nm = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
        if srf_array.ndim != 2 or srf_array.shape != (3, nm.size):
            raise ConfigError(f"srf must be 3 rows of {nm.size} values (one per wavelength), got {srf_array.shape}")
        if nm.size < 3 or np.any(np.diff(nm) <= 0):
            raise ConfigError("wavelengths must be at least 3 increasing band centres in nm")
        if not np.isfinite(srf_array).all() or np.linalg.matrix_rank(srf_array) < 3:
            raise ConfigError("srf must be finite with three linearly independent rows")
        if out_bands is not None and out_bands != nm.size:
            raise ConfigError(f"out_bands={out_bands} differs from the {nm.size} wavelengths given")
        if not 4 <= bits <= 16:
            raise ConfigError(f"bits must be between 4 and 16, got {bits}")
        self.wavelengths = nm
        self.out_bands = nm.size
        self.bits = bits
        self.levels = 2**bits
        cmfs = cie1931_cmfs(nm)
        self.rgb_to_xyz = camera_to_xyz_matrix(srf_array, nm) / cmfs[:, 1].sum()
        self.spectrum_to_xyz = cmfs / cmfs[:, 1].sum()  # (C, 3): XYZ = spectrum @ this, Y = 1 for a flat 1.0
        self.xyz_correction = np.linalg.pinv(self.spectrum_to_xyz)  # (3, C): minimum-norm spectrum of a given XYZ
        self._cache: dict[int, np.ndarray] = {}

    def recover_reflectance(self, xyz: np.ndarray) -> np.ndarray:
        """One colour: XYZ (``Y = 1`` for a perfect white under E) → reflectance at ``self.wavelengths``, ``(C,)``."""
        import colour

        cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd = colour.XYZ_to_sd(xyz, method=self.method, cmfs=cmfs, illuminant=colour.sd_ones(cmfs.shape))
        return np.interp(self.wavelengths, sd.wavelengths, sd.values)

    def _spectra_for_codes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectra ``(K, C)`` and code luminances ``(K,)`` for unique integer codes ``(K,)`` (cached)."""
        levels = self.levels
        digits = np.stack([codes // (levels * levels), (codes // levels) % levels, codes % levels], axis=1)
        xyz = (digits / (levels - 1)) ** 2 * _CODE_RANGE
        spectra = np.zeros((len(codes), self.out_bands))
        for index, code in enumerate(codes.tolist()):
            if xyz[index, 1] <= 0:
                continue
            if code not in self._cache:
                self._cache[code] = self.recover_reflectance(xyz[index])
            spectra[index] = self._cache[code]
        return spectra, xyz[:, 1]

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        n, _, h, w = rgb.shape
        pixels = rgb.detach().permute(0, 2, 3, 1).reshape(-1, 3).cpu().numpy().astype(np.float64)
        if not np.isfinite(pixels).all():
            raise DataError("RGB input contains NaN or Inf values")
        xyz = np.clip(pixels @ self.rgb_to_xyz, 0.0, None)
        luminance = xyz[:, 1]
        normalised = xyz / np.maximum(1.0, luminance)[:, None]
        digits = np.rint(np.sqrt(np.clip(normalised, 0.0, _CODE_RANGE) / _CODE_RANGE) * (self.levels - 1))
        codes = (digits[:, 0] * self.levels + digits[:, 1]) * self.levels + digits[:, 2]
        unique_codes, inverse = np.unique(codes.astype(np.int64), return_inverse=True)
        spectra, code_luminance = self._spectra_for_codes(unique_codes)
        code_luminance = code_luminance[inverse]
        gain = np.divide(luminance, code_luminance, out=np.zeros_like(luminance), where=code_luminance > 0)
        cube = spectra[inverse] * gain[:, None]
        recovered = gain > 0
        cube[recovered] += (xyz[recovered] - cube[recovered] @ self.spectrum_to_xyz) @ self.xyz_correction
        cube = np.clip(cube, 0.0, None)
        out = torch.from_numpy(cube.reshape(n, h, w, self.out_bands)).permute(0, 3, 1, 2)
        return out.to(device=rgb.device, dtype=rgb.dtype).contiguous()


@register("otsu2018")
class Otsu2018Recovery(ColourScienceRecovery):
    """Otsu, Yamamoto & Hachisuka 2018 recovery (``colour.XYZ_to_sd(method="Otsu 2018")``)."""

    method = "Otsu 2018"


@register("jakob2019")
class Jakob2019Recovery(ColourScienceRecovery):
    """Jakob & Hanika 2019 recovery (``colour.XYZ_to_sd(method="Jakob 2019")``); slow, see the module docstring."""

    method = "Jakob 2019"
