"""Regression fusion with a detail calibration fitted on training scenes, in closed form: INF³'s prior, no network.

The regression fusion of a pair (:func:`~hsinr.models.classical_fusion.regression_fusion`, fitted to each input pair;
in windows by :func:`~hsinr.models.classical_fusion.local_regression_fusion`) is corrected band by band by a
:class:`~hsinr.models.detail_calibration.DetailCalibration` fitted once on the training scenes, which may also blend
in regression fits of other window sizes (``calibration_windows``; ``0`` = one map per image). INF³ with ``prior:
regression, calibration: K`` starts from exactly this output (its decoder's last layer is zero) and learns a residual
over it (:mod:`.inf3`); :class:`CalibratedRegressionFusion` is the same fusion without the network, fitted by
``hsinr train`` in one pass over the training scenes (``closed_form = True``) instead of by gradient steps.

Shapes: LR-HSI ``(N, S, h, w)``, HR-MSI ``(N, s, r·h, r·w)``, output ``(N, S, r·h, r·w)``, linear values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..spectral.degradation import upsample_bicubic
from .classical_fusion import check_window, local_regression_fusion, regression_fusion
from .detail_calibration import DetailCalibration
from .fusion_baselines import check_fusion_inputs
from .registry import register


def window_stride(scale: int, window: int) -> int:
    """Stride of the regression windows: a quarter of the window, at least one LR pixel."""
    return max(scale, window // 4)


def check_windows(scale: int, windows: Iterable[int]) -> None:
    """ConfigError unless every non-zero window (and its stride) is a positive multiple of ``scale``."""
    for window in windows:
        if window:
            check_window(scale, int(window), window_stride(scale, int(window)))


@torch.no_grad()
def regression_fit(lr_hsi: torch.Tensor, hr_msi: torch.Tensor, scale: int, degree: int, window: int) -> torch.Tensor:
    """The root-polynomial regression fusion of the pair in ``window``-px windows (``0``: one map per image)."""
    if window:
        return local_regression_fusion(lr_hsi, hr_msi, scale, window, window_stride(scale, window), degree)
    return regression_fusion(lr_hsi, hr_msi, scale, degree)


@torch.no_grad()
def calibrated_regression(
    calibration: DetailCalibration | None,
    lr_hsi: torch.Tensor,
    hr_msi: torch.Tensor,
    scale: int,
    degree: int,
    window: int,
    windows: Sequence[int],
) -> torch.Tensor:
    """The regression fusion in ``window``-px windows, calibrated with the fits in ``windows`` blended in (the
    uncalibrated fusion when ``calibration`` is ``None``)."""
    fused = regression_fit(lr_hsi, hr_msi, scale, degree, window)
    if calibration is None:
        return fused
    others = [regression_fit(lr_hsi, hr_msi, scale, degree, other) for other in windows]
    return calibration(upsample_bicubic(lr_hsi, scale), fused, *others)


def fit_calibration(
    calibration: DetailCalibration,
    pairs: Iterable[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]],
    scale: int,
    degree: int,
    window: int,
    windows: Sequence[int],
) -> None:
    """Fit ``calibration`` on ``((lr_hsi (h, w, S), hr_msi (H, W, s)), cube (H, W, S))`` numpy training pairs, each
    fused as at test time (one scene in memory at a time)."""

    def triples():
        for (lr_hsi, hr_msi), cube in pairs:
            lr, msi, truth = (to_batch(a) for a in (lr_hsi, hr_msi, cube))
            fusions = [regression_fit(lr, msi, scale, degree, w) for w in [window, *windows]]
            yield upsample_bicubic(lr, scale), fusions, truth

    calibration.fit(triples())


def to_batch(image: np.ndarray) -> torch.Tensor:
    """A channels-last ``(H, W, C)`` numpy image → a float32 ``(1, C, H, W)`` batch."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1)))[None]


@register("calibrated_regression_fusion")
class CalibratedRegressionFusion(nn.Module):
    """Regression fusion calibrated on training scenes (see the module docstring); fitted in closed form.

    Args:
        scale: integer ratio ``r`` between HR and LR sizes.
        hsi_bands, msi_bands: bands of the LR-HSI and of the HR-MSI; ``out_bands`` must equal ``hsi_bands``.
        degree: root-polynomial degree of the regression (1 = linear).
        window: side in HR pixels of the regression windows (every quarter window; ``0`` = one map per image).
        calibration: odd side ``K`` of each band's own detail filter.
        calibration_windows: further regression fits blended in band by band (``0`` = one map per image).
        calibration_cross_bands: also weight the other bands' detail (off for many bands and few training pixels).

    The defaults are those of ``configs/fusion_cave.yaml`` (chosen on CAVE's validation scenes, ``docs/fusion.md``).
    Calling the model before it was fitted (``hsinr train``, or :meth:`fit_prior`) raises :class:`ConfigError`.
    """

    input_keys = ("lr_hsi", "hr_msi")
    closed_form = True
    tileable = False  # the regression is fitted to each whole image
    fitted: torch.Tensor  # bool buffer: False until fit_prior() ran

    def __init__(
        self,
        scale: int = 4,
        hsi_bands: int = 31,
        msi_bands: int = 3,
        out_bands: int | None = None,
        degree: int = 2,
        window: int = 64,
        calibration: int = 7,
        calibration_windows: Sequence[int] = (0, 32),
        calibration_cross_bands: bool = True,
    ):
        super().__init__()
        if out_bands is not None and out_bands != hsi_bands:
            raise ConfigError(f"calibrated_regression_fusion: out_bands={out_bands} must equal hsi_bands={hsi_bands}")
        if int(scale) < 1 or min(hsi_bands, msi_bands, degree) < 1:
            raise ConfigError("calibrated_regression_fusion: scale, band counts and degree must be positive")
        self.scale, self.degree, self.window = int(scale), int(degree), int(window)
        self.hsi_bands = self.out_bands = int(hsi_bands)
        self.msi_bands = int(msi_bands)
        self.calibration_windows = [int(w) for w in calibration_windows]
        check_windows(self.scale, [self.window, *self.calibration_windows])
        self.calibration = DetailCalibration(
            self.hsi_bands, int(calibration), 1 + len(self.calibration_windows), calibration_cross_bands
        )
        self.register_buffer("fitted", torch.tensor(False))

    def fit_prior(self, pairs: Iterable[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]) -> None:
        """Fit the calibration on ``((lr_hsi, hr_msi), cube)`` numpy training pairs (see :func:`fit_calibration`)."""
        fit_calibration(self.calibration, pairs, self.scale, self.degree, self.window, self.calibration_windows)
        self.fitted.fill_(True)

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        check_fusion_inputs(self, lr_hsi, hr_msi)
        if not bool(self.fitted):
            raise ConfigError("calibrated_regression_fusion has not been fitted: train it (hsinr train) first")
        return calibrated_regression(
            self.calibration, lr_hsi, hr_msi, self.scale, self.degree, self.window, self.calibration_windows
        )
