"""How familiar is a pixel's colour? A per-pixel weight for a learned residual, from the training set's chromaticities.

A residual learned on a few scenes extrapolates where those scenes never showed the colour in front of it: on CAVE
the recipe's residual loses to least squares on the saturated beads and glass tiles of Table I's test scenes,
whose chromaticities the 16 training scenes hardly hold (``docs/benchmarks.md``, "Trusting the residual where the
training colours were"). The gate counts, over the training pixels of mean linear RGB above ``dark``, how often each
chromaticity ``(r, g) / (r + g + b)`` occurs (a ``bins × bins`` histogram over [0, 1]², smoothed by a Gaussian of
``sigma`` bins, normalised to sum 1: the share of training pixels per bin) and weights the residual of a pixel by

    g(x) = clip(density(chromaticity(x)) / threshold, floor, 1),

so a colour at least ``threshold`` of the training pixels share keeps the whole residual and a colour the training
scenes never showed keeps ``floor`` of it. The weight depends on chromaticity only, so it does not change with the
exposure. The histogram is a buffer (``density``), filled by :meth:`ChromaticityGate.add` and
:meth:`ChromaticityGate.finish` while the closed-form prior is fitted, so checkpoints carry it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError


class ChromaticityGate(nn.Module):
    """``(N, 3, H, W)`` linear RGB → ``(N, 1, H, W)`` residual weights in ``[floor, 1]``.

    Args:
        threshold: share of the training pixels per histogram bin from which a chromaticity keeps the whole residual
            (``> 0``). On the 26 CAVE scenes with the default 64 bins, 2e-3 is 2.5 times the share of an average
            occupied bin, and the 91 bins above it hold 55 % of the training pixels.
        floor: the residual weight of a chromaticity no training pixel had (``0 … 1``).
        bins: histogram bins per chromaticity axis.
        dark: pixels of mean linear RGB at or below this do not enter the histogram (their chromaticity is noise).
        sigma: Gaussian smoothing of the histogram, in bins.
    """

    density: torch.Tensor  # (bins, bins) float32: share of the training pixels per chromaticity bin
    fitted: torch.Tensor  # bool buffer: False until finish() ran

    def __init__(self, threshold: float, floor: float, bins: int = 64, dark: float = 0.01, sigma: float = 1.0) -> None:
        super().__init__()
        if not threshold > 0:
            raise ConfigError(f"chromaticity gate: threshold must be > 0, got {threshold}")
        if not 0 <= floor <= 1:
            raise ConfigError(f"chromaticity gate: floor must be in [0, 1], got {floor}")
        if bins < 2 or sigma < 0 or dark < 0:
            raise ConfigError(f"chromaticity gate: need bins ≥ 2, sigma ≥ 0, dark ≥ 0 (got {bins}, {sigma}, {dark})")
        self.threshold, self.floor, self.bins = float(threshold), float(floor), int(bins)
        self.dark, self.sigma = float(dark), float(sigma)
        self.register_buffer("density", torch.zeros(bins, bins))
        self.register_buffer("fitted", torch.tensor(False))
        self._counts = np.zeros((bins, bins))

    def _bin_index(self, rgb: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` → flat histogram bin ``(N, H, W)`` of each pixel's chromaticity."""
        chromaticity = rgb[:, :2] / rgb.sum(1, keepdim=True).clamp_min(1e-6)
        index = (chromaticity * self.bins).long().clamp_(0, self.bins - 1)
        return index[:, 0] * self.bins + index[:, 1]

    def add(self, rgb: np.ndarray) -> None:
        """Count the chromaticities of one training image ``(H, W, 3)`` (linear RGB)."""
        image = torch.from_numpy(np.ascontiguousarray(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)))[None]
        bright = (image.mean(1) > self.dark)[0]
        index = self._bin_index(image)[0][bright].numpy()
        self._counts += np.bincount(index, minlength=self.bins**2).reshape(self.bins, self.bins)

    def finish(self) -> None:
        """Normalise and smooth the counts into ``density``; raises :class:`ConfigError` when no pixel was bright."""
        from scipy.ndimage import gaussian_filter

        total = self._counts.sum()
        if total == 0:
            raise ConfigError(f"chromaticity gate: no training pixel is brighter than dark={self.dark}")
        density = gaussian_filter(self._counts / total, self.sigma) if self.sigma > 0 else self._counts / total
        self.density.copy_(torch.from_numpy(density))
        self.fitted.fill_(True)
        self._counts = np.zeros((self.bins, self.bins))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise ConfigError("the chromaticity gate has not been fitted on training images")
        familiarity = self.density.reshape(-1)[self._bin_index(rgb)] / self.threshold
        return familiarity.clamp(self.floor, 1.0).unsqueeze(1).to(rgb.dtype)
