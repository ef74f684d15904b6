"""INFN with INF³: fuse a low-resolution HSI and a high-resolution MSI into a high-resolution HSI.

Deng, Wu, Ran, Deng, Jiang, *INF³: Implicit Neural Feature Fusion Function for Multispectral and Hyperspectral Image
Fusion* (``../shared/papers/003_35df23388f30ea8c.txt``), Sec. 3.

Inputs: LR-HSI ``X`` ``(N, S, h, w)`` and HR-MSI ``Y`` ``(N, s, H, W)`` with ``H = r·h``, ``W = r·w``
(``r`` = ``scale``), linear values (1.0 = full scale). Output: HR-HSI ``(N, S, H, W)``.

* **Encoder** (eq. 1–5). Spectral branch ``S_pe = F_φ(X)`` on the LR grid (eq. 3, ``D1`` channels); spatial branch
  ``S_pa = F_ψ(Cat(X^U, Y))`` on the HR grid (eq. 4, ``D2`` channels), ``X^U`` being the bicubic upsampling of ``X``.
  Both branches are stacks of ``encoder_layers`` 3×3 convolutions with ReLU between them (the paper gives no
  details; this choice is ours).
* **INF³** (eq. 10–17). Every HR pixel ``q`` (centre ``C_q`` of eq. 2 on ``[-1, 1]²``) is fused from its four
  nearest LR pixels ``i`` (LIIF's neighbourhood; at the image border the neighbour index is clamped, so a border
  pixel may count the same LR pixel twice):

  - ``S_pa^D`` = mean of ``S_pa`` over each ``r×r`` block (eq. 12); ``F¹_i = Cat(S_pe(C_i), S_pa^D(C_i))`` (eq. 11);
  - ``F²_{q,i} = Cat(F¹_i, S_pa(C_q))`` (eq. 13); ``F³_{q,i} = Cat(F²_{q,i}, C_q − C_i)`` (eq. 14);
  - ``F_{q,i} = MLP(F³_{q,i})`` (eq. 15), one MLP shared by all pixels and neighbours (ReLU hidden layers);
  - ``E_q = Σ_i w_{q,i} F_{q,i}`` (eq. 10) with the parameter-free INR-CS weights (eq. 16–17, :func:`inr_cs_weights`).

  The relative coordinate ``C_q − C_i`` is expressed in LR pixels (the normalised difference times ``h/2``, ``w/2``):
  the paper leaves its scale unstated, and in normalised units it would shrink with the image size, so a model
  trained on 64×64 patches would see different values on a whole image (LIIF rescales it the same way).
* **Decoder** (eq. 6): two 3×3 convolutions (ReLU between) on ``E`` plus the long skip ``X^U``:
  ``X̃ = Decoder(E) + X^U``.
* **Activation** (our option, ``activation``): ``"relu"`` everywhere above (the paper's), or ``"leaky_relu"``
  (slope 0.2 for negative inputs). Trained from scratch with ReLU, a seed-dependent share of runs never leaves the
  long skip: most of the decoder's hidden channels are zero at every pixel ("dying ReLU", ``docs/fusion.md``); a
  leaky unit keeps a gradient where a ReLU has none.
* **Prior** (our option, ``prior``): ``"bicubic"`` is the paper's ``X^U``. ``"regression"`` replaces ``X^U`` — in the
  spatial branch's input and in the long skip — by the classical regression fusion of the pair
  (:func:`hsinr.models.classical_fusion.regression_fusion`, fitted to each input pair, no gradient), and starts the
  decoder's last convolution at zero, so the untrained network *is* the classical fusion and training learns a
  residual over it. The prior fits each whole image, so tiled inference computes it once on the whole image and runs
  the network tile by tile with the prior's crop (``forward(..., skip=...)``; ``tileable = False``,
  ``takes_skip = True``, :func:`hsinr.infer.fuse`).

Ablation switches (the paper's Tables 2–5):

* ``lr_hf`` — LR-domain high-frequency injection ``S_pa^D`` in ``F¹`` (Table 2, column "LR"); off: ``F¹ = S_pe``.
* ``hr_hf`` — HR-domain injection ``S_pa(C_q)`` in ``F²`` (Table 2, column "HR"); off: ``F² = F¹``.
* ``relative_coords`` — ``C_q − C_i`` in ``F³`` (Table 3).
* ``weights`` — ``"cs"`` (INR-CS, eq. 16–17), ``"area"`` (LIIF's area weights, eq. 8), ``"learned"`` (the MLP emits
  one extra logit per neighbour, softmax over the four, as JIIF does) (Table 4).
* ``upsample`` — ``"inf3"``, or replace INF³ by ``"bilinear"`` / ``"bicubic"`` interpolation or ``"pixelshuffle"``
  (3×3 convolution to ``r²`` times the channels, then sub-pixel shuffle) of ``F¹`` to the HR grid, followed by the
  same MLP applied per pixel to ``Cat(F¹↑, S_pa)`` (Table 5). ``weights`` and ``relative_coords`` belong to INF³ and
  must stay at their defaults with the other upsamplings.

Outputs are translation-equivariant in steps of ``r`` pixels away from the border, so tiled inference with tiles
aligned to ``r`` and enough overlap equals a whole-image pass (:func:`hsinr.infer.fuse`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from ..spectral.degradation import hr_to_lr_coordinate, upsample_bicubic
from .calibrated_fusion import calibrated_regression, check_windows, fit_calibration
from .detail_calibration import DetailCalibration
from .registry import register

WEIGHTINGS = ("cs", "area", "learned")
UPSAMPLINGS = ("inf3", "bilinear", "bicubic", "pixelshuffle")
PRIORS = ("bicubic", "regression")
ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True)}
"""The hidden-layer nonlinearities of ``activation`` (constructors)."""


def pixel_centres(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Eq. 2 along one axis: centres of ``size`` pixels normalised to ``[-1, 1]``, ``-1 + (2i + 1) / size``."""
    return -1.0 + (2.0 * torch.arange(size, device=device, dtype=torch.float32) + 1.0) / size


