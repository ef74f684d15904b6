"""Band-wise calibration of the detail a fusion injects, fitted in closed form on training scenes.

A classical fusion ``F`` (e.g. :func:`~hsinr.models.classical_fusion.local_regression_fusion`) adds to the bicubic
upsampling ``U`` of the LR-HSI the detail ``D = F − U`` it reads from the HR-MSI. How much of that detail a band
really has is a property of the sensor, not of one image: on CAVE the fusion injects the MSI's sharp edges into the
400–420 nm and 690–700 nm bands, which the hyperspectral camera records softer (relative to its variance, the fused
400 nm band has 1.5–6.8× the gradient energy of the truth), and bicubic upsampling alone beats the fusion there on some
scenes. The calibration corrects the detail of band ``b`` by a small linear filter, learned once from training
scenes:

    X̂_b = U_b + (k_b ∗ D_b) + Σ_{c ≠ b} m_{bc} D_c + Σ_s a_{bs} D^s_b

with ``k_b`` a ``K × K`` kernel on the band's own detail (its sharpness and a little of its shape), ``m_{bc}``
weights of the other bands' detail at the same pixel, and ``a_{bs}`` weights of the band's detail ``D^s = F^s − U``
in other fusions of the same pair (``sources − 1`` of them, e.g. the regression fitted once per image and in smaller
windows: each errs differently, and a blend fitted on training scenes errs less than any one of them). In all
``C·(K² + C − 1 + sources − 1)`` numbers (``C·(K² + sources − 1)`` with ``cross_bands=False``, which
drops ``m``). The identity (``k_b`` a unit impulse, ``m = 0``, ``a = 0``) returns ``F``
unchanged: that is the state before fitting. Fitting solves, band by band, the normal equations of the identity's
error ``X − F`` on these features over every pixel of the training scenes (float64) and adds the result to the
identity, so the ridge (``ridge`` times the mean diagonal, ``1e-8`` by default) shrinks the calibration towards the
uncalibrated fusion ``F``, not towards zero detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError


class DetailCalibration(nn.Module):
    """``(upsampled, fused, *others)`` ``(N, C, H, W)`` → calibrated ``(N, C, H, W)``.

    ``kernel`` is the odd side ``K`` of the own-band filter; ``sources`` the number of fusions it combines (``fused``
    and ``sources − 1`` others, passed in the same order at fit and at use); ``ridge`` the relative ridge of the fit
    (a large one keeps ``F``).
    """

    own: torch.Tensor  # (C, 1, K, K): k_b, applied depthwise
    cross: torch.Tensor  # (C, C, 1, 1): m_bc, zero diagonal
    stacked: torch.Tensor  # (C, sources − 1): a_bs; only registered when sources > 1 (older checkpoints load)

    def __init__(
        self, bands: int, kernel: int, sources: int = 1, cross_bands: bool = True, ridge: float = 1e-8
    ) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"detail calibration kernel must be an odd number ≥ 1, got {kernel}")
        if sources < 1:
            raise ConfigError(f"detail calibration needs at least one fusion, got sources={sources}")
        self.bands, self.kernel, self.sources = int(bands), int(kernel), int(sources)
        self.cross_bands = bool(cross_bands)
        self.ridge = float(ridge)
        own = torch.zeros(bands, 1, kernel, kernel)
        own[:, 0, kernel // 2, kernel // 2] = 1.0
        self.register_buffer("own", own)
        self.register_buffer("cross", torch.zeros(bands, bands, 1, 1))
        if sources > 1:
            self.register_buffer("stacked", torch.zeros(bands, sources - 1))

    def _own_taps(self, detail: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` → edge-padded ``(N, C, H + K − 1, W + K − 1)`` for the ``K × K`` filter."""
        pad = self.kernel // 2
        return F.pad(detail, (pad, pad, pad, pad), mode="replicate") if pad else detail

    def _check_sources(self, others: Sequence[torch.Tensor]) -> None:
        if len(others) != self.sources - 1:
            raise ConfigError(f"detail calibration combines {self.sources} fusions, got {len(others) + 1}")

    def forward(self, upsampled: torch.Tensor, fused: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
        self._check_sources(others)
        detail = fused - upsampled
        own = F.conv2d(self._own_taps(detail), self.own.to(detail.dtype), groups=self.bands)
        out = upsampled + own
        if self.cross_bands:
            out = out + F.conv2d(detail, self.cross.to(detail.dtype))
        for index, other in enumerate(others):
            out = out + self.stacked[:, index, None, None].to(detail.dtype) * (other - upsampled)
        return out

    @torch.no_grad()
    def fit(self, scenes: Iterable[tuple[torch.Tensor, Sequence[torch.Tensor], torch.Tensor]]) -> None:
        """Fit ``k``, ``m`` and ``a`` on ``(upsampled, (fused, *others), truth)`` scenes, each ``(1, C, H, W)``."""
        bands, taps, extra = self.bands, self.kernel**2, self.sources - 1
        cross = bands - 1 if self.cross_bands else 0
        size = taps + cross + extra
        gram = torch.zeros(bands, size, size, dtype=torch.float64)
        moment = torch.zeros(bands, size, dtype=torch.float64)
        seen = 0
        for upsampled, (fused, *others), truth in scenes:
            self._check_sources(others)
            detail = (fused - upsampled).double()
            target = (truth - fused).double()[0].reshape(bands, -1)  # (C, HW): the correction of the identity
            flat = detail[0].reshape(bands, -1)
            stacked = [(other - upsampled).double()[0].reshape(bands, -1) for other in others]
            padded = self._own_taps(detail)
            for b in range(bands):
                own = F.unfold(padded[:, b : b + 1], self.kernel)[0]  # (K², HW), conv2d's tap order
                others_detail = flat[torch.arange(bands) != b] if self.cross_bands else flat[:0]
                rows = [own, others_detail, *(source[b : b + 1] for source in stacked)]
                features = torch.cat(rows)  # (K² + C − 1 + sources − 1, HW)
                gram[b] += features @ features.T
                moment[b] += features @ target[b]
            seen += 1
        if not seen:
            raise ConfigError("detail calibration: no training scenes to fit it on")
        scale = self.ridge * gram.diagonal(dim1=1, dim2=2).mean(dim=1)[:, None, None]
        ridge = scale * torch.eye(size, dtype=torch.float64)
        solution = torch.linalg.solve(gram + ridge, moment)  # (C, size)
        solution[:, taps // 2] += 1.0  # the centre tap: the identity plus its fitted correction
        self.own.copy_(solution[:, :taps].reshape(bands, 1, self.kernel, self.kernel).float())
        weights = torch.zeros(bands, bands, dtype=torch.float64)
        for b in range(bands if cross else 0):
            weights[b, torch.arange(bands) != b] = solution[b, taps : taps + cross]
        self.cross.copy_(weights[:, :, None, None].float())
        if extra:
            self.stacked.copy_(solution[:, taps + cross :].float())