def inr_cs_logits(anchor: torch.Tensor, neighbour: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """The exponent of eq. 16: ``‖F¹_q̂‖ · ‖F¹_i‖ · cos(F¹_q̂, F¹_i)`` along the feature axis ``dim``.

    Algebraically this is the dot product ``⟨F¹_q̂, F¹_i⟩``; the cosine is computed with its norm product clamped to
    ``eps`` so that zero vectors give 0 instead of NaN. Returns the input shape without ``dim``.
    """
    norm_a = anchor.norm(dim=dim)
    norm_b = neighbour.norm(dim=dim)
    cosine = (anchor * neighbour).sum(dim=dim) / (norm_a * norm_b).clamp_min(eps)
    return norm_a * norm_b * cosine


def inr_cs_weights(anchor: torch.Tensor, neighbours: Sequence[torch.Tensor], dim: int = 1) -> torch.Tensor:
    """INR-CS weights (eq. 16–17): softmax over the neighbours of :func:`inr_cs_logits`.

    Args:
        anchor: ``F¹`` at ``q̂``, the LR pixel nearest to the query, features along ``dim`` (e.g. ``(N, D, H, W)``).
        neighbours: ``F¹`` at each of the K neighbours, each shaped like ``anchor``.
        dim: the feature axis.

    Returns:
        ``(K, *shape without dim)`` weights, non-negative and summing to 1 over the first axis.
    """
    logits = torch.stack([inr_cs_logits(anchor, n, dim=dim) for n in neighbours])
    return torch.softmax(logits, dim=0)


def area_weights(offsets: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """LIIF's area weights (eq. 8) for the four neighbours ordered (top-left, top-right, bottom-left, bottom-right).

    Args:
        offsets: per neighbour, ``(dy (H,), dx (W,))``: the query's offset from the neighbour's centre in LR pixels.

    Returns:
        ``(4, H, W)``: each neighbour gets the area ``|dy·dx|`` of the diagonally opposite neighbour, normalised to
        sum to 1 (a tiny epsilon keeps the division finite, as in LIIF).
    """
    areas = [(dy.abs()[:, None] * dx.abs()[None, :]) + 1e-9 for dy, dx in offsets]
    opposite = torch.stack(areas[::-1])
    return opposite / opposite.sum(dim=0, keepdim=True)


class AxisNeighbours(NamedTuple):
    """Along one axis, for each HR pixel: the two nearest LR indices, the offsets to them and the nearest LR index."""

    index: tuple[torch.Tensor, torch.Tensor]  # (H,) long each, clamped to [0, h-1]
    offset: tuple[torch.Tensor, torch.Tensor]  # (H,) float each, (C_q - C_i) in LR pixels
    nearest: torch.Tensor  # (H,) long, the LR pixel containing the HR pixel (q̂)


def axis_neighbours(hr_size: int, scale: int, device: torch.device | str | None = None) -> AxisNeighbours:
    """The LR neighbours of every HR pixel along one axis of ``hr_size = scale · lr_size`` pixels.

    HR pixel ``I`` sits at ``u = (I + 0.5) / scale − 0.5`` in LR pixel units (LR pixel ``i`` is centred at ``u = i``,
    the same geometry as eq. 2 on both grids and as the simulation's decimation, see
    :func:`hsinr.spectral.degradation.hr_to_lr_coordinate`); its neighbours are ``floor(u)`` and ``floor(u) + 1``,
    clamped.
    """
    lr_size = hr_size // scale
    u = hr_to_lr_coordinate(torch.arange(hr_size, device=device, dtype=torch.float32), scale)
    base = torch.floor(u).long()
    index = tuple((base + k).clamp(0, lr_size - 1) for k in (0, 1))
    offset = tuple(u - i.float() for i in index)
    nearest = torch.div(torch.arange(hr_size, device=device), scale, rounding_mode="floor")
    return AxisNeighbours(index, offset, nearest)  # type: ignore[arg-type]


def conv_stack(in_channels: int, width: int, out_channels: int, layers: int, activation: str = "relu") -> nn.Sequential:
    """``layers`` 3×3 convolutions (zero padding, size preserved), ``activation`` between them, linear output."""
    sizes = [in_channels] + [width] * (layers - 1) + [out_channels]
    modules: list[nn.Module] = []
    for k in range(layers):
        modules.append(nn.Conv2d(sizes[k], sizes[k + 1], 3, padding=1))
        if k < layers - 1:
            modules.append(ACTIVATIONS[activation]())
    return nn.Sequential(*modules)


class SplitInputMLP(nn.Module):
    """A per-pixel MLP on ``Cat(part_0, part_1, ...)`` whose first linear layer is stored split by part.

    ``W · Cat(a, b, c) = W_a·a + W_b·b + W_c·c``, so the network is exactly the MLP of eq. 15 on the concatenation;
    the split lets INF³ apply the first layer to the LR features once on the LR grid and to ``S_pa`` once for all
    four neighbours, instead of four times on the HR grid. Parts of 0 channels are skipped. Tensors are
    channels-last ``(..., C)``. Hidden layers use ``activation`` (a key of :data:`ACTIVATIONS`); the output layer is
    linear.
    """

    def __init__(
        self, part_channels: Sequence[int], hidden: Sequence[int], out_channels: int, activation: str = "relu"
    ):
        super().__init__()
        sizes = [*hidden, out_channels]
        self.part_channels = [int(c) for c in part_channels]
        self.first = nn.ModuleList(
            nn.Linear(c, sizes[0], bias=(k == 0)) if c else nn.Identity() for k, c in enumerate(self.part_channels)
        )
        layers: list[nn.Module] = []
        for k in range(1, len(sizes)):
            layers += [ACTIVATIONS[activation](), nn.Linear(sizes[k - 1], sizes[k])]
        self.rest = nn.Sequential(*layers)

    def project(self, part: int, x: torch.Tensor) -> torch.Tensor:
        """The first layer's contribution ``W_part · x`` of one part ``(..., C_part)`` (the bias is in part 0)."""
        return self.first[part](x)

    def finish(self, first_layer_output: torch.Tensor) -> torch.Tensor:
        """The layers after the first, given the summed contributions of all parts."""
        return self.rest(first_layer_output)

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        """The MLP on the concatenation of ``parts`` (pass exactly the parts with channels, in order)."""
        used = [k for k, c in enumerate(self.part_channels) if c]
        return self.finish(sum(self.project(k, x) for k, x in zip(used, parts, strict=True)))


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` → ``(N, H, W, C)`` (a view)."""
    return x.permute(0, 2, 3, 1)


def gather_pixels(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``out[n, I, J] = x[n, rows[I], cols[J]]`` for a channels-last ``(N, h, w, C)`` map → ``(N, H, W, C)``.

    Done as one ``index_select`` of whole channel vectors (fast forward and backward on CPU).
    """
    n, h, w, c = x.shape
    flat = (rows[:, None] * w + cols[None, :]).reshape(-1)
    return x.reshape(n, h * w, c).index_select(1, flat).view(n, rows.numel(), cols.numel(), c)


@register("inf3")
class INFN(nn.Module):
    """Implicit Neural Fusion Network with INF³ (see the module docstring for equations and switches).

    Args:
        scale: integer ratio ``r`` between HR and LR sizes (the paper: 4; 8 works the same way).
        hsi_bands: bands ``S`` of the LR-HSI.
        msi_bands: bands ``s`` of the HR-MSI (3 for RGB).
        out_bands: bands produced; must equal ``hsi_bands`` (the long skip adds ``X^U``); default ``hsi_bands``.
        spectral_features: ``D1``, channels of ``S_pe``.
        spatial_features: ``D2``, channels of ``S_pa``.
        fused_features: channels of the fused map ``E`` (input of the decoder).
        encoder_layers: 3×3 convolutions in each encoder branch.
        encoder_width: hidden channels of the encoder branches.
        mlp_hidden: hidden widths of the MLP of eq. 15.
        weights, lr_hf, hr_hf, relative_coords, upsample: ablation switches (module docstring).
        prior: ``"bicubic"`` (the paper's ``X^U``) or ``"regression"`` (a residual over the classical regression
            fusion; the decoder's last layer starts at zero).
        prior_degree: root-polynomial degree of the regression prior.
        prior_window: ``None`` fits the regression prior once per input; a side in HR pixels fits it in overlapping
            windows of that size every ``prior_window // 4`` px (:func:`~.classical_fusion.local_regression_fusion`).
            With the training patch size as the window, a training patch and a whole test image get the same kind
            of prior (one map per patch-sized neighbourhood) instead of a patch-local map in training and one map
            per image at test.
        calibration: ``K > 0`` (odd) calibrates the regression prior's detail band by band with a ``K × K`` filter
            and cross-band weights fitted in closed form on the training scenes before training
            (:class:`~.detail_calibration.DetailCalibration`, :meth:`fit_prior`); ``0`` (default) leaves it as is.
        calibration_windows: further regression fusions of the pair whose detail the calibration blends in, each
            a window side in HR pixels as ``prior_window`` (``0`` = one map per image), e.g. ``[0, 32]``: each
            fusion errs differently and the blend, fitted on the training scenes, errs less than any one of them.
        calibration_cross_bands: ``False`` drops the cross-band weights ``m`` (``C − 1`` per band): for many bands
            and few training pixels (a half of a remote-sensing cube) they overfit.
        activation: ``"relu"`` (the paper's) or ``"leaky_relu"`` in every hidden layer (encoders, MLP, decoder).
    """

    input_keys = ("lr_hsi", "hr_msi")

    def __init__(
        self,
        scale: int = 4,
        hsi_bands: int = 31,
        msi_bands: int = 3,
        out_bands: int | None = None,
        spectral_features: int = 64,
        spatial_features: int = 64,
        fused_features: int = 64,
        encoder_layers: int = 3,
        encoder_width: int = 64,
        mlp_hidden: Sequence[int] = (256, 256),
        weights: str = "cs",
        lr_hf: bool = True,
        hr_hf: bool = True,
        relative_coords: bool = True,
        upsample: str = "inf3",
        prior: str = "bicubic",
        prior_degree: int = 2,
        prior_window: int | None = None,
        calibration: int = 0,
        calibration_windows: Sequence[int] = (),
        calibration_cross_bands: bool = True,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if out_bands is not None and out_bands != hsi_bands:
            raise ConfigError(f"inf3: out_bands={out_bands} must equal hsi_bands={hsi_bands} (long skip of eq. 6)")
        if int(scale) < 1 or min(hsi_bands, msi_bands, spectral_features, spatial_features, fused_features) < 1:
            raise ConfigError("inf3: scale, band counts and feature widths must be positive integers")
        if encoder_layers < 1:
            raise ConfigError(f"inf3: encoder_layers must be at least 1, got {encoder_layers}")
        if weights not in WEIGHTINGS:
            raise ConfigError(f"inf3: weights={weights!r}; choose one of {', '.join(WEIGHTINGS)}")
        if upsample not in UPSAMPLINGS:
            raise ConfigError(f"inf3: upsample={upsample!r}; choose one of {', '.join(UPSAMPLINGS)}")
        if upsample != "inf3" and (weights != "cs" or not relative_coords):
            raise ConfigError(
                f"inf3: weights and relative_coords belong to INF³ and cannot be changed with upsample={upsample!r}"
            )
        if activation not in ACTIVATIONS:
            raise ConfigError(f"inf3: activation={activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if prior not in PRIORS:
            raise ConfigError(f"inf3: prior={prior!r}; choose one of {', '.join(PRIORS)}")
        self.prior, self.prior_degree = prior, int(prior_degree)
        self.prior_window = int(prior_window) if prior_window else None
        if calibration and prior != "regression":
            raise ConfigError("inf3: calibration corrects the regression prior's detail; it needs prior: regression")
        if calibration_windows and not calibration:
            raise ConfigError("inf3: calibration_windows are blended by the calibration; set calibration: K too")
        self.calibration_windows = [int(window) for window in calibration_windows]
        check_windows(int(scale), [self.prior_window or 0, *self.calibration_windows])
        self.calibration = (
            DetailCalibration(
                int(hsi_bands), int(calibration), 1 + len(self.calibration_windows), calibration_cross_bands
            )
            if calibration
            else None
        )
        self.tileable = prior == "bicubic"  # a regression prior is fitted to each whole image ...
        self.takes_skip = True  # ... and then given to forward() tile by tile
        self.scale = int(scale)
        self.hsi_bands = self.out_bands = int(hsi_bands)
        self.msi_bands = int(msi_bands)
        self.weights, self.upsample = weights, upsample
        self.lr_hf, self.hr_hf, self.relative_coords = bool(lr_hf), bool(hr_hf), bool(relative_coords)

        self.spectral = conv_stack(hsi_bands, encoder_width, spectral_features, encoder_layers, activation)  # eq. 3
        self.spatial = conv_stack(  # F_ψ, eq. 4
            hsi_bands + msi_bands, encoder_width, spatial_features, encoder_layers, activation
        )
        lr_channels = spectral_features + (spatial_features if self.lr_hf else 0)  # F¹, eq. 11
        parts = [  # F¹ (eq. 11), S_pa(C_q) (eq. 13), C_q - C_i (eq. 14)
            lr_channels,
            spatial_features if self.hr_hf else 0,
            2 if (upsample == "inf3" and self.relative_coords) else 0,
        ]
        if upsample == "pixelshuffle":
            self.shuffle = nn.Sequential(
                nn.Conv2d(lr_channels, lr_channels * self.scale**2, 3, padding=1), nn.PixelShuffle(self.scale)
            )
        extra_logit = 1 if (upsample == "inf3" and weights == "learned") else 0
        self.mlp = SplitInputMLP(parts, list(mlp_hidden), fused_features + extra_logit, activation)  # eq. 15
        self.decoder = nn.Sequential(  # eq. 6
            nn.Conv2d(fused_features, fused_features, 3, padding=1),
            ACTIVATIONS[activation](),
            nn.Conv2d(fused_features, hsi_bands, 3, padding=1),
        )
        if prior != "bicubic":
            self.zero_output()

    def zero_output(self) -> None:
        """Zero the decoder's last layer: the output is then exactly the prior (the long skip)."""
        nn.init.zeros_(self.decoder[-1].weight)
        nn.init.zeros_(self.decoder[-1].bias)

    def skip(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor) -> torch.Tensor:
        """The long skip ``X^U`` of eq. 6: bicubic upsampling, or the (calibrated) regression fusion for
        ``prior="regression"``."""
        if self.prior == "bicubic":
            return upsample_bicubic(lr_hsi, self.scale)
        return calibrated_regression(
            self.calibration,
            lr_hsi,
            hr_msi,
            self.scale,
            self.prior_degree,
            self.prior_window or 0,
            self.calibration_windows,
        )

    def fit_prior(self, pairs: Iterable[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]) -> None:
        """Fit the detail calibration (``calibration > 0``; otherwise there is nothing to fit) on the training
        scenes: ``((lr_hsi (h, w, C), hr_msi (H, W, M)), cube (H, W, C))`` numpy pairs, fused as at test time
        (:func:`~hsinr.models.calibrated_fusion.fit_calibration`)."""
        if self.calibration is not None:
            window = self.prior_window or 0
            fit_calibration(self.calibration, pairs, self.scale, self.prior_degree, window, self.calibration_windows)

    def forward(self, lr_hsi: torch.Tensor, hr_msi: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse ``(N, S, h, w)`` LR-HSI and ``(N, s, r·h, r·w)`` HR-MSI into the ``(N, S, r·h, r·w)`` HR-HSI.

        ``skip``: the long skip ``X^U`` ``(N, S, r·h, r·w)`` when already computed (:meth:`skip` of the whole image,
        cropped to this tile); by default it is computed from these inputs."""
        n, bands, h, w = lr_hsi.shape
        height, width = hr_msi.shape[-2:]
        if bands != self.hsi_bands or hr_msi.shape[1] != self.msi_bands:
            raise DataError(
                f"inf3: expects {self.hsi_bands} HSI and {self.msi_bands} MSI bands, got {bands} and {hr_msi.shape[1]}"
            )
        if (height, width) != (self.scale * h, self.scale * w):
            raise DataError(f"inf3: the HR-MSI is {height}x{width} but must be scale {self.scale} x the LR-HSI {h}x{w}")
        upsampled = self.skip(lr_hsi, hr_msi) if skip is None else skip  # X^U
        s_pe = self.spectral(lr_hsi)
        s_pa = self.spatial(torch.cat([upsampled, hr_msi], dim=1))
        lr_features = torch.cat([s_pe, F.avg_pool2d(s_pa, self.scale)], dim=1) if self.lr_hf else s_pe  # eq. 11–12
        hr_features = [s_pa] if self.hr_hf else []
        if self.upsample == "inf3":
            encoded = self._inf3(lr_features, s_pa if self.hr_hf else None, height, width)
        else:
            upsampled_features = channels_last(self._upsample(lr_features, height, width))
            encoded = self.mlp(upsampled_features, *map(channels_last, hr_features)).permute(0, 3, 1, 2)
        return self.decoder(encoded) + upsampled

    def _upsample(self, lr_features: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Table 5 replacements of INF³: ``F¹`` brought to the HR grid by interpolation or pixel shuffle."""
        if self.upsample == "pixelshuffle":
            return self.shuffle(lr_features)
        return F.interpolate(lr_features, size=(height, width), mode=self.upsample, align_corners=False)

    def _inf3(self, lr_features: torch.Tensor, s_pa: torch.Tensor | None, height: int, width: int) -> torch.Tensor:
        """Eq. 10–17: ``E_q = Σ_i w_{q,i} MLP(F³_{q,i})`` over the four nearest LR pixels; returns ``(N, C, H, W)``.

        Computed channels-last; the MLP's first layer is applied to ``F¹`` on the LR grid and then gathered (exact,
        see :class:`SplitInputMLP`).
        """
        rows = axis_neighbours(height, self.scale, lr_features.device)
        cols = axis_neighbours(width, self.scale, lr_features.device)
        f1 = channels_last(lr_features)  # F¹ on the LR grid, eq. 11
        lr_projected = self.mlp.project(0, f1)  # W_1 · F¹
        shared = self.mlp.project(1, channels_last(s_pa)) if s_pa is not None else 0.0  # W_2 · S_pa(C_q), eq. 13
        anchor = gather_pixels(f1, rows.nearest, cols.nearest) if self.weights == "cs" else None  # F¹ at q̂
        fused, logits, offsets = [], [], []
        for a in (0, 1):
            for b in (0, 1):
                dy, dx = rows.offset[a], cols.offset[b]
                offsets.append((dy, dx))
                first = gather_pixels(lr_projected, rows.index[a], cols.index[b]) + shared
                if self.relative_coords:  # eq. 14
                    grid = torch.stack(torch.broadcast_tensors(dy[:, None], dx[None, :]), dim=-1)  # (H, W, 2)
                    first = first + self.mlp.project(2, grid.to(lr_features.dtype))
                out = self.mlp.finish(first)  # eq. 15, (N, H, W, C)
                if self.weights == "learned":
                    out, logit = out[..., :-1], out[..., -1]
                    logits.append(logit)
                elif self.weights == "cs":
                    neighbour = gather_pixels(f1, rows.index[a], cols.index[b])
                    logits.append(inr_cs_logits(anchor, neighbour, dim=-1))
                fused.append(out)
        if self.weights == "area":
            weights = area_weights(offsets).to(lr_features.dtype)[:, None]  # (4, 1, H, W)
        else:
            weights = torch.softmax(torch.stack(logits), dim=0)  # (4, N, H, W), eq. 16–17 for "cs"
        encoded = sum(weights[k][..., None] * fused[k] for k in range(4))
        return encoded.permute(0, 3, 1, 2)
